"""The bank simulator on loopback, shared with the escrow tests."""

from tests.escrow.conftest import bank, simulator  # noqa: F401

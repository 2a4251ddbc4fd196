"""Fixtures shared by the product tests."""

from tests.api.conftest import token_for  # noqa: F401  (the API tests' token fixture)

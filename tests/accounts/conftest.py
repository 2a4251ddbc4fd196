"""Clients for the account tests: several browsers at once (a main account and its sub-account)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.conftest import CsrfClient


@pytest.fixture
def new_client(app: Flask) -> Callable[[], CsrfClient]:
    """Another browser: a client with its own cookies."""
    return app.test_client  # type: ignore[return-value]

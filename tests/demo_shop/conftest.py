"""The sample shop is served by an app made with ECTIX_DEMO_SHOP=1 (as `make run` makes it); its
received notices go to the test's own folder."""

from __future__ import annotations

import pytest
from flask import Flask


@pytest.fixture(autouse=True)
def _demo_shop_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECTIX_DEMO_SHOP", "1")


@pytest.fixture
def app(_demo_shop_on: None, app: Flask, tmp_path) -> Flask:  # noqa: ANN001
    app.config["DEMO_SHOP_NOTICES_PATH"] = str(tmp_path / "demo-shop-notices.jsonl")
    return app

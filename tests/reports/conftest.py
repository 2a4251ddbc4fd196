"""Fixtures of the report tests.

`world`: the hand-built world of tests/reports/world.py (circulation, cross-store and branch
reports). It is built once per session into a copy of the migrated SQLite template, then each
test gets its own copy of that file as the `app` database and reads the world back
(`World.load`), with the clock frozen at the world's TODAY.

(Reconstructed by the ticket-report helper, who overwrote this file by mistake; the ticket
report's tests build their own world, tests/reports/ticket_world.py.)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import clock, create_app
from app.db import db
from tests.conftest import base_config
from tests.reports.world import TODAY, World, build


@pytest.fixture(scope="session")
def world_template(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("report-world")
    path = folder / "world.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    application = create_app(base_config(f"sqlite:///{path}")
                             | {"ESCROW_SIMULATOR_STATE": str(folder / "bank.json")})
    try:
        with application.app_context():
            ids = build(str(folder / "bank.json")).ids()
            db.session.remove()
            db.engine.dispose()
    finally:
        clock.unfreeze()
    return path, ids


@pytest.fixture
def world(app: Flask, world_template: tuple[Path, dict]) -> Iterator[World]:
    template, ids = world_template
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        db.engine.dispose()  # nothing may hold the file while it is replaced
    shutil.copyfile(template, url.removeprefix("sqlite:///"))
    with app.app_context():
        clock.freeze(TODAY)
        yield World.load(ids)
        db.session.remove()

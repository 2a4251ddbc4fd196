"""The home tests' store (tests/home/helpers.py): built once per session on SQLite, then copied
into each test's own database, as the `app` fixture copies the migrated template."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app import clock, create_app
from app.db import db
from tests.conftest import base_config
from tests.home import helpers as h


@pytest.fixture(scope="session")
def home_world_template(migrated_sqlite: Path,
                        tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, h.World]:
    path = tmp_path_factory.mktemp("home_world") / "world.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    application = create_app(base_config(f"sqlite:///{path}"))
    with application.app_context():
        try:
            world = h.build_world()
        finally:
            clock.unfreeze()
            db.session.remove()
            db.engine.dispose()
    return path, world


@pytest.fixture
def world(app, ctx, home_world_template) -> h.World:  # noqa: ANN001
    """This test's database replaced by a copy of the built store (before anything used it),
    the clock frozen at the dashboard's today."""
    template, built = home_world_template
    target = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    db.session.remove()
    db.engine.dispose()
    shutil.copyfile(template, target)
    clock.freeze(h.NOW)
    return built

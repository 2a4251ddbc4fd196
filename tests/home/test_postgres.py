"""PostgreSQL: the dashboard's queries (filtered aggregates, the Taipei day of a timestamptz,
the window-function ranking) give the same figures as on SQLite, and the page renders."""

from __future__ import annotations

import pytest

from app import clock
from app.db import db
from tests.factories import login
from tests.home import helpers as h
from tests.home.helpers import status_table, text, top_table

pytestmark = pytest.mark.postgres


def test_every_figure_on_postgresql(pg_app):
    with pg_app.app_context():
        try:
            world = h.build_world("pghome")
            h.check_world_figures(world)
        finally:
            db.session.remove()
    client = pg_app.test_client()
    clock.freeze(h.NOW)
    login(client, world.owner)
    html = text(client.get("/home"))
    assert status_table(html) == {"redeemed": (4, 580), "returned": (2, 350), "unused": (5, 630)}
    assert top_table(html, "gift") == [("甜點券", 3, 240), ("短期贈品券", 1, 50)]
    client.post("/logout")
    login(client, world.clerk)
    assert status_table(text(client.get("/home"))) == {"redeemed": (2, 350), "returned": (1, 150)}

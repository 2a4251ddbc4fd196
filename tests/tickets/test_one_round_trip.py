"""A ticket action's change and its history row: one statement on PostgreSQL (a data-modifying
CTE), two on SQLite, and the same history either way."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.auth.services import create_api_token
from app.db import db, observe_statements
from app.history import HistoryEntry
from app.tickets.models import Ticket
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

WRITES = ("UPDATE", "INSERT", "WITH", "DELETE")


def _act_through_the_api(app: Flask) -> tuple[list[dict], list[str]]:
    """Redeem, cancel the redemption, return and cancel the return of one ticket through the
    API; the ticket's history rows and the writing statements of the four calls."""
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 10, 0))
    with app.app_context():
        store, owner, pickup, _ = ready_store()
        [ticket] = issue(owner, store, pickup)
        _, plain = create_api_token(owner, "t")
        db.session.commit()
        code, serial, ticket_id = ticket.code, ticket.serial, ticket.id
        engine = db.engine
    writes: list[str] = []

    def listen(statement: str) -> None:
        if statement.lstrip().split()[0].upper() in WRITES:
            writes.append(statement)

    client = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    with observe_statements(engine, listen):  # at the driver on PostgreSQL: raw cursors count
        for path, body, status in (
                ("/api/v1/redemptions", {"code": code}, 201),
                (f"/api/v1/tickets/{serial}/cancel-redemption", {"reason": "按錯"}, 200),
                (f"/api/v1/tickets/{serial}/return", {"reason": "客訴", "fee": 10}, 200),
                (f"/api/v1/tickets/{serial}/cancel-return", {"reason": "誤退"}, 200)):
            response = client.post(path, json=body, headers=headers, csrf=False)
            assert response.status_code == status, response.get_data(as_text=True)
    with app.app_context():
        entries = db.session.scalars(
            select(HistoryEntry).where(HistoryEntry.subject_type == Ticket.__tablename__,
                                       HistoryEntry.subject_id == ticket_id,
                                       HistoryEntry.action != "issued")
            .order_by(HistoryEntry.id)).all()
        rows = [{column: getattr(e, column) for column in (
            "at", "store_id", "actor_id", "actor_label", "actor_store_id", "actor_branch_id", "ip",
            "action", "changes", "from_status", "to_status", "reason")} for e in entries]
        db.session.remove()
    return rows, writes


@pytest.mark.postgres
def test_postgresql_writes_the_change_and_its_history_in_one_statement_with_the_same_history(
        app, pg_app):
    on_sqlite, sqlite_writes = _act_through_the_api(app)
    on_postgres, postgres_writes = _act_through_the_api(pg_app)
    assert [r["action"] for r in on_postgres] == [
        "redeemed", "redemption_cancelled", "returned", "return_cancelled"]
    assert on_postgres == on_sqlite
    assert on_postgres[2]["reason"] == "客訴（退貨手續費 NT$10）"
    assert on_postgres[0]["actor_label"] and on_postgres[0]["ip"] == "127.0.0.1"
    # the return also moves the product's sales counter (its own UPDATE), as on SQLite
    moves = [s for s in postgres_writes if s.lstrip().upper().startswith("WITH")]
    assert len(moves) == 4
    assert all("UPDATE tickets" in s and "INSERT INTO history" in s for s in moves)
    assert not [s for s in postgres_writes if s.lstrip().upper().startswith("INSERT INTO history")]
    assert len(sqlite_writes) == len(postgres_writes) + 4  # SQLite: UPDATE, then INSERT


@pytest.mark.postgres
def test_an_api_redemption_by_a_main_account_sends_two_statements_to_postgresql(pg_app):
    """Counted at the driver (observe_statements), raw cursors included: once the token is
    cached, the code lookup and the compare-and-set with its history row, nothing else."""
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 10, 0))
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        first, second = issue(owner, store, pickup, quantity=2)
        _, plain = create_api_token(owner, "t")
        db.session.commit()
        codes, engine = (first.code, second.code), db.engine
    client = pg_app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.post("/api/v1/redemptions", json={"code": codes[0]}, headers=headers,
                       csrf=False).status_code == 201  # the token is read and cached
    seen: list[str] = []
    with observe_statements(engine, seen.append):
        response = client.post("/api/v1/redemptions", json={"code": codes[1]}, headers=headers,
                               csrf=False)
    assert response.status_code == 201 and response.get_json()["status"] == "used"
    assert [s.lstrip().split()[0].upper() for s in seen] == ["SELECT", "WITH"], seen

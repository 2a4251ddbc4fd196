"""PostgreSQL: prints racing each other. Six operators mark the same platform batch printed at
once: one run, one charge. Two kiosks print the same pickup code at once: one PDF, the other is
refused. Four merchant prints of the same tickets at once: no count is lost."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.auth.models import Account
from app.billing.models import Charge, FeeKind
from app.db import db
from app.errors import DomainError
from app.printing import services
from app.printing.models import PrintedTicket, PrintRun
from app.stores.models import Store
from app.tickets.models import Order, Ticket
from tests.concurrency import Ready, run_at_once
from tests.factories import make_operator
from tests.issuance.helpers import ready_store
from tests.printing.helpers import CVS, PLATFORM, paper_tickets

pytestmark = pytest.mark.postgres


def _race(app: Flask, n: int, work: Callable[[], str]) -> list[str]:
    """Run `work` by `n` actors released together; a refusal gives its message."""
    def actor(_: int, ready: Ready) -> str:
        ready()
        return work()

    return [o.message if isinstance(o, DomainError) else o for o in run_at_once(app, actor, range(n))]


def _count(model, *where) -> int:  # noqa: ANN001, ANN002
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_six_operators_mark_a_batch_printed_once(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        tickets = paper_tickets(owner, store, pickup, 3, method=PLATFORM)
        operator_id = make_operator().id
        batch_id = tickets[0].batch_id
        db.session.commit()
        db.session.remove()

    def mark() -> str:
        outcome = services.mark_platform_printed(db.session.get(Account, operator_id), batch_id)
        return "run" if outcome.run is not None else "already"

    outcomes = _race(pg_app, 6, mark)
    assert sorted(outcomes) == ["already"] * 5 + ["run"]
    with pg_app.app_context():
        assert _count(PrintRun) == 1 and _count(PrintedTicket) == 3
        assert _count(Charge, Charge.kind == FeeKind.PAPER_PRINT) == 1
        assert set(db.session.scalars(select(Ticket.print_count).where(Ticket.batch_id == batch_id))) == {1}


def test_two_kiosks_print_the_same_code_once(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        tickets = paper_tickets(owner, store, pickup, 2, method=CVS)
        code = db.session.get(Order, tickets[0].order_id).pickup_code
        db.session.remove()

    outcomes = _race(pg_app, 2, lambda: f"printed {len(services.kiosk_print(code).tickets)}")
    assert sorted(outcomes) == sorted(["printed 2", services.ALREADY_PRINTED_AT_KIOSK])
    with pg_app.app_context():
        assert _count(PrintRun) == 1 and _count(PrintedTicket) == 2
        assert set(db.session.scalars(select(Ticket.print_count))) == {1}


def test_concurrent_merchant_prints_lose_no_count(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        ids = [t.id for t in paper_tickets(owner, store, pickup, 5)]
        store_id, owner_id = store.id, owner.id
        db.session.remove()

    def print_all() -> str:
        job = services.print_tickets(db.session.get(Account, owner_id),
                                     db.session.get(Store, store_id), ids)
        return f"run {job.run.id}"

    outcomes = _race(pg_app, 4, print_all)
    assert len(set(outcomes)) == 4 and all(o.startswith("run ") for o in outcomes)
    with pg_app.app_context():
        assert _count(PrintRun) == 4 and _count(PrintedTicket) == 20
        assert set(db.session.scalars(select(Ticket.print_count))) == {4}
        first = db.session.scalar(select(func.min(PrintRun.created_at)))
        last = db.session.scalar(select(func.max(PrintRun.created_at)))
        assert first < last
        # the first run's time on every ticket, never overwritten by a later one
        assert set(db.session.scalars(select(Ticket.printed_at))) == {first}

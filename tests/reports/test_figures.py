"""The reports' daily figures (app.reports.figures): what the triggers keep equals a count of the
tickets and orders themselves, before and after folding, after every kind of change (the report
world's issuances, branch and partner redemptions, returns, cancellations, bank syncs; a random
walk with the expiry job), on SQLite and PostgreSQL, with clerks redeeming while folds run."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from app import clock, schedule
from app.auth.models import Account
from app.db import db
from app.errors import DomainError
from app.reports import figures
from app.reports.jobs import fold_figures
from app.reports.models import OrderFigureChange, TicketFigure, TicketFigureChange
from app.stores.models import Store
from app.tickets import services
from app.tickets.jobs import expire_tickets
from app.tickets.models import Ticket
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.reports.world import build
from tests.tickets.helpers import issue

T = clock.taipei_datetime


def kept() -> tuple[set, set]:
    """(ticket figures, order figures) as kept: totals and pending changes summed."""
    return ({tuple(row) for row in db.session.execute(figures.kept_tickets())},
            {tuple(row) for row in db.session.execute(figures.kept_orders())})


def counted() -> tuple[set, set]:
    """The same, counted from the rows."""
    return ({tuple(row) for row in db.session.execute(
                figures.counted_tickets().having(func.count() > 0))},
            {tuple(row) for row in db.session.execute(figures.counted_orders())})


def pending() -> int:
    return (db.session.scalar(select(func.count()).select_from(TicketFigureChange))
            + db.session.scalar(select(func.count()).select_from(OrderFigureChange)))


def check_and_fold() -> None:
    """Kept equals counted with changes pending, after the fold (none pending), after a second."""
    tickets, orders = counted()
    assert tickets and orders
    assert kept() == (tickets, orders)
    assert pending() > 0
    figures.fold()
    db.session.commit()
    assert pending() == 0
    assert kept() == (tickets, orders)
    totals = db.session.scalar(select(func.count()).select_from(TicketFigure))
    figures.fold()  # nothing to fold: nothing changes
    db.session.commit()
    assert kept() == (tickets, orders)
    assert db.session.scalar(select(func.count()).select_from(TicketFigure)) == totals


def test_the_report_world_on_sqlite(ctx, tmp_path):
    world = build(str(tmp_path / "bank.json"))
    check_and_fold()
    # a measure of each kind is there, by the branch that did it and the partner that redeemed
    tickets, _ = kept()
    measures = {(row[1], row[3]) for row in tickets}
    assert (figures.ISSUED, world.a1.id) in measures and (figures.REDEEMED, world.a2.id) in measures
    assert (figures.RETURNED, world.a1.id) in measures
    assert any(row[1] == figures.REDEEMED and row[4] not in (0, row[0]) for row in tickets)


@pytest.mark.postgres
def test_the_report_world_on_postgresql(pg_app, tmp_path):
    with pg_app.app_context():
        build(str(tmp_path / "bank.json"))
        check_and_fold()
        assert pending() == 0 and kept() == counted()
        db.session.remove()


def walk(seed: int) -> None:
    """Sixty random moves on eleven tickets, with time passing and the expiry job; the figures
    equal the count after each."""
    rng = random.Random(seed)
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store()
    pickup.escrow_end = clock.business_day() + timedelta(days=4)
    gift.valid_until = clock.business_day() + timedelta(days=3)
    db.session.commit()
    ids = [t.id for t in issue(owner, store, pickup, 6) + issue(owner, store, gift, 5)]
    actions = [services.redeem, services.return_ticket, services.cancel_return,
               services.cancel_redemption]
    changed = 0
    for step in range(60):
        if step % 10 == 9:
            clock.freeze(clock.now() + timedelta(hours=rng.choice((5, 13, 26))))
            expire_tickets(clock.now().isoformat())
        if step % 20 == 19:
            fold_figures(clock.now().isoformat())
        ticket = db.session.get(Ticket, rng.choice(ids))
        action = rng.choice(actions)
        try:
            action(owner, store, ticket, **({} if action is services.redeem else {"reason": "測試"}))
            db.session.commit()
            changed += 1
        except DomainError:
            db.session.rollback()
        assert kept() == counted(), (step, action.__name__)
    assert changed >= 10


@pytest.mark.parametrize("seed", [1, 2])
def test_a_random_walk_on_sqlite(ctx, seed):
    walk(seed)
    assert db.session.scalar(select(func.count()).select_from(TicketFigure)) > 0  # folded ones


@pytest.mark.postgres
def test_a_random_walk_on_postgresql(pg_app):
    with pg_app.app_context():
        walk(3)
        assert db.session.scalar(select(func.count()).select_from(TicketFigure)) > 0
        db.session.remove()


def test_recount_repairs_what_was_lost(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store()
    tickets = issue(owner, store, pickup, 3) + issue(owner, store, gift, 2)
    services.redeem(owner, store, tickets[0])
    db.session.commit()
    right = counted()
    db.session.execute(update(TicketFigureChange).values(n=7))  # damaged
    db.session.commit()
    assert kept() != right
    figures.recount()
    db.session.commit()
    assert kept() == right and pending() == 0


def test_the_recount_command(app):
    with app.app_context():
        clock.freeze(T(2026, 7, 1, 9, 0))
        store, owner, pickup, _ = ready_store()
        issue(owner, store, pickup, 2)
        db.session.execute(text("DELETE FROM ticket_figure_changes"))
        db.session.commit()
        assert kept()[0] == set()
    result = app.test_cli_runner().invoke(args=["recount-figures"])
    assert result.exit_code == 0 and "recounted" in result.output
    with app.app_context():
        assert kept() == counted() and len(kept()[0]) == 1
        clock.unfreeze()


def test_the_fold_runs_every_minute():
    fold = schedule.by_name("fold_figures")
    assert fold.cron == "* * * * *" and fold.func == "app.reports.jobs:fold_figures"


@pytest.mark.postgres
def test_clerks_redeem_at_once_while_folds_run(pg_app):
    """Eight clerks redeem eight tickets of one product at the same moment, on one branch-less
    day, while two folds run beside them: none waits on a shared total, all count."""
    clerks = 8
    with pg_app.app_context():
        clock.freeze(T(2026, 7, 1, 9, 0))
        store, owner, pickup, _ = ready_store()
        ids = [t.id for t in issue(owner, store, pickup, clerks)]
        figures.fold()
        db.session.commit()
        store_id, owner_id = store.id, owner.id
        db.session.remove()

    def clerk(ticket_id: int, ready: Ready) -> None:
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        ticket = db.session.get(Ticket, ticket_id)
        ready()
        services.redeem(account, store, ticket)

    def folder(_: int, ready: Ready) -> None:
        ready()
        figures.fold()

    results = []
    runner = threading.Thread(target=lambda: results.extend(run_at_once(pg_app, folder, [1, 2])))
    runner.start()
    assert run_at_once(pg_app, clerk, ids) == [None] * clerks
    runner.join(60)
    assert results == [None, None]
    with pg_app.app_context():
        fold_figures(clock.now().isoformat())
        assert kept() == counted() and pending() == 0
        redeemed = [row for row in kept()[0] if row[1] == figures.REDEEMED]
        assert sum(row[-2] for row in redeemed) == clerks
        db.session.remove()


@pytest.mark.postgres
def test_a_change_committed_during_a_fold_is_kept_for_the_next(pg_app):
    with pg_app.app_context():
        clock.freeze(T(2026, 7, 1, 9, 0))
        store, owner, pickup, _ = ready_store()
        [ticket] = issue(owner, store, pickup)
        db.session.commit()
        ticket_id = ticket.id
        db.session.remove()
        # another transaction changes a ticket and stays open while the fold runs and commits
        with db.engine.connect() as other:
            other.execute(update(Ticket).where(Ticket.id == ticket_id).values(face_value=999))
            figures.fold()
            db.session.commit()
            other.commit()
        assert pending() > 0  # the open transaction's change waited for the next fold
        assert kept() == counted()
        figures.fold()
        db.session.commit()
        assert pending() == 0 and kept() == counted()
        assert {row[-1] for row in kept()[0]} == {999}
        db.session.remove()

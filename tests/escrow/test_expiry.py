"""The daily expiry job: unused pickup vouchers past their escrow end become
unused_escrow_expired (ledger ESCROW_EXPIRED), gift vouchers past their validity expired; the
screens' effective status agrees with the job before it runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app import jobs, schedule
from app.db import db
from app.escrow.models import LedgerEntry, LedgerKind
from app.tickets import actions, expiry, lifecycle, services
from app.tickets import jobs as ticket_jobs
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.escrow.helpers import T, at, history, ledger, reload
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

END = date(2026, 7, 10)  # the end date of the expiring tickets: valid through 7/10 23:59:59


@pytest.fixture
def tickets(ctx):
    """A pickup and a gift voucher ending 7/10, one of each ending later, a redeemed one."""
    at(2026, 7, 1, 9, 0)
    store, owner, pickup, gift = ready_store()
    p_old, p_new, p_used = issue(owner, store, pickup, quantity=3)
    g_old, g_new = issue(owner, store, gift, quantity=2)
    for t in (p_old, g_old, p_used):
        t.expires_on = END
    for t in (p_new, g_new):
        t.expires_on = END + timedelta(days=30)
    db.session.commit()
    services.redeem(owner, store, p_used)
    db.session.commit()
    return {"p_old": p_old, "p_new": p_new, "p_used": p_used, "g_old": g_old, "g_new": g_new,
            "store": store, "owner": owner}


def _effective(ticket: Ticket, when) -> S:  # noqa: ANN001
    return lifecycle.effective_status(lifecycle.Facts.of(reload(ticket)), when)


def _ledger_count() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


@pytest.mark.parametrize(("name", "after"), [
    ("p_old", S.UNUSED_ESCROW_EXPIRED),  # pickup past its escrow end
    ("g_old", S.EXPIRED),  # gift past its validity
    ("p_new", S.UNUSED),  # still valid: untouched
    ("g_new", S.UNUSED),
    ("p_used", S.USED),  # not unused: not the job's business
])
def test_the_job_writes_what_screens_already_show(tickets, name, after):
    slot = T(2026, 7, 11, 0, 5)
    ticket = tickets[name]
    assert _effective(ticket, slot) is after  # the screens, before the job
    assert reload(ticket).status in (S.UNUSED, S.USED)
    ticket_jobs.expire_tickets(slot.isoformat())
    ticket = reload(ticket)
    assert ticket.status is after
    assert _effective(ticket, slot) is after  # and the same after it
    if after is S.UNUSED_ESCROW_EXPIRED:
        assert ledger(ticket) == [("escrow_expired", 150)]
        [entry] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.ticket_id == ticket.id))
        assert entry.day == date(2026, 7, 11) and entry.kind is LedgerKind.ESCROW_EXPIRED
    else:
        assert ledger(ticket) == []
    changes = history(ticket, "expired")
    if after in (S.UNUSED_ESCROW_EXPIRED, S.EXPIRED):
        assert [(h.from_status, h.to_status) for h in changes] == [("unused", after.value)]
        assert "2026/07/10" in changes[0].reason
    else:
        assert changes == []


def test_until_23_59_59_of_the_end_date_nothing_expires(tickets):
    last_moment = T(2026, 7, 10, 23, 59, 59)
    assert _effective(tickets["p_old"], last_moment) is S.UNUSED
    assert ticket_jobs.expire_tickets(last_moment.isoformat()) == 0
    assert reload(tickets["p_old"]).status is S.UNUSED


def test_running_again_changes_nothing(tickets):
    slot = T(2026, 7, 11, 0, 5).isoformat()
    assert ticket_jobs.expire_tickets(slot) == 2
    ledger_rows = _ledger_count()
    assert ticket_jobs.expire_tickets(slot) == 0
    assert _ledger_count() == ledger_rows
    assert len(history(tickets["p_old"], "expired")) == 1


def test_a_missed_week_is_caught_up_by_one_run(tickets):
    slot = T(2026, 7, 18, 0, 5)
    assert ticket_jobs.expire_tickets(slot.isoformat()) == 2
    assert reload(tickets["p_old"]).status is S.UNUSED_ESCROW_EXPIRED
    assert reload(tickets["g_old"]).status is S.EXPIRED
    [entry] = db.session.scalars(select(LedgerEntry))
    assert entry.day == date(2026, 7, 11)  # the day the escrow ended, not the day of the run


def test_batches_cover_every_ticket(ctx, monkeypatch):
    monkeypatch.setattr(expiry, "BATCH", 3)
    at(2026, 7, 1, 9, 0)
    store, owner, pickup, _ = ready_store()
    many = issue(owner, store, pickup, quantity=8)
    for t in many:
        t.expires_on = END
    db.session.commit()
    assert ticket_jobs.expire_tickets(T(2026, 7, 11, 0, 5).isoformat()) == 8
    assert {reload(t).status for t in many} == {S.UNUSED_ESCROW_EXPIRED}
    assert _ledger_count() == 8


def test_a_ticket_redeemed_after_expiry_gets_its_escrow_entry_once(tickets):
    """Rule b: redeeming an unused ticket past its escrow end before the job ran moves it from
    `unused` to 逾期兌回. Its escrow ended all the same, so the ledger's ESCROW_EXPIRED entry is
    written with the redemption, for the day after the escrow end; the job's compare-and-set on
    `unused` then leaves the ticket be, and adds no second entry."""
    at(2026, 7, 11, 0, 1)
    ticket = reload(tickets["p_old"])
    services.redeem(tickets["owner"], tickets["store"], ticket)
    db.session.commit()
    assert reload(ticket).status is S.USED_AFTER_EXPIRY
    assert ledger(ticket) == [("escrow_expired", 150)]
    assert ticket_jobs.expire_tickets(T(2026, 7, 11, 0, 5).isoformat()) == 1  # the gift only
    assert reload(ticket).status is S.USED_AFTER_EXPIRY and ledger(ticket) == [("escrow_expired", 150)]
    [entry] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.ticket_id == ticket.id))
    assert entry.day == END + timedelta(days=1) and entry.kind is LedgerKind.ESCROW_EXPIRED
    # a cancelled redemption and a second one move between expired states: no entry again
    services.cancel_redemption(tickets["owner"], tickets["store"], reload(ticket))
    db.session.commit()
    services.redeem(tickets["owner"], tickets["store"], reload(ticket))
    db.session.commit()
    assert ledger(ticket) == [("escrow_expired", 150)]


def test_a_ticket_returned_after_expiry_gets_its_escrow_entry(tickets):
    """Rule b, for a return: 未使用 past the escrow end → 已退貨且價金保管逾期 (the merchant refunds
    the consumer itself); the price was released at escrow end, and the ledger says so."""
    at(2026, 7, 11, 0, 1)
    ticket = reload(tickets["p_old"])
    services.return_ticket(tickets["owner"], tickets["store"], ticket, reason="客訴")
    db.session.commit()
    assert reload(ticket).status is S.RETURNED_ESCROW_EXPIRED
    assert ledger(ticket) == [("escrow_expired", 150)]
    ticket_jobs.expire_tickets(T(2026, 7, 11, 0, 5).isoformat())
    assert ledger(ticket) == [("escrow_expired", 150)]


def test_a_gift_used_after_its_validity_gets_no_escrow_entry(tickets):
    """Gift vouchers have no escrow: one past its validity is 已失效 and cannot be redeemed."""
    at(2026, 7, 11, 0, 1)
    ticket = reload(tickets["g_old"])
    with pytest.raises(actions.TicketRefused):
        services.redeem(tickets["owner"], tickets["store"], ticket)
    db.session.rollback()
    assert ledger(ticket) == []


def test_the_scheduler_runs_expiry_at_00_05_taipei(tickets, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE", [schedule.by_name("expire_tickets")])
    at(2026, 7, 11, 0, 4)
    assert jobs.tick() == ["expire_tickets"]  # the 7/10 00:05 slot: nothing past its end yet
    assert reload(tickets["p_old"]).status is S.UNUSED
    at(2026, 7, 11, 0, 5, 30)
    assert jobs.tick() == ["expire_tickets"]
    db.session.expire_all()
    assert reload(tickets["p_old"]).status is S.UNUSED_ESCROW_EXPIRED

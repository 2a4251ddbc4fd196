"""The credit jobs on a frozen clock: the 20:15 auto-close (store setting, the transaction's
own flag, day 21, close requests, refunds settled), run twice and caught up after a missed
day; the day-80 notice; the day-91 abandon."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock, history
from app.checkout.models import CardTransaction
from app.checkout.models import TransactionStatus as S
from app.credit import jobs, refunds
from app.credit.models import CardRefund, RefundStatus
from app.db import db
from app.ecpay.models import IntegrationSettings
from app.notifications.models import Message
from app.schedule import by_name
from tests.credit.helpers import make_card_transaction
from tests.factories import make_checkout_store

SLOT = clock.taipei_datetime(2026, 12, 7, 20, 15)


def _days_ago(days: int, hour: int = 9) -> object:
    return SLOT - timedelta(days=days) + timedelta(hours=hour - 20, minutes=-15)


def _state(txn: CardTransaction) -> tuple:
    db.session.expire_all()
    row = db.session.get(CardTransaction, txn.id, execution_options={"unscoped": True})
    return row.status, row.close_error


def _actions(txn: CardTransaction) -> list[str]:
    return [e.action for e in history.entries_for(txn, unscoped=True)]


def test_the_schedule_runs_the_jobs():
    assert (by_name("credit_daily_close").cron, by_name("credit_daily_close").func) == (
        "15 20 * * *", "app.credit.jobs:daily_close")
    assert by_name("credit_expiry_notices").func == "app.credit.jobs:day_80_notices"
    assert by_name("credit_auto_abandon").func == "app.credit.jobs:auto_abandon"


def test_the_2015_close(ctx):
    clock.freeze(SLOT - timedelta(days=30))
    on, off = make_checkout_store(), make_checkout_store()
    db.session.add(IntegrationSettings(store_id=off.id, auto_close=False))
    today = make_card_transaction(on, authorised_at=SLOT - timedelta(hours=8))
    day_21 = make_card_transaction(on, authorised_at=_days_ago(21, hour=0))
    day_22 = make_card_transaction(on, authorised_at=_days_ago(22, hour=23))
    ticket = make_card_transaction(on, authorised_at=_days_ago(1), auto_close=False)
    store_off = make_card_transaction(off, authorised_at=_days_ago(1))
    requested_off = make_card_transaction(off, status=S.CLOSE_REQUESTED, authorised_at=_days_ago(3))
    closed = make_card_transaction(on, status=S.CLOSED, authorised_at=_days_ago(3))
    refunds.refund(closed, 300)
    db.session.commit()
    clock.freeze(SLOT)

    assert jobs.daily_close(SLOT.isoformat()) == 5
    assert _state(today) == (S.CLOSED, "")
    assert _state(day_21) == (S.CLOSED, "")
    assert _state(day_22) == (S.AUTHORISED, "error_overDate")
    assert _state(ticket) == (S.AUTHORISED, "")
    assert _state(store_off) == (S.AUTHORISED, "")
    assert _state(requested_off) == (S.CLOSED, "")
    row = db.session.get(CardTransaction, day_22.id, execution_options={"unscoped": True})
    assert row.close_failed_at == SLOT
    assert db.session.get(CardTransaction, today.id,
                          execution_options={"unscoped": True}).closed_at == SLOT
    assert [(r.status, r.settled_at) for r in db.session.scalars(
        select(CardRefund).execution_options(unscoped=True))] == [(RefundStatus.SETTLED, SLOT)]
    assert _actions(today) == ["card_auto_close"]
    assert _actions(day_22) == ["card_close_failed"]
    assert _actions(requested_off) == ["card_closed"]
    assert _actions(closed) == ["card_refund_settled", "card_refund"]

    clock.move(timedelta(minutes=3))
    assert jobs.daily_close(SLOT.isoformat()) == 0  # twice: nothing more
    assert _actions(day_22) == ["card_close_failed"]


def test_what_came_after_the_slot_waits_for_the_next_close(ctx):
    clock.freeze(SLOT + timedelta(minutes=20))  # the run is late
    store = make_checkout_store()
    late = make_card_transaction(store)
    requested = make_card_transaction(store, status=S.CLOSE_REQUESTED, authorised_at=_days_ago(2))
    requested.close_requested_at = clock.now()
    closed = make_card_transaction(store, status=S.CLOSED, authorised_at=_days_ago(2))
    refunds.refund(closed, 100)
    db.session.commit()
    assert jobs.daily_close(SLOT.isoformat()) == 0
    assert (_state(late)[0], _state(requested)[0]) == (S.AUTHORISED, S.CLOSE_REQUESTED)
    next_slot = SLOT + timedelta(days=1)
    clock.freeze(next_slot)
    assert jobs.daily_close(next_slot.isoformat()) == 3
    assert (_state(late)[0], _state(requested)[0]) == (S.CLOSED, S.CLOSED)


def test_a_missed_day_is_caught_up_by_the_next_run(ctx):
    clock.freeze(SLOT - timedelta(days=25))
    store = make_checkout_store()
    yesterday = make_card_transaction(store, authorised_at=_days_ago(1))
    turned_22 = make_card_transaction(store, authorised_at=_days_ago(21))  # 21 on the missed day
    db.session.commit()
    clock.freeze(SLOT)  # yesterday's 20:15 never ran
    assert jobs.daily_close(SLOT.isoformat()) == 2
    assert _state(yesterday) == (S.CLOSED, "")
    assert _state(turned_22) == (S.CLOSED, "")
    next_slot = SLOT + timedelta(days=1)
    clock.freeze(next_slot)
    assert jobs.daily_close(next_slot.isoformat()) == 0


def test_the_day_80_notice(ctx):
    clock.freeze(SLOT - timedelta(days=100))
    store, quiet = make_checkout_store(), make_checkout_store()
    store.finance_emails = "finance@example.com"
    day_80 = make_card_transaction(store, amount=1200, authorised_at=_days_ago(80, hour=1))
    day_85 = make_card_transaction(store, amount=800, authorised_at=_days_ago(85))
    make_card_transaction(store, authorised_at=_days_ago(79, hour=23))
    make_card_transaction(store, status=S.CLOSED, authorised_at=_days_ago(85))
    make_card_transaction(quiet, status=S.CLOSE_REQUESTED, authorised_at=_days_ago(85))
    db.session.commit()
    clock.freeze(SLOT)
    assert jobs.day_80_notices(SLOT.isoformat()) == 1
    assert jobs.day_80_notices(SLOT.isoformat()) == 0  # twice: one mail
    messages = db.session.scalars(select(Message).execution_options(unscoped=True)).all()
    assert [(m.store_id, m.to_address, m.kind) for m in messages] == [
        (store.id, "finance@example.com", "card_expiry_notice")]
    body = messages[0].body
    assert "2 筆" in body and "NT$1,200" in body and "NT$800" in body
    assert body.index("NT$800") < body.index("NT$1,200")  # oldest first
    assert "2026/12/18 自動放棄授權" in body  # day 80 (12/07) → abandoned on day 91
    db.session.expire_all()
    assert db.session.get(CardTransaction, day_85.id,
                          execution_options={"unscoped": True}).expiry_noticed_at == SLOT
    assert db.session.get(CardTransaction, day_80.id,
                          execution_options={"unscoped": True}).expiry_noticed_at == SLOT
    tomorrow = SLOT + timedelta(days=1)
    clock.freeze(tomorrow)
    assert jobs.day_80_notices(tomorrow.isoformat()) == 1  # the day-79 one, now 80


def test_auto_abandon_after_90_days(ctx):
    clock.freeze(SLOT - timedelta(days=100))
    store = make_checkout_store()
    day_90 = make_card_transaction(store, authorised_at=_days_ago(90, hour=0))
    day_91 = make_card_transaction(store, authorised_at=_days_ago(91, hour=23))
    closed = make_card_transaction(store, status=S.CLOSED, authorised_at=_days_ago(95))
    db.session.commit()
    clock.freeze(SLOT)
    assert jobs.auto_abandon(SLOT.isoformat()) == 1
    assert jobs.auto_abandon(SLOT.isoformat()) == 0
    assert (_state(day_90)[0], _state(day_91)[0], _state(closed)[0]) == (
        S.AUTHORISED, S.ABANDONED, S.CLOSED)
    entry = history.entries_for(day_91, unscoped=True)[0]
    assert (entry.action, entry.to_status) == ("card_abandon", "abandoned")
    assert "90 天" in entry.reason

"""The payment notice on PostgreSQL: sent to a real local HTTP server that fails once, retried
on the schedule by the per-minute job, never sent again once acknowledged; a dead worker's try
taken back; a double-submitted payment authorised once; claims raced by workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.checkout import jobs as checkout_jobs
from app.checkout import notices, services
from app.checkout.acquirer import Card
from app.checkout.models import CardTransaction, NoticeStatus, PaymentNotice, PaymentNoticeAttempt
from app.db import db
from app.ecpay import checkmac
from app.notifications import outgoing
from tests.concurrency import Ready, run_at_once
from tests.factories import STAGE_KEYS, aio_form, make_checkout_store
from tests.installments.notice_helpers import MerchantServer

pytestmark = pytest.mark.postgres
START = clock.taipei_datetime(2026, 5, 1, 10, 0)
TEST_CARD = Card("4311952222222222", 12, 2030, "222")


def _accepted_order(url: str) -> int:
    store = make_checkout_store()
    accepted = services.accept(aio_form(store, ReturnURL=url).items())
    assert accepted.order is not None
    db.session.commit()
    return accepted.order.id


def _pay(order_id: int) -> services.Payment:
    order = db.session.get(services.CheckoutOrder, order_id, with_for_update=True,
                           execution_options={"unscoped": True})
    payment = services.pay(order, TEST_CARD)
    db.session.commit()
    return payment


def _notice() -> PaymentNotice:
    db.session.expire_all()
    return db.session.scalar(select(PaymentNotice))


def _url(server: MerchantServer) -> str:
    return f"http://127.0.0.1:{server._server.server_address[1]}/ecpay/return"


def test_fails_once_then_retried_by_the_job_and_not_sent_again(pg_app) -> None:  # noqa: ANN001
    pg_app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    clock.freeze(START)
    with MerchantServer(script=[(500, "busy"), (200, "1|OK")]) as server, pg_app.app_context():
        order_id = _accepted_order(_url(server))
        assert _pay(order_id).approved
        notice = _notice()
        assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
        assert notice.next_attempt_at == START + timedelta(minutes=5)
        assert checkout_jobs.payment_notices(clock.now().isoformat()) == 0  # not due yet
        clock.move(timedelta(minutes=5))
        assert checkout_jobs.payment_notices(clock.now().isoformat()) == 1
        notice = _notice()
        assert (notice.status, notice.attempts) == (NoticeStatus.SUCCEEDED, 2)
        clock.move(timedelta(hours=1))
        assert checkout_jobs.payment_notices(clock.now().isoformat()) == 0
        assert checkout_jobs.send_payment_notice(notice.id) == "skipped"
        attempts = db.session.scalars(select(PaymentNoticeAttempt)
                                      .order_by(PaymentNoticeAttempt.id)).all()
    assert [(a.http_status, a.succeeded) for a in attempts] == [(500, False), (200, True)]
    assert "HTTP 500" in attempts[0].error
    assert len(server.requests) == 2
    for received in server.requests:
        form = received.form
        assert checkmac.verify(form, *STAGE_KEYS)
        assert (form["RtnCode"], form["RtnMsg"], form["TradeAmt"]) == ("1", "交易成功", "1200")
        assert received.headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_a_dead_workers_try_is_taken_back_and_logged(pg_app) -> None:  # noqa: ANN001
    pg_app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    clock.freeze(START)
    with MerchantServer() as server, pg_app.app_context():
        order_id = _accepted_order(_url(server))
        assert _pay(order_id).approved
        notice = _notice()
        assert notice.status is NoticeStatus.SUCCEEDED
        # a manual re-send whose worker dies after claiming: taken back,
        # logged as interrupted, the notice still succeeded
        held = notices.claim(notice.id, trigger="manual")
        db.session.commit()
        assert held is not None and _notice().status is NoticeStatus.SENDING
        clock.move(timedelta(hours=1))
        checkout_jobs.payment_notices(clock.now().isoformat())
        notice = _notice()
        assert notice.status is NoticeStatus.SUCCEEDED and notice.attempts == 2
        errors = db.session.scalars(select(PaymentNoticeAttempt.error)).all()
    assert outgoing.INTERRUPTED in errors


def test_a_double_submitted_payment_is_authorised_once(pg_app) -> None:  # noqa: ANN001
    clock.freeze(START)
    with pg_app.app_context():
        order_id = _accepted_order("https://127.0.0.1/r")

    def pay(_: int, ready: Ready) -> bool:
        ready()
        return _pay(order_id).approved

    assert run_at_once(pg_app, pay, range(4)) == [True] * 4
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(CardTransaction.id))) == 1
        assert db.session.scalar(select(func.count(PaymentNotice.id))) == 1


def test_racing_claims_send_one_try(pg_app) -> None:  # noqa: ANN001
    clock.freeze(START)
    with pg_app.app_context():
        order_id = _accepted_order("https://127.0.0.1/r")
        _pay(order_id)
        notice_id = _notice().id
    clock.move(timedelta(minutes=5))

    def take(_: int, ready: Ready) -> int | None:
        ready()
        held = notices.claim(notice_id)
        db.session.commit()
        return held[0] if held else None

    won = run_at_once(pg_app, take, range(6))
    assert sorted(won, key=lambda a: a or 0) == [None] * 5 + [2]


def test_racing_requests_for_one_trade_no_store_one_order(pg_app) -> None:  # noqa: ANN001
    from app.checkout.models import CheckoutOrder

    with pg_app.app_context():
        store = make_checkout_store()
        db.session.commit()
        forms = [aio_form(store, trade_no="RACE1", amount=str(1000 + n)) for n in range(4)]

    def accept(form: dict[str, str], ready: Ready) -> str:
        ready()
        accepted = services.accept(form.items())
        db.session.commit()
        return "order" if accepted.order is not None else accepted.error.code

    outcomes = run_at_once(pg_app, accept, forms)
    assert sorted(outcomes) == ["10200047"] * 3 + ["order"]
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(CheckoutOrder.id))) == 1


def test_giving_up_and_paying_at_once_end_in_one_state(pg_app) -> None:  # noqa: ANN001
    clock.freeze(START)
    with pg_app.app_context():
        order_id = _accepted_order("https://127.0.0.1/r")
        order = db.session.get(services.CheckoutOrder, order_id, with_for_update=True,
                               execution_options={"unscoped": True})
        assert not services.pay(order, Card("4000000000000002", 12, 2030, "123")).approved
        db.session.commit()

    def act(n: int, ready: Ready) -> str:
        ready()
        order = db.session.get(services.CheckoutOrder, order_id, with_for_update=True,
                               execution_options={"unscoped": True})
        if order.status is not services.OrderStatus.PENDING:
            db.session.rollback()
            return "late"
        outcome = "failed" if n % 2 == 0 and services.give_up(order) else \
            "paid" if services.pay(order, TEST_CARD).approved else "declined"
        db.session.commit()
        return outcome

    outcomes = run_at_once(pg_app, act, range(4))
    assert outcomes.count("late") == 3 and len(set(outcomes) - {"late"}) == 1
    with pg_app.app_context():
        order = db.session.get(services.CheckoutOrder, order_id, execution_options={"unscoped": True})
        txns = db.session.scalar(select(func.count(CardTransaction.id)))
        sent = db.session.scalar(select(func.count(PaymentNotice.id)))
        if order.status is services.OrderStatus.FAILED:
            assert (txns, sent, order.last_decline) == (0, 0, "發卡銀行拒絕交易（測試拒絕卡）")
            assert services.signed_failure(order)["RtnCode"] != "1"
        else:
            assert (order.status, txns, sent) == (services.OrderStatus.PAID, 1, 1)
        # whichever won the race, a given-up order is stored as failed on PostgreSQL
        other_id = _accepted_order("https://127.0.0.1/r")
        other = db.session.get(services.CheckoutOrder, other_id, with_for_update=True,
                               execution_options={"unscoped": True})
        services.pay(other, Card("4000000000000002", 12, 2030, "123"))
        assert services.give_up(other)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(services.CheckoutOrder, other_id, execution_options={
            "unscoped": True}).status is services.OrderStatus.FAILED

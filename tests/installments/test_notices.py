"""Refund notices end to end: created once per refunded order, POSTed to a real server on
loopback, retried on the schedule until the merchant answers 1|OK, never sent again after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock, jobs
from app.db import db
from app.installments import notices, settings
from app.installments.models import NoticeStatus, RefundNotice
from app.notifications import outgoing
from tests.concurrency import Ready, run_at_once
from tests.installments.notice_helpers import (
    MerchantServer,
    attempts_of,
    installment_store,
    make_refunded_order,
    notice_of,
    run_job,
)

START = clock.taipei_datetime(2026, 11, 21, 10, 0)


@pytest.fixture
def loopback(app):  # noqa: ANN001, ANN201
    """Production posts over https only; these tests' server is plain http on loopback."""
    app.config.update(INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK=True, INSTALLMENT_NOTICE_TIMEOUT=2)
    return app


def _refunded(url: str, **kw):  # noqa: ANN003, ANN202
    store = installment_store()
    order = make_refunded_order(store, url=url, refunded_at=clock.now() - timedelta(minutes=3), **kw)
    db.session.commit()
    return store, order


def test_retried_until_ok_then_never_sent_again(loopback, ctx):
    clock.freeze(START)
    script = [(500, "Internal Server Error"), (200, "0|CheckMacValue Error"), (200, "1|OK\r\n")]
    with MerchantServer(script=script) as server:
        store, order = _refunded(server.url, total=3000, periods=3, redeemed=1, fee=300)

        run_job()  # creates the notice and makes the first try at once
        notice = notice_of(order)
        assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
        assert notice.next_attempt_at == START + timedelta(minutes=1)
        assert len(server.requests) == 1

        run_job()  # not due yet
        clock.move(timedelta(seconds=59))
        run_job()
        assert len(server.requests) == 1

        clock.move(timedelta(seconds=1))
        run_job()
        notice = notice_of(order)
        assert (notice.status, notice.attempts, len(server.requests)) == (NoticeStatus.PENDING, 2, 2)
        assert notice.next_attempt_at == clock.now() + timedelta(minutes=5)

        clock.move(timedelta(minutes=5))
        run_job()
        notice = notice_of(order)
        assert (notice.status, notice.attempts, len(server.requests)) == (NoticeStatus.SUCCEEDED, 3, 3)
        assert notice.succeeded_at == clock.now() and notice.next_attempt_at is None

        for _ in range(8):  # a day of runs: nothing more goes out
            clock.move(timedelta(hours=3))
            run_job()
            assert notices.claim(notice.id) is None
        assert len(server.requests) == 3

    logged = attempts_of(notice)
    assert [(a.http_status, a.succeeded, a.trigger) for a in logged] == [
        (500, False, "auto"), (200, False, "auto"), (200, True, "auto")]
    assert logged[0].body_excerpt == "Internal Server Error" and "HTTP 500" in logged[0].error
    assert logged[1].error == "回應內容不是 1|OK"
    assert logged[2].error == "" and logged[2].body_excerpt == "1|OK\r\n"

    # Every try is the same form, each signed at its own time with the store's key.
    secret = settings.notice_secret_for(store.id)
    first = server.requests[0]
    assert first.path == "/ecpay/refund?src=ectix"
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert first.form == {
        "MerchantID": store.merchant_code, "MerchantOrderNo": order.merchant_order_no,
        "OrderNo": order.order_no, "TotalAmount": "3000", "RefundAmount": "1700",
        "HandlingFee": "300", "RefundDate": "2026/11/21 09:57:00", "PeriodCount": "3",
        "ReturnedPeriods": "2", "RtnCode": "1", "RtnMsg": "退款成功"}
    assert {r.body for r in server.requests} == {first.body}
    for received in server.requests:
        stamp = received.headers["X-Ectix-Timestamp"]
        assert notices.verify(secret, stamp, received.body, received.headers["X-Ectix-Signature"],
                              now=int(stamp))
    assert [int(r.headers["X-Ectix-Timestamp"]) for r in server.requests] == [
        int(START.timestamp()), int((START + timedelta(minutes=1)).timestamp()),
        int((START + timedelta(minutes=6)).timestamp())]


def test_gives_up_after_the_last_try_and_the_operator_can_resend(loopback, ctx):
    clock.freeze(START)
    with MerchantServer(script=[(503, "busy")]) as server:
        _, order = _refunded(server.url)
        run_job()
        for delay in notices.RETRY_DELAYS:
            clock.move(delay)
            run_job()
        notice = notice_of(order)
        assert (notice.status, notice.attempts) == (NoticeStatus.GAVE_UP, notices.MAX_TRIES)
        assert len(server.requests) == notices.MAX_TRIES == 7
        assert clock.now() - START == timedelta(hours=23, minutes=36)
        clock.move(timedelta(days=2))
        run_job()
        assert len(server.requests) == 7

        server.script = [(200, "1|OK")]
        outcome = jobs.resolve("app.installments.jobs:send_refund_notice")(notice.id, "manual")
        assert outcome == "succeeded"
        notice = notice_of(order)
        assert notice.status is NoticeStatus.SUCCEEDED and len(server.requests) == 8
        assert attempts_of(notice)[-1].trigger == "manual"


def test_a_manual_resend_of_a_succeeded_notice_that_fails_leaves_it_succeeded(loopback, ctx):
    clock.freeze(START)
    with MerchantServer(script=[(200, "1|OK"), (500, "down")]) as server:
        _, order = _refunded(server.url)
        run_job()
        notice = notice_of(order)
        assert notice.status is NoticeStatus.SUCCEEDED
        succeeded_at = notice.succeeded_at
        clock.move(timedelta(hours=1))
        assert jobs.resolve("app.installments.jobs:send_refund_notice")(notice.id, "manual") == "succeeded"
        notice = notice_of(order)
        assert (notice.status, notice.succeeded_at, notice.next_attempt_at) == (
            NoticeStatus.SUCCEEDED, succeeded_at, None)
        assert len(server.requests) == 2
        clock.move(timedelta(days=1))
        run_job()
        assert len(server.requests) == 2


def test_one_notice_per_refunded_order_with_a_url(loopback, ctx):
    clock.freeze(START)
    with MerchantServer() as server:
        store = installment_store()
        refunded = make_refunded_order(store, url=server.url, refunded_at=clock.now())
        make_refunded_order(store, url="", refunded_at=clock.now())  # issued without a URL
        make_refunded_order(store, url=server.url)  # returned, not refunded yet
        make_refunded_order(store, url=server.url, redeemed=3)  # never returned
        db.session.commit()
        assert notices.create_notices() == 1
        assert notices.create_notices() == 0
        db.session.commit()
        run_job()
        run_job()
        assert db.session.scalar(select(func.count(RefundNotice.id))) == 1
        assert notice_of(refunded).status is NoticeStatus.SUCCEEDED
        assert len(server.requests) == 1


def test_the_notice_goes_to_the_url_of_the_order_not_the_stores_current_one(loopback, ctx):
    clock.freeze(START)
    with MerchantServer() as server:
        store, order = _refunded(server.url)
        stored = settings.settings_for(store.id)
        stored.refund_notify_url = "https://elsewhere.example.com/notify"
        db.session.commit()
        run_job()
        assert notice_of(order).url == server.url
        assert len(server.requests) == 1


def test_a_redirect_is_not_followed(loopback, ctx):
    clock.freeze(START)
    with MerchantServer(script=[(302, "")], extra_headers={"Location": "http://127.0.0.1:1/x"}) as server:
        _, order = _refunded(server.url)
        run_job()
        notice = notice_of(order)
        assert notice.status is NoticeStatus.PENDING and len(server.requests) == 1
        (attempt,) = attempts_of(notice)
        assert attempt.http_status == 302 and "轉址" in attempt.error


def test_a_slow_merchant_times_out_and_is_retried(loopback, ctx):
    clock.freeze(START)
    loopback.config["INSTALLMENT_NOTICE_TIMEOUT"] = 0.3
    with MerchantServer(delay=2.0) as server:
        _, order = _refunded(server.url)
        run_job()
        notice = notice_of(order)
        (attempt,) = attempts_of(notice)
        assert attempt.http_status is None and "逾時" in attempt.error
        assert notice.status is NoticeStatus.PENDING and notice.lease_until is None


def test_without_the_test_switch_plain_http_is_refused_and_nothing_is_sent(app, ctx):
    clock.freeze(START)
    with MerchantServer() as server:
        _, order = _refunded(server.url)
        run_job()
        notice = notice_of(order)
        (attempt,) = attempts_of(notice)
        assert attempt.error == "通知網址須為 https://" and server.requests == []
        assert notice.status is NoticeStatus.PENDING


def test_a_body_longer_than_the_excerpt_is_cut_to_200_characters(loopback, ctx):
    clock.freeze(START)
    with MerchantServer(script=[(200, "x" * 5000)]) as server:
        _, order = _refunded(server.url)
        run_job()
        (attempt,) = attempts_of(notice_of(order))
        assert attempt.body_excerpt == "x" * 200 and not attempt.succeeded


# Leases ------------------------------------------------------------------------------------

def test_a_notice_being_sent_is_not_claimed_again(loopback, ctx):
    clock.freeze(START)
    _, order = _refunded("https://merchant.example.com/n")
    notices.create_notices()
    db.session.commit()
    notice = notice_of(order)
    held = notices.claim(notice.id)
    db.session.commit()
    assert held is not None and held.attempt == 1
    assert notices.claim(notice.id) is None
    assert notices.claim(notice.id, trigger="manual") is None
    db.session.commit()
    assert notice_of(order).status is NoticeStatus.SENDING


def test_a_dead_workers_notice_is_taken_back_and_sent_again(loopback, ctx):
    clock.freeze(START)
    with MerchantServer() as server:
        _, order = _refunded(server.url)
        notices.create_notices()
        db.session.commit()
        held = notices.claim(notice_of(order).id)  # the worker dies before posting
        db.session.commit()
        assert held is not None

        clock.move(jobs.LEASE - timedelta(seconds=1))
        run_job()
        assert notice_of(order).status is NoticeStatus.SENDING and server.requests == []

        clock.move(timedelta(seconds=2))
        run_job()  # taken back: the try counts as failed, the next one is a minute later
        notice = notice_of(order)
        assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
        assert [a.error for a in attempts_of(notice)] == [outgoing.INTERRUPTED]

        clock.move(timedelta(minutes=1))
        run_job()
        notice = notice_of(order)
        assert (notice.status, notice.attempts, len(server.requests)) == (NoticeStatus.SUCCEEDED, 2, 1)

        # The dead worker wakes up: its attempt is no longer the notice's latest.
        assert notices.finish(held, notices.Reply(500, "late")) == "superseded"
        db.session.commit()
        assert notice_of(order).status is NoticeStatus.SUCCEEDED


@pytest.mark.postgres
def test_workers_racing_for_one_attempt_send_it_once(pg_app):
    """Eight workers claim the same due notice at the same moment: one wins the attempt, and
    the job run twice over creates one notice."""
    pg_app.config.update(INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK=True, INSTALLMENT_NOTICE_TIMEOUT=2)
    clock.freeze(START)
    with pg_app.app_context():
        _, order = _refunded("https://merchant.example.com/n")
        order_id = order.id

    def create(_: int, ready: Ready) -> int:
        ready()
        return notices.create_notices()

    assert sorted(run_at_once(pg_app, create, range(4))) == [0, 0, 0, 1]
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(RefundNotice.id))) == 1
        notice_id = db.session.scalar(select(RefundNotice.id).where(RefundNotice.order_id == order_id))

    def take(_: int, ready: Ready) -> int | None:
        ready()
        held = notices.claim(notice_id)
        return held.attempt if held else None

    won = run_at_once(pg_app, take, range(8))
    assert sorted(won, key=lambda a: a or 0) == [None] * 7 + [1]
    with pg_app.app_context():
        notice = db.session.get(RefundNotice, notice_id)
        assert (notice.status, notice.attempts) == (NoticeStatus.SENDING, 1)

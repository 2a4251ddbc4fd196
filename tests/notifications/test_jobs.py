"""The sending job: at most once, retried up to three attempts, failures kept on the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app import clock
from app import jobs as app_jobs
from app.db import db
from app.notifications import services
from app.notifications.jobs import (
    ABANDONED,
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    send_message,
    sweep_messages,
)
from app.notifications.models import Message, MessageStatus
from app.notifications.services import queue_email, queue_sms
from app.notifications.transports import SendFailed
from tests.notifications.conftest import use_gateway, use_smtp
from tests.notifications.smtp_server import SmtpTestServer


def fresh(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def test_a_job_run_twice_sends_once(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.commit()
    assert send_message(message.id) == "skipped"
    assert send_message(message.id) == "skipped"
    assert len(sms_gateway.requests) == 1
    assert fresh(message.id).attempts == 1


def test_a_message_in_flight_elsewhere_is_not_sent_again(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    clock.freeze(clock.taipei_datetime(2026, 5, 1, 10, 0))
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.flush()
    # another worker claimed it a moment ago and is sending right now
    db.session.execute(update(Message).where(Message.id == message.id)
                       .values(attempts=1, sent_at=clock.now()))
    db.session.commit()  # the queued job runs now, inline
    assert sms_gateway.requests == []
    assert send_message(message.id) == "skipped"
    assert sms_gateway.requests == []
    # a claim older than any send can take was abandoned (the worker died): taken again
    clock.move(CLAIM_TIMEOUT + timedelta(seconds=1))
    assert send_message(message.id) == "sent"
    assert len(sms_gateway.requests) == 1
    assert (fresh(message.id).status, fresh(message.id).attempts) == (MessageStatus.SENT, 2)


def test_two_runs_racing_for_the_same_attempt_only_one_wins(app, ctx, sms_gateway):
    """The claim is a compare-and-set on the attempt number read before it: if another worker
    claims the message between our read and our claim, we send nothing."""
    use_gateway(app, sms_gateway)
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.flush()
    db.session.info.pop("pending_jobs")  # we run the job by hand below
    db.session.commit()

    def other_worker_claims_first(state):  # noqa: ANN001, ANN202
        if state.is_update and not raced:
            raced.append(True)
            with db.engine.begin() as conn:
                conn.execute(update(Message.__table__).where(Message.__table__.c.id == message.id)
                             .values(attempts=1))

    raced: list[bool] = []
    event.listen(Session, "do_orm_execute", other_worker_claims_first)
    try:
        assert send_message(message.id) == "skipped"
    finally:
        event.remove(Session, "do_orm_execute", other_worker_claims_first)
    assert raced and sms_gateway.requests == []
    assert fresh(message.id).attempts == 1  # the other worker's claim, not ours


@pytest.mark.parametrize(("mode", "reason"), [
    ("http500", "簡訊閘道回應錯誤（HTTP 500）：gateway exploded"),
    ("error_body", "quota exceeded"),
    ("timeout", "簡訊閘道逾時"),
])
def test_gateway_failures_end_failed_after_three_attempts(app, ctx, sms_gateway, mode, reason):
    use_gateway(app, sms_gateway, SMS_TIMEOUT=0.2)
    sms_gateway.mode = mode
    message = queue_sms(None, "0912345678", "內容", kind="issuance_notice")
    db.session.commit()  # the job runs inline and makes its three attempts; it never raises
    row = fresh(message.id)
    assert row.status is MessageStatus.FAILED
    assert row.attempts == MAX_ATTEMPTS == 3
    assert row.error.startswith("第 3 次發送失敗：") and reason in row.error
    assert row.sent_at is None and not row.billable
    assert len(sms_gateway.requests) == 3


def test_a_permanent_refusal_is_not_retried(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    sms_gateway.mode = "echo_key"  # 401
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.commit()
    row = fresh(message.id)
    assert (row.status, row.attempts, len(sms_gateway.requests)) == (MessageStatus.FAILED, 1, 1)
    assert "HTTP 401" in row.error


def test_under_rq_the_job_raises_until_the_last_attempt(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    sms_gateway.mode = "http500"
    app.config["JOBS_MODE"] = "rq"
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.flush()
    db.session.info.pop("pending_jobs")  # we play the worker here
    db.session.commit()
    for attempt in (1, 2):
        with pytest.raises(SendFailed):
            send_message(message.id)
        row = fresh(message.id)  # between attempts: queued again, the reason on the row
        assert (row.status, row.attempts, row.sent_at) == (MessageStatus.QUEUED, attempt, None)
        assert row.error.startswith(f"第 {attempt} 次發送失敗：簡訊閘道回應錯誤（HTTP 500）")
    assert send_message(message.id) == "failed"  # the last attempt returns: RQ stops here
    assert (fresh(message.id).status, fresh(message.id).attempts) == (MessageStatus.FAILED, 3)
    assert len(sms_gateway.requests) == 3


def test_a_retry_that_succeeds_keeps_the_earlier_failure_visible(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    sms_gateway.mode = "http500"
    app.config["JOBS_MODE"] = "rq"
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.flush()
    db.session.info.pop("pending_jobs")
    db.session.commit()
    with pytest.raises(SendFailed):
        send_message(message.id)
    sms_gateway.mode = "ok"
    assert send_message(message.id) == "sent"
    row = fresh(message.id)
    assert (row.status, row.attempts, row.provider_ref, row.billable) == (
        MessageStatus.SENT, 2, "sms-2", True)
    assert "第 1 次發送失敗" in row.error


def test_rq_worker_retries_and_records_the_failure(app, ctx, sms_gateway, monkeypatch):
    """Through a real RQ worker (on fakeredis): three attempts, then FAILED; nothing raised
    to RQ after the last one."""
    import fakeredis
    from rq import Queue, SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class Worker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:
            pass

    queue = Queue("notifications", connection=fakeredis.FakeStrictRedis())
    monkeypatch.setattr(app_jobs, "_queue", lambda name: queue)
    monkeypatch.setattr(services, "SEND_RETRIES", (0, 0, 0))  # retry at once
    use_gateway(app, sms_gateway)
    sms_gateway.mode = "http500"
    app.config["JOBS_MODE"] = "rq"
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.commit()
    assert queue.count == 1 and sms_gateway.requests == []
    app_jobs.bind_app(app)
    try:
        Worker([queue], connection=queue.connection).work(burst=True, logging_level="ERROR")
    finally:
        app_jobs._app = None
    row = fresh(message.id)
    assert (row.status, row.attempts, len(sms_gateway.requests)) == (MessageStatus.FAILED, 3, 3)
    assert "HTTP 500" in row.error


def test_smtp_temporary_failures_are_retried_then_recorded(app, ctx):
    with SmtpTestServer(data_reply=(451, "4.3.0 mailbox busy")) as server:
        use_smtp(app, server)
        [message] = queue_email(None, "a@example.com", "主旨", "內容", kind="test")
        db.session.commit()
    row = fresh(message.id)
    assert (row.status, row.attempts) == (MessageStatus.FAILED, 3)
    assert "451" in row.error and "mailbox busy" in row.error


def test_an_unexpected_transport_error_is_recorded_not_lost(app, ctx):
    from app.notifications.transports import use_transports

    class Broken:
        def send(self, to, message, *, reference=""):
            raise KeyError("bug")

    use_transports(app, sms=Broken())
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.commit()
    row = fresh(message.id)
    assert row.status is MessageStatus.FAILED and "未預期的錯誤（KeyError）" in row.error


def test_a_missing_message_is_skipped(app, ctx):
    assert send_message(999_999) == "skipped"


# Rule j: a message whose sending worker died (its claim, the lease, ran out) ---------------------

def _claimed_then_killed(message_id: int, attempts: int) -> None:
    """What a worker did before it died while sending: the claim, committed; no answer."""
    db.session.execute(update(Message).where(Message.id == message_id)
                       .values(attempts=attempts, sent_at=clock.now()))
    db.session.commit()


def _sweep() -> int:
    return sweep_messages(clock.now().isoformat())


def test_rule_j_a_message_whose_worker_died_while_sending_is_sent_again(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    clock.freeze(clock.taipei_datetime(2026, 5, 1, 10, 0))
    message = queue_sms(None, "0912345678", "內容", kind="issuance_notice")
    db.session.flush()
    db.session.info.pop("pending_jobs")  # the job went to a worker that died
    _claimed_then_killed(message.id, attempts=1)

    assert _sweep() == 0  # claimed a moment ago: it may be sending right now
    clock.move(CLAIM_TIMEOUT + timedelta(seconds=1))
    assert _sweep() == 1  # queued again; sent (inline) after the sweeper's commit
    row = fresh(message.id)
    assert (row.status, row.attempts, row.billable) == (MessageStatus.SENT, 2, True)
    assert "第 1 次發送中斷（系統程序終止）" in row.error
    assert len(sms_gateway.requests) == 1
    clock.move(CLAIM_TIMEOUT * 3)
    assert _sweep() == 0


def test_rule_j_a_message_whose_last_attempt_died_fails_unbilled(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    clock.freeze(clock.taipei_datetime(2026, 5, 1, 10, 0))
    message = queue_sms(None, "0912345678", "內容", kind="issuance_notice")
    db.session.flush()
    db.session.info.pop("pending_jobs")
    _claimed_then_killed(message.id, attempts=MAX_ATTEMPTS)
    clock.move(CLAIM_TIMEOUT + timedelta(seconds=1))
    assert _sweep() == 0
    row = fresh(message.id)
    assert (row.status, row.error, row.billable, row.sent_at) == (
        MessageStatus.FAILED, ABANDONED, False, None)
    assert sms_gateway.requests == []

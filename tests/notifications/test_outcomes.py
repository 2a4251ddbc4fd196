"""A notice of an order that fails before any report, at queueing or at sending, is written in
the order's history as it fails (in the same commit); a failed message is never sent again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app import clock
from app.db import db
from app.history import HistoryEntry
from app.notifications.jobs import ABANDONED, CLAIM_TIMEOUT, MAX_ATTEMPTS, send_message, sweep_messages
from app.notifications.models import Message, MessageStatus
from app.notifications.services import queue_email, queue_sms
from tests.issuance.helpers import ready_store
from tests.notifications.conftest import use_gateway
from tests.orders.helpers import issue_order


def failures_of(order_id: int) -> list[HistoryEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "orders", HistoryEntry.subject_id == order_id,
        HistoryEntry.action == "notice_failed").order_by(HistoryEntry.id)))


def fresh(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def test_a_bad_address_fails_at_once_in_the_order_s_history(app, ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup)
    sms = queue_sms(store.id, "12345", "內容", kind="resend", order_id=order.id)
    [mail] = queue_email(store.id, "not-an-address", "主旨", "內容", kind="resend",
                         order_id=order.id)
    queue_sms(store.id, "", "內容", kind="test")  # of no order: no history anywhere
    db.session.commit()
    assert fresh(sms.id).status is MessageStatus.FAILED and fresh(sms.id).failed_at is not None
    entries = failures_of(order.id)
    assert [e.reason.split("：")[0] for e in entries] == ["簡訊 12345（補發通知）",
                                                        "Email not-an-address（補發通知）"]
    assert entries[0].changes == {"status": ["待發送", "發送失敗"]}
    assert "手機號碼格式錯誤" in entries[0].reason


def test_the_last_failed_attempt_is_in_the_order_s_history(app, ctx, sms_gateway):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup)
    use_gateway(app, sms_gateway, SMS_TIMEOUT=0.2)
    sms_gateway.mode = "http500"
    message = queue_sms(store.id, "0912345678", "內容", kind="resend", order_id=order.id)
    db.session.commit()  # three attempts, inline
    row = fresh(message.id)
    assert (row.status, row.attempts) == (MessageStatus.FAILED, MAX_ATTEMPTS)
    [entry] = failures_of(order.id)
    assert entry.reason.startswith("簡訊 0912345678（補發通知）：第 3 次發送失敗：簡訊閘道回應錯誤")


def test_a_message_whose_last_attempt_died_is_in_the_order_s_history(app, ctx, sms_gateway):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup)
    use_gateway(app, sms_gateway)
    clock.freeze(clock.taipei_datetime(2026, 5, 1, 10, 0))
    message = queue_sms(store.id, "0912345678", "內容", kind="resend", order_id=order.id)
    db.session.flush()
    db.session.info.pop("pending_jobs")
    db.session.execute(update(Message).where(Message.id == message.id)
                       .values(attempts=MAX_ATTEMPTS, sent_at=clock.now()))
    db.session.commit()
    clock.move(CLAIM_TIMEOUT + timedelta(seconds=1))
    assert sweep_messages(clock.now().isoformat()) == 0
    assert fresh(message.id).status is MessageStatus.FAILED
    [entry] = failures_of(order.id)
    assert entry.reason == f"簡訊 0912345678（補發通知）：{ABANDONED}"


def test_a_failed_message_is_never_sent_again(app, ctx, sms_gateway):
    """Failed is final: a stray job (RQ's retry, a duplicate) finds nothing to send."""
    use_gateway(app, sms_gateway)
    sms_gateway.mode = "echo_key"  # refused for good at once
    message = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.commit()
    assert fresh(message.id).status is MessageStatus.FAILED
    sms_gateway.mode = "ok"
    assert send_message(message.id) == "skipped"
    assert len(sms_gateway.requests) == 1 and fresh(message.id).status is MessageStatus.FAILED

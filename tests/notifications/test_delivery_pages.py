"""The outcome on the screens: the SMS log (簡訊發送紀錄) and the operator's outbox show
delivered and failed notices with the time and the reason, the order's history says so, and a
failed order notice is re-sent (補發) from the SMS log as new messages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.services import queue_sms
from tests.factories import login, make_operator, make_sub
from tests.issuance.helpers import ready_store
from tests.notifications.conftest import use_relay
from tests.orders.helpers import issue_order, messages, turn_sms_on


def _html(response) -> str:
    return response.get_data(as_text=True)


def _row(page: str, message_id: int) -> str:
    """The SMS log's (or the outbox's) row of one message."""
    match = re.search(rf'<tr[^>]*data-message-id="{message_id}".*?</tr>', page, re.S)
    assert match, f"no row for message {message_id}"
    return match.group(0)


@pytest.fixture
def delivered_and_failed(ctx, client, reporting_gateway):
    """Two orders of one store: the first's SMS delivered, the second's failed (空號)."""
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    good = issue_order(owner, store, pickup, mobile="0911000111", email="good@example.com")
    bad = issue_order(owner, store, pickup, mobile="0922000222", email="bad@example.com")
    [good_sms] = messages(good, channel=Channel.SMS)
    [bad_sms] = messages(bad, channel=Channel.SMS)
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 3))
    assert reporting_gateway.report(good_sms.provider_ref, "delivered").status == 200
    assert reporting_gateway.report(bad_sms.provider_ref, "failed", "空號").status == 200
    db.session.expire_all()
    login(client, "issuer01")
    return store, owner, pickup, good, bad, good_sms, bad_sms


def test_the_sms_log_shows_each_notice_s_outcome(delivered_and_failed, client):
    store, owner, pickup, good, bad, good_sms, bad_sms = delivered_and_failed
    page = _html(client.get("/sms-log/"))
    delivered, failed = _row(page, good_sms.id), _row(page, bad_sms.id)
    assert 'data-status="delivered"' in delivered and "已送達" in delivered
    assert "2026/11/21 10:03" in delivered  # 送達／失敗時間
    assert 'data-testid="sms-resend"' not in delivered
    assert 'data-status="failed"' in failed and "發送失敗" in failed
    assert "簡訊閘道回報未送達：空號" in failed and "2026/11/21 10:03" in failed
    assert f'action="/orders/{bad.id}/resend"' in failed and 'data-testid="sms-resend"' in failed
    assert "送達／失敗時間" in page
    # the filter knows the new result
    only = _html(client.get("/sms-log/", query_string={"status": "delivered"}))
    assert f'data-message-id="{good_sms.id}"' in only and f'data-message-id="{bad_sms.id}"' not in only


def test_a_failed_notice_is_resent_from_the_sms_log_as_new_messages(delivered_and_failed, client,
                                                                   reporting_gateway):
    store, owner, pickup, good, bad, good_sms, bad_sms = delivered_and_failed
    page = _html(client.get("/sms-log/"))
    action = re.search(r'action="([^"]+)"', _row(page, bad_sms.id).split('data-testid="sms-resend"')[0]
                       .rsplit("<form", 1)[1]).group(1)
    response = client.post(action)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith(f"/orders/{bad.id}")
    db.session.expire_all()
    resent = messages(bad, kind="resend")
    assert {(m.channel, m.status) for m in resent} == {(Channel.SMS, MessageStatus.SENT),
                                                      (Channel.EMAIL, MessageStatus.RECORDED)}
    assert db.session.get(Message, bad_sms.id).status is MessageStatus.FAILED  # stays as it was
    assert len(reporting_gateway.requests) == 3  # two issuance notices, one re-send

    detail = _html(client.get(f"/orders/{bad.id}"))
    assert "通知發送失敗" in detail and "簡訊 0922000222（發行通知）：簡訊閘道回報未送達：空號" in detail
    assert "補發通知" in detail
    actions = [e.action for e in db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.subject_type == "orders",
                                   HistoryEntry.subject_id == bad.id).order_by(HistoryEntry.id))]
    assert actions[-2:] == ["notice_failed", "notice_resent"]
    # the new notice is delivered in its turn; the SMS log offers no re-send for it
    new_sms = next(m for m in resent if m.channel is Channel.SMS)
    assert reporting_gateway.report(new_sms.provider_ref, "delivered").status == 200
    page = _html(client.get("/sms-log/"))
    assert 'data-status="delivered"' in _row(page, new_sms.id)
    assert 'data-testid="sms-resend"' not in _row(page, new_sms.id)


def test_the_resend_button_follows_the_right_and_the_kind(delivered_and_failed, client, app):
    store, owner, pickup, good, bad, good_sms, bad_sms = delivered_and_failed
    # a failed notice that 補發 would not send again (the old purchaser's notice): no button
    other = queue_sms(store.id, "12345", "壞號碼", kind="purchaser_replaced", order_id=good.id)
    db.session.commit()
    page = _html(client.get("/sms-log/"))
    assert 'data-status="failed"' in _row(page, other.id)
    assert 'data-testid="sms-resend"' not in _row(page, other.id)

    make_sub(store, username="smslog01", grants={Function.SMS_LOG: Level.VIEW})
    db.session.commit()
    viewer = app.test_client()
    login(viewer, "smslog01")
    page = _html(viewer.get("/sms-log/"))
    assert "簡訊閘道回報未送達：空號" in page and 'data-testid="sms-resend"' not in page
    assert viewer.post(f"/orders/{bad.id}/resend").status_code == 403  # checked server side


def test_the_outbox_shows_delivered_and_bounced_messages(ctx, client, app, relay,
                                                         reporting_gateway):
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    relay.undeliverable = {"bad@example.com": ("5.1.1", "550 5.1.1 User unknown")}
    use_relay(app, relay)
    order = issue_order(owner, store, pickup, mobile="0911000111", email="bad@example.com")
    [sms] = messages(order, channel=Channel.SMS)
    [mail] = messages(order, channel=Channel.EMAIL)
    assert reporting_gateway.report(sms.provider_ref, "delivered").status == 200
    from_mailbox = app.test_cli_runner().invoke(args=["jobs", "run", "read_bounces"])
    assert from_mailbox.exit_code == 0, from_mailbox.output
    make_operator("op0001")
    db.session.commit()
    login(client, "op0001")
    page = _html(client.get("/operator/messages"))
    assert 'data-status="delivered"' in _row(page, sms.id) and "已送達" in _row(page, sms.id)
    assert 'data-testid="message-delivered-at"' in _row(page, sms.id)
    bounced = _row(page, mail.id)
    assert 'data-status="failed"' in bounced
    assert "郵件伺服器退信（5.1.1）：550 5.1.1 User unknown" in bounced
    only = _html(client.get("/operator/messages", query_string={"status": "delivered"}))
    assert f'data-message-id="{sms.id}"' in only and f'data-message-id="{mail.id}"' not in only

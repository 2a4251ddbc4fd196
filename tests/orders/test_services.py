"""變更購買人 and 補發 per delivery type (docs/issuance.md), through the services."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput
from app.history import HistoryEntry
from app.notifications.models import Channel
from app.orders import rules, services
from app.tickets.models import Order
from tests.factories import make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import (
    CVS,
    PAPER,
    issue_order,
    message_count,
    messages,
    tickets_of,
    turn_sms_on,
)

NEW = {"name": "陳小華", "mobile": "0987 654 321", "email": "New@Example.com"}


def _history(subject_type: str, subject_id: int, action: str) -> list[HistoryEntry]:
    return list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == subject_type, HistoryEntry.subject_id == subject_id,
        HistoryEntry.action == action)))


def _change(owner, store, order, **kw):
    outcome = services.change_purchaser(owner, store, order.id, **(NEW | kw))
    db.session.commit()
    db.session.expire_all()
    return outcome


def test_electronic_change_gives_a_new_link_and_tells_both_purchasers(ctx):
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    order = issue_order(owner, store, pickup)
    old_token, order_no = order.link_token, order.order_no
    before = message_count()

    outcome = _change(owner, store, order)

    order = db.session.get(Order, order.id)
    assert order.link_token and order.link_token != old_token
    assert db.session.scalar(select(Order).where(Order.link_token.matches(old_token))) is None
    assert (order.purchaser_name, order.purchaser_mobile, order.purchaser_email) == (
        "陳小華", "0987654321", "New@example.com")
    assert {(t.holder_name, t.holder_mobile, t.holder_email) for t in tickets_of(order)} == {
        ("陳小華", "0987654321", "New@example.com")}

    new_notices = messages(order, kind="purchaser_changed")
    assert {(m.channel, m.to_address) for m in new_notices} == {
        (Channel.EMAIL, "New@example.com"), (Channel.SMS, "0987654321")}
    assert all(order.link_token in m.revealed_body and order.link_token not in m.body
               for m in new_notices)
    [old_mail] = messages(order, kind="purchaser_replaced")
    assert (old_mail.channel, old_mail.to_address) == (Channel.EMAIL, "old@example.com")
    assert old_mail.subject.endswith("票券變更購買人通知")
    assert order_no in old_mail.body
    assert old_token not in old_mail.body and order.link_token not in old_mail.body
    assert "/t/" not in old_mail.body
    assert message_count() == before + 3
    assert "原購買人已收到變更購買人 Email 通知" in outcome.message

    [entry] = _history("orders", order.id, "purchaser_changed")
    assert entry.changes == {"purchaser_name": ["王小明", "陳小華"],
                             "purchaser_mobile": ["0912345678", "0987654321"],
                             "purchaser_email": ["old@example.com", "New@example.com"]}
    dumped = json.dumps(entry.changes) + entry.reason
    assert old_token not in dumped and order.link_token not in dumped
    for ticket in tickets_of(order):
        [holder] = _history("tickets", ticket.id, "holder_changed")
        assert holder.changes["holder_name"] == ["王小明", "陳小華"]


def test_cvs_change_gives_a_new_pickup_code(ctx):
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    order = issue_order(owner, store, pickup, method=CVS)
    old_code = order.pickup_code

    _change(owner, store, order)

    order = db.session.get(Order, order.id)
    assert order.pickup_code and order.pickup_code != old_code and order.link_token is None
    sms = messages(order, kind="purchaser_changed", channel=Channel.SMS)
    assert [m.to_address for m in sms] == ["0987654321"] and order.pickup_code in sms[0].revealed_body
    [old_mail] = messages(order, kind="purchaser_replaced")
    assert old_code not in old_mail.body and order.pickup_code not in old_mail.body
    [entry] = _history("orders", order.id, "purchaser_changed")
    assert old_code not in json.dumps(entry.changes) and order.pickup_code not in json.dumps(entry.changes)


def test_without_sms_the_new_purchaser_gets_only_the_e_mail(ctx):
    store, owner, pickup, _ = ready_store()  # SMS service enabled by the contract, switch off
    order = issue_order(owner, store, pickup)
    _change(owner, store, order)
    assert [m.channel for m in messages(order, kind="purchaser_changed")] == [Channel.EMAIL]


def test_paper_change_sends_nothing(ctx):
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    order = issue_order(owner, store, pickup, method=PAPER)
    assert message_count() == 0  # paper tickets get no issuance notice either
    outcome = _change(owner, store, order)
    assert message_count() == 0
    assert rules.PAPER_NO_NOTICE in outcome.message and outcome.category == "warning"
    order = db.session.get(Order, order.id)
    assert order.purchaser_name == "陳小華" and order.link_token is None and order.pickup_code is None
    assert {t.holder_name for t in tickets_of(order)} == {"陳小華"}
    assert len(_history("orders", order.id, "purchaser_changed")) == 1


def _snapshot(order_id: int) -> tuple:
    db.session.expire_all()
    o = db.session.get(Order, order_id)
    holders = tuple((t.holder_name, t.holder_mobile, t.holder_email) for t in tickets_of(o))
    return (o.purchaser_name, o.purchaser_mobile, o.purchaser_email, o.link_token, o.pickup_code,
            holders, message_count())


@pytest.mark.parametrize(("method", "mark", "message"), [
    (CVS, "printed_at", rules.PRINTED_NO_CHANGE),
    (PAPER, "printed_at", rules.PRINTED_NO_CHANGE),
    (None, "transferred_at", rules.TRANSFERRED_NO_CHANGE),
])
def test_change_is_refused_once_printed_or_transferred(ctx, method, mark, message):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, **({"method": method} if method else {}))
    ticket = tickets_of(order)[1]  # one ticket of the order is enough
    setattr(ticket, mark, clock.now())
    db.session.commit()
    before = _snapshot(order.id)
    with pytest.raises(DomainError) as refused:
        services.change_purchaser(owner, store, order.id, **NEW)
    db.session.rollback()
    assert refused.value.message == message
    assert _snapshot(order.id) == before
    assert _history("orders", order.id, "purchaser_changed") == []


@pytest.mark.parametrize(("method", "kw", "field", "message"), [
    (None, {"mobile": "12345"}, "mobile", services.BAD_MOBILE),
    (None, {"email": "not-an-email"}, "email", services.BAD_EMAIL),
    (None, {"mobile": "", "email": ""}, "mobile", rules.ELECTRONIC_NEEDS_CONTACT),
    (CVS, {"mobile": ""}, "mobile", rules.CVS_NEEDS_MOBILE),
    (None, {"name": "  "}, "name", services.NAME_REQUIRED),
])
def test_bad_purchaser_input_is_refused_per_field(ctx, method, kw, field, message):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, **({"method": method} if method else {}))
    before = _snapshot(order.id)
    with pytest.raises(InvalidInput) as refused:
        services.change_purchaser(owner, store, order.id, **(NEW | kw))
    db.session.rollback()
    assert refused.value.fields[field] == message
    assert _snapshot(order.id) == before


def test_the_same_purchaser_again_is_no_change(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup)
    with pytest.raises(InvalidInput, match=services.NOTHING_CHANGED):
        services.change_purchaser(owner, store, order.id, name="王小明", mobile="0912-345-678",
                                  email="old@example.com")
    db.session.rollback()


def test_an_old_purchaser_without_e_mail_gets_no_e_mail(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, email="")
    outcome = _change(owner, store, order)
    assert messages(order, kind="purchaser_replaced") == []
    assert "原購買人未留 Email" in outcome.message


def test_a_stale_form_cannot_overwrite_a_change_made_in_another_tab(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup)
    seen = services.purchaser_revision(order)
    _change(owner, store, order, expected_revision=seen)  # the first tab wins
    before = _snapshot(order.id)
    with pytest.raises(DomainError, match="已在其他視窗"):
        services.change_purchaser(owner, store, order.id, name="第三人", mobile="0911111111",
                                  email="", expected_revision=seen)
    db.session.rollback()
    assert _snapshot(order.id) == before
    assert services.purchaser_revision(db.session.get(Order, order.id)) == seen + 1


def test_a_sub_account_needs_the_modify_right(ctx):
    store, owner, pickup, _ = ready_store()
    viewer = make_sub(store, grants={Function.ISSUED_ORDERS: Level.VIEW})
    order = issue_order(owner, store, pickup)
    with pytest.raises(Forbidden):
        services.change_purchaser(viewer, store, order.id, **NEW)
    with pytest.raises(Forbidden):
        services.resend_notice(viewer, store, order.id)
    db.session.rollback()


# 補發 ---------------------------------------------------------------------------------------

def test_electronic_resend_goes_to_the_original_purchaser_only(ctx):
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    order = issue_order(owner, store, pickup)
    given = tickets_of(order)[0]  # given to a friend in the wallet
    given.transferred_at = clock.now()
    given.holder_name, given.holder_mobile, given.holder_email = "受贈人", "0922222222", "friend@example.com"
    db.session.commit()

    outcome = services.resend_notice(owner, store, order.id)
    db.session.commit()

    resent = messages(order, kind="resend")
    assert {(m.channel, m.to_address) for m in resent} == {
        (Channel.EMAIL, "old@example.com"), (Channel.SMS, "0912345678")}
    assert all(order.link_token in m.revealed_body for m in resent)
    assert "Email、簡訊" in outcome.message
    assert len(_history("orders", order.id, "notice_resent")) == 1


def test_cvs_resend_until_printed(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, method=CVS)
    services.resend_notice(owner, store, order.id)
    db.session.commit()
    assert [m.to_address for m in messages(order, kind="resend")] == ["old@example.com"]

    tickets_of(order)[0].printed_at = clock.now()
    db.session.commit()
    with pytest.raises(DomainError, match=rules.PRINTED_NO_RESEND):
        services.resend_notice(owner, store, order.id)
    db.session.rollback()
    assert len(messages(order, kind="resend")) == 1


def test_paper_resend_is_refused(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, method=PAPER)
    with pytest.raises(DomainError, match=rules.PAPER_NO_RESEND):
        services.resend_notice(owner, store, order.id)
    db.session.rollback()
    assert message_count() == 0 and _history("orders", order.id, "notice_resent") == []


def test_resend_with_no_channel_is_refused(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, method=CVS, email="")  # mobile only, SMS off
    with pytest.raises(DomainError, match="無法補發"):
        services.resend_notice(owner, store, order.id)
    db.session.rollback()
    assert messages(order, kind="resend") == []


def test_another_stores_order_is_not_found(ctx):
    store, owner, pickup, _ = ready_store()
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    order = issue_order(other_owner, other, other_pickup)
    with pytest.raises(DomainError) as missing:
        services.change_purchaser(owner, store, order.id, **NEW)
    assert missing.value.status == 404
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.action == "purchaser_changed")) == 0

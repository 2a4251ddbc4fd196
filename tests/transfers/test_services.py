"""轉贈 (give), 取消轉贈 (cancel) and 退貨同步取消轉贈, through the services on a real database;
and the change of purchaser refused while a ticket is given away (docs/issuance.md)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.history import action_label
from app.notifications.models import Channel
from app.orders import rules
from app.orders import services as orders
from app.settings.services import settings_for
from app.tickets import services as tickets
from app.tickets.status import TicketStatus
from app.transfers import services
from app.transfers.models import Transfer, TransferItemState, TransferStatus
from tests.factories import make_account, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import CVS, PAPER, issue_order, messages, tickets_of, turn_sms_on
from tests.transfers.helpers import FRIEND, give, history, items_of, ticket

BUYER = ("王小明", "0912345678", "old@example.com")  # issue_order's purchaser


@pytest.fixture
def shop(ctx):
    store, owner, pickup, gift = ready_store()
    return store, owner, pickup, gift


def _transfer_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Transfer)) or 0


def _holder(t) -> tuple[str, str, str]:
    return t.holder_name, t.holder_mobile, t.holder_email


# 轉贈 ---------------------------------------------------------------------------------------

def test_give_moves_the_tickets_to_the_recipient_with_history_and_an_email(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup, quantity=3)
    first, second, kept = tickets_of(order)

    transfer = give(order, [first, second])

    assert re.fullmatch(r"TR\d{16}", transfer.transfer_no)
    assert transfer.status is TransferStatus.ACTIVE and transfer.ticket_count == 2
    assert (transfer.giver_name, transfer.giver_mobile, transfer.giver_email) == BUYER
    assert (transfer.recipient_name, transfer.recipient_mobile, transfer.recipient_email) == (
        FRIEND["name"], FRIEND["mobile"], FRIEND["email"])
    assert transfer.link_token and transfer.link_token != order.link_token
    for t in (first, second):
        now = ticket(t.id)
        assert now.transfer_id == transfer.id and now.transferred_at is not None
        assert _holder(now) == (FRIEND["name"], FRIEND["mobile"], FRIEND["email"])
        [entry] = history("tickets", t.id, "transferred")
        assert entry.changes["holder_name"] == [BUYER[0], FRIEND["name"]]
        assert entry.changes["holder_mobile"] == [BUYER[1], FRIEND["mobile"]]
        assert transfer.transfer_no in entry.reason
    untouched = ticket(kept.id)
    assert untouched.transfer_id is None and _holder(untouched) == BUYER
    assert {i.state for i in items_of(transfer).values()} == {TransferItemState.GIVEN}
    assert set(items_of(transfer)) == {first.id, second.id}
    assert [e.action for e in history("transfers", transfer.id)] == ["transfer_created"]
    assert action_label("transferred") == "轉贈"

    [mail] = messages(order, kind=services.TRANSFER_NOTICE)
    assert mail.channel is Channel.EMAIL and mail.to_address == FRIEND["email"]
    assert f"/t/{transfer.link_token}" in mail.revealed_body and transfer.transfer_no in mail.body
    assert "2 張" in mail.body and BUYER[0] in mail.body
    assert messages(order, kind=services.TRANSFER_NOTICE, channel=Channel.SMS) == []  # SMS off


def test_rule_g_a_transfer_is_notified_by_email_only_even_with_sms_on(shop):
    """SMS (and its fee) is for issuance, a change of purchaser and a re-send; a transfer's
    recipient gets the link by e-mail."""
    store, owner, pickup, _ = shop
    turn_sms_on(store)
    order = issue_order(owner, store, pickup)
    transfer = give(order, tickets_of(order)[:1])
    assert messages(order, kind=services.TRANSFER_NOTICE, channel=Channel.SMS) == []
    [mail] = messages(order, kind=services.TRANSFER_NOTICE)
    assert mail.channel is Channel.EMAIL and f"/t/{transfer.link_token}" in mail.revealed_body


def test_rule_g_a_recipient_needs_an_email_whether_or_not_sms_is_on(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    [t, _] = tickets_of(order)
    for sms_on in (False, True):
        if sms_on:
            turn_sms_on(store)
        with pytest.raises(InvalidInput) as refused:
            services.give(order, [t.id], name="陳小華", mobile="0922333444", email="")
        db.session.rollback()
        assert refused.value.fields == {"email": "請填寫受贈人 Email，以便寄送票券連結"}
        assert ticket(t.id).transfer_id is None


@pytest.mark.parametrize(("kw", "field", "message"), [
    ({"name": " "}, "name", "請填寫受贈人姓名"),
    ({"mobile": "", "email": ""}, "mobile", "電子票券須填寫手機或 Email（至少一項）"),
    ({"mobile": "123"}, "mobile", orders.BAD_MOBILE),
    ({"mobile": BUYER[1]}, "mobile", services.TO_SELF),
    ({"mobile": "", "email": "OLD@example.com"}, "email", services.TO_SELF),
])
def test_recipient_input_is_checked_and_nothing_changes(shop, kw, field, message):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    [t, _] = tickets_of(order)
    with pytest.raises(InvalidInput) as refused:
        services.give(order, [t.id], **(FRIEND | kw))
    db.session.rollback()
    assert refused.value.fields[field] == message
    assert _transfer_count() == 0 and ticket(t.id).transfer_id is None


def test_nothing_chosen_is_refused(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    with pytest.raises(InvalidInput, match=services.NOTHING_CHOSEN):
        services.give(order, [], **FRIEND)


@pytest.mark.parametrize("case", ["gift", "paper", "cvs", "used", "returned"])
def test_only_unused_electronic_pickup_vouchers_may_be_given(shop, case):
    store, owner, pickup, gift = shop
    product = gift if case == "gift" else pickup
    method = {"paper": PAPER, "cvs": CVS}.get(case)
    order = issue_order(owner, store, product, **({"method": method} if method else {}))
    [t, _] = tickets_of(order)
    if case == "used":
        tickets.redeem(owner, store, t)
        db.session.commit()
    if case == "returned":
        tickets.return_ticket(owner, store, t, reason="不要了")
        db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.give(order, [t.id], **FRIEND)
    db.session.rollback()
    assert refused.value.message == services.NOT_TRANSFERABLE
    assert _transfer_count() == 0 and ticket(t.id).transfer_id is None


def test_a_ticket_given_once_cannot_be_given_again(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, second = tickets_of(order)
    give(order, [first])
    with pytest.raises(DomainError) as refused:
        services.give(order, [first.id, second.id], name="林小姐", mobile="0933111222", email="lin@example.com")
    db.session.rollback()
    assert refused.value.message == services.ALREADY_GIVEN
    assert _transfer_count() == 1 and ticket(second.id).transfer_id is None


def test_a_ticket_of_another_order_is_not_found(shop):
    store, owner, pickup, _ = shop
    mine = issue_order(owner, store, pickup)
    other = issue_order(owner, store, pickup, name="別人", mobile="0955000111", email="x@example.com")
    with pytest.raises(NotFound):
        services.give(mine, [tickets_of(mine)[0].id, tickets_of(other)[0].id], **FRIEND)
    db.session.rollback()
    assert _transfer_count() == 0


def test_a_ticket_with_a_pending_return_application_cannot_be_given(shop):
    from app.return_applications import services as return_applications

    store, owner, pickup, _ = shop
    settings_for(store).online_return_application = True
    order = issue_order(owner, store, pickup)
    [t, _] = tickets_of(order)
    return_applications.apply(store, order, [t], reason="買錯了", name=BUYER[0], mobile=BUYER[1],
                              email=BUYER[2])
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.give(order, [t.id], **FRIEND)
    db.session.rollback()
    assert refused.value.message == services.RETURN_APPLIED and _transfer_count() == 0


def test_transferable_is_the_wallet_rule(shop):
    store, owner, pickup, gift = shop
    order = issue_order(owner, store, pickup)
    gift_order = issue_order(owner, store, gift)
    paper = issue_order(owner, store, pickup, method=PAPER)
    first, second = tickets_of(order)
    assert services.transferable(first, order)
    assert not services.transferable(tickets_of(gift_order)[0], gift_order)
    assert not services.transferable(tickets_of(paper)[0], paper)
    give(order, [first])
    assert not services.transferable(ticket(first.id), order)
    tickets.redeem(owner, store, second)
    db.session.commit()
    assert not services.transferable(ticket(second.id), order)


# 取消轉贈 -------------------------------------------------------------------------------------

def test_cancel_hands_unused_tickets_back_and_keeps_used_ones(shop):
    store, owner, pickup, _ = shop
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 9, 0))
    order = issue_order(owner, store, pickup, quantity=3)
    a, b, used = tickets_of(order)
    transfer = give(order, [a, b, used])
    tickets.redeem(owner, store, ticket(used.id))  # the recipient used one at the counter
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 7, 2, 10, 30))

    services.cancel(owner, store, transfer.id, reason="  消費者來電要求  ")
    db.session.commit()

    transfer = db.session.get(Transfer, transfer.id)
    assert transfer.status is TransferStatus.CANCELLED
    assert transfer.cancelled_by_id == owner.id
    assert clock.taipei(transfer.cancelled_at) == clock.taipei_datetime(2026, 7, 2, 10, 30)
    assert transfer.cancel_reason == "消費者來電要求"
    for t in (a, b):
        back = ticket(t.id)
        assert back.transfer_id is None and back.transferred_at is None
        assert _holder(back) == BUYER and back.status is TicketStatus.UNUSED
        [entry] = history("tickets", t.id, "transfer_cancelled")
        assert entry.changes["holder_name"] == [FRIEND["name"], BUYER[0]]
        assert "消費者來電要求" in entry.reason and transfer.transfer_no in entry.reason
    still = ticket(used.id)
    assert still.transfer_id == transfer.id and _holder(still) == (
        FRIEND["name"], FRIEND["mobile"], FRIEND["email"])
    assert history("tickets", used.id, "transfer_cancelled") == []
    states = {k: v.state for k, v in items_of(transfer).items()}
    assert states == {a.id: TransferItemState.CANCELLED, b.id: TransferItemState.CANCELLED,
                      used.id: TransferItemState.KEPT}
    assert all(i.ended_at is not None for i in items_of(transfer).values())
    [entry] = history("transfers", transfer.id, "transfer_cancelled")
    assert (entry.from_status, entry.to_status) == ("active", "cancelled")
    assert "2 張回到購買人" in entry.reason and entry.actor_id is None  # no request: system

    mails = {m.to_address: m for m in messages(order, kind=services.TRANSFER_CANCELLED)}
    assert set(mails) == {FRIEND["email"], BUYER[2]}
    assert "連結已失效" in mails[FRIEND["email"]].body
    assert "2 張未使用的票券已回到您的電子票夾" in mails[BUYER[2]].body


def test_cancel_twice_is_refused(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    transfer = give(order, tickets_of(order))
    services.cancel(owner, store, transfer.id, reason="誤操作")
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.cancel(owner, store, transfer.id, reason="再一次")
    db.session.rollback()
    assert refused.value.message == services.ALREADY_CANCELLED
    assert len(history("transfers", transfer.id, "transfer_cancelled")) == 1


def test_cancel_needs_a_reason_and_the_modify_right(shop):
    store, owner, pickup, _ = shop
    viewer = make_sub(store, grants={Function.TRANSFER_RECORDS: Level.VIEW})
    editor = make_sub(store, grants={Function.TRANSFER_RECORDS: Level.MODIFY})
    order = issue_order(owner, store, pickup)
    transfer = give(order, tickets_of(order))
    with pytest.raises(InvalidInput) as missing:
        services.cancel(owner, store, transfer.id, reason="   ")
    assert missing.value.fields == {"reason": services.REASON_REQUIRED}
    with pytest.raises(Forbidden, match=services.NO_RIGHT):
        services.cancel(viewer, store, transfer.id, reason="不行")
    db.session.rollback()
    assert db.session.get(Transfer, transfer.id).status is TransferStatus.ACTIVE
    services.cancel(editor, store, transfer.id, reason="可以")
    db.session.commit()
    assert db.session.get(Transfer, transfer.id).cancelled_by_id == editor.id


def test_another_stores_transfer_is_not_found(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    transfer = give(order, tickets_of(order))
    other = make_store()
    other_owner = make_account(other)
    with pytest.raises(NotFound):
        services.cancel(other_owner, other, transfer.id, reason="不是我的")
    db.session.rollback()
    assert db.session.get(Transfer, transfer.id).status is TransferStatus.ACTIVE


# 退貨同步取消轉贈 ---------------------------------------------------------------------------------

def test_returning_a_given_ticket_takes_it_out_of_its_transfer(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, second = tickets_of(order)
    transfer = give(order, [first, second])

    tickets.return_ticket(owner, store, ticket(first.id), reason="受贈人不需要")
    db.session.commit()

    returned = ticket(first.id)
    assert returned.status is TicketStatus.RETURN_PENDING
    assert returned.transfer_id is None and returned.transferred_at is None
    assert _holder(returned) == BUYER  # the purchaser's card is refunded
    [entry] = history("tickets", first.id, "transfer_cancelled_by_return")
    assert action_label(entry.action) == "退貨同步取消轉贈"
    assert entry.changes["holder_name"] == [FRIEND["name"], BUYER[0]]
    assert items_of(transfer)[first.id].state is TransferItemState.RETURNED
    assert items_of(transfer)[second.id].state is TransferItemState.GIVEN
    assert db.session.get(Transfer, transfer.id).status is TransferStatus.ACTIVE  # one is left

    tickets.return_ticket(owner, store, ticket(second.id), reason="也不需要")
    db.session.commit()
    transfer = db.session.get(Transfer, transfer.id)
    assert transfer.status is TransferStatus.CANCELLED
    assert transfer.cancel_reason == "退貨同步取消轉贈" and transfer.cancelled_by_id is None
    entries = history("transfers", transfer.id, "transfer_cancelled_by_return")
    assert len(entries) == 2 and (entries[-1].from_status, entries[-1].to_status) == (
        "active", "cancelled")
    assert (entries[0].from_status, entries[0].to_status) == (None, None)
    with pytest.raises(DomainError, match=services.ALREADY_CANCELLED):
        services.cancel(owner, store, transfer.id, reason="已無票券")


def test_a_return_cancelled_the_same_day_leaves_the_ticket_with_the_purchaser(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, _ = tickets_of(order)
    give(order, [first])
    tickets.return_ticket(owner, store, ticket(first.id), reason="按錯")
    db.session.commit()
    tickets.cancel_return(owner, store, ticket(first.id), reason="按錯了")
    db.session.commit()
    back = ticket(first.id)
    assert back.status is TicketStatus.UNUSED and back.transfer_id is None and _holder(back) == BUYER


# 變更購買人 ---------------------------------------------------------------------------------------

def test_change_of_purchaser_is_refused_while_transferred_and_allowed_after_cancel(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    transfer = give(order, tickets_of(order)[:1])
    new = {"name": "陳大文", "mobile": "0987654321", "email": "new@example.com"}
    with pytest.raises(DomainError) as refused:
        orders.change_purchaser(owner, store, order.id, **new)
    db.session.rollback()
    assert refused.value.message == rules.TRANSFERRED_NO_CHANGE

    services.cancel(owner, store, transfer.id, reason="要改購買人")
    db.session.commit()
    orders.change_purchaser(owner, store, order.id, **new)
    db.session.commit()
    assert {_holder(t) for t in tickets_of(order)} == {("陳大文", "0987654321", "new@example.com")}


def test_change_of_purchaser_stays_refused_when_the_recipient_used_a_ticket(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, _ = tickets_of(order)
    transfer = give(order, [first])
    tickets.redeem(owner, store, ticket(first.id))
    services.cancel(owner, store, transfer.id, reason="取消")
    db.session.commit()
    with pytest.raises(DomainError, match=rules.TRANSFERRED_NO_CHANGE):
        orders.change_purchaser(owner, store, order.id, name="陳大文", mobile="0987654321",
                                email="new@example.com")


def test_cancelling_the_redemption_of_a_kept_ticket_hands_it_back_to_the_purchaser(shop):
    store, owner, pickup, _ = shop
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 9, 0))
    order = issue_order(owner, store, pickup, quantity=1)
    [used] = tickets_of(order)
    transfer = give(order, [used])
    tickets.redeem(owner, store, ticket(used.id))
    db.session.commit()
    services.cancel(owner, store, transfer.id, reason="消費者來電")
    db.session.commit()
    assert ticket(used.id).transfer_id == transfer.id  # kept: the recipient had used it

    tickets.cancel_redemption(owner, store, ticket(used.id), reason="誤核銷")
    db.session.commit()

    back = ticket(used.id)
    assert back.status is TicketStatus.UNUSED
    assert back.transfer_id is None and back.transferred_at is None and _holder(back) == BUYER
    assert items_of(transfer)[used.id].state is TransferItemState.CANCELLED
    assert len(history("tickets", used.id, "transfer_cancelled")) == 1

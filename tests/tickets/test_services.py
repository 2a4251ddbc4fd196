"""Redeem, cancel, return, cancel return: permissions, windows on a frozen clock, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import Forbidden, InvalidInput, NotFound
from app.history import HistoryEntry
from app.stores.models import RelationStatus
from app.tickets import actions, services
from app.tickets.status import TicketStatus as S
from tests.factories import link_product, make_account, make_branch, make_relation, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime


@pytest.fixture
def world(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store()
    return store, owner, pickup, gift


def _history(ticket, action):
    return db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket.id,
        HistoryEntry.action == action)).all()


def test_redeem_then_cancel_the_same_day_until_23_59(world):
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    done = services.redeem(owner, store, services.find_by_code(store, ticket.code))
    db.session.commit()
    assert done.message == "已送出核銷，票券狀態已變更" and ticket.status is S.USED
    clock.freeze(T(2026, 7, 1, 23, 59))
    services.cancel_redemption(owner, store, ticket, reason="店員按錯")
    db.session.commit()
    assert ticket.status is S.UNUSED and ticket.redeemed_store_id is None
    assert _history(ticket, "redemption_cancelled")[0].reason == "店員按錯"


def test_cancel_redemption_at_midnight_is_refused(world):
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    services.redeem(owner, store, ticket)
    db.session.commit()
    clock.freeze(T(2026, 7, 2, 0, 0))
    with pytest.raises(actions.TicketRefused, match="已超過可取消的時間"):
        services.cancel_redemption(owner, store, ticket)
    db.session.rollback()
    assert db.session.get(type(ticket), ticket.id).status is S.USED


def test_used_after_expiry_can_be_cancelled_days_later(world):
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    clock.freeze(clock.day_end(pickup.escrow_end) + timedelta(days=1))
    services.redeem(owner, store, ticket)
    db.session.commit()
    assert ticket.status is S.USED_AFTER_EXPIRY
    clock.move(timedelta(days=5))
    services.cancel_redemption(owner, store, ticket)
    db.session.commit()
    assert ticket.status is S.UNUSED_ESCROW_EXPIRED


def test_return_with_a_fee_and_cancel_the_same_day(world):
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    with pytest.raises(actions.TicketRefused, match="不可超過票券面額"):
        services.return_ticket(owner, store, ticket, reason="客訴", fee=151)
    db.session.rollback()
    services.return_ticket(owner, store, ticket, reason="客訴", fee=30)
    db.session.commit()
    assert (ticket.status, ticket.return_fee) == (S.RETURN_PENDING, 30)
    with pytest.raises(InvalidInput, match="請輸入取消退貨原因"):
        services.cancel_return(owner, store, ticket, reason=" ")
    services.cancel_return(owner, store, ticket, reason="消費者改變心意")
    db.session.commit()
    assert ticket.status is S.UNUSED and ticket.return_fee is None


def test_gift_vouchers_refuse_fees_and_cancel_redemption(world):
    store, owner, _, gift = world
    first, second = issue(owner, store, gift, quantity=2)
    with pytest.raises(actions.TicketRefused, match="僅價金保管期間內的提貨券"):
        services.return_ticket(owner, store, first, reason="x", fee=10)
    db.session.rollback()
    services.redeem(owner, store, second)
    db.session.commit()
    with pytest.raises(actions.TicketRefused, match="贈品券核銷後無法取消核銷"):
        services.cancel_redemption(owner, store, second)


def test_an_already_redeemed_ticket_says_when_where_and_by_whom(world):
    store, owner, pickup, _ = world
    branch = make_branch(store, "A001", "台北門市")
    clerk = make_sub(store, "clerkA01", branch=branch, grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    services.redeem(clerk, store, ticket)
    db.session.commit()
    with pytest.raises(actions.TicketRefused) as refused:
        services.redeem(owner, store, ticket)
    assert refused.value.code == "AlreadyRedeemed"
    assert "2026/07/01 09:00" in refused.value.message
    assert "台北門市" in refused.value.message and "clerkA01" in refused.value.message


def test_codes_with_a_typo_unknown_codes_and_other_stores_codes_are_the_same_404(world):
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    typo = ticket.code[:-1] + ("0" if ticket.code[-1] != "0" else "1")
    with pytest.raises(NotFound, match=services.UNKNOWN_CODE):
        services.find_by_code(store, typo)  # malformed: looked up all the same, the same answer
    other = make_store()
    with pytest.raises(NotFound):
        services.find_by_code(other, ticket.code)  # another store: same answer as unknown
    assert services.find_by_code(store, ticket.code.lower()).id == ticket.id


def test_a_disabled_branch_clerk_cannot_redeem(world):
    store, owner, pickup, _ = world
    branch = make_branch(store, "A009", "停用分店", enabled=False)
    clerk = make_sub(store, "clerkOff", branch=branch, grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    with pytest.raises(actions.NotAllowedHere, match="停用"):
        services.redeem(clerk, store, ticket)


def test_a_partner_redeems_a_granted_product_and_loses_the_right_when_dissolved(world):
    store, owner, pickup, _ = world
    partner = make_store("可核銷商店")
    partner_owner = make_account(partner, username="partner01")
    relation = make_relation(store, partner)
    link_product(pickup, partners=[partner])
    db.session.commit()
    first, second = issue(owner, store, pickup, quantity=2)
    services.redeem(partner_owner, partner, services.find_by_code(partner, first.code))
    db.session.commit()
    assert first.redeemed_store_id == partner.id
    relation.status = RelationStatus.DISSOLVED
    db.session.commit()
    with pytest.raises(actions.NotAllowedHere, match="跨店關聯已解除"):
        services.redeem(partner_owner, partner, second)
    with pytest.raises(actions.NotAllowedHere, match="跨店關聯已解除"):
        services.cancel_redemption(partner_owner, partner, first)  # not even the same day
    services.cancel_redemption(owner, store, first)  # the issuer's head office still can
    db.session.commit()
    assert first.status is S.UNUSED


def test_rule_c_a_partner_cancels_its_own_redemption_after_the_product_is_ungranted(world):
    """Un-granting a product (the relation still open) stops a partner redeeming more of its
    tickets, not cancelling its own same-day redemption: only dissolution stops that."""
    store, owner, pickup, _ = world
    partner = make_store("可核銷商店")
    partner_owner = make_account(partner, username="partner01")
    make_relation(store, partner)
    [grant] = link_product(pickup, partners=[partner])
    db.session.commit()
    first, second = issue(owner, store, pickup, quantity=2)
    services.redeem(partner_owner, partner, services.find_by_code(partner, first.code))
    db.session.delete(grant)  # the issuer takes the product off the partner's list
    db.session.commit()
    with pytest.raises(NotFound, match="查無此核銷代碼"):
        services.find_by_code(partner, second.code)  # not granted any more
    found = services.find_by_code(partner, first.code)  # but its own redemption it still sees
    done = services.cancel_redemption(partner_owner, partner, found, reason="刷錯")
    db.session.commit()
    assert done.ticket.status is S.UNUSED and done.ticket.redeemed_store_id is None
    with pytest.raises(NotFound):  # cancelled: no longer its ticket in any way
        services.find_by_code(partner, first.code)


def test_rule_c_once_dissolved_the_partner_sees_its_redemption_but_may_not_cancel_it(world):
    store, owner, pickup, _ = world
    partner = make_store("可核銷商店")
    partner_owner = make_account(partner, username="partner01")
    relation = make_relation(store, partner)
    [grant] = link_product(pickup, partners=[partner])
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    services.redeem(partner_owner, partner, ticket)
    db.session.delete(grant)
    relation.status = RelationStatus.DISSOLVED
    db.session.commit()
    with pytest.raises(actions.NotAllowedHere, match="跨店關聯已解除"):
        services.cancel_redemption(partner_owner, partner, services.find_by_code(partner, ticket.code))


def test_a_double_submission_redeems_once_and_writes_one_history_entry(world):
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    stale = services.find_by_code(store, ticket.code)
    services.redeem(owner, store, stale)
    db.session.commit()
    with pytest.raises(actions.TicketRefused, match="已核銷"):
        services.redeem(owner, store, stale)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.action == "redeemed")) == 1


def test_a_compare_and_set_loser_is_told_why(world):
    """Two requests read the ticket as unused; the second's UPDATE finds it changed."""
    from sqlalchemy import text

    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    assert ticket.status is S.UNUSED  # this request has read it as unused...
    with db.engine.begin() as other:  # ...when another connection redeems it
        other.execute(text("UPDATE tickets SET status = 'used' WHERE id = :id"), {"id": ticket.id})
    with pytest.raises(actions.TicketRefused, match="已核銷"):
        services.redeem(owner, store, ticket)


def test_a_partner_is_told_which_branch_and_clerk_of_the_issuer_redeemed(app, world):
    from app.tenancy import StoreScope, set_scope

    store, owner, pickup, _ = world
    partner = make_store("可核銷商店")
    partner_owner = make_account(partner, username="partner02")
    make_relation(store, partner)
    link_product(pickup, partners=[partner])
    branch = make_branch(store, "A001", "台北門市")
    clerk = make_sub(store, "clerkTPE", branch=branch, grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    services.redeem(clerk, store, ticket)
    db.session.commit()
    ids = (partner.id, partner_owner.id, ticket.code)
    db.session.remove()
    with app.test_request_context("/"):
        set_scope(StoreScope(ids[0]))  # the partner's request: other stores' rows are filtered
        partner = db.session.get(type(store), ids[0])
        account = db.session.get(type(owner), ids[1], execution_options={"unscoped": True})
        found = services.find_by_code(partner, ids[2])
        with pytest.raises(actions.TicketRefused) as refused:
            services.redeem(account, partner, found)
        assert "台北門市" in refused.value.message and "clerkTPE" in refused.value.message


def test_every_screen_shows_expiry_before_the_daily_job_writes_it(world):
    store, owner, pickup, gift = world
    [pickup_ticket] = issue(owner, store, pickup)
    [gift_ticket] = issue(owner, store, gift)
    clock.freeze(clock.day_end(pickup.escrow_end) + timedelta(seconds=1))
    assert pickup_ticket.status is S.UNUSED  # not written yet
    assert pickup_ticket.current_status is S.UNUSED_ESCROW_EXPIRED
    assert pickup_ticket.status_label == "未使用且價金保管逾期"
    clock.freeze(clock.day_end(gift.valid_until) + timedelta(seconds=1))
    assert gift_ticket.current_status is S.EXPIRED and gift_ticket.status_label == "已失效"


def test_rule_i_a_note_needs_ticket_report_modify_in_the_service_itself(world):
    """A note is a change: 票券報表 at 修改, checked by the service whichever page posts it."""
    store, owner, pickup, _ = world
    [ticket] = issue(owner, store, pickup)
    viewer = make_sub(store, username="viewer01", grants={Function.REPORT_TICKETS: Level.VIEW})
    writer = make_sub(store, username="writer01", grants={Function.REPORT_TICKETS: Level.MODIFY})
    db.session.commit()
    assert not services.may_note(viewer, store, ticket) and services.may_note(writer, store, ticket)
    with pytest.raises(Forbidden, match="票券報表的修改權限"):
        services.add_note(viewer, store, ticket, "看得到但不能寫")
    services.add_note(writer, store, ticket, "客人來電詢問")
    db.session.commit()
    assert [e.reason for e in _history(ticket, "note")] == ["客人來電詢問"]
    other = make_store("別家")
    with pytest.raises(NotFound):  # another store's ticket: as if unknown
        services.add_note(make_account(other, username="other01"), other, ticket, "x")

"""申請退貨 (docs/consumers.md): the consumer applies, the merchant is e-mailed; the normal return marks
the application returned; 不予退貨 e-mails the applicant. Through the services, real database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.history import HistoryEntry, action_label
from app.return_applications import services
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.settings.services import settings_for
from app.tickets import services as tickets
from app.tickets.status import TicketStatus
from tests.factories import link_product, make_account, make_branch, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import issue_order, messages, tickets_of
from tests.return_applications.helpers import APPLICANT, apply, offer_returns


@pytest.fixture
def shop(ctx):
    store, owner, pickup, gift = ready_store()
    offer_returns(store)
    return store, owner, pickup, gift


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ReturnApplication)) or 0


def _history(ticket_id: int, action: str) -> list[HistoryEntry]:
    return list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket_id,
        HistoryEntry.action == action)))


# 申請退貨 -------------------------------------------------------------------------------------

def test_apply_makes_one_application_per_ticket_and_emails_the_finance_contacts(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup, quantity=3)
    first, second, _ = tickets_of(order)

    made = apply(store, order, [first, second], reason="  活動取消，不需要了 ")

    assert services.offered(store)
    assert {a.ticket_id for a in made} == {first.id, second.id}
    for a in made:
        assert a.status is ApplicationStatus.PENDING and a.order_id == order.id
        assert (a.applicant_name, a.applicant_mobile, a.applicant_email) == tuple(APPLICANT.values())
        assert a.reason == "活動取消，不需要了"
    assert services.pending_ticket_ids([first.id, second.id, 999]) == {first.id, second.id}
    [entry] = _history(first.id, "return_applied")
    assert entry.reason == "活動取消，不需要了" and action_label(entry.action) == "申請退貨"

    mails = messages(order, kind=services.APPLIED_MAIL)
    assert sorted(m.to_address for m in mails) == ["boss@shop.example", "finance@shop.example"]
    body = mails[0].body
    assert order.order_no in mails[0].subject
    for text in (first.serial, second.serial, "咖啡券", "NT$150", "活動取消，不需要了", "王小明",
                 "0912345678", "old@example.com", "共 2 張", "電子票券退貨申請"):
        assert text in body, text
    # nothing else goes to the consumer when applying
    assert {m.kind for m in messages(order)} - {"issuance_notice"} == {services.APPLIED_MAIL}


def test_without_finance_contacts_the_customer_service_email_is_told(ctx):
    store, owner, pickup, _ = ready_store()
    offer_returns(store, finance="", cs_email="cs@shop.example")
    order = issue_order(owner, store, pickup)
    apply(store, order, tickets_of(order)[:1])
    assert [m.to_address for m in messages(order, kind=services.APPLIED_MAIL)] == ["cs@shop.example"]


def test_apply_is_refused_when_the_merchant_did_not_turn_it_on(ctx):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup)
    assert not services.offered(store)
    with pytest.raises(DomainError, match=services.NOT_OFFERED):
        services.apply(store, order, tickets_of(order), reason="x", **APPLICANT)
    db.session.rollback()
    settings_for(store).online_return_application = False
    db.session.commit()
    with pytest.raises(DomainError, match=services.NOT_OFFERED):
        services.apply(store, order, tickets_of(order), reason="x", **APPLICANT)
    db.session.rollback()
    assert _count() == 0 and messages(order, kind=services.APPLIED_MAIL) == []


def test_a_second_application_for_the_same_ticket_is_refused(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, second = tickets_of(order)
    apply(store, order, [first])
    with pytest.raises(DomainError) as refused:
        services.apply(store, order, [second, first], reason="再申請", **APPLICANT)
    db.session.rollback()
    assert refused.value.message == services.ALREADY_APPLIED
    assert _count() == 1 and len(messages(order, kind=services.APPLIED_MAIL)) == 2  # 2 addresses


@pytest.mark.parametrize(("reason", "message"), [
    ("   ", services.REASON_REQUIRED), ("長" * 501, services.REASON_TOO_LONG)])
def test_the_reason_is_required_and_bounded(shop, reason, message):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    with pytest.raises(InvalidInput) as refused:
        services.apply(store, order, tickets_of(order), reason=reason, **APPLICANT)
    assert refused.value.fields == {"reason": message}


def test_only_unused_tickets_of_the_order_may_be_applied_for(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    other = issue_order(owner, store, pickup)
    first, second = tickets_of(order)
    tickets.redeem(owner, store, first)
    db.session.commit()
    with pytest.raises(DomainError, match=services.NOT_RETURNABLE):
        services.apply(store, order, [first], reason="用過了", **APPLICANT)
    db.session.rollback()
    with pytest.raises(NotFound):
        services.apply(store, order, [second, tickets_of(other)[0]], reason="別張", **APPLICANT)
    db.session.rollback()
    with pytest.raises(InvalidInput, match=services.NOTHING_CHOSEN):
        services.apply(store, order, [], reason="沒選", **APPLICANT)
    assert _count() == 0


# 退貨 (the normal return) ------------------------------------------------------------------------

def test_the_normal_return_marks_the_application_returned(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, second = tickets_of(order)
    [application] = apply(store, order, [first])

    tickets.return_ticket(owner, store, first, reason=application.reason, fee=30)
    tickets.return_ticket(owner, store, second, reason="店家主動退貨")  # no application: nothing
    db.session.commit()

    db.session.expire_all()
    application = db.session.get(ReturnApplication, application.id)
    assert application.status is ApplicationStatus.RETURNED
    assert application.handled_by_id == owner.id and application.handled_at is not None
    assert first.status is TicketStatus.RETURN_PENDING and first.return_fee == 30
    assert services.pending_ticket_ids([first.id]) == set() and _count() == 1


# 不予退貨 -----------------------------------------------------------------------------------

def test_decline_records_the_reason_and_emails_the_applicant(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, _ = tickets_of(order)
    [application] = apply(store, order, [first])

    services.decline(owner, store, application.id, reason="  已超過退貨期限 ")
    db.session.commit()

    db.session.expire_all()
    application = db.session.get(ReturnApplication, application.id)
    assert application.status is ApplicationStatus.DECLINED
    assert application.decline_reason == "已超過退貨期限" and application.handled_by_id == owner.id
    assert first.status is TicketStatus.UNUSED
    [entry] = _history(first.id, "return_application_declined")
    assert entry.reason == "已超過退貨期限" and action_label(entry.action) == "不予退貨"
    [mail] = messages(order, kind=services.DECLINED_MAIL)
    assert mail.to_address == "old@example.com"
    assert first.serial in mail.body and "已超過退貨期限" in mail.body and "咖啡券" in mail.body
    # the consumer may apply again later
    assert len(apply(store, order, [first], reason="再次申請")) == 1


def test_decline_twice_or_after_the_return_is_refused(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    first, second = tickets_of(order)
    declined, returned = apply(store, order, [first, second])
    services.decline(owner, store, declined.id, reason="不符規定")
    tickets.return_ticket(owner, store, second, reason="同意退貨")
    db.session.commit()
    for application in (declined, returned):
        with pytest.raises(DomainError, match=services.NOT_PENDING):
            services.decline(owner, store, application.id, reason="再一次")
        db.session.rollback()
    assert len(messages(order, kind=services.DECLINED_MAIL)) == 1


def test_decline_needs_a_reason_the_right_and_the_products_return_branch(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    [application] = apply(store, order, tickets_of(order)[:1])
    viewer = make_sub(store, grants={Function.RETURN: Level.VIEW})
    other_branch = make_branch(store)
    allowed_branch = make_branch(store)
    link_product(pickup, returns=[allowed_branch])
    elsewhere = make_sub(store, branch=other_branch, grants={Function.RETURN: Level.MODIFY})
    db.session.commit()

    with pytest.raises(InvalidInput) as missing:
        services.decline(owner, store, application.id, reason=" ")
    db.session.rollback()
    assert missing.value.fields == {"reason": services.DECLINE_REASON_REQUIRED}
    with pytest.raises(Forbidden, match=services.NO_RIGHT):
        services.decline(viewer, store, application.id, reason="不行")
    db.session.rollback()
    with pytest.raises(Forbidden, match="退貨分店名單"):
        services.decline(elsewhere, store, application.id, reason="不行")
    db.session.rollback()
    assert db.session.get(ReturnApplication, application.id).status is ApplicationStatus.PENDING


def test_another_stores_application_is_not_found(shop):
    store, owner, pickup, _ = shop
    order = issue_order(owner, store, pickup)
    [application] = apply(store, order, tickets_of(order)[:1])
    other = make_store()
    with pytest.raises(NotFound):
        services.decline(make_account(other), other, application.id, reason="不是我的")

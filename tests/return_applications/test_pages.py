"""電子票券退貨申請 pages: the list (status filter, dates, Excel), 退貨 through the normal return
(reason pre-filled, handling fee, the counter's messages) and 不予退貨; rights and tenancy."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.return_applications import services
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.tickets import services as tickets
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from tests.factories import link_product, login, make_account, make_branch, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import issue_order, messages, tickets_of
from tests.return_applications.helpers import apply, offer_returns

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _html(response) -> str:
    return response.get_data(as_text=True)


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="application-row" data-application-id="(\d+)"',
                                       html)]


def _rows(response) -> list[list]:
    assert response.status_code == 200 and response.mimetype == XLSX
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    book.close()
    return rows


def relogin(client, username: str) -> None:
    client.post("/logout")
    login(client, username)


def _reload(application_id: int) -> ReturnApplication:
    db.session.expire_all()
    return db.session.get(ReturnApplication, application_id)


def _seen(html: str) -> str:
    return re.search(r'name="seen" type="hidden" value="([a-z_]+)"', html).group(1)


@pytest.fixture
def shop(ctx, client):
    store, owner, pickup, gift = ready_store()
    offer_returns(store)
    order = issue_order(owner, store, pickup, quantity=2)
    [application] = apply(store, order, tickets_of(order)[:1], reason="活動延期")
    login(client, "issuer01")
    return store, owner, pickup, gift, order, application


# 查詢 ---------------------------------------------------------------------------------------

def test_the_list_shows_pending_applications_by_default(shop, client):
    store, owner, pickup, gift, order, application = shop
    ticket = tickets_of(order)[0]
    html = _html(client.get("/return-applications/"))
    assert _ids(html) == [application.id]
    for text in (order.order_no, ticket.serial, "咖啡券", "NT$150", "王小明", "0912***678",
                 "活動延期", "待處理", "未使用", 'data-testid="return-link"',
                 'data-testid="decline-link"'):
        assert text in html, text
    assert "0912345678" not in html
    home = _html(client.get("/home"))
    assert "電子票券退貨申請" in home and 'href="/return-applications/"' in home


def test_status_and_date_filters(shop, client):
    store, owner, pickup, gift, order, application = shop
    today = clock.business_day()
    clock.freeze(clock.now() - timedelta(days=50))
    old_order = issue_order(owner, store, pickup)
    [old] = apply(store, old_order, tickets_of(old_order)[:1], reason="很久以前")
    clock.unfreeze()
    second = tickets_of(order)[1]
    [declined] = apply(store, order, [second], reason="不需要")
    services.decline(owner, store, declined.id, reason="已過期限")
    db.session.commit()

    # pending: every pending application, whatever its age, unless dates are typed
    assert _ids(_html(client.get("/return-applications/"))) == [application.id, old.id]
    start = (today - timedelta(days=7)).isoformat()
    assert _ids(_html(client.get(f"/return-applications/?start={start}"))) == [application.id]
    assert _ids(_html(client.get("/return-applications/?status=declined"))) == [declined.id]
    assert _ids(_html(client.get("/return-applications/?status=returned"))) == []
    # 全部, no dates: the last 30 days
    assert _ids(_html(client.get("/return-applications/?status="))) == [declined.id, application.id]
    assert _ids(_html(client.get(f"/return-applications/?status=&serial={second.serial}"))) == [
        declined.id]
    assert _ids(_html(client.get(f"/return-applications/?status=&order_no={old_order.order_no}"))) == [
        old.id]
    too_long = client.get(f"/return-applications/?status=&start={(today - timedelta(days=100))}"
                          f"&end={today}")
    assert too_long.status_code == 422 and "查詢區間不可超過三個月" in _html(too_long)
    assert client.get("/return-applications/?status=bogus").status_code == 422


def test_excel_of_the_query(shop, client):
    store, owner, pickup, gift, order, application = shop
    rows = _rows(client.get("/return-applications/?format=xlsx"))
    assert rows[0][:4] == ["商店代號", "申請時間", "ECT訂單編號", "票券序號"]
    [row] = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    ticket = tickets_of(order)[0]
    assert (row["ECT訂單編號"], row["票券序號"], row["商品"], row["面額"]) == (
        order.order_no, ticket.serial, "咖啡券", 150)
    assert (row["申請人姓名"], row["申請人手機"], row["申請人 Email"]) == (
        "王小明", "0912345678", "old@example.com")
    assert (row["退貨原因"], row["處理狀態"], row["目前票券狀態"]) == ("活動延期", "待處理", "未使用")
    assert _rows(client.get("/return-applications/?format=xlsx&status=declined"))[1:] == []


# 退貨 ---------------------------------------------------------------------------------------

def test_return_with_the_reason_prefilled_and_a_handling_fee(shop, client):
    store, owner, pickup, gift, order, application = shop
    html = _html(client.get(f"/return-applications/{application.id}"))
    assert 'data-testid="return-form"' in html and 'data-testid="decline-form"' in html
    assert 'value="活動延期"' in html and 'id="return-fee"' in html
    seen = _seen(html)
    assert seen == "unused"

    too_much = client.post(f"/return-applications/{application.id}/return",
                           data={"seen": seen, "reason": "活動延期", "fee": "151"})
    assert too_much.status_code == 422 and "退貨手續費不可超過票券面額" in _html(too_much)
    no_reason = client.post(f"/return-applications/{application.id}/return",
                            data={"seen": seen, "reason": " ", "fee": ""})
    assert no_reason.status_code == 422 and "請輸入退貨原因" in _html(no_reason)
    assert _reload(application.id).status is ApplicationStatus.PENDING

    done = client.post(f"/return-applications/{application.id}/return",
                       data={"seen": seen, "reason": "活動延期，同意退貨", "fee": "20"})
    assert done.status_code == 303
    application = _reload(application.id)
    ticket = db.session.get(Ticket, application.ticket_id)
    assert application.status is ApplicationStatus.RETURNED and application.handled_by_id == owner.id
    assert ticket.status is TicketStatus.RETURN_PENDING and ticket.return_fee == 20
    assert ticket.return_reason == "活動延期，同意退貨"
    html = _html(client.get(f"/return-applications/{application.id}"))
    assert "已送出退貨，票券狀態已變更" in html and "已退貨" in html and "issuer01" in html
    assert 'data-testid="return-form"' not in html and 'data-testid="decline-form"' not in html

    again = client.post(f"/return-applications/{application.id}/return",
                        data={"seen": seen, "reason": "再退", "fee": ""})
    assert again.status_code == 409 and services.NOT_PENDING in _html(again)


def test_a_gift_voucher_gets_no_fee_field_and_a_fee_is_refused(shop, client):
    store, owner, pickup, gift, order, application = shop
    gift_order = issue_order(owner, store, gift)
    [gift_application] = apply(store, gift_order, tickets_of(gift_order)[:1])
    html = _html(client.get(f"/return-applications/{gift_application.id}"))
    assert 'data-testid="no-fee"' in html and 'id="return-fee"' not in html
    refused = client.post(f"/return-applications/{gift_application.id}/return",
                          data={"seen": "unused", "reason": "不要", "fee": "10"})
    assert refused.status_code == 422 and "僅價金保管期間內的提貨券可以設定退貨手續費" in _html(refused)
    assert _reload(gift_application.id).status is ApplicationStatus.PENDING


def test_a_ticket_that_changed_since_the_page_was_shown_is_not_returned_blind(shop, client):
    store, owner, pickup, gift, order, application = shop
    seen = _seen(_html(client.get(f"/return-applications/{application.id}")))
    ticket = tickets_of(order)[0]
    tickets.redeem(owner, store, ticket)  # used at the counter meanwhile
    db.session.commit()
    refused = client.post(f"/return-applications/{application.id}/return",
                          data={"seen": seen, "reason": "活動延期", "fee": ""})
    assert refused.status_code == 409 and "此票券已核銷" in _html(refused)
    assert _reload(application.id).status is ApplicationStatus.PENDING
    html = _html(client.get(f"/return-applications/{application.id}"))
    assert 'data-testid="return-refusal"' in html and 'data-testid="decline-form"' in html


# 不予退貨 -----------------------------------------------------------------------------------

def test_decline_through_the_page_emails_the_applicant(shop, client):
    store, owner, pickup, gift, order, application = shop
    missing = client.post(f"/return-applications/{application.id}/decline", data={"reason": ""})
    assert missing.status_code == 422 and services.DECLINE_REASON_REQUIRED in _html(missing)
    done = client.post(f"/return-applications/{application.id}/decline",
                       data={"reason": "票券已過退貨期限"})
    assert done.status_code == 303
    application = _reload(application.id)
    assert application.status is ApplicationStatus.DECLINED
    assert application.decline_reason == "票券已過退貨期限"
    [mail] = messages(order, kind=services.DECLINED_MAIL)
    assert mail.to_address == "old@example.com" and "票券已過退貨期限" in mail.body
    html = _html(client.get(f"/return-applications/{application.id}"))
    assert "已設定為不予退貨，已以 Email 通知申請人" in html and "票券已過退貨期限" in html
    again = client.post(f"/return-applications/{application.id}/decline", data={"reason": "再一次"})
    assert again.status_code == 409 and services.NOT_PENDING in _html(again)


# 權限與租戶 ---------------------------------------------------------------------------------------

def test_view_only_sees_the_list_but_cannot_act(shop, client):
    store, owner, pickup, gift, order, application = shop
    make_sub(store, username="viewer01", grants={Function.RETURN: Level.VIEW})
    make_sub(store, username="clerk001", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    relogin(client, "viewer01")
    html = _html(client.get("/return-applications/"))
    assert _ids(html) == [application.id] and 'data-testid="return-link"' not in html
    detail = _html(client.get(f"/return-applications/{application.id}"))
    assert 'data-testid="view-only"' in detail and 'data-testid="return-form"' not in detail
    assert client.post(f"/return-applications/{application.id}/return",
                       data={"seen": "unused", "reason": "x"}).status_code == 403
    assert client.post(f"/return-applications/{application.id}/decline",
                       data={"reason": "x"}).status_code == 403
    assert _reload(application.id).status is ApplicationStatus.PENDING

    relogin(client, "clerk001")
    assert client.get("/return-applications/").status_code == 403
    assert "電子票券退貨申請" not in _html(client.get("/home"))


def test_a_branch_outside_the_products_return_list_cannot_handle_it(shop, client):
    store, owner, pickup, gift, order, application = shop
    listed, other = make_branch(store), make_branch(store)
    link_product(pickup, returns=[listed])
    make_sub(store, "branch01", branch=other, grants={Function.RETURN: Level.MODIFY})
    db.session.commit()
    relogin(client, "branch01")
    html = _html(client.get(f"/return-applications/{application.id}"))
    assert 'data-testid="handling-refusal"' in html and "退貨分店名單" in html
    refused = client.post(f"/return-applications/{application.id}/return",
                          data={"seen": "unused", "reason": "活動延期"})
    assert refused.status_code == 403 and "退貨分店名單" in _html(refused)
    refused = client.post(f"/return-applications/{application.id}/decline", data={"reason": "不行"})
    assert refused.status_code == 403
    assert _reload(application.id).status is ApplicationStatus.PENDING


def test_another_stores_application_is_404(shop, client):
    store, owner, pickup, gift, order, application = shop
    make_account(make_store(), username="stranger1")
    db.session.commit()
    relogin(client, "stranger1")
    assert client.get(f"/return-applications/{application.id}").status_code == 404
    for action in ("return", "decline"):
        assert client.post(f"/return-applications/{application.id}/{action}",
                           data={"seen": "unused", "reason": "x"}).status_code == 404
    assert _ids(_html(client.get("/return-applications/"))) == []
    assert _reload(application.id).status is ApplicationStatus.PENDING


def test_a_parent_store_reads_its_childs_applications_read_only(ctx, client):
    parent = make_store("母商店")
    make_account(parent, username="parent01")
    child, child_owner, pickup, _ = ready_store("child01", parent=parent)
    offer_returns(child)
    order = issue_order(child_owner, child, pickup)
    [application] = apply(store=child, order=order, tickets=tickets_of(order)[:1])
    login(client, "parent01")
    html = _html(client.get("/return-applications/"))
    assert _ids(html) == [application.id] and 'data-testid="parent-notice"' in html
    assert 'data-testid="return-link"' not in html
    detail = _html(client.get(f"/return-applications/{application.id}"))
    assert 'data-testid="parent-readonly"' in detail and 'data-testid="return-form"' not in detail
    assert client.post(f"/return-applications/{application.id}/decline",
                       data={"reason": "母商店"}).status_code == 404
    assert _reload(application.id).status is ApplicationStatus.PENDING

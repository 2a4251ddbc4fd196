"""已發行訂單管理 pages: query and Excel, order detail, 變更購買人, 補發, ticket history; rights
and tenancy."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.orders import rules, services
from app.tickets.codes import display_code
from app.tickets.models import Order
from tests.factories import login, make_account, make_order, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import CVS, PAPER, issue_order, message_count, messages, tickets_of

FORMULA_STARTS = ("=", "+", "-", "@")


def _html(response) -> str:
    return response.get_data(as_text=True)


def _workbook(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    wb.close()
    return rows


def _no_formulas(rows) -> None:
    for row in rows:
        for value in row:
            assert not (isinstance(value, str) and value.startswith(FORMULA_STARTS)), value


def _revision(client, order_id: int) -> str:
    page = _html(client.get(f"/orders/{order_id}/purchaser"))
    return re.search(r'name="revision"[^>]*value="(\d+)"', page).group(1)


@pytest.fixture
def shop(ctx, client):
    store, owner, pickup, gift = ready_store()
    login(client, "issuer01")
    return store, owner, pickup


# 查詢 ---------------------------------------------------------------------------------------

def test_the_list_shows_orders_with_masked_mobiles(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, quantity=3)
    page = _html(client.get("/orders/"))
    assert order.order_no in page and order.merchant_order_no in page
    assert "0912***678" in page and "0912345678" not in page
    assert ">電子票券<" in page and ">即期票券<" in page and "NT$450" in page
    batch_import_no = re.search(r"IMP\d+", page).group(0)
    assert batch_import_no in page


def test_the_query_filters(shop, client):
    store, owner, pickup = shop
    e = issue_order(owner, store, pickup, name="電子甲", email="alpha@example.com")
    c = issue_order(owner, store, pickup, method=CVS, name="超商乙", mobile="0933000111")
    p = issue_order(owner, store, pickup, method=PAPER, name="紙本丙")

    def shown(**args) -> set[str]:
        page = _html(client.get("/orders/", query_string=args))
        return {o.order_no for o in (e, c, p) if o.order_no in page}

    assert shown() == {e.order_no, c.order_no, p.order_no}
    assert shown(delivery_type="cvs") == {c.order_no}
    assert shown(order_no=p.order_no) == {p.order_no}
    assert shown(merchant_order_no=e.merchant_order_no) == {e.order_no}
    assert shown(purchaser="ALPHA@") == {e.order_no}
    assert shown(purchaser="0933") == {c.order_no}
    assert shown(purchaser="超商") == {c.order_no}
    assert shown(purchaser="%") == set()  # a wildcard is text
    batch_id = db.session.get(Order, c.id).batch_id
    from app.issuance.models import Batch
    import_no = db.session.get(Batch, batch_id).import_no
    assert shown(import_no=import_no) == {c.order_no}


def test_the_default_window_is_30_days_but_an_order_number_finds_older_orders(shop, client):
    store, owner, pickup = shop
    clock.freeze(clock.taipei_datetime(2026, 1, 5, 10))
    old = issue_order(owner, store, pickup)
    clock.freeze(clock.taipei_datetime(2026, 3, 20, 10))
    assert old.order_no not in _html(client.get("/orders/"))
    assert old.order_no in _html(client.get("/orders/", query_string={"order_no": old.order_no}))
    assert old.order_no in _html(client.get("/orders/", query_string={
        "start": "2026-01-01", "end": "2026-03-20"}))


def test_more_than_three_months_is_refused(shop, client):
    response = client.get("/orders/", query_string={"start": "2026-01-01", "end": "2026-04-02"})
    assert response.status_code == 422
    assert "不可超過三個月" in _html(response)


def test_excel_of_the_current_query(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, quantity=2)
    other = issue_order(owner, store, pickup, method=CVS)
    services.change_purchaser(owner, store, order.id, name="=HYPERLINK(\"http://x\")",
                              mobile="0912345678", email="")
    db.session.commit()
    rows = _workbook(client.get("/orders/", query_string={"format": "xlsx",
                                                         "delivery_type": "electronic"}))
    assert rows[0] == ["ECT訂單編號", "廠商訂單編號", "匯入單號", "出券類型", "發行方式", "購買人姓名",
                       "購買人手機", "購買人 Email", "張數", "金額", "發行時間"]
    assert len(rows) == 2 and rows[1][0] == order.order_no and other.order_no not in str(rows)
    assert rows[1][3:5] == ["電子票券", "即期票券"]
    assert rows[1][6] == "0912345678" and rows[1][8] == 2 and rows[1][9] == 300
    assert rows[1][5] == "'=HYPERLINK(\"http://x\")"
    _no_formulas(rows)


# 明細 ---------------------------------------------------------------------------------------

def test_the_detail_shows_tickets_with_masked_codes_and_the_buttons(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, quantity=2)
    page = _html(client.get(f"/orders/{order.id}"))
    for ticket in tickets_of(order):
        assert ticket.serial in page
        assert ticket.code not in page and display_code(ticket.code) not in page
        assert f"****-****-****-{ticket.code[-4:]}" in page
        assert f"/orders/{order.id}/tickets/{ticket.id}/history" in page
    assert "未使用" in page and "咖啡券" in page
    assert f'href="/orders/{order.id}/purchaser"' in page
    assert f'action="/orders/{order.id}/resend"' in page and 'data-confirm="確認發送' in page
    assert order.link_token not in page


def test_paper_orders_have_no_resend_button(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, method=PAPER)
    page = _html(client.get(f"/orders/{order.id}"))
    assert "/resend" not in page and f'href="/orders/{order.id}/purchaser"' in page
    response = client.post(f"/orders/{order.id}/resend")
    assert response.status_code == 409 and rules.PAPER_NO_RESEND in _html(response)
    assert message_count() == 0


def test_printed_cvs_order_hides_both_actions(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, method=CVS)
    tickets_of(order)[0].printed_at = clock.now()
    db.session.commit()
    page = _html(client.get(f"/orders/{order.id}"))
    assert f'href="/orders/{order.id}/purchaser"' not in page and "/resend" not in page
    assert rules.PRINTED_NO_CHANGE in page and rules.PRINTED_NO_RESEND in page
    form = _html(client.get(f"/orders/{order.id}/purchaser"))
    assert rules.PRINTED_NO_CHANGE in form and 'name="name"' not in form
    response = client.post(f"/orders/{order.id}/purchaser", data={
        "name": "陳小華", "mobile": "0987654321", "email": "", "revision": "0"})
    assert response.status_code == 409 and rules.PRINTED_NO_CHANGE in _html(response)
    response = client.post(f"/orders/{order.id}/resend")
    assert response.status_code == 409 and rules.PRINTED_NO_RESEND in _html(response)
    db.session.expire_all()
    assert db.session.get(Order, order.id).purchaser_name == "王小明"


# 變更購買人 / 補發 --------------------------------------------------------------------------

def test_change_purchaser_through_the_page(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup)
    old_token = order.link_token
    form = _html(client.get(f"/orders/{order.id}/purchaser"))
    assert 'value="王小明"' in form and "原連結失效" in form
    response = client.post(f"/orders/{order.id}/purchaser", data={
        "name": "陳小華", "mobile": "0987654321", "email": "new@example.com",
        "revision": _revision(client, order.id)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/orders/{order.id}")
    page = _html(client.get(f"/orders/{order.id}"))
    assert "已變更購買人" in page and "陳小華" in page
    assert "購買人姓名" in page and "變更購買人" in page  # the history row, with its labels
    db.session.expire_all()
    assert db.session.get(Order, order.id).link_token != old_token
    assert [m.to_address for m in messages(order, kind="purchaser_replaced")] == ["old@example.com"]


def test_bad_input_is_shown_under_the_field(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, method=CVS)
    response = client.post(f"/orders/{order.id}/purchaser", data={
        "name": "陳小華", "mobile": "", "email": "new@example.com", "revision": "0"})
    assert response.status_code == 422 and rules.CVS_NEEDS_MOBILE in _html(response)
    response = client.post(f"/orders/{order.id}/purchaser", data={
        "name": "陳小華", "mobile": "0912", "email": "", "revision": "0"})
    assert response.status_code == 422 and services.BAD_MOBILE in _html(response)
    db.session.expire_all()
    assert db.session.get(Order, order.id).purchaser_name == "王小明"


def test_paper_change_tells_the_user_to_notify_the_consumer(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, method=PAPER)
    assert rules.PAPER_NO_NOTICE in _html(client.get(f"/orders/{order.id}/purchaser"))
    response = client.post(f"/orders/{order.id}/purchaser", data={
        "name": "陳小華", "mobile": "", "email": "", "revision": "0"}, follow_redirects=True)
    assert rules.PAPER_NO_NOTICE in _html(response)
    assert message_count() == 0


def test_two_tabs_cannot_both_change_the_purchaser(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup)
    first_tab = second_tab = _revision(client, order.id)
    assert client.post(f"/orders/{order.id}/purchaser", data={
        "name": "第一分頁", "mobile": "0987654321", "email": "", "revision": first_tab},
    ).status_code == 303
    response = client.post(f"/orders/{order.id}/purchaser", data={
        "name": "第二分頁", "mobile": "0911111111", "email": "", "revision": second_tab})
    assert response.status_code == 409 and "已在其他視窗" in _html(response)
    db.session.expire_all()
    assert db.session.get(Order, order.id).purchaser_name == "第一分頁"
    assert len(messages(order, kind="purchaser_replaced")) == 1


def test_resend_through_the_page(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup)
    response = client.post(f"/orders/{order.id}/resend")
    assert response.status_code == 303
    assert "已補發通知" in _html(client.get(f"/orders/{order.id}"))
    assert [m.to_address for m in messages(order, kind="resend")] == ["old@example.com"]


def test_ticket_history_shows_every_change_since_issuance(shop, client):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup)
    services.change_purchaser(owner, store, order.id, name="陳小華", mobile="0987654321", email="")
    db.session.commit()
    ticket = tickets_of(order)[0]
    page = _html(client.get(f"/orders/{order.id}/tickets/{ticket.id}/history"))
    assert ticket.serial in page and "發行" in page and "變更持票人" in page
    assert "持票人姓名" in page and "陳小華" in page
    assert ticket.code not in page


# 權限 / 租戶 --------------------------------------------------------------------------------

def test_without_modify_the_buttons_are_hidden_and_the_server_refuses(shop, client, app):
    store, owner, pickup = shop
    make_sub(store, username="viewer01", grants={Function.ISSUED_ORDERS: Level.VIEW})
    db.session.commit()
    order = issue_order(owner, store, pickup)
    viewer = app.test_client()
    login(viewer, "viewer01")
    page = _html(viewer.get(f"/orders/{order.id}"))
    assert order.order_no in page
    assert "/purchaser" not in page and "/resend" not in page
    assert viewer.get(f"/orders/{order.id}/purchaser").status_code == 403
    assert viewer.post(f"/orders/{order.id}/purchaser", data={
        "name": "陳小華", "mobile": "0987654321", "email": "", "revision": "0"}).status_code == 403
    before = message_count()
    assert viewer.post(f"/orders/{order.id}/resend").status_code == 403
    assert message_count() == before
    db.session.expire_all()
    assert db.session.get(Order, order.id).purchaser_name == "王小明"


def test_without_the_function_the_pages_are_refused(shop, client, app):
    store, owner, pickup = shop
    make_sub(store, username="nobody01", grants={})
    db.session.commit()
    order = issue_order(owner, store, pickup)
    other = app.test_client()
    login(other, "nobody01")
    assert other.get("/orders/").status_code == 403
    assert other.get(f"/orders/{order.id}").status_code == 403


def test_another_stores_order_and_ticket_are_404(shop, client):
    store, owner, pickup = shop
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    theirs = issue_order(other_owner, other, other_pickup)
    mine = issue_order(owner, store, pickup)
    their_ticket = tickets_of(theirs)[0]
    for url in (f"/orders/{theirs.id}", f"/orders/{theirs.id}/purchaser",
                f"/orders/{theirs.id}/tickets/{their_ticket.id}/history",
                f"/orders/{mine.id}/tickets/{their_ticket.id}/history"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/orders/{theirs.id}/resend").status_code == 404
    assert client.post(f"/orders/{theirs.id}/purchaser", data={
        "name": "x", "mobile": "0987654321", "email": "", "revision": "0"}).status_code == 404
    assert theirs.order_no not in _html(client.get("/orders/"))
    db.session.expire_all()
    assert db.session.get(Order, theirs.id).purchaser_name == "王小明"


def test_a_ticket_of_another_order_of_the_same_store_is_404(shop, client):
    store, owner, pickup = shop
    first = issue_order(owner, store, pickup)
    second = issue_order(owner, store, pickup)
    ticket = tickets_of(second)[0]
    assert client.get(f"/orders/{first.id}/tickets/{ticket.id}/history").status_code == 404
    assert client.get(f"/orders/{second.id}/tickets/{ticket.id}/history").status_code == 200


def test_every_orders_route_answers_404_with_another_stores_rows(ctx, app):
    """The tenancy matrix for this blueprint, with the row maker the shared matrix can use."""
    a, b = make_store("商店A"), make_store("商店B")
    make_account(b, username="mainbbb1")
    order = make_order(a, quantity=2)
    ids = {"order_id": order.id, "ticket_id": order.tickets[0].id}
    db.session.commit()
    browser = app.test_client()
    login(browser, "mainbbb1")
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("orders.") or not rule.arguments:
            continue
        url = app.url_map.bind("localhost").build(rule.endpoint, {k: ids[k] for k in rule.arguments})
        for method in ("GET", "POST"):
            if method in rule.methods:
                assert browser.open(url, method=method, data={}).status_code == 404, (method, url)
                checked += 1
    assert checked == 5


@pytest.mark.parametrize(("platform_id", "shown"), [("PLATFORM", "合作平台（{code}）"), ("PF0001", "PF0001")])
def test_the_order_and_ticket_pages_name_the_issuing_platform(shop, client, platform_id, shown):
    """Rule h on the detail pages too: a PlatformID is the platform store's 商店代號, shown with its
    name; an id no store has is shown as it is."""
    store, owner, pickup = shop
    platform = make_store("合作平台")
    order = issue_order(owner, store, pickup)
    code = platform.merchant_code if platform_id == "PLATFORM" else platform_id
    tickets = tickets_of(order)
    order.platform_id = code
    for ticket in tickets:
        ticket.platform_id = code
    db.session.commit()
    expected = shown.format(code=platform.merchant_code)
    for url in (f"/orders/{order.id}", f"/tickets/{tickets[0].serial}"):
        html = _html(client.get(url))
        assert f'data-testid="platform">{expected}<' in html, url

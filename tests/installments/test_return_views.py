"""8-3 A 訂單退貨 and 8-3 B 訂單取消退貨 through the client: finding an order, the button's
rules, the fee split shown, the messages, rights and tenancy."""

from __future__ import annotations

from datetime import date

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.installments.models import InstallmentOrder
from app.stores.models import RedemptionMode, Store
from tests.escrow.helpers import at
from tests.factories import login, make_account, make_installment_order, make_store, make_sub
from tests.installments.helpers import statuses

RETURN, CANCEL = "/installments/order-return", "/installments/order-cancel-return"


@pytest.fixture
def shop(app, client):  # noqa: ANN001
    with app.app_context():
        at(2026, 7, 1, 9, 0)
        store = make_store(mode=RedemptionMode.INSTALLMENT)
        owner = make_account(store)
        order = make_installment_order(store, total=10000, periods=3, merchant_order_no="A001",
                                       first_date=date(2026, 8, 1))
        other = make_store(mode=RedemptionMode.INSTALLMENT)
        theirs = make_installment_order(other, merchant_order_no="B001")
        db.session.commit()
        ids = store.id, owner.username, order.id, theirs.id
    login(client, ids[1])
    yield ids
    clock.unfreeze()


def html(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def test_find_return_cancel_and_return_again(app, client, shop):  # noqa: ANN001
    _, _, order_id, _ = shop
    page = client.get(RETURN, query_string={"merchant_order_no": "A001"})
    assert page.status_code == 200
    text = html(page)
    assert "ECT" in text and 'data-testid="action-form"' in text and "10,000" in text
    assert 'href="/installments/reports?merchant_order_no=A001"' in text

    done = client.post(RETURN, data={"order_id": order_id, "fee": "100", "reason": "課程取消"},
                       follow_redirects=True)
    assert "已送出退貨，訂單狀態已變更" in html(done)
    assert 'data-testid="refusal"' in html(done) and "此訂單已退貨" in html(done)
    with app.app_context():
        order = db.session.get(InstallmentOrder, order_id)
        assert statuses(order) == ["return_pending"] * 3
        assert [p.return_fee for p in order.periods] == [34, 33, 33]

    page = client.get(CANCEL, query_string={"merchant_order_no": "A001"})
    assert 'data-testid="action-form"' in html(page) and "課程取消" in html(page)
    done = client.post(CANCEL, data={"order_id": order_id, "reason": "操作錯誤"}, follow_redirects=True)
    assert "已取消退貨，訂單狀態已變更" in html(done)
    with app.app_context():
        order = db.session.get(InstallmentOrder, order_id)
        assert statuses(order) == ["unused"] * 3

    again = client.post(RETURN, data={"order_id": order_id, "fee": "0", "reason": "再次退貨"},
                        follow_redirects=True)
    assert "已送出退貨" in html(again)


@pytest.mark.parametrize(("data", "message"), [
    ({"fee": "10001", "reason": "r"}, "不可超過未使用金額 10,000 元"),
    ({"fee": "-1", "reason": "r"}, "退貨手續費不可為負數"),
    ({"fee": "abc", "reason": "r"}, "請輸入整數"),
    ({"fee": "99999999999999999999", "reason": "r"}, "退貨手續費"),
    ({"fee": "0", "reason": ""}, "請輸入原因"),
    ({"fee": "0", "reason": "x" * 201}, "原因至多 200 字"),
])
def test_bad_input_is_shown_on_the_form_and_changes_nothing(app, client, shop, data, message):  # noqa: ANN001
    _, _, order_id, _ = shop
    response = client.post(RETURN, data={"order_id": order_id} | data,
                           query_string={"merchant_order_no": "A001"})
    assert response.status_code == 422
    assert message.replace(",", "") in html(response).replace(",", "")
    with app.app_context():
        assert statuses(db.session.get(InstallmentOrder, order_id)) == ["unused"] * 3


@pytest.mark.parametrize("order_id", ["x", "0", "99999999999", "-5"])
def test_forged_order_ids_are_refused(client, shop, order_id):  # noqa: ANN001
    response = client.post(RETURN, data={"order_id": order_id, "fee": "0", "reason": "r"})
    assert response.status_code in (404, 422)


def test_another_stores_order_is_not_found(app, client, shop):  # noqa: ANN001
    _, _, _, theirs = shop
    page = client.get(RETURN, query_string={"merchant_order_no": "B001"})
    assert "查無此訂單" in html(page) and "B001</a>" not in html(page)
    assert client.post(RETURN, data={"order_id": theirs, "fee": "0", "reason": "r"}).status_code == 404
    assert client.post(CANCEL, data={"order_id": theirs, "reason": "r"}).status_code == 404
    with app.app_context():
        assert statuses(db.session.get(InstallmentOrder, theirs)) == ["unused"] * 3


def test_a_sub_account_needs_the_function(app, client, shop):  # noqa: ANN001
    store_id, _, order_id, _ = shop
    with app.app_context():
        store = db.session.get(Store, store_id)
        viewer = make_sub(store, grants={Function.INSTALLMENT_REPORTS: Level.VIEW}).username
        returner = make_sub(store, grants={Function.INSTALLMENT_ORDER_RETURN: Level.VIEW}).username
        db.session.commit()
    client.post("/logout")
    login(client, viewer)
    assert client.get(RETURN).status_code == 403
    assert client.post(RETURN, data={"order_id": order_id, "fee": "0", "reason": "r"}).status_code == 403
    client.post("/logout")
    login(client, returner)
    assert client.get(RETURN).status_code == 200
    assert client.get(CANCEL).status_code == 403
    menu = html(client.get("/home"))
    assert "訂單退貨" in menu and "訂單取消退貨" not in menu


def test_a_late_cancel_is_refused_with_the_reason(app, client, shop):  # noqa: ANN001
    _, _, order_id, _ = shop
    client.post(RETURN, data={"order_id": order_id, "fee": "0", "reason": "r"})
    at(2026, 7, 2, 0, 1)
    page = client.get(CANCEL, query_string={"merchant_order_no": "A001"})
    assert "已超過退貨當日 23:59，無法取消退貨" in html(page) and 'data-testid="action-form"' not in html(page)
    forced = client.post(CANCEL, data={"order_id": order_id, "reason": "r"})
    assert forced.status_code == 409 and "已超過退貨當日 23:59" in html(forced)

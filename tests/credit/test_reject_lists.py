"""拒絕名單: cards kept only as keyed digests, IPs; adding one, from a transaction, from an xlsx
(a bad row refuses the file); the switch; the checkout refusing a listed card or IP with nothing
stored but the decline count; pages, permissions, Excel and tenancy."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.auth.permissions import Function, Level
from app.checkout.models import CardTransaction, CheckoutOrder, OrderStatus, PaymentNotice
from app.credit import rejects
from app.credit.reject_models import RejectCategory, RejectedCard, RejectedIp
from app.db import db
from app.errors import Forbidden, InvalidInput
from tests.factories import PASSWORD, aio_form, login, make_account, make_checkout_store, make_sub
from tests.spreadsheets.helpers import workbook_bytes

CARD_NUMBER = "4311952222222222"
CARD = {"card_number": "4311-9522-2222-2222", "expiry": "12/30", "cvv": "222", "plan": "once"}
LOCAL_RETURN = "https://127.0.0.1/ecpay/return"
U = {"unscoped": True}


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model).execution_options(**U))


def _checkout_page(client, store) -> str:  # noqa: ANN001
    response = client.post("/Cashier/AioCheckOut/V5", data=aio_form(store, ReturnURL=LOCAL_RETURN),
                           csrf=False)
    assert response.status_code == 303
    return response.headers["Location"]


def test_a_card_is_kept_as_a_digest_and_last_four_only(ctx) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    row = rejects.add_card(main, store, "4311 9522 2222 2222", RejectCategory.FRAUD)
    assert row.card_last4 == "2222" and len(row.card_digest) == 64
    assert CARD_NUMBER not in row.card_digest and row.active
    with pytest.raises(InvalidInput, match="已在拒絕名單"):
        rejects.add_card(main, store, CARD_NUMBER, RejectCategory.OTHER)
    for bad in ("1234", "4311-9522-2222-222x", ""):
        with pytest.raises(InvalidInput, match="信用卡卡號"):
            rejects.add_card(main, store, bad, RejectCategory.FRAUD)
    with pytest.raises(InvalidInput, match="有效的 IP"):
        rejects.add_ip(main, store, "300.1.1.1", RejectCategory.FRAUD)
    assert rejects.add_ip(main, store, " 203.0.113.7 ", RejectCategory.DISPUTE).ip == "203.0.113.7"


def test_only_the_right_may_change_the_lists(ctx) -> None:  # noqa: ANN001
    store = make_checkout_store()
    viewer = make_sub(store, grants={Function.CREDIT_REJECT_LIST: Level.VIEW})
    with pytest.raises(Forbidden):
        rejects.add_ip(viewer, store, "203.0.113.7", RejectCategory.FRAUD)
    assert _count(RejectedIp) == 0


def test_an_xlsx_with_a_bad_row_stores_nothing_and_names_the_rows(ctx) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    data = workbook_bytes([[CARD_NUMBER, "盜刷"], ["12", "盜刷"], ["4000000000000002", "亂填"]],
                          headers=rejects.CARD_HEADERS)
    with pytest.raises(InvalidInput) as refused:
        rejects.import_xlsx(main, store, data, cards=True)
    assert "第 3 列" in refused.value.message and "第 4 列" in refused.value.message
    assert _count(RejectedCard) == 0
    good = workbook_bytes([[CARD_NUMBER, "盜刷"], ["4000000000000002", "爭議款"]],
                          headers=rejects.CARD_HEADERS)
    assert rejects.import_xlsx(main, store, good, cards=True).added == 2
    again = rejects.import_xlsx(main, store, good, cards=True)
    assert (again.added, again.skipped) == (0, 2)
    ips = workbook_bytes([["203.0.113.9", "異常交易"]], headers=rejects.IP_HEADERS)
    assert rejects.import_xlsx(main, store, ips, cards=False).added == 1


def test_a_listed_card_is_refused_at_checkout_with_nothing_stored(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    row = rejects.add_card(main, store, CARD_NUMBER, RejectCategory.FRAUD)
    db.session.commit()
    url = _checkout_page(client, store)
    refused = client.post(url, data=CARD)
    assert refused.status_code == 422
    assert rejects.CARD_REFUSED in refused.get_data(as_text=True)
    assert _count(CardTransaction) == 0 and _count(PaymentNotice) == 0
    order = db.session.scalar(select(CheckoutOrder).execution_options(**U))
    db.session.refresh(order)
    db.session.refresh(row)
    assert order.status is OrderStatus.PENDING and order.failed_attempts == 1 and row.declines == 1
    rejects.set_active(main, store, row, False)  # 停用: the card may pay again
    db.session.commit()
    assert client.post(url, data=CARD).status_code == 303
    assert _count(CardTransaction) == 1


def test_a_paid_card_can_be_listed_from_its_transaction_then_is_refused(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store, grants={})
    db.session.commit()
    assert client.post(_checkout_page(client, store), data=CARD).status_code == 303
    txn = db.session.scalar(select(CardTransaction).execution_options(**U))
    assert len(txn.card_digest) == 64 and CARD_NUMBER not in txn.card_digest
    login(client, main.username)
    detail = client.get(f"/vendor/integration/orders/{txn.order_id}").get_data(as_text=True)
    assert f'action="/vendor/credit/reject-list/transactions/{txn.id}"' in detail
    added = client.post(f"/vendor/credit/reject-list/transactions/{txn.id}",
                        data={"category": "盜刷"})
    assert added.status_code in (302, 303)
    assert db.session.scalar(select(RejectedCard.card_digest).execution_options(**U)) \
        == txn.card_digest
    client.post("/logout")
    refused = client.post(_checkout_page(client, store), data=CARD)
    assert refused.status_code == 422 and rejects.CARD_REFUSED in refused.get_data(as_text=True)
    assert _count(CardTransaction) == 1
    login(client, main.username)
    bad = client.post(f"/vendor/credit/reject-list/transactions/{txn.id}", data={"category": "x"})
    assert bad.status_code == 422 and "請選擇問題類別" in bad.get_data(as_text=True)
    again = client.post(f"/vendor/credit/reject-list/transactions/{txn.id}",
                        data={"category": "盜刷"}, follow_redirects=True)
    assert "此卡號已在拒絕名單中" in again.get_data(as_text=True)
    assert _count(RejectedCard) == 1


def test_a_listed_ip_is_refused_only_in_its_store(ctx, client) -> None:  # noqa: ANN001
    store, other = make_checkout_store(), make_checkout_store()
    rejects.add_ip(make_account(store), store, "127.0.0.1", RejectCategory.ABNORMAL)
    db.session.commit()
    refused = client.post(_checkout_page(client, store), data=CARD)
    assert refused.status_code == 422 and rejects.IP_REFUSED in refused.get_data(as_text=True)
    assert client.post(_checkout_page(client, other), data=CARD).status_code == 303
    assert _count(CardTransaction) == 1


def test_the_pages_add_switch_delete_and_download(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    db.session.commit()
    login(client, main.username)
    page = client.get("/vendor/credit/reject-list", follow_redirects=True)
    assert page.status_code == 200 and "拒絕名單" in page.get_data(as_text=True)
    assert client.post("/vendor/credit/reject-list/cards",
                       data={"value": CARD_NUMBER, "category": "盜刷"}).status_code in (302, 303)
    bad = client.post("/vendor/credit/reject-list/cards", data={"value": "12", "category": "盜刷"})
    assert bad.status_code == 422 and "12 至 19 位數字" in bad.get_data(as_text=True)
    html = client.get("/vendor/credit/reject-list/cards").get_data(as_text=True)
    assert "************2222" in html and CARD_NUMBER not in html and "啟用" in html
    row = db.session.scalar(select(RejectedCard).execution_options(**U))
    client.post(f"/vendor/credit/reject-list/cards/{row.id}/switch", data={"active": "0"})
    db.session.refresh(row)
    assert row.active is False
    sheet = client.get("/vendor/credit/reject-list/cards?format=xlsx")
    ws = load_workbook(io.BytesIO(sheet.data)).active
    assert [c.value for c in ws[1]][:3] == ["信用卡卡號", "問題類別", "狀態"]
    assert [c.value for c in ws[2]][:3] == ["************2222", "盜刷", "停用"]
    upload = client.post("/vendor/credit/reject-list/ips/import", data={
        "file": (io.BytesIO(workbook_bytes([["bad ip", "盜刷"]], headers=rejects.IP_HEADERS)),
                 "ips.xlsx")}, content_type="multipart/form-data")
    assert upload.status_code == 422 and "第 2 列" in upload.get_data(as_text=True)
    assert _count(RejectedIp) == 0
    client.post(f"/vendor/credit/reject-list/cards/{row.id}/delete")
    assert _count(RejectedCard) == 0
    assert client.get("/vendor/credit/reject-list/other").status_code == 404
    assert client.post("/vendor/credit/reject-list/ips/999999/delete").status_code == 404


def test_another_stores_entries_are_404_and_viewers_cannot_change(ctx, client) -> None:  # noqa: ANN001
    store, other = make_checkout_store(), make_checkout_store()
    theirs = rejects.add_ip(make_account(other), other, "203.0.113.5", RejectCategory.FRAUD)
    viewer = make_sub(store, grants={Function.CREDIT_REJECT_LIST: Level.VIEW})
    nobody = make_sub(store, grants={Function.REDEEM: Level.MODIFY})
    main = make_account(store)
    db.session.commit()
    login(client, main.username)
    assert "203.0.113.5" not in client.get("/vendor/credit/reject-list/ips").get_data(as_text=True)
    for action in ("switch", "delete"):
        assert client.post(f"/vendor/credit/reject-list/ips/{theirs.id}/{action}",
                           data={"active": "0"}).status_code == 404
    client.post("/logout")
    login(client, viewer.username, PASSWORD)
    page = client.get("/vendor/credit/reject-list/ips").get_data(as_text=True)
    assert "新增送出" not in page
    assert client.post("/vendor/credit/reject-list/ips",
                       data={"value": "1.2.3.4", "category": "盜刷"}).status_code == 403
    client.post("/logout")
    login(client, nobody.username, PASSWORD)
    assert client.get("/vendor/credit/reject-list/ips").status_code == 403
    assert _count(RejectedIp) == 1


def _sheet_rows(client, url: str) -> list[tuple]:  # noqa: ANN001
    response = client.get(url, query_string={"format": "xlsx"})
    assert response.status_code == 200
    return list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))


def test_the_ip_list_downloads_as_excel(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    rejects.add_ip(main, store, "203.0.113.9", RejectCategory.DISPUTE)
    off = rejects.add_ip(main, store, "2001:db8::1", RejectCategory.ABNORMAL)
    rejects.set_active(main, store, off, False)
    db.session.commit()
    login(client, main.username)
    rows = _sheet_rows(client, "/vendor/credit/reject-list/ips")
    assert list(rows[0][:4]) == ["IP", "問題類別", "狀態", "拒絕次數"]
    assert sorted(r[:4] for r in rows[1:]) == [("2001:db8::1", "異常交易", "停用", 0),
                                               ("203.0.113.9", "爭議款", "啟用", 0)]


def test_store_b_never_sees_store_as_reject_entries(ctx, client) -> None:  # noqa: ANN001
    a, b = make_checkout_store(), make_checkout_store()
    main_a, main_b = make_account(a), make_account(b)
    rejects.add_card(main_a, a, "4311950000009999", RejectCategory.FRAUD)
    rejects.add_ip(main_a, a, "198.51.100.7", RejectCategory.FRAUD)
    rejects.add_card(main_b, b, "4311950000001111", RejectCategory.OTHER)
    db.session.commit()
    login(client, main_b.username)
    cards = client.get("/vendor/credit/reject-list/cards").get_data(as_text=True)
    assert "************1111" in cards and "9999" not in cards
    assert "198.51.100.7" not in client.get("/vendor/credit/reject-list/ips").get_data(as_text=True)
    assert [r[0] for r in _sheet_rows(client, "/vendor/credit/reject-list/cards")[1:]] \
        == ["************1111"]
    assert _sheet_rows(client, "/vendor/credit/reject-list/ips")[1:] == []

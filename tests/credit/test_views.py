"""信用卡收單 pages through the client: the query, the lists and their Excel, the detail with
its actions and note, the batch close, permissions and tenancy."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import clock
from app.auth.permissions import Function, Level
from app.checkout.models import CardTransaction
from app.checkout.models import TransactionStatus as S
from app.credit import views
from app.credit.models import CardRefund
from app.db import db
from app.history import HistoryEntry
from tests.credit.helpers import make_card_transaction
from tests.factories import login, make_account, make_checkout_store, make_sub

NOW = clock.taipei_datetime(2026, 11, 21, 14, 0)
LISTS = ("/vendor/credit/transactions", "/vendor/credit/close-requested",
         "/vendor/credit/closed", "/vendor/credit/close-failed")


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    store = make_checkout_store()
    main = make_account(store)
    db.session.commit()
    login(client, main.username)
    return store


def _status(txn_id: int) -> S:
    db.session.expire_all()
    return db.session.get(CardTransaction, txn_id).status


def _actions(txn_id: int) -> list[str]:
    return list(db.session.scalars(select(HistoryEntry.action).where(
        HistoryEntry.subject_type == "card_transactions", HistoryEntry.subject_id == txn_id)))


def test_the_query_filters_by_status_card_order_number_and_amount(shop, client) -> None:  # noqa: ANN001
    a = make_card_transaction(shop, amount=1200, last4="1111")
    b = make_card_transaction(shop, amount=680, last4="2222", status=S.CLOSE_REQUESTED)
    old = make_card_transaction(shop, authorised_at=NOW - timedelta(days=40), last4="3333")
    db.session.commit()

    def shown(**args: str) -> set[str]:
        html = client.get("/vendor/credit/transactions", query_string=args).get_data(as_text=True)
        return {t.order.trade_no for t in (a, b, old) if f'data-trade-no="{t.order.trade_no}"' in html}

    assert shown() == {a.order.trade_no, b.order.trade_no}  # the last 30 days
    assert shown(status="close_requested") == {b.order.trade_no}
    assert shown(card_last4="1111") == {a.order.trade_no}
    assert shown(amount="680") == {b.order.trade_no}
    assert shown(order_no=b.order.merchant_trade_no) == {b.order.trade_no}
    assert shown(order_no=old.order.trade_no) == {old.order.trade_no}  # a number needs no period
    assert shown(start="2026-10-01", end="2026-10-31") == {old.order.trade_no}
    assert shown(date_type="closed") == set()


@pytest.mark.parametrize("args", [
    {"start": "2026-01-01", "end": "2026-11-21"},  # longer than three months
    {"card_last4": "12a4"}, {"amount": "-5"}, {"amount": "1.5"}, {"status": "nope"},
    {"date_type": "x"}, {"start": "2026-13-01"},
])
def test_a_bad_query_is_a_clear_422(shop, client, args) -> None:  # noqa: ANN001
    response = client.get("/vendor/credit/transactions", query_string=args)
    assert response.status_code == 422
    assert 'data-testid="query-error"' in response.get_data(as_text=True)


def test_every_list_has_its_rows_and_an_excel(shop, client) -> None:  # noqa: ANN001
    make_card_transaction(shop, status=S.AUTHORISED, last4="1111")
    make_card_transaction(shop, status=S.CLOSE_REQUESTED, last4="2222")
    make_card_transaction(shop, status=S.CLOSED, last4="3333")
    make_card_transaction(shop, status=S.AUTHORISED, last4="4444", close_error="error_overDate")
    db.session.commit()
    expected = {LISTS[0]: {"1111", "2222", "3333", "4444"}, LISTS[1]: {"2222"},
                LISTS[2]: {"3333"}, LISTS[3]: {"4444"}}
    for url, cards in expected.items():
        html = client.get(url).get_data(as_text=True)
        assert {c for c in ("1111", "2222", "3333", "4444") if f"******{c}" in html} == cards, url
        response = client.get(url, query_string={"format": "xlsx"})
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.data)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "綠界交易編號" and "備註" in rows[0]
        assert {r[3][-4:] for r in rows[1:]} == cards, url
    unclosed = client.get(LISTS[1], query_string={"state": "authorised"}).get_data(as_text=True)
    assert "******1111" in unclosed and "******2222" not in unclosed


def test_the_detail_shows_the_fields_order_history_and_allowed_buttons(shop, client) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop, amount=1500)
    closed = make_card_transaction(shop, status=S.CLOSED)
    db.session.commit()
    html = client.get(f"/vendor/credit/transactions/{txn.id}").get_data(as_text=True)
    assert "431195******2222" in html and "NT$1,500" in html and txn.order.merchant_trade_no in html
    assert 'data-testid="action-C"' in html and 'data-testid="action-N"' in html
    assert 'data-testid="action-E"' not in html and html.count("data-confirm=") >= 2
    html = client.get(f"/vendor/credit/transactions/{closed.id}").get_data(as_text=True)
    assert 'data-testid="action-' not in html and 'data-testid="refund-form"' in html


def test_close_cancel_and_abandon_from_the_detail_with_history(shop, client) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop)
    db.session.commit()
    url = f"/vendor/credit/transactions/{txn.id}/act"
    page = client.post(url, data={"action": "C"}, follow_redirects=True).get_data(as_text=True)
    assert _status(txn.id) is S.CLOSE_REQUESTED and "已關帳" in page
    assert 'data-testid="action-E"' in page and 'data-action="card_close"' in page
    client.post(url, data={"action": "E"})
    assert _status(txn.id) is S.AUTHORISED
    client.post(url, data={"action": "N"})
    assert _status(txn.id) is S.ABANDONED
    assert _actions(txn.id) == ["card_close", "card_cancel_close", "card_abandon"]
    entry = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_id == txn.id, HistoryEntry.action == "card_close")).one()
    assert entry.ip == "127.0.0.1" and entry.actor_id is not None


def test_a_refused_action_says_why_and_changes_nothing(shop, client) -> None:  # noqa: ANN001
    closed = make_card_transaction(shop, status=S.CLOSED)
    old = make_card_transaction(shop, authorised_at=NOW - timedelta(days=25))
    db.session.commit()
    page = client.post(f"/vendor/credit/transactions/{closed.id}/act", data={"action": "N"},
                       follow_redirects=True).get_data(as_text=True)
    assert "此筆交易已關帳，請使用退刷" in page and _status(closed.id) is S.CLOSED
    page = client.post(f"/vendor/credit/transactions/{old.id}/act", data={"action": "C"},
                       follow_redirects=True).get_data(as_text=True)
    assert "授權已超過 21 天" in page and _status(old.id) is S.AUTHORISED
    assert client.post(f"/vendor/credit/transactions/{old.id}/act",
                       data={"action": "R"}).status_code == 422
    assert _actions(closed.id) == [] and _actions(old.id) == []


def test_the_note_is_saved_with_its_history_and_bounded(shop, client) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop)
    db.session.commit()
    url = f"/vendor/credit/transactions/{txn.id}/note"
    page = client.post(url, data={"note": " 客人來電要求延後出貨 "}, follow_redirects=True)
    assert "備註已更新" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CardTransaction, txn.id).note == "客人來電要求延後出貨"
    assert _actions(txn.id) == ["remark_changed"]
    too_long = client.post(url, data={"note": "長" * 501})
    assert too_long.status_code == 422 and "備註最多 500 字" in too_long.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CardTransaction, txn.id).note == "客人來電要求延後出貨"


def test_the_batch_close_reports_closed_and_refused(shop, client) -> None:  # noqa: ANN001
    a = make_card_transaction(shop)
    b = make_card_transaction(shop)
    done = make_card_transaction(shop, status=S.CLOSED)
    db.session.commit()
    response = client.post("/vendor/credit/batch-close",
                           data={"transaction_id": [a.id, b.id, done.id], "back": "credit.closed"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="closed-count">2<' in html and 'data-testid="refused-count">1<' in html
    assert "此筆交易已關帳" in html and 'href="/vendor/credit/closed"' in html
    assert (_status(a.id), _status(b.id), _status(done.id)) == (S.CLOSE_REQUESTED,) * 2 + (S.CLOSED,)
    listed = client.get("/vendor/credit/close-requested").get_data(as_text=True)
    assert a.order.trade_no in listed and b.order.trade_no in listed


@pytest.mark.parametrize("ids", [["x"], ["0"], ["99999999999999999999"],
                                 [str(n) for n in range(1, views.MAX_SELECTED + 2)]])
def test_a_bad_selection_changes_nothing(shop, client, ids) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop)
    db.session.commit()
    page = client.post("/vendor/credit/batch-close", data={"transaction_id": [*ids, txn.id]},
                       follow_redirects=True).get_data(as_text=True)
    assert "勾選的交易有誤" in page and _status(txn.id) is S.AUTHORISED


def test_nothing_ticked_is_said(shop, client) -> None:  # noqa: ANN001
    page = client.post("/vendor/credit/batch-close", data={}, follow_redirects=True)
    assert "請先勾選要關帳的交易" in page.get_data(as_text=True)


def test_another_stores_transaction_is_404_everywhere(shop, client) -> None:  # noqa: ANN001
    mine = make_card_transaction(shop)
    theirs = make_card_transaction(make_checkout_store())
    db.session.commit()
    base = f"/vendor/credit/transactions/{theirs.id}"
    assert client.get(base).status_code == 404
    assert client.post(f"{base}/act", data={"action": "C"}).status_code == 404
    assert client.post(f"{base}/note", data={"note": "x"}).status_code == 404
    assert client.post(f"{base}/refund", data={"amount": "1"}).status_code == 404
    batch = client.post("/vendor/credit/batch-close", data={"transaction_id": [mine.id, theirs.id]})
    assert batch.status_code == 404
    assert (_status(mine.id), _status(theirs.id)) == (S.AUTHORISED, S.AUTHORISED)
    assert f'data-trade-no="{theirs.order.trade_no}"' not in client.get(
        "/vendor/credit/transactions", query_string={"order_no": theirs.order.trade_no}).get_data(as_text=True)


def test_permissions(shop, client) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop)
    viewer = make_sub(shop, grants={Function.CREDIT_TRANSACTIONS: Level.VIEW})
    outsider = make_sub(shop, grants={Function.SYSTEM_INTEGRATION: Level.MODIFY})
    db.session.commit()
    client.post("/logout")
    login(client, viewer.username)
    assert all(client.get(url).status_code == 200 for url in LISTS)
    page = client.get(f"/vendor/credit/transactions/{txn.id}").get_data(as_text=True)
    assert "交易明細查詢" in page and 'data-testid="action-' not in page
    assert 'data-testid="batch-close"' not in client.get(LISTS[0]).get_data(as_text=True)
    assert 'data-testid="note-form"' not in page
    assert client.post(f"/vendor/credit/transactions/{txn.id}/act", data={"action": "C"}).status_code == 403
    assert client.post(f"/vendor/credit/transactions/{txn.id}/note", data={"note": "x"}).status_code == 403
    assert client.post(f"/vendor/credit/transactions/{txn.id}/refund", data={"amount": "1"}).status_code == 403
    assert client.post("/vendor/credit/batch-close", data={"transaction_id": txn.id}).status_code == 403
    client.post("/logout")
    login(client, outsider.username)
    assert all(client.get(url).status_code == 403 for url in LISTS)
    assert client.get(f"/vendor/credit/transactions/{txn.id}").status_code == 403
    assert "信用卡收單" not in client.get("/vendor/integration").get_data(as_text=True)
    assert _status(txn.id) is S.AUTHORISED
    assert db.session.scalar(select(func.count(HistoryEntry.id)).where(
        HistoryEntry.subject_type == "card_transactions")) == 0


def test_the_menu_lists_the_pages(shop, client) -> None:  # noqa: ANN001
    html = client.get("/vendor/credit/transactions").get_data(as_text=True)
    assert "九、信用卡收單" in html
    for label in ("交易明細查詢", "要關帳列表", "已關帳列表", "關帳失敗列表"):
        assert label in html


def _refunded(txn_id: int) -> list[tuple[int, str]]:
    return [(r.amount, r.status.value) for r in db.session.scalars(
        select(CardRefund).where(CardRefund.transaction_id == txn_id).order_by(CardRefund.id))]


def test_refund_part_then_the_rest_of_a_closed_transaction(shop, client) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop, amount=1000, status=S.CLOSED)
    db.session.commit()
    url = f"/vendor/credit/transactions/{txn.id}/refund"
    page = client.post(url, data={"amount": "300", "reason": "少一杯"}, follow_redirects=True)
    assert "已退刷 NT$300" in page.get_data(as_text=True)
    assert 'data-testid="refund-row"' in page.get_data(as_text=True)
    over = client.post(url, data={"amount": "701"})
    assert over.status_code == 422 and "不可超過可退金額" in over.get_data(as_text=True)
    client.post(url, data={"amount": "700"})
    assert _refunded(txn.id) == [(300, "pending"), (700, "pending")]
    html = client.get(f"/vendor/credit/transactions/{txn.id}").get_data(as_text=True)
    assert 'data-testid="refund-form"' not in html  # nothing left to refund
    assert _actions(txn.id) == ["card_refund", "card_refund"]


@pytest.mark.parametrize("amount", ["", "0", "-5", "1.5", "abc", "9" * 12, "１００"])
def test_a_bad_refund_amount_is_a_clear_422(shop, client, amount) -> None:  # noqa: ANN001
    txn = make_card_transaction(shop, status=S.CLOSED)
    db.session.commit()
    response = client.post(f"/vendor/credit/transactions/{txn.id}/refund", data={"amount": amount})
    assert response.status_code == 422
    assert 'data-testid="refund-error"' in response.get_data(as_text=True)
    assert _refunded(txn.id) == []


def test_refund_rules_from_the_page(shop, client) -> None:  # noqa: ANN001
    requested = make_card_transaction(shop, amount=1000, status=S.CLOSE_REQUESTED)
    authorised = make_card_transaction(shop)
    db.session.commit()
    full = client.post(f"/vendor/credit/transactions/{requested.id}/refund", data={"amount": "1000"})
    assert full.status_code == 422 and "請先取消關帳再放棄" in full.get_data(as_text=True)
    html = client.get(f"/vendor/credit/transactions/{authorised.id}").get_data(as_text=True)
    assert 'data-testid="refund-form"' not in html
    early = client.post(f"/vendor/credit/transactions/{authorised.id}/refund", data={"amount": "10"})
    assert early.status_code == 422 and "尚未關帳，請使用放棄" in early.get_data(as_text=True)
    assert _refunded(requested.id) == [] and _refunded(authorised.id) == []


def test_store_b_never_sees_store_as_rows_in_any_list_or_excel(shop, client) -> None:  # noqa: ANN001
    store_a = make_checkout_store()  # the client is store B's (shop)
    for status, last4 in ((S.AUTHORISED, "9991"), (S.CLOSE_REQUESTED, "9992"),
                          (S.CLOSED, "9993")):
        make_card_transaction(store_a, status=status, last4=last4)
    make_card_transaction(store_a, last4="9994", close_error="error_overDate")
    mine = make_card_transaction(shop, status=S.CLOSED, last4="1234")
    db.session.commit()
    for url in LISTS:
        for args in ({}, {"state": "authorised"}):
            html = client.get(url, query_string=args).get_data(as_text=True)
            assert not any(f"******999{n}" in html for n in range(1, 5)), (url, args)
        sheet = load_workbook(io.BytesIO(client.get(url, query_string={"format": "xlsx"}).data))
        cards = {r[3][-4:] for r in list(sheet.active.iter_rows(values_only=True))[1:]}
        assert cards <= {"1234"}, url
    assert "******1234" in client.get(LISTS[2]).get_data(as_text=True)
    assert mine.store_id == shop.id

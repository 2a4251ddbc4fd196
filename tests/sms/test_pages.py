"""簡訊發送紀錄: the store's SMS only, at most three months, filters, content, Excel."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.services import queue_sms
from tests.factories import login, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import PAPER, issue_order, turn_sms_on


def _html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def shops(ctx, client):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    turn_sms_on(other)
    login(client, "issuer01")
    return store, owner, pickup, other, other_owner, other_pickup


def test_only_this_stores_sms_are_listed(shops, client):
    store, owner, pickup, other, other_owner, other_pickup = shops
    mine = issue_order(owner, store, pickup, mobile="0911000111", name="林買家")
    theirs = issue_order(other_owner, other, other_pickup, mobile="0922000222")
    issue_order(owner, store, pickup, method=PAPER, mobile="0933000333")  # paper: no SMS
    assert db.session.scalar(select(func.count()).select_from(Message).where(
        Message.channel == Channel.EMAIL)) >= 2

    response = client.get("/sms-log/")
    page = _html(response)
    assert response.status_code == 200
    assert "0911000111" in page and f'href="/orders/{mine.id}"' in page and mine.order_no in page
    assert 'data-col="purchaser_name">林買家</td>' in page
    assert "0922000222" not in page and theirs.order_no not in page
    assert "0933000333" not in page
    assert "old@example.com" not in page  # e-mails are not SMS
    # the content, behind the number, with the link masked (only its last four characters)
    assert "發行通知" in page and mine.link_token not in page
    assert f"/t/…{mine.link_token[-4:]}" in page
    assert "紙本票券不會發送簡訊通知" in page
    assert page.count('data-testid="sms-row"') == 1


def test_more_than_three_months_is_refused(shops, client):
    response = client.get("/sms-log/", query_string={"start": "2026-01-01", "end": "2026-04-02"})
    assert response.status_code == 422 and "查詢範圍不可超過三個月" in _html(response)
    ok = client.get("/sms-log/", query_string={"start": "2026-01-01", "end": "2026-04-01"})
    assert ok.status_code == 200


def test_the_date_range_and_the_filters(shops, client):
    store, owner, pickup, *_ = shops
    clock.freeze(clock.taipei_datetime(2026, 8, 1, 10))
    issue_order(owner, store, pickup, mobile="0944000444")
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
    recent = issue_order(owner, store, pickup, mobile="0955000555")
    queue_sms(store.id, "12345", "壞號碼", kind="resend", order_id=recent.id)
    db.session.commit()

    def shown(**args) -> set[str]:
        page = _html(client.get("/sms-log/", query_string=args))
        return {n for n in ("0944000444", "0955000555", "12345") if n in page}

    assert shown() == {"0955000555", "12345"}  # the last 30 days
    assert shown(start="2026-07-25", end="2026-08-05") == {"0944000444"}
    assert shown(phone="+886955000555") == {"0955000555"}
    assert shown(phone="0955") == {"0955000555"}
    assert shown(order_no=recent.order_no) == {"0955000555", "12345"}
    assert shown(status="failed") == {"12345"}
    page = _html(client.get("/sms-log/", query_string={"status": "failed"}))
    assert "發送失敗" in page and "手機號碼格式錯誤" in page and "補發通知" in page


def test_excel_of_the_current_query(shops, client):
    store, owner, pickup, *_ = shops
    order = issue_order(owner, store, pickup, mobile="0966000666", name="陳購買")
    queue_sms(store.id, "0977000777", "=HYPERLINK(\"http://evil\")", kind="resend", order_id=order.id)
    db.session.commit()
    response = client.get("/sms-log/", query_string={"format": "xlsx"})
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    wb.close()
    assert rows[0] == ["發送時間", "建立時間", "ECT訂單編號", "購買人姓名", "電話號碼", "簡訊內容",
                       "類型", "結果", "送達／失敗時間", "失敗原因"]
    assert len(rows) == 3
    by_phone = {r[4]: r for r in rows[1:]}
    assert by_phone["0966000666"][2] == order.order_no and by_phone["0966000666"][6] == "發行通知"
    assert by_phone["0966000666"][3] == by_phone["0977000777"][3] == "陳購買"
    assert by_phone["0977000777"][5] == "'=HYPERLINK(\"http://evil\")"
    for row in rows:
        for value in row:
            assert not (isinstance(value, str) and value.startswith(("=", "+", "-", "@"))), value


def test_the_sms_log_needs_its_right(shops, client, app):
    store, *_ = shops
    make_sub(store, username="orders01", grants={Function.ISSUED_ORDERS: Level.MODIFY})
    make_sub(store, username="smslog01", grants={Function.SMS_LOG: Level.VIEW})
    db.session.commit()
    without, with_right = app.test_client(), app.test_client()
    login(without, "orders01")
    login(with_right, "smslog01")
    assert without.get("/sms-log/").status_code == 403
    assert with_right.get("/sms-log/").status_code == 200


def test_failed_sends_show_their_reason(shops, client):
    store, *_ = shops
    message = queue_sms(store.id, "0912345678", "內容", kind="issuance_notice")
    db.session.commit()
    message = db.session.get(Message, message.id)
    message.status, message.error = MessageStatus.FAILED, "閘道逾時（HTTP 504）"
    db.session.commit()
    page = _html(client.get("/sms-log/"))
    assert "閘道逾時（HTTP 504）" in page and "發送失敗" in page

"""票券明細: the issuer's ticket page, its full history, notes (備註), and 404 across stores."""

from __future__ import annotations

import re

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from tests.counter.helpers import act, entries, lookup, reload, text
from tests.factories import (
    link_product,
    login,
    make_account,
    make_branch,
    make_relation,
    make_store,
    make_sub,
)
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store("issuer01")
    [ticket] = issue(owner, store, pickup)
    return store, owner, pickup, ticket


def _history_rows(body: str) -> list[str]:
    table = body.split('data-testid="ticket-history"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr data-action[^>]*>(.*?)</tr>", table, re.S)]


def test_the_detail_page_shows_the_ticket_and_its_whole_history(client, shop):
    store, owner, pickup, ticket = shop
    branch = make_branch(store, "A001", "台北門市")
    make_sub(store, "clerkA01", branch=branch, grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    login(client, "clerkA01")
    act(client, "redeem", ticket)
    client.post("/logout")
    login(client, "issuer01")
    clock.freeze(T(2026, 7, 1, 15, 0))
    act(client, "cancel-redemption", reload(ticket), reason="店員按錯")
    act(client, "return", reload(ticket), reason="消費者不想要了", fee=20)

    response = client.get(f"/tickets/{ticket.serial}")
    body = text(response)
    assert response.status_code == 200
    assert ticket.serial in body and "咖啡券（提貨券）" in body and "NT$150" in body
    assert "退貨／待退貨" in body and "退貨手續費 NT$20" in body and "退貨原因：消費者不想要了" in body
    assert "2026/07/01 15:00 由 " in body and "issuer01" in body  # returned when / where / who
    order_no = db.session.get(type(ticket), ticket.id).order_id
    assert f'href="/orders/{order_no}"' in body  # the order links to its page
    assert 'data-testid="import-no">T' in body
    rows = _history_rows(body)
    assert len(rows) == 4  # issued, redeemed, cancelled, returned: newest first
    assert "退貨" in rows[0] and "未使用 → 待退貨" in rows[0] and "消費者不想要了（退貨手續費 NT$20）" in rows[0]
    assert "取消核銷" in rows[1] and "已使用 → 未使用" in rows[1] and "店員按錯" in rows[1]
    assert "核銷" in rows[2] and "未使用 → 已使用" in rows[2] and "clerkA01" in rows[2] and "台北門市" in rows[2]
    assert "發行" in rows[3]
    # a pending return may be cancelled today: only that counter page is offered
    actions = body.split('data-testid="counter-actions"', 1)[1].split("</div>", 1)[0]
    assert 'data-action="cancel-return"' in actions and 'data-action="redeem"' not in actions


def test_a_note_is_added_and_shown_in_the_history(client, shop):
    store, owner, pickup, ticket = shop
    login(client, "issuer01")
    response = client.post(f"/tickets/{ticket.serial}/notes", data={"note": "消費者來電詢問使用方式"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/tickets/{ticket.serial}")
    body = text(client.get(f"/tickets/{ticket.serial}"))
    assert "備註已新增" in body
    assert any("新增備註" in row and "消費者來電詢問使用方式" in row for row in _history_rows(body))
    assert [e.reason for e in entries(ticket, "note")] == ["消費者來電詢問使用方式"]

    empty = client.post(f"/tickets/{ticket.serial}/notes", data={"note": "  "})
    assert empty.status_code == 422 and "請輸入備註內容" in text(empty)
    assert len(entries(ticket, "note")) == 1


def test_notes_need_the_ticket_report_right(client, shop):
    store, owner, pickup, ticket = shop
    make_sub(store, username="clerkR01", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    login(client, "clerkR01")
    page = client.get(f"/tickets/{ticket.serial}")
    assert page.status_code == 200 and 'data-testid="note-form"' not in text(page)
    assert client.post(f"/tickets/{ticket.serial}/notes", data={"note": "x"}).status_code == 403
    assert entries(ticket, "note") == []


def test_notes_need_the_modify_level_as_on_the_ticket_report(client, shop):
    store, owner, pickup, ticket = shop
    make_sub(store, username="viewerR01", grants={Function.REPORT_TICKETS: Level.VIEW})
    make_sub(store, username="editorR01", grants={Function.REPORT_TICKETS: Level.MODIFY})
    db.session.commit()
    login(client, "viewerR01")
    page = client.get(f"/tickets/{ticket.serial}")
    assert page.status_code == 200 and 'data-testid="note-form"' not in text(page)
    assert client.post(f"/tickets/{ticket.serial}/notes", data={"note": "x"}).status_code == 403
    assert client.post(f"/reports/tickets/{ticket.id}/notes", data={"note": "x"}).status_code == 403
    assert entries(ticket, "note") == []
    client.post("/logout")
    login(client, "editorR01")
    assert 'data-testid="note-form"' in text(client.get(f"/tickets/{ticket.serial}"))
    assert client.post(f"/tickets/{ticket.serial}/notes", data={"note": "可以"}).status_code == 303
    assert [e.reason for e in entries(ticket, "note")] == ["可以"]


def test_another_stores_serial_is_404(client, shop):
    store, owner, pickup, ticket = shop
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    [theirs] = issue(other_owner, other, other_pickup)
    login(client, "issuer01")
    assert client.get(f"/tickets/{theirs.serial}").status_code == 404
    assert client.post(f"/tickets/{theirs.serial}/notes", data={"note": "x"}).status_code == 404
    assert client.get("/tickets/NOSUCHSERIAL0000").status_code == 404
    assert entries(theirs, "note") == []


def test_a_parent_store_can_neither_read_nor_note_a_childs_ticket_without_switching(client, shop):
    store, owner, pickup, ticket = shop
    child, child_owner, child_pickup, _ = ready_store("child01")
    child.parent_id = store.id
    db.session.commit()
    [theirs] = issue(child_owner, child, child_pickup)
    login(client, "issuer01")
    assert client.get(f"/tickets/{theirs.serial}").status_code == 404
    assert client.post(f"/tickets/{theirs.serial}/notes", data={"note": "x"}).status_code == 404
    # switched into the child, the parent acts as the child's head office
    assert client.post("/switch-store", data={"store_id": child.id}).status_code in (302, 303)
    assert client.get(f"/tickets/{theirs.serial}").status_code == 200
    assert client.post(f"/tickets/{theirs.serial}/notes", data={"note": "母商店備註"}).status_code == 303
    assert [e.reason for e in entries(theirs, "note")] == ["母商店備註"]


def test_a_partner_store_has_no_detail_page_for_the_issuers_ticket(client, shop):
    store, owner, pickup, ticket = shop
    partner = make_store("可核銷商店")
    make_account(partner, username="partner01")
    make_relation(store, partner)
    link_product(pickup, partners=[partner])
    db.session.commit()
    login(client, "partner01")
    assert lookup(client, "redeem", ticket.code).status_code == 200  # it may redeem it...
    assert client.get(f"/tickets/{ticket.serial}").status_code == 404  # ...not read its details
    assert client.post(f"/tickets/{ticket.serial}/notes", data={"note": "x"}).status_code == 404


def test_the_detail_page_needs_a_merchant_login(client, shop):
    store, owner, pickup, ticket = shop
    response = client.get(f"/tickets/{ticket.serial}")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]

"""今日櫃台紀錄: today's counter actions by this account (or its branch), the shift's totals
(count and face value per action) and the Excel of the list."""

from __future__ import annotations

import pytest

from app import clock
from app.auth.permissions import Function, Level
from tests.counter.helpers import act, clerk, reload, text
from tests.factories import login, make_branch
from tests.issuance.helpers import ready_store
from tests.reports.helpers import xlsx_rows
from tests.tickets.helpers import issue

T = clock.taipei_datetime


@pytest.fixture
def shift(app, ctx):  # noqa: ANN001, ANN201
    """Yesterday clerkA01 redeemed one; today clerkA01 redeemed two and cancelled one of them,
    clerkA02 (same branch) redeemed one, the owner (no branch) redeemed one."""
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("issuer01")
    branch = make_branch(store, "A001", "台北門市")
    clerk(store, "clerkA01", branch)
    clerk(store, "clerkA02", branch)
    old, a1, a2, b1, o1 = sorted(issue(owner, store, pickup, quantity=5), key=lambda t: t.serial)
    client = app.test_client()
    login(client, "clerkA01")
    assert act(client, "redeem", old).status_code == 200
    clock.freeze(T(2026, 7, 2, 10, 0))
    for t in (a1, a2):
        assert act(client, "redeem", t).status_code == 200
    assert act(client, "cancel-redemption", reload(a2), reason="按錯").status_code == 200
    client = app.test_client()
    login(client, "clerkA02")
    assert act(client, "redeem", b1).status_code == 200
    client = app.test_client()
    login(client, "issuer01")
    assert act(client, "redeem", o1).status_code == 200
    return store, (old, a1, a2, b1, o1)


def test_a_branch_clerk_sees_the_branchs_counter_actions_of_today_with_totals(client, shift):
    _, (old, a1, a2, b1, o1) = shift
    login(client, "clerkA01")
    response = client.get("/counter/today")
    body = text(response)
    assert response.status_code == 200
    assert 'data-testid="today-tab"' in body
    for t in (a1, a2, b1):
        assert t.serial in body
    assert old.serial not in body and o1.serial not in body  # yesterday's; another account, no branch
    assert 'data-action="redeemed">3 張／NT$450' in body
    assert 'data-action="redemption_cancelled">1 張／NT$150' in body


def test_an_account_without_a_branch_sees_its_own_only(client, shift):
    _, (old, a1, a2, b1, o1) = shift
    login(client, "issuer01")
    body = text(client.get("/counter/today"))
    assert o1.serial in body and a1.serial not in body and b1.serial not in body
    assert 'data-action="redeemed">1 張／NT$150' in body and "redemption_cancelled" not in body


def test_the_excel_lists_the_same_rows(client, shift):
    _, (old, a1, a2, b1, o1) = shift
    login(client, "clerkA01")
    response = client.get("/counter/today?format=xlsx")
    assert response.status_code == 200
    rows = xlsx_rows(response.data)
    assert rows[0] == ["時間", "動作", "票券序號", "商品名稱", "面額", "操作人員"]
    assert sorted((r[1], r[2]) for r in rows[1:]) == sorted(
        [("核銷", a1.serial), ("核銷", a2.serial), ("取消核銷", a2.serial), ("核銷", b1.serial)])


def test_the_counter_page_links_to_it_and_nothing_done_says_so(client, ctx):
    clock.freeze(T(2026, 7, 2, 10, 0))
    store, *_ = ready_store("issuer01")
    login(client, "issuer01")
    assert 'href="/counter/today"' in text(client.get("/counter/redeem"))
    assert "今日尚無櫃台紀錄" in text(client.get("/counter/today"))


def test_an_account_without_counter_functions_is_refused(client, ctx):
    clock.freeze(T(2026, 7, 2, 10, 0))
    store, *_ = ready_store("issuer01")
    clerk(store, "report01", grants={Function.REPORT_TICKETS: Level.VIEW})
    login(client, "report01")
    assert client.get("/counter/today").status_code == 403

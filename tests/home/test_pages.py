"""The home page through the client: the figures each account may see, the measure toggles and
period as HTMX fragments, the three-month rule, a parent's picker, a new store, installments."""

from __future__ import annotations

from datetime import date

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.products.models import ProductKind
from app.stores.models import RedemptionMode
from app.tickets import services
from tests.factories import login, make_account, make_branch, make_product, make_store, make_sub
from tests.home import helpers as h
from tests.home.helpers import chart_values, orders_table, status_table, text, top_table
from tests.settings.helpers import mark_complete
from tests.tickets.helpers import issue

HTMX = {"HX-Request": "true"}


def test_the_owner_sees_every_figure_and_switches_amount_and_count(world, client):
    login(client, world.owner)
    html = text(client.get("/home"))
    assert status_table(html) == {"redeemed": (4, 580), "returned": (2, 350), "unused": (5, 630)}
    assert chart_values(html, "status-chart") == [580, 350, 630]  # face value by default
    assert "2026/08/24～2026/11/21" in html
    assert orders_table(html) == {"2026-11-01": (2, 7, 840), "2026-11-20": (1, 2, 400)}
    assert 'value="2026-10-23"' in html and 'value="2026-11-21"' in html  # the default 30 days
    assert "合計 3 筆訂單、9 張票券、NT$1,240" in html
    assert top_table(html, "pickup") == [("咖啡券", 5, 750), ("早餐券", 2, 400), ("短期提貨券", 1, 120)]
    assert top_table(html, "gift") == [("甜點券", 3, 240), ("短期贈品券", 1, 50)]
    assert chart_values(html, "top-pickup-chart") == [5, 2, 1]
    assert "別家熱銷券" not in html and 'data-testid="empty-state"' not in html
    assert "訊息中心" in html and "合約時間" in html

    counted = text(client.get("/home?measure=count&orders_measure=count"))
    assert chart_values(counted, "status-chart") == [4, 2, 5]
    assert status_table(counted) == status_table(html)  # the table always shows both
    orders = chart_values(counted, "orders-chart")
    assert len(orders) == 30 and sum(orders) == 3 and orders[9] == 2  # 11/01 is the 10th day
    assert sum(chart_values(html, "orders-chart")) == 1240


def test_the_toggles_swap_one_card_as_an_htmx_fragment(world, client):
    login(client, world.owner)
    page = text(client.get("/home"))
    assert 'hx-get="/home/status?measure=count"' in page and 'hx-target="#home-status"' in page
    fragment = client.get("/home/status?measure=count", headers=HTMX)
    html = text(fragment)
    assert fragment.status_code == 200 and "<html" not in html and "訊息中心" not in html
    assert chart_values(html, "status-chart") == [4, 2, 5]
    assert 'aria-pressed="true" data-measure="count"' in html

    orders = text(client.get("/home/orders?start=2026-09-25&end=2026-10-05&orders_measure=count",
                             headers=HTMX))
    assert "<html" not in orders and "近90天發行狀況" not in orders
    assert orders_table(orders) == {"2026-10-01": (2, 2, 170)}
    assert chart_values(orders, "orders-chart") == [0] * 6 + [2] + [0] * 4
    # the other measure keeps the period
    assert 'hx-get="/home/orders?start=2026-09-25&amp;end=2026-10-05&amp;orders_measure=amount"' in orders

    # without HTMX the card's URL is the whole page with the same query
    plain = client.get("/home/status?measure=count")
    assert plain.status_code == 303 and plain.headers["Location"] == "/home?measure=count"


@pytest.mark.parametrize(("start", "end", "message"), [
    ("2026-08-01", "2026-11-21", "查詢區間不可超過三個月"),
    ("2026-11-21", "2026-11-01", "起日不可晚於迄日"),
    ("2026/13/01", "", "日期格式錯誤"),
])
def test_a_period_beyond_three_months_is_refused_with_a_message(ctx, client, start, end, message):
    clock.freeze(h.NOW)
    store = make_store()
    make_account(store, username="periodowner")
    db.session.commit()
    login(client, "periodowner")
    fragment = client.get(f"/home/orders?start={start}&end={end}", headers=HTMX)
    assert fragment.status_code == 200  # HTMX swaps the card with the message in it
    assert message in text(fragment) and 'data-testid="orders-table"' not in text(fragment)
    page = client.get(f"/home?start={start}&end={end}")
    assert page.status_code == 422 and message in text(page)
    assert 'data-testid="status-table"' in text(page)  # the rest of the page is still there


def test_three_months_exactly_is_allowed(world, client):
    login(client, world.owner)
    html = text(client.get("/home/orders?start=2026-08-21&end=2026-11-21", headers=HTMX))
    assert 'data-testid="orders-error"' not in html
    assert orders_table(html)["2026-10-01"] == (2, 2, 170)


def test_a_bound_clerk_sees_its_branch_only_whatever_it_asks(world, client):
    other_branch = make_branch(_store(world.store_id), "H002", "別的門市")
    db.session.commit()
    login(client, world.clerk)
    for url in ("/home", f"/home?branch={other_branch.id}", f"/home?branch={other_branch.id}&store="):
        html = text(client.get(url))
        assert status_table(html) == {"redeemed": (2, 350), "returned": (1, 150)}, url
        assert 'data-testid="branch-note"' in html and "H001 首頁門市" in html
        assert 'id="home-orders"' not in html and 'data-testid="top-pickup-table"' not in html
        assert "未使用" not in html.split('data-testid="status-table"')[1].split("</table>")[0]
    fragment = text(client.get(f"/home/status?measure=count&branch={other_branch.id}", headers=HTMX))
    assert chart_values(fragment, "status-chart") == [2, 1]
    assert client.get("/home/orders", headers=HTMX).status_code == 404
    refused = client.get(f"/home?store={world.other_store_id}")
    assert refused.status_code == 422 and "查無此商店" in text(refused)


def _store(store_id: int):  # noqa: ANN202
    from app.stores.models import Store

    return db.session.get(Store, store_id)


def test_an_unbound_sub_account_sees_the_store_but_not_the_fees(world, client):
    store = _store(world.store_id)
    make_sub(store, username="homehq", grants={Function.REDEEM: Level.MODIFY})
    db.session.add(FeeRate(store_id=store.id, kind=FeeKind.SERIAL, effective_from=date(2026, 1, 1),
                           amount=2))
    db.session.commit()
    login(client, "homehq")
    html = text(client.get("/home"))
    assert status_table(html)["unused"] == (5, 630)
    assert 'data-testid="fees"' not in html and "/vendor/contract" not in html
    client.post("/logout")
    login(client, world.owner)
    html = text(client.get("/home"))
    fees = html[html.index('data-testid="fees"'):]
    assert "序號處理費</td><td>NT$2／個序號</td>" in fees and "票券-簡訊服務費</td><td>未設定" in fees
    assert 'href="/vendor/contract"' in html


@pytest.fixture
def family(ctx):  # noqa: ANN201
    """A parent store (2 tickets, 1 redeemed) and its child (3 tickets, 1 returned)."""
    clock.freeze(h.T(2026, 11, 10, 10, 0))
    parent = make_store("首頁母商店")
    child = make_store("首頁子商店", parent=parent)
    stranger = make_store("首頁無關商店")
    parent_owner = make_account(parent, username="homeparent")
    child_owner = make_account(child, username="homechild")
    for s in (parent, child):
        mark_complete(s)
    p_product = make_product(parent, "母店提貨券", kind=ProductKind.PICKUP, face_value=100)
    c_product = make_product(child, "子店提貨券", kind=ProductKind.PICKUP, face_value=300)
    db.session.commit()
    p_tickets = issue(parent_owner, parent, p_product, 2)
    c_tickets = issue(child_owner, child, c_product, 3)
    services.redeem(parent_owner, parent, p_tickets[0])
    services.return_ticket(child_owner, child, c_tickets[0], reason="測試")
    db.session.commit()
    clock.freeze(h.NOW)
    return parent.id, child.id, stranger.id


def test_a_parent_sees_the_sum_or_picks_one_store_read_only(family, client):
    parent_id, child_id, stranger_id = family
    login(client, "homeparent")
    html = text(client.get("/home"))
    assert 'data-testid="store-picker"' in html and "全部商店合計" in html
    assert status_table(html) == {"redeemed": (1, 100), "returned": (1, 300), "unused": (3, 700)}
    assert top_table(html, "pickup") == [("子店提貨券", 2, 600), ("母店提貨券", 2, 200)]
    assert "<th scope=\"col\">商店</th>" in html  # several stores: each product names its store
    child = text(client.get(f"/home?store={child_id}"))
    assert status_table(child) == {"redeemed": (0, 0), "returned": (1, 300), "unused": (2, 600)}
    assert 'data-testid="read-only"' in child and f'<option value="{child_id}" selected>' in child
    fragment = text(client.get(f"/home/status?store={child_id}&measure=count", headers=HTMX))
    assert chart_values(fragment, "status-chart") == [0, 1, 2]
    assert f'hx-get="/home/status?store={child_id}&amp;measure=amount"' in fragment
    own = text(client.get(f"/home?store={parent_id}"))
    assert status_table(own)["unused"] == (1, 100) and 'data-testid="read-only"' not in own
    refused = client.get(f"/home?store={stranger_id}")
    assert refused.status_code == 422 and "查無此商店" in text(refused)

    client.post("/logout")
    login(client, "homechild")
    html = text(client.get(f"/home?store={parent_id}"))
    assert "查無此商店" in html  # a child never reads its parent
    html = text(client.get("/home"))
    assert 'data-testid="store-picker"' not in html
    assert status_table(html) == status_table(child)


def test_a_new_store_sees_zeros_and_a_welcome(ctx, client):
    clock.freeze(h.NOW)
    store = make_store()
    make_account(store, username="newhome01")
    db.session.commit()
    login(client, "newhome01")
    html = text(client.get("/home"))
    assert 'data-testid="empty-state"' in html and "還沒有發行任何票券" in html
    assert status_table(html) == {"redeemed": (0, 0), "returned": (0, 0), "unused": (0, 0)}
    assert chart_values(html, "status-chart") == [0, 0, 0] and "尚無資料" in html
    assert "此區間沒有已發行的訂單" in html and orders_table(html) == {}
    assert "尚無提貨券銷售資料" in html and "尚無贈品券銷售資料" in html


def test_an_installment_store_keeps_news_and_contract(ctx, client):
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="homeinst01")
    db.session.commit()
    login(client, "homeinst01")
    html = text(client.get("/home"))
    assert "訊息中心" in html and "分期核銷" in html and "合約起訖" in html
    assert "近90天發行狀況" not in html and 'id="home-orders"' not in html
    assert client.get("/home/status", headers=HTMX).status_code == 404
    assert client.get("/home/orders", headers=HTMX).status_code == 404


def test_the_home_needs_a_merchant_login(client, ctx):
    assert client.get("/home/status", headers=HTMX).status_code in (302, 401)
    assert client.get("/home/orders").status_code == 302

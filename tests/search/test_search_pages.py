"""全站搜尋 (/search?q=): each kind of query finds the acting store's ticket or order, never
another store's; nothing found says so; searches that find nothing are rate limited (429)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import clock
from app.db import db
from app.search.views import NOTHING, TOO_MANY
from app.tickets.models import Order, Ticket
from tests.counter.helpers import dashed, text
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime


@pytest.fixture
def world(ctx):  # noqa: ANN001, ANN201
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("issuer01")
    [ticket] = issue(owner, store, pickup)
    order = db.session.get(Order, ticket.order_id)
    order.merchant_order_no = "SHOPA-0001"
    order.purchaser_mobile = ticket.holder_mobile = "0911222333"
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    [foreign] = issue(other_owner, other, other_pickup)
    foreign_order = db.session.get(Order, foreign.order_id)
    foreign_order.merchant_order_no = "SHOPB-0001"
    foreign_order.purchaser_mobile = foreign.holder_mobile = "0955666777"
    db.session.commit()
    return ticket, order, foreign, foreign_order


def _search(client, q: str):  # noqa: ANN001, ANN202
    return client.get("/search", query_string={"q": q})


def test_the_box_is_in_the_shell_for_a_merchant_user(client, world):
    login(client, "issuer01")
    body = text(client.get("/home"))
    assert 'data-testid="global-search"' in body and 'action="/search"' in body


@pytest.mark.parametrize("kind", ["serial", "code", "dashed code", "mobile", "mobile +886"])
def test_each_kind_finds_the_ticket_with_a_link_to_its_page(client, world, kind):
    ticket, *_ = world
    q = {"serial": ticket.serial.lower(), "code": ticket.code, "dashed code": f" {dashed(ticket.code)} ",
         "mobile": "0911222333", "mobile +886": "+886 911-222-333"}[kind]
    login(client, "issuer01")
    response = _search(client, q)
    body = text(response)
    assert response.status_code == 200, body
    assert 'data-testid="search-tickets"' in body
    assert f'href="/tickets/{ticket.serial}"' in body


@pytest.mark.parametrize("kind", ["order_no", "merchant_order_no", "mobile"])
def test_each_kind_finds_the_order_with_a_link_to_its_page(client, world, kind):
    _, order, *_ = world
    q = {"order_no": order.order_no, "merchant_order_no": "SHOPA-0001", "mobile": "0911-222-333"}[kind]
    login(client, "issuer01")
    response = _search(client, q)
    body = text(response)
    assert response.status_code == 200
    assert f'href="/orders/{order.id}"' in body and 'data-testid="search-orders"' in body


@pytest.mark.parametrize("kind", ["serial", "code", "order_no", "merchant_order_no", "mobile"])
def test_another_stores_rows_are_not_found(client, world, kind):
    _, _, foreign, foreign_order = world
    q = {"serial": foreign.serial, "code": foreign.code, "order_no": foreign_order.order_no,
         "merchant_order_no": "SHOPB-0001", "mobile": "0955666777"}[kind]
    login(client, "issuer01")
    response = _search(client, q)
    body = text(response)
    assert response.status_code == 404
    assert NOTHING in body
    assert 'data-testid="search-tickets"' not in body and 'data-testid="search-orders"' not in body
    assert f'/tickets/{foreign.serial}' not in body and f'/orders/{foreign_order.id}' not in body


def test_an_empty_query_shows_the_box_only(client, world):
    login(client, "issuer01")
    response = _search(client, "")
    assert response.status_code == 200 and NOTHING not in text(response)


def test_orders_are_not_listed_without_the_orders_function(client, world):
    from tests.counter.helpers import clerk

    ticket, order, *_ = world
    store = db.session.get(Ticket, ticket.id).store_id
    from app.stores.models import Store
    clerk(db.session.get(Store, store), "clerkS01")
    login(client, "clerkS01")
    response = _search(client, order.order_no)
    assert response.status_code == 404 and f'/orders/{order.id}' not in text(response)


def test_searches_that_find_nothing_are_rate_limited_per_account(client, world):
    ticket, *_ = world
    login(client, "issuer01")
    for i in range(20):
        assert _search(client, f"NOPE{i:04d}").status_code == 404
    blocked = _search(client, ticket.serial)  # even a real one, until the window passes
    assert blocked.status_code == 429
    assert TOO_MANY in text(blocked)


def test_found_searches_count_nothing(client, world):
    ticket, *_ = world
    login(client, "issuer01")
    for _ in range(25):
        assert _search(client, ticket.serial).status_code == 200
    assert db.session.scalar(select(Ticket.id).where(Ticket.id == ticket.id))

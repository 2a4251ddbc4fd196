"""The installment-mode (分期核銷) home: 發行統計, 核銷統計 and 退貨統計 of a chosen period,
worked out by hand from tests.installments.factories.World, the measure toggle and the period as
HTMX fragments, the three-month rule, the contract with its redemption settings and fees, who
sees the figures; and the queries themselves on SQLite (PostgreSQL: test_postgres)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.home import queries
from app.home.rules import Figure, IssuedFigures, RedeemedFigures, ReturnedFigures
from tests.factories import login, make_account, make_store, make_sub
from tests.installments.factories import NOW, World, build_world

HTMX = {"HX-Request": "true"}
OCT_23, NOV_21 = date(2026, 10, 23), date(2026, 11, 21)

# The World's figures for 10/23-11/21 (its table says why).
ISSUED = IssuedFigures(orders=5, issued=Figure(15, 4700), redeemed=Figure(6, 1768),
                       returned=Figure(5, 1866), unused=Figure(4, 1066))
REDEEMED = RedeemedFigures(redeeming=Figure(1, 200),  # o5's first period, today
                           redeemed=Figure(6, 1668))  # o1 334, o2 900, o4 334, old's third 100
RETURNED = ReturnedFigures(orders=2, periods=Figure(5, 1866))  # o3 1200, o4 666
# 11/10-11/15: o4 and o5 issued; redeemed o2's third (11/15) and o4's first (11/11); o4 returned.
ISSUED_NOV_10_15 = IssuedFigures(2, Figure(6, 1600), Figure(2, 534), Figure(2, 666), Figure(2, 400))


def installment_figures(world: World) -> dict[str, object]:
    """Every figure the home reads for the World, by name (SQLite and PostgreSQL alike)."""
    ids = (world.store.id,)
    nov_10, nov_15 = date(2026, 11, 10), date(2026, 11, 15)
    empty = (date(2026, 1, 1), date(2026, 1, 31))
    return {
        "issued": queries.installment_issued(ids, OCT_23, NOV_21),
        "redeemed": queries.installment_redeemed(ids, OCT_23, NOV_21),
        "returned": queries.installment_returned(ids, OCT_23, NOV_21),
        "issued 11/10-15": queries.installment_issued(ids, nov_10, nov_15),
        "redeemed 11/10-15": queries.installment_redeemed(ids, nov_10, nov_15),
        "returned 11/10-15": queries.installment_returned(ids, nov_10, nov_15),
        "issued in January": queries.installment_issued(ids, *empty),
        "redeemed in January": queries.installment_redeemed(ids, *empty),
        "returned in January": queries.installment_returned(ids, *empty),
        "returned by the other store": queries.installment_returned((world.other.id,), OCT_23, NOV_21),
    }


EXPECTED_FIGURES = {
    "issued": ISSUED, "redeemed": REDEEMED, "returned": RETURNED,
    "issued 11/10-15": ISSUED_NOV_10_15,
    "redeemed 11/10-15": RedeemedFigures(Figure(), Figure(2, 300 + 334)),
    "returned 11/10-15": ReturnedFigures(1, Figure(2, 666)),
    "issued in January": IssuedFigures(), "redeemed in January": RedeemedFigures(),
    "returned in January": ReturnedFigures(),
    "returned by the other store": ReturnedFigures(1, Figure(2, 1666 + 1666)),  # 5000 = 1668 + 1666 + 1666
}


@pytest.fixture
def world(ctx) -> World:  # noqa: ANN001
    built = build_world()
    make_account(built.store, username="insthome")
    make_sub(built.store, "insthomesub", grants={Function.INSTALLMENT_REPORTS: Level.VIEW})
    make_sub(built.store, "insthomenone", grants={Function.INSTALLMENT_UNISSUED: Level.VIEW})
    db.session.add_all([
        FeeRate(store_id=built.store.id, kind=FeeKind.RETURN, amount=30, effective_from=date(2026, 1, 1)),
        FeeRate(store_id=built.store.id, kind=FeeKind.SERIAL, amount=2, effective_from=date(2026, 1, 1)),
    ])
    db.session.commit()
    return built


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def table(html: str, testid: str) -> dict[str, tuple[int, int]]:
    part = html[html.index(f'data-testid="{testid}"'):]
    part = part[:part.index("</table>")]
    return {key: (int(n), int(amount)) for key, n, amount in re.findall(
        r'data-figure="(\w+)">.*?data-count="(\d+)".*?data-amount="(\d+)"', part, re.S)}


def returned(html: str) -> tuple[int, int, int]:
    part = html[html.index('data-testid="installment-returned"'):]
    found = re.search(r'data-orders="(\d+)".*?data-count="(\d+)".*?data-amount="(\d+)"', part, re.S)
    assert found
    return tuple(int(v) for v in found.groups())  # type: ignore[return-value]


def test_the_figures_on_sqlite(world):
    assert installment_figures(world) == EXPECTED_FIGURES


def test_the_home_of_an_installment_store(client, world):
    login(client, "insthome")
    html = text(client.get("/home"))
    assert table(html, "installment-issued") == {
        "issued": (15, 4700), "redeemed": (6, 1768), "returned": (5, 1866), "unused": (4, 1066)}
    assert table(html, "installment-redeemed") == {
        "redeeming": (1, 200), "redeemed": (6, 1668), "total": (7, 1868)}
    assert returned(html) == (2, 5, 1866)
    assert 'value="2026-10-23"' in html and 'value="2026-11-21"' in html and "更新區間" in html
    assert "訊息中心" in html and "近90天發行狀況" not in html
    contract = html[html.index('data-testid="contract"'):]
    assert 'data-testid="escrow-type">信託' in contract
    assert 'data-testid="installment-setting">3 期，每 30 天核銷一期' in contract
    assert "NT$30／筆訂單" in contract and "NT$2／個序號" in contract
    chart = html[html.index('data-testid="installment-chart"'):]
    assert [int(v) for v in re.findall(r'data-value="(\d+)"', chart[:chart.index("</svg>")])] == [
        4700, 1768, 1866, 1066]


def test_the_toggle_and_the_period_as_fragments(client, world):
    login(client, "insthome")
    html = text(client.get("/home/installments?measure=count&start=2026-11-10&end=2026-11-15",
                           headers=HTMX))
    assert "<html" not in html and 'data-measure="count"' in html
    assert table(html, "installment-issued") == {
        "issued": (6, 1600), "redeemed": (2, 534), "returned": (2, 666), "unused": (2, 400)}
    chart = html[html.index('data-testid="installment-chart"'):]
    assert [int(v) for v in re.findall(r'data-value="(\d+)"', chart[:chart.index("</svg>")])] == [6, 2, 2, 2]
    assert returned(html) == (1, 2, 666)
    # without HTMX: the whole page with the same query
    response = client.get("/home/installments?measure=count")
    assert response.status_code == 303 and response.location.endswith("/home?measure=count")


def test_more_than_three_months_is_refused_inside_the_card(client, world):
    login(client, "insthome")
    response = client.get("/home?start=2026-06-01&end=2026-11-21")
    assert response.status_code == 422 and "查詢區間不可超過三個月" in text(response)
    response = client.get("/home/installments?start=2026-06-01&end=2026-11-21", headers=HTMX)
    assert response.status_code == 200 and 'data-testid="installment-error"' in text(response)


def test_who_sees_the_figures(client, world):
    login(client, "insthomesub")
    assert table(text(client.get("/home")), "installment-issued")["issued"] == (15, 4700)
    client.post("/logout")
    login(client, "insthomenone")
    html = text(client.get("/home"))
    assert 'id="home-installments"' not in html and "訊息中心" in html and "合約起訖" in html
    assert client.get("/home/installments", headers=HTMX).status_code == 404


def test_a_redeem_after_use_store_has_no_installment_card(client, ctx):
    make_account(make_store(), username="ticketshome")
    db.session.commit()
    login(client, "ticketshome")
    html = text(client.get("/home"))
    assert 'id="home-installments"' not in html and "價金保管類型" not in html
    assert client.get("/home/installments", headers=HTMX).status_code == 404


@pytest.mark.postgres
def test_the_figures_and_the_page_on_postgresql(pg_app):
    with pg_app.app_context():
        try:
            world = build_world()
            make_account(world.store, username="pginsthome")
            db.session.commit()
            assert installment_figures(world) == EXPECTED_FIGURES
        finally:
            clock.unfreeze()
            db.session.remove()
    client = pg_app.test_client()
    clock.freeze(NOW)
    login(client, "pginsthome")
    html = text(client.get("/home"))
    assert table(html, "installment-issued")["unused"] == (4, 1066) and returned(html) == (2, 5, 1866)

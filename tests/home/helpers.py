"""A hand-built store for the home dashboard tests: tickets issued, redeemed and returned on a
frozen clock through the real services, with every figure worked out by hand below.

Today is 2026/11/21 (Taipei); the 90-day window starts 2026/08/24.

| day (Taipei)      | what happens                                                   |
|-------------------|----------------------------------------------------------------|
| 07/01 10:00       | order 咖啡券 ×2 (a1, a2; NT$150 each)                            |
| 07/02             | a2 redeemed by the owner (before the window)                   |
| 08/20 10:00       | order 早餐券 ×1 (b1; NT$200), issued before the window           |
| 09/01             | b1 redeemed by the branch clerk (in the window)                |
| 10/01 10:00       | order 短期贈品券 ×1 (c1; NT$50, valid until 11/10: expired now)   |
| 10/01 10:05       | order 短期提貨券 ×1 (p3; NT$120, escrow ended 11/01: unused)      |
| 11/01 00:30       | order 咖啡券 ×4 (d1-d4; Taipei 11/01 but UTC 10/31)              |
| 11/01 00:40       | order 甜點券 ×3 (g1-g3; NT$80 each)                              |
| 11/02             | d1 redeemed by the branch clerk, d2 by the owner               |
| 11/03             | d3 returned by the branch clerk; d4 returned and the return    |
|                   | cancelled by the owner (unused again)                          |
| 11/05             | g1 redeemed by the owner                                       |
| 11/20 10:00       | order 早餐券 ×2 (e1, e2)                                         |
| 11/21 09:00       | e1 returned by the owner (today)                               |

Another store issues, redeems and returns on the same days; none of it may be counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.home import queries
from app.home.rules import Figure, OrderFigure
from app.products.models import ProductKind
from app.reports.scope import ReportScope
from app.tickets import services
from tests.factories import make_account, make_branch, make_product, make_store, make_sub
from tests.settings.helpers import mark_complete
from tests.tickets.helpers import issue

T = clock.taipei_datetime
TODAY = date(2026, 11, 21)
NOW = T(2026, 11, 21, 10, 0)
CLERK_GRANTS = {Function.REDEEM: Level.MODIFY, Function.RETURN: Level.MODIFY}

# The figures, worked out by hand from the table above.
REDEEMED = Figure(4, 200 + 150 + 150 + 80)  # b1, d1, d2, g1 (a2 was before the window)
RETURNED = Figure(2, 150 + 200)  # d3, e1
UNUSED = Figure(5, 120 + 150 + 80 + 80 + 200)  # p3 (escrow over), d4, g2, g3, e2; not c1, a1
BRANCH_REDEEMED = Figure(2, 200 + 150)  # b1, d1
BRANCH_RETURNED = Figure(1, 150)  # d3
ORDERS_LAST_30_DAYS = {date(2026, 11, 1): OrderFigure(2, 7, 600 + 240),
                       date(2026, 11, 20): OrderFigure(1, 2, 400)}
ORDERS_OCTOBER_1 = OrderFigure(2, 2, 50 + 120)
TOP_PICKUP = [("咖啡券", Figure(5, 750)),  # a1, a2, d1, d2, d4 (d3 returned)
              ("早餐券", Figure(2, 400)),  # b1, e2 (e1 returned)
              ("短期提貨券", Figure(1, 120))]
TOP_GIFT = [("甜點券", Figure(3, 240)), ("短期贈品券", Figure(1, 50))]  # an expired gift stays sold


@dataclass(frozen=True)
class World:
    store_id: int
    owner: str  # usernames (password: tests.factories.PASSWORD)
    clerk: str
    branch_id: int
    other_store_id: int
    other_owner: str


def _at(month: int, day: int, hour: int = 10, minute: int = 0) -> None:
    clock.freeze(T(2026, month, day, hour, minute))


def build_world(prefix: str = "home") -> World:
    """The store of the table above, and another store beside it. Leaves the clock at NOW."""
    store = make_store(f"{prefix}示範店")
    owner = make_account(store, username=f"{prefix}owner")
    branch = make_branch(store, "H001", "首頁門市")
    clerk = make_sub(store, f"{prefix}clerk", branch=branch, grants=CLERK_GRANTS)
    mark_complete(store)
    coffee = make_product(store, "咖啡券", kind=ProductKind.PICKUP, face_value=150)
    breakfast = make_product(store, "早餐券", kind=ProductKind.PICKUP, face_value=200)
    dessert = make_product(store, "甜點券", kind=ProductKind.GIFT, face_value=80)
    short_gift = make_product(store, "短期贈品券", kind=ProductKind.GIFT, face_value=50,
                              end=date(2026, 11, 10))
    short_pickup = make_product(store, "短期提貨券", kind=ProductKind.PICKUP, face_value=120,
                                end=date(2026, 11, 1))

    other = make_store(f"{prefix}別家店")
    other_owner = make_account(other, username=f"{prefix}other")
    mark_complete(other)
    other_product = make_product(other, "別家熱銷券", kind=ProductKind.PICKUP, face_value=999)
    db.session.commit()

    def redeem(account, ticket) -> None:  # noqa: ANN001
        services.redeem(account, account.store, ticket)
        db.session.commit()

    def return_(account, ticket) -> None:  # noqa: ANN001
        services.return_ticket(account, account.store, ticket, reason="測試退貨")
        db.session.commit()

    _at(7, 1)
    a1, a2 = issue(owner, store, coffee, 2)
    _at(7, 2)
    redeem(owner, a2)
    _at(8, 20)
    [b1] = issue(owner, store, breakfast, 1)
    _at(9, 1)
    redeem(clerk, b1)
    _at(10, 1)
    issue(owner, store, short_gift, 1)
    _at(10, 1, 10, 5)
    issue(owner, store, short_pickup, 1)
    _at(11, 1, 0, 30)
    d1, d2, d3, d4 = issue(owner, store, coffee, 4)
    _at(11, 1, 0, 40)
    g1, _g2, _g3 = issue(owner, store, dessert, 3)
    others = issue(other_owner, other, other_product, 6)
    _at(11, 2)
    redeem(clerk, d1)
    redeem(owner, d2)
    redeem(other_owner, others[0])
    _at(11, 3)
    return_(clerk, d3)
    return_(owner, d4)
    services.cancel_return(owner, store, d4, reason="退錯了")
    db.session.commit()
    return_(other_owner, others[1])
    _at(11, 5)
    redeem(owner, g1)
    _at(11, 20)
    e1, _e2 = issue(owner, store, breakfast, 2)
    issue(other_owner, other, other_product, 3)
    _at(11, 21, 9, 0)
    return_(owner, e1)
    clock.freeze(NOW)
    assert a1.id  # a1 stays unused: issued before the window
    return World(store.id, owner.username, clerk.username, branch.id, other.id, other_owner.username)


# Reading the figures back --------------------------------------------------------------------

def scope_of(store_ids: tuple[int, ...], *, branch_id: int | None = None) -> ReportScope:
    return ReportScope(acting_store_id=store_ids[0], store_ids=store_ids, choices=(),
                       branch_id=branch_id, branch_locked=branch_id is not None, account_id=0)


def check_world_figures(world: World) -> None:
    """Every figure of the hand-built store (SQLite and PostgreSQL alike)."""
    store = scope_of((world.store_id,))
    totals = queries.status_totals(store, TODAY)
    assert totals.since == date(2026, 8, 24)
    assert (totals.redeemed, totals.returned, totals.unused) == (REDEEMED, RETURNED, UNUSED)

    branch = queries.status_totals(scope_of((world.store_id,), branch_id=world.branch_id), TODAY)
    assert (branch.redeemed, branch.returned, branch.unused) == (
        BRANCH_REDEEMED, BRANCH_RETURNED, None)

    series = queries.orders_by_day(store, TODAY - timedelta(days=29), TODAY)
    assert len(series) == 30 and series[0][0] == date(2026, 10, 23) and series[-1][0] == TODAY
    assert {d: f for d, f in series if f != OrderFigure()} == ORDERS_LAST_30_DAYS
    october = dict(queries.orders_by_day(store, date(2026, 9, 25), date(2026, 10, 5)))
    assert october[date(2026, 10, 1)] == ORDERS_OCTOBER_1
    assert october[date(2026, 9, 30)] == OrderFigure()

    top = queries.top_products(store)
    assert [(p.name, p.sold) for p in top[ProductKind.PICKUP]] == TOP_PICKUP
    assert [(p.name, p.sold) for p in top[ProductKind.GIFT]] == TOP_GIFT
    assert queries.has_tickets(store)


# What the page shows ------------------------------------------------------------------------

def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def status_table(html: str) -> dict[str, tuple[int, int]]:
    """{redeemed|returned|unused: (count, amount)} read from the 近90天 table."""
    table = html[html.index('data-testid="status-table"'):]
    table = table[:table.index("</table>")]
    return {key: (int(n), int(amount)) for key, n, amount in re.findall(
        r'data-status="(\w+)">.*?data-count="(\d+)".*?data-amount="(\d+)"', table, re.S)}


def chart_values(html: str, testid: str) -> list[int]:
    svg = html[html.index(f'data-testid="{testid}"'):]
    return [int(v) for v in re.findall(r'data-value="(\d+)"', svg[:svg.index("</svg>")])]


def orders_table(html: str) -> dict[str, tuple[int, int, int]]:
    """{day: (orders, tickets, amount)} of the days with orders."""
    table = html[html.index('data-testid="orders-table"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r'data-day="([\d-]+)">.*?data-orders="(\d+)".*?data-tickets="(\d+)"'
                      r'.*?data-amount="(\d+)"', table, re.S)
    return {day: (int(o), int(t), int(a)) for day, o, t, a in rows if int(o)}


def top_table(html: str, kind: str) -> list[tuple[str, int, int]]:
    table = html[html.index(f'data-testid="top-{kind}-table"'):]
    table = table[:table.index("</table>")]
    return [(name, int(n), int(a)) for name, n, a in re.findall(
        r'<td>\d+</td><td>([^<]+)</td>.*?data-count="(\d+)".*?data-amount="(\d+)"', table, re.S)]

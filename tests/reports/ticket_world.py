"""A hand-built ticket world for the ticket report (票券報表) tests: real issuance and real
redemptions and returns on a frozen clock, so every expected row can be checked by hand.

Store 報表測試商店 (branches R001 台北門市, R002 台中門市; clerk `rclerk01` bound to R001 and
`rclerk02` bound to R002, both with report view and counter rights; `rviewer01` report view
only), read on 2026/11/21 10:00 Taipei:

| name | order | issued (Taipei)  | product              | effective status on 11/21 (why)                      |
|------|-------|------------------|----------------------|------------------------------------------------------|
| a1   | O1    | 2026/09/01 10:00 | 咖啡券 pickup 150     | used: rclerk01 (R001) redeemed 11/10 11:00           |
| a2   | O1    | 2026/09/01 10:00 | 咖啡券                | return_pending: owner (head office) 11/10 11:30, fee 10 |
| a3   | O1    | 2026/09/01 10:00 | 咖啡券                | used: the partner store redeemed 11/16 15:00         |
| b1   | O2    | 2026/10/01 09:00 | 點心券 gift 80        | used: rclerk02 (R002) redeemed 10/15 12:00           |
| b2   | O2    | 2026/10/01 09:00 | 點心券 (until 11/01)  | expired (unused past its validity; job not run)      |
| c1   | O3    | 2026/10/01 09:30 | 短期券 pickup 200     | unused_escrow_expired (escrow ended 10/20; job not run) |
| c2   | O3    | 2026/10/01 09:30 | 短期券                | used_after_expiry: rclerk02 (R002) redeemed 11/15 14:00 |
| d1   | O4    | 2026/11/10 10:00 | 咖啡券, merchant print | return_pending: rclerk01 (R001) returned 11/12 16:00 |
| d2   | O4    | 2026/11/10 10:00 | 咖啡券, merchant print | unused                                              |

Holders (= purchasers): O1 王小明 0911111111 wang@example.com, O2 陳美麗 0922222222, O3 林大華
0933333333, O4 紙本客人 (no mobile). 咖啡券 is opened to the partner store 合作核銷商店.
Another store (另一商店, owner `rother01`) issues one ticket to 王小明 on 11/10: it must never
show in 報表測試商店's report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.issuance import services as issuance
from app.products.models import Product, ProductKind
from app.stores.models import Branch, DeliveryMethod, Store
from app.tickets import services as tickets
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus as S
from tests.factories import (
    login,
    make_account,
    make_branch,
    make_product,
    make_relation,
    make_store,
    make_sub,
)
from tests.settings.helpers import mark_complete

TODAY = date(2026, 11, 21)
ALL_GROUPS = ("issuer", "ticket", "order", "operators", "holder", "escrow")
CLERK_GRANTS = {Function.REPORT_TICKETS: Level.VIEW, Function.REDEEM: Level.MODIFY,
                Function.CANCEL_REDEMPTION: Level.MODIFY, Function.RETURN: Level.MODIFY,
                Function.CANCEL_RETURN: Level.MODIFY}
PLANNED = {"a1": S.USED, "a2": S.RETURN_PENDING, "a3": S.USED, "b1": S.USED, "b2": S.EXPIRED,
           "c1": S.UNUSED_ESCROW_EXPIRED, "c2": S.USED_AFTER_EXPIRY, "d1": S.RETURN_PENDING,
           "d2": S.UNUSED}
# every ticket, newest issued first (the report's order: issued_at desc, id desc)
BY_ISSUE = ("d2", "d1", "c2", "c1", "b2", "b1", "a3", "a2", "a1")
SINCE_SEPTEMBER = {"start": "2026-09-01", "end": "2026-11-21"}


def freeze(day: date, hour: int = 10, minute: int = 0) -> None:
    clock.freeze(clock.taipei_datetime(day.year, day.month, day.day, hour, minute))


_n = iter(range(1, 1_000_000))


def issue_to(owner: Account, store: Store, product: Product, quantity: int, *, holder: tuple,
             merchant_order_no: str, method: DeliveryMethod = DeliveryMethod.IMMEDIATE) -> list[Ticket]:
    """One order of `quantity` tickets for the holder (name, mobile, email), issued now."""
    name, mobile, email = holder
    rows = [{"商品編號": product.id, "數量": quantity, "廠商訂單編號": merchant_order_no,
             "購買人姓名": name, "手機": mobile, "Email": email, "使用起始日": None, "_row": 2}]
    batch = issuance.prepare_batch(owner, store, import_no=f"R{next(_n)}", method=method,
                                   kind=product.kind, rows=rows)
    db.session.commit()
    issuance.confirm_batch(owner, store, batch)
    db.session.commit()
    db.session.expire_all()
    return list(db.session.scalars(select(Ticket).where(Ticket.batch_id == batch.id)
                                   .order_by(Ticket.id).execution_options(unscoped=True)))


@dataclass
class TicketWorld:
    store: Store
    owner: Account
    clerk1: Account
    clerk2: Account
    viewer: Account
    r001: Branch
    r002: Branch
    partner: Store
    other: Store
    other_ticket: Ticket
    t: dict[str, Ticket] = field(default_factory=dict)  # a1 … d2
    orders: dict[str, Order] = field(default_factory=dict)  # O1 … O4

    def serials(self, *names: str) -> list[str]:
        return [self.t[n].serial for n in names]


def _ticket(ticket_id: int) -> Ticket:
    return db.session.scalar(select(Ticket).where(Ticket.id == ticket_id)
                             .execution_options(unscoped=True))


def build_ticket_world() -> TicketWorld:
    """Everything in the module docstring, committed; leaves the clock frozen on TODAY 10:00."""
    freeze(date(2026, 8, 20))
    store = make_store("報表測試商店")
    owner = make_account(store, username="rowner01")
    mark_complete(store)
    r001 = make_branch(store, "R001", "台北門市")
    r002 = make_branch(store, "R002", "台中門市")
    clerk1 = make_sub(store, "rclerk01", branch=r001, grants=CLERK_GRANTS)
    clerk2 = make_sub(store, "rclerk02", branch=r002, grants=CLERK_GRANTS)
    viewer = make_sub(store, username="rviewer01", grants={Function.REPORT_TICKETS: Level.VIEW})
    partner = make_store("合作核銷商店")
    partner_owner = make_account(partner, username="rpartner01")
    make_relation(store, partner)
    coffee = make_product(store, "咖啡券", kind=ProductKind.PICKUP, face_value=150,
                          partners=[partner])
    snack = make_product(store, "點心券", kind=ProductKind.GIFT, face_value=80, end=date(2026, 11, 1))
    short = make_product(store, "短期券", kind=ProductKind.PICKUP, face_value=200,
                         end=date(2026, 10, 20))
    other = make_store("另一商店")
    other_owner = make_account(other, username="rother01")
    mark_complete(other)
    other_product = make_product(other, "別家券", kind=ProductKind.PICKUP, face_value=150)
    db.session.commit()

    t: dict[str, Ticket] = {}
    freeze(date(2026, 9, 1), 10)
    t["a1"], t["a2"], t["a3"] = issue_to(owner, store, coffee, 3, merchant_order_no="MO1",
                                         holder=("王小明", "0911111111", "wang@example.com"))
    freeze(date(2026, 10, 1), 9)
    t["b1"], t["b2"] = issue_to(owner, store, snack, 2, merchant_order_no="MO2",
                                holder=("陳美麗", "0922222222", "chen@example.com"))
    freeze(date(2026, 10, 1), 9, 30)
    t["c1"], t["c2"] = issue_to(owner, store, short, 2, merchant_order_no="MO3",
                                holder=("林大華", "0933333333", "lin@example.com"))
    freeze(date(2026, 11, 10), 10)
    t["d1"], t["d2"] = issue_to(owner, store, coffee, 2, merchant_order_no="MO4",
                                holder=("紙本客人", "", ""), method=DeliveryMethod.MERCHANT_PRINT)
    [other_ticket] = issue_to(other_owner, other, other_product, 1, merchant_order_no="XO1",
                              holder=("王小明", "0911111111", "wang@example.com"))

    freeze(date(2026, 10, 15), 12)
    tickets.redeem(clerk2, store, _ticket(t["b1"].id))
    freeze(date(2026, 11, 10), 11)
    tickets.redeem(clerk1, store, _ticket(t["a1"].id))
    freeze(date(2026, 11, 10), 11, 30)
    tickets.return_ticket(owner, store, _ticket(t["a2"].id), reason="消費者不需要了", fee=10)
    freeze(date(2026, 11, 12), 16)
    tickets.return_ticket(clerk1, store, _ticket(t["d1"].id), reason="重複購買")
    freeze(date(2026, 11, 15), 14)
    tickets.redeem(clerk2, store, _ticket(t["c2"].id))
    freeze(date(2026, 11, 16), 15)
    tickets.redeem(partner_owner, partner, _ticket(t["a3"].id))
    db.session.commit()

    freeze(TODAY)
    db.session.expire_all()
    t = {name: _ticket(ticket.id) for name, ticket in t.items()}
    assert {name: ticket.current_status for name, ticket in t.items()} == PLANNED
    orders = {f"O{i}": db.session.get(Order, t[name].order_id)
              for i, name in enumerate(("a1", "b1", "c1", "d1"), start=1)}
    return TicketWorld(store=store, owner=owner, clerk1=clerk1, clerk2=clerk2, viewer=viewer,
                       r001=r001, r002=r002, partner=partner, other=other,
                       other_ticket=_ticket(other_ticket.id), t=t, orders=orders)


def client_for(app, username: str):  # noqa: ANN001, ANN201
    client = app.test_client()
    login(client, username)
    return client


def row_serials(body: str) -> list[str]:
    """The serials of the report's rows, in order, from the page's HTML."""
    return re.findall(r'data-testid="ticket-row" data-serial="([^"]+)"', body)


def scope_of(username: str, **params: object):  # noqa: ANN201
    """The report scope `username` gets for these query parameters (its own store acting)."""
    from app.auth.services import scope_for
    from app.reports import scope as report_scope

    account = db.session.scalar(select(Account).where(Account.username == username)
                                .execution_options(unscoped=True))
    acting, tenancy = scope_for(account, None)
    return report_scope.build(account, acting, tenancy.readable_store_ids,
                              {k: str(v) for k, v in params.items()})


@dataclass
class Family:
    parent: Store
    child: Store
    parent_ticket: Ticket
    child_tickets: list[Ticket]


def build_family() -> Family:
    """A parent store (owner `rparent01`) with one ticket of its own, and its child store (owner
    `rchild01`) with two, all issued 2026/11/18 10:00; the clock is left on TODAY."""
    freeze(date(2026, 11, 18))
    parent = make_store("母商店報表")
    parent_owner = make_account(parent, username="rparent01")
    mark_complete(parent)
    child = make_store("子商店報表", parent=parent)
    child_owner = make_account(child, username="rchild01")
    mark_complete(child)
    parent_product = make_product(parent, "母商店券", face_value=300)
    child_product = make_product(child, "子商店券", face_value=120)
    db.session.commit()
    [parent_ticket] = issue_to(parent_owner, parent, parent_product, 1, merchant_order_no="PO1",
                               holder=("母客人", "0944444444", ""))
    child_tickets = issue_to(child_owner, child, child_product, 2, merchant_order_no="CO1",
                             holder=("子客人", "0955555555", ""))
    freeze(TODAY)
    return Family(parent, child, parent_ticket, child_tickets)

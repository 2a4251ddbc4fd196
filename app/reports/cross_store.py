"""7-3 M 跨店核銷報表: tickets of other issuers that this store redeemed.

A ticket counts when `redeemed_store_id` is a store in scope and its issuer is another store,
redeemed in the period (at most three months). Cancelling a redemption clears the redeemer
(app.tickets.services.cancel_redemption), so a cancelled cross-store redemption leaves the report
by itself, as the seed says. A sub-account bound to a branch sees only what its branch redeemed.

These tickets belong to other stores, so the tenancy filter would hide them: the queries run
unscoped and filter on the redeemer explicitly (`ix_tickets_redeemed_store_id_redeemed_at`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import aliased

from app import clock
from app.auth.models import Account
from app.db import db
from app.errors import InvalidInput
from app.products.models import Product, ProductKind
from app.reports.export import Sheet, register
from app.reports.periods import Figure, Period, parse_period
from app.reports.scope import ReportScope
from app.reports.status_sql import effective_status
from app.stores.models import Branch, PartnerRelation, Store
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

TITLE = "跨店核銷報表"
UNKNOWN_ISSUER = "查無此發行商店"
HEADERS = ["核銷時間", "核銷商店", "核銷分店", "核銷人員", "發行商店代號", "發行商店名稱", "商品名稱",
           "票券序號", "票券類型", "面額", "票券狀態"]

Issuer = aliased(Store, name="issuer")
Redeemer = aliased(Store, name="redeemer")


@dataclass(frozen=True)
class Query:
    period: Period  # redeemed in
    issuer_id: int | None = None  # 發行商店: one issuer, or all


def issuer_choices(scope: ReportScope) -> list[tuple[int, str]]:
    """The issuers whose tickets the store(s) may redeem (or once could): its partner relations."""
    rows = db.session.execute(
        select(Store.id, Store.merchant_code, Store.name)
        .where(Store.id.in_(select(PartnerRelation.store_id)
                            .where(PartnerRelation.partner_store_id.in_(scope.store_ids))))
        .order_by(Store.merchant_code).execution_options(unscoped=True)).all()
    return [(i, f"{code} {name}") for i, code, name in rows]


def parse(scope: ReportScope, params: Mapping[str, object]) -> Query:
    period = parse_period(params)
    raw = str(params.get("issuer") or "").strip()
    if not raw:
        return Query(period)
    issuer_id = int(raw) if raw.isdigit() else -1
    if issuer_id not in dict(issuer_choices(scope)):
        raise InvalidInput(UNKNOWN_ISSUER, fields={"issuer": UNKNOWN_ISSUER})
    return Query(period, issuer_id)


def _where(stmt: Select, scope: ReportScope, query: Query) -> Select:
    stmt = stmt.where(
        Ticket.redeemed_store_id.in_(scope.store_ids),
        Ticket.store_id != Ticket.redeemed_store_id,
        Ticket.redeemed_at >= query.period.start_at, Ticket.redeemed_at <= query.period.end_at)
    if scope.branch_id is not None:
        stmt = stmt.where(Ticket.redeemed_branch_id == scope.branch_id)
    if query.issuer_id is not None:
        stmt = stmt.where(Ticket.store_id == query.issuer_id)
    # Other issuers' rows: read across the tenancy filter, limited to the scope above.
    return stmt.execution_options(unscoped=True)


def totals(scope: ReportScope, query: Query) -> Figure:
    count, amount = db.session.execute(_where(
        select(func.count(), func.sum(Ticket.face_value)), scope, query)).one()
    return Figure(count, amount or 0)


@dataclass(frozen=True)
class Line:
    redeemed_at: datetime
    redeemer: str
    branch: str
    clerk: str
    issuer_code: str
    issuer_name: str
    product: str
    serial: str
    kind: ProductKind
    face_value: int
    status: TicketStatus

    def cells(self) -> tuple[object, ...]:
        return (self.redeemed_at, self.redeemer, self.branch or "總店", self.clerk, self.issuer_code,
                self.issuer_name, self.product, self.serial, self.kind, self.face_value, self.status)


def lines(scope: ReportScope, query: Query) -> Select:
    """Newest first; one statement with every column a row shows (no per-row queries)."""
    stmt = (
        select(Ticket.redeemed_at, Redeemer.name, Branch.name, Account.username,
               Issuer.merchant_code, Issuer.name, Product.name, Ticket.serial, Ticket.kind,
               Ticket.face_value, effective_status(clock.business_day()))
        .join(Issuer, Issuer.id == Ticket.store_id)
        .join(Redeemer, Redeemer.id == Ticket.redeemed_store_id)
        .join(Product, Product.id == Ticket.product_id)
        .outerjoin(Branch, Branch.id == Ticket.redeemed_branch_id)
        .outerjoin(Account, Account.id == Ticket.redeemed_by_id)
        .order_by(Ticket.redeemed_at.desc(), Ticket.id.desc())
    )
    return _where(stmt, scope, query)


def to_line(row: Row) -> Line:
    at, redeemer, branch, clerk, issuer_code, issuer_name, product, serial, kind, face, status = row
    return Line(at, redeemer, branch or "", clerk or "", issuer_code, issuer_name, product, serial,
                kind, face, status)


def _rows(scope: ReportScope, query: Query) -> Iterator[Sequence[object]]:
    for row in db.session.execute(lines(scope, query).execution_options(yield_per=2000)):
        yield to_line(row).cells()


@register("cross_store")
def build_sheet(scope: ReportScope, params: Mapping[str, str]) -> Sheet:
    query = parse(scope, params)
    return Sheet(title=TITLE, headers=HEADERS, rows=lambda: _rows(scope, query),
                 count=lambda: totals(scope, query).count)

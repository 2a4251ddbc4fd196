"""7-3 M 跨店核銷報表: tickets of other issuers that this store redeemed.

A ticket counts when `redeemed_store_id` is a store in scope and its issuer is another store,
redeemed in the period (at most three months). Cancelling a redemption clears the redeemer
(app.tickets.services.cancel_redemption), so a cancelled cross-store redemption leaves the report
by itself, as the seed says. A sub-account bound to a branch sees only what its branch redeemed.

These tickets belong to other stores, so the tenancy filter would hide them: the queries run
unscoped and filter on the redeemer explicitly (`ix_tickets_cross_store_redeemed_at`); the totals,
which also give the list its number of pages, come from the daily figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import aliased

from app import clock
from app.auth.models import Account
from app.bounds import INT_MAX, whole_number
from app.columns import Column, excel_only, values
from app.db import db
from app.errors import InvalidInput
from app.products.models import Product, ProductKind
from app.reports import figures
from app.reports.export import Sheet, register, streamed
from app.reports.periods import Figure, Period, parse_period, ticket_columns
from app.reports.scope import ReportScope
from app.reports.status_sql import effective_status
from app.stores.models import Branch, PartnerRelation, Store
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

TITLE = "跨店核銷報表"
HEAD_OFFICE = "總店"
UNKNOWN_ISSUER = "查無此發行商店"

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
    issuer_id = whole_number(raw, 1, INT_MAX) or -1
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
    # Other issuers' rows: read across the tenancy filter, limited to the scope above; the
    # replica may answer it (app.db.RoutingSession).
    return stmt.execution_options(unscoped=True, replica=True)


def totals(scope: ReportScope, query: Query) -> Figure:
    """The tickets `lines` lists and their face value, from the daily figures (app.reports.
    figures: the redeemed measure keeps the redeeming store beside the issuer). At 10M tickets
    PostgreSQL counted the lines themselves with a scan of every ticket (2.5 s): it cannot tell
    how few tickets another store redeemed."""
    rows = figures.ticket_rows()
    stmt = select(*figures.summed(rows)).where(
        rows.c.measure == figures.REDEEMED, rows.c.other_store_id.in_(scope.store_ids),
        rows.c.store_id != rows.c.other_store_id,
        rows.c.day >= query.period.start, rows.c.day <= query.period.end)
    if scope.branch_id is not None:
        stmt = stmt.where(rows.c.branch_id == scope.branch_id)
    if query.issuer_id is not None:
        stmt = stmt.where(rows.c.store_id == query.issuer_id)
    count, amount = db.session.execute(stmt.execution_options(replica=True)).one()
    return Figure(count, amount)


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

    def cells(self) -> list[object]:
        return values(COLUMNS, self)


# The list and its Excel: rows of Line.
COLUMNS = (
    Column("redeemed_at", "核銷時間", lambda line: line.redeemed_at, "datetime"),
    Column("redeemer", "核銷商店", lambda line: line.redeemer),
    Column("branch", "核銷分店", lambda line: line.branch or HEAD_OFFICE),
    Column("clerk", "核銷人員", lambda line: line.clerk),
    Column("issuer_code", "發行商店代號", lambda line: line.issuer_code),
    Column("issuer_name", "發行商店名稱", lambda line: line.issuer_name),
    *ticket_columns("票券狀態"),
)


def columns(scope: ReportScope) -> tuple[Column, ...]:
    """COLUMNS; the page names the redeeming store only when the scope has several."""
    return COLUMNS if len(scope.store_ids) > 1 else excel_only(COLUMNS, "redeemer")


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


@register("cross_store")
def build_sheet(scope: ReportScope, params: Mapping[str, str]) -> Sheet:
    query = parse(scope, params)
    return Sheet(title=TITLE, columns=COLUMNS, lines=lambda: streamed(lines(scope, query), to_line),
                 count=lambda: totals(scope, query).count)

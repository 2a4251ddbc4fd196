"""7-3 I 流通報表: the circulation of the tickets issued in a period.

The seed: 「可查詢所有店、特定分店在特定期間內已發行票券的流通狀態」. Decisions:

- The tickets counted are those issued (`issued_at`) in the period, at most three months, of the
  store(s) in scope (a parent may pick one child or all it may read).
- Each is counted once, by its status *as of today* (`status_sql.effective_status`, so an unused
  ticket past its end date already counts as escrow-expired or expired, as every screen shows),
  and the face values summed per status, per status group and in total.
- 流通在外 (outstanding) is the unused group: 未使用 and 未使用且價金保管逾期, which may still be
  redeemed or returned.
- "One branch" means the tickets that branch issued: those of batches created by an account
  bound to it (`Batch.created_branch_id`). Counting a branch's redemptions instead would make its
  outstanding amount always zero, which says nothing; the branch report (N) has what a branch
  redeemed and returned. A sub-account bound to a branch sees only its branch's tickets.
- One grouped query (GROUP BY store, status) over the daily figures of app.reports.figures (the
  issued measure: per issue day, branch, kind, stored status and end date), to which the
  as-of-today rule applies as it would to the tickets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from sqlalchemy import select

from app import clock
from app.columns import Column
from app.db import db
from app.errors import InvalidInput
from app.products.models import ProductKind
from app.reports import figures
from app.reports.export import Sheet, register
from app.reports.periods import Figure, Period, parse_period, total
from app.reports.scope import ReportScope
from app.reports.status_sql import effective_status
from app.stores.models import Branch, Store
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus

TITLE = "流通報表"
BAD_KIND = "票券類型錯誤"
# The Excel's columns, over the lines of `sheet_rows` (the page shows the same figures as a
# summary: per status group, per status, totals and 流通在外).
COLUMNS = (
    Column("period", "發行期間", itemgetter(0)),
    Column("merchant_code", "商店代號", itemgetter(1)),
    Column("store_name", "商店名稱", itemgetter(2)),
    Column("branch", "分店", itemgetter(3)),
    Column("kind", "票券類型", itemgetter(4)),
    Column("status_group", "票券狀態", itemgetter(5)),
    Column("status", "詳細狀態", itemgetter(6)),
    Column("count", "張數", itemgetter(7), "number"),
    Column("amount", "金額", itemgetter(8), "money"),
)
ALL_KINDS = "全部"
ALL_BRANCHES = "全部"


@dataclass(frozen=True)
class Query:
    period: Period
    kind: ProductKind | None = None  # 票券類型: pickup / gift / both


def parse(params: Mapping[str, object]) -> Query:
    period = parse_period(params)
    raw = str(params.get("kind") or "").strip()
    try:
        kind = ProductKind(raw) if raw else None
    except ValueError:
        raise InvalidInput(BAD_KIND, fields={"kind": BAD_KIND}) from None
    return Query(period, kind)


@dataclass
class Tally:
    """The tickets of one store (or all) by status."""

    by_status: dict[TicketStatus, Figure] = field(default_factory=dict)

    def status(self, status: TicketStatus) -> Figure:
        return self.by_status.get(status, Figure())

    def group(self, group: StatusGroup) -> Figure:
        return total(self.status(s) for s in STATUS_GROUPS[group])

    @property
    def issued(self) -> Figure:
        return total(self.by_status.values())

    @property
    def outstanding(self) -> Figure:
        """流通在外: still unused (redeemable or returnable)."""
        return self.group(StatusGroup.UNUSED)

    def add(self, status: TicketStatus, figure: Figure) -> None:
        self.by_status[status] = self.status(status) + figure


@dataclass(frozen=True)
class StoreTally:
    store_id: int
    merchant_code: str
    name: str
    tally: Tally


@dataclass(frozen=True)
class Circulation:
    query: Query
    stores: list[StoreTally]  # every store in scope, in the scope's order
    total: Tally
    branch: Branch | None  # the branch whose issued tickets are counted; None: all


def _grouped(scope: ReportScope, query: Query):  # noqa: ANN202 - a Select of (store, status, n, sum)
    rows = figures.ticket_rows()
    issued = (
        select(rows.c.store_id.label("store_id"),
               effective_status(clock.business_day(), rows.c).label("status_now"),
               rows.c.n.label("n"), rows.c.amount.label("amount"))
        .where(rows.c.measure == figures.ISSUED, rows.c.store_id.in_(scope.store_ids),
               rows.c.day >= query.period.start, rows.c.day <= query.period.end)
    )
    if query.kind is not None:
        issued = issued.where(rows.c.kind == query.kind)
    if scope.branch_id is not None:
        issued = issued.where(rows.c.branch_id == scope.branch_id)
    # Group outside: PostgreSQL would not match a CASE with its own bind parameters in GROUP BY.
    inner = issued.subquery("t")
    return (select(inner.c.store_id, inner.c.status_now, figures.total(inner.c.n),
                   figures.total(inner.c.amount))
            .group_by(inner.c.store_id, inner.c.status_now)
            .having(figures.total(inner.c.n) != 0)
            # the store filter is explicit, from the scope; the replica may answer it
            .execution_options(replica=True))


def report(scope: ReportScope, query: Query) -> Circulation:
    stores = {s.id: s for s in db.session.scalars(
        select(Store).where(Store.id.in_(scope.store_ids)).execution_options(unscoped=True))}
    tallies = {store_id: Tally() for store_id in scope.store_ids}
    grand = Tally()
    for store_id, status, count, amount in db.session.execute(_grouped(scope, query)):
        figure = Figure(count, amount or 0)
        tallies[store_id].add(status, figure)
        grand.add(status, figure)
    branch = (db.session.scalar(select(Branch).where(Branch.id == scope.branch_id)
                                .execution_options(unscoped=True))
              if scope.branch_id is not None else None)
    return Circulation(
        query=query,
        stores=[StoreTally(i, stores[i].merchant_code, stores[i].name, tallies[i])
                for i in scope.store_ids if i in stores],
        total=grand, branch=branch)


def sheet_rows(result: Circulation) -> Iterator[Sequence[object]]:
    """Per store (and all together when there are several): every status, each group's subtotal,
    the total and 流通在外 — the same figures as the page."""
    sections: list[tuple[str, str, Tally]] = [(s.merchant_code, s.name, s.tally) for s in result.stores]
    if len(sections) > 1:
        sections.append(("", "全部商店", result.total))
    period = result.query.period.label
    branch = result.branch.label if result.branch else ALL_BRANCHES
    kind = result.query.kind.label if result.query.kind else ALL_KINDS
    for code, name, tally in sections:
        lead = (period, code, name, branch, kind)
        for group, statuses in STATUS_GROUPS.items():
            for status in statuses:
                figure = tally.status(status)
                yield (*lead, group.label, status.label, figure.count, figure.amount)
            figure = tally.group(group)
            yield (*lead, group.label, "小計", figure.count, figure.amount)
        yield (*lead, "合計", "", tally.issued.count, tally.issued.amount)
        yield (*lead, "流通在外", "", tally.outstanding.count, tally.outstanding.amount)


def rows_per_store() -> int:
    return sum(len(s) + 1 for s in STATUS_GROUPS.values()) + 2


@register("circulation")
def build_sheet(scope: ReportScope, params: Mapping[str, str]) -> Sheet:
    query = parse(params)
    sections = len(scope.store_ids) + (1 if len(scope.store_ids) > 1 else 0)
    return Sheet(title=TITLE, columns=COLUMNS,
                 lines=lambda: sheet_rows(report(scope, query)),
                 count=lambda: sections * rows_per_store())

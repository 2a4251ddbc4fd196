"""票券報表 (7-3 J, docs/reports.md): the issuer's tickets by date, serial, holder or order, with
optional column groups, a page at a time or the whole query as Excel.

Four query modes (`mode`):
- `date`: a date type (`date_type`: 發行日 issued / 核銷日 redeemed / 退貨日 returned) over at most
  three months, an operating branch (`branch_type` 核銷分店 / 退貨分店, then `branch`), a status
  group (`status_group`) and its detailed statuses (`status`), a delivery type
  (`delivery_type`) and its methods (`delivery_method`);
- `serial`: one ticket by its serial (票券序號);
- `holder`: the tickets whose current (latest) holder has this name / mobile / e-mail, issued in
  the chosen period (at most three months);
- `order`: the tickets of an order, by ECT訂單編號 or 廠商訂單編號.

Statuses are the ones every screen shows (`Ticket.current_status`): an `unused` ticket past its
end date is already 未使用且價金保管逾期 (pickup) or 已失效 (gift), whether or not the daily job
wrote it. `app.reports.status_sql.effective_status` says that in SQL for the status columns,
and `status_condition` filters on it with plain, index-friendly comparisons.

Whose rows: the report scope (`app.reports.scope`): the acting store, or a parent's children
(read-only); a sub-account bound to a branch sees only the tickets its branch handled (issued,
redeemed or returned by it; issued as the circulation and branch reports count it: the batch's
`created_branch_id`), whatever the query string says. The statements are run `unscoped` with those
store ids written out, so a partner store's branch or clerk that redeemed one of our tickets can
still be named in the operators columns.

Scale (1M tickets): a page is LIMIT/OFFSET on `ORDER BY <date> DESC, id DESC` over an index on
(store_id, <date>); the total shown under the table is counted up to COUNT_CAP rows only, so a
page view never counts a whole three months of tickets. The Excel download streams the rows
(`yield_per`) and joins what its columns need, so neither memory nor the number of statements
grows with the rows. The 價金保管資訊 group's balance is a scalar subquery per row read, over the
ledger's ticket_id index (`app.escrow.queries.held_in_escrow`), in the same statement.

Each row also opens the ticket's 價金保管帳 (its ledger entries with the running balance and
the bank's acknowledgements, `app.escrow.queries.ticket_ledger`) and its Excel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from app import clock
from app.auth.models import Account
from app.columns import Column, values
from app.counter.services import BY_ACTION
from app.daterange import parse_range
from app.db import db
from app.errors import InvalidInput
from app.escrow.queries import held_in_escrow
from app.products.models import Product, ProductKind, ProductPartner
from app.reports.export import Sheet, register
from app.reports.scope import ReportScope, issued_by_branch
from app.reports.status_sql import effective_status
from app.return_applications.models import ReturnApplication
from app.stores.models import Branch, DeliveryMethod, DeliveryType, Store
from app.tickets import actions
from app.tickets.lifecycle import Action, Facts
from app.tickets.models import Order, Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus
from app.transfers.models import Transfer, TransferItem
from app.web import platform_text

TITLE = "票券報表"
DEFAULT_DAYS = 30
RANGE_MONTHS = 3
COUNT_CAP = 5_000  # a page view counts at most this many rows ("5,000 筆以上")
YIELD_PER = 2_000

MODES = {"date": "日期查詢", "serial": "票券序號查詢", "holder": "持票人查詢", "order": "訂單資訊查詢"}
DATE_TYPES = {"issued": "發行日", "redeemed": "核銷日", "returned": "退貨日"}
BRANCH_TYPES = {"": "發行、核銷或退貨分店", "issued": "發行分店", "redeemed": "核銷分店",
                "returned": "退貨分店"}
# (價金保管資訊 comes last: the ECTicket OrderDetail file has every group's columns in this order,
# so a group added later adds columns at the end of its lines.)
GROUPS = {"issuer": "發行商資訊", "ticket": "票券資訊", "order": "訂單資訊", "operators": "操作人員",
          "holder": "持票人資訊", "escrow": "價金保管資訊"}
DEFAULT_GROUPS = ("issuer", "ticket")  # shown until the form is submitted (see `submitted`)
# The query parameters the report reads (`parse`, the scope's store and branch): what a saved
# filter of it may keep.
QUERY_KEYS = ("mode", "q", "store", "branch", "date_type", "start", "end", "branch_type",
              "status_group", "status", "delivery_type", "delivery_method", "cols", "serial",
              "holder_name", "holder_mobile", "holder_email", "order_no", "merchant_order_no")

BAD_MODE = "查詢方式錯誤"
BAD_DATE_TYPE = "日期類型錯誤"
BAD_BRANCH_TYPE = "分店類型錯誤"
BAD_STATUS = "票券狀態錯誤"
BAD_DELIVERY = "出券類型錯誤"
NEED_SERIAL = "請輸入票券序號"
NEED_HOLDER = "請輸入持票人姓名、手機或 Email"
NEED_ORDER = "請輸入 ECT訂單編號 或 廠商訂單編號"
HEAD_OFFICE = "總店"


# The query ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TicketQuery:
    mode: str = "date"
    date_type: str = "issued"
    start: date | None = None  # Taipei days, inclusive (date and holder modes)
    end: date | None = None
    branch_type: str = ""  # "" (either) / redeemed / returned
    status_group: StatusGroup | None = None
    statuses: tuple[TicketStatus, ...] = ()  # detailed statuses; empty = every one of the group
    delivery_type: DeliveryType | None = None
    methods: tuple[DeliveryMethod, ...] = ()
    serial: str = ""
    holder_name: str = ""
    holder_mobile: str = ""
    holder_email: str = ""
    order_no: str = ""
    merchant_order_no: str = ""
    groups: tuple[str, ...] = ()  # the column groups shown, in GROUPS order

    @property
    def wanted_statuses(self) -> tuple[TicketStatus, ...]:
        """The effective statuses asked for (empty: no status filter)."""
        if self.statuses:
            return self.statuses
        if self.status_group is not None:
            return STATUS_GROUPS[self.status_group]
        return ()

    @property
    def wanted_methods(self) -> tuple[DeliveryMethod, ...]:
        if self.methods:
            return self.methods
        if self.delivery_type is not None:
            return methods_of(self.delivery_type)
        return ()

    @property
    def order_date(self) -> str:
        """The date the rows are ordered (and, in date mode, filtered) by."""
        return self.date_type if self.mode == "date" else "issued"


def methods_of(kind: DeliveryType) -> tuple[DeliveryMethod, ...]:
    return tuple(m for m in DeliveryMethod if m.delivery_type is kind)


def _text(params: Mapping[str, Any], key: str, limit: int = 100) -> str:
    return str(params.get(key) or "").strip()[:limit]


def _getlist(params: Mapping[str, Any], key: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(key)]
    value = params.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _enum(kind: type, value: str, message: str, field_name: str):  # noqa: ANN202
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(message, fields={field_name: message}) from None


def submitted(params: Mapping[str, Any]) -> bool:
    """The form was sent (its hidden `q`), or the column groups were named: the ticked groups
    are then exactly the ones shown (none ticked: the base columns only)."""
    return "q" in params or "cols" in params


def parse(params: Mapping[str, Any]) -> TicketQuery:
    """The query of a request (or of a stored export), checked. Raises InvalidInput with the
    message the form shows, e.g. 查詢區間不可超過三個月."""
    mode = _text(params, "mode") or "date"
    if mode not in MODES:
        raise InvalidInput(BAD_MODE, fields={"mode": BAD_MODE})
    if submitted(params):
        groups = tuple(g for g in GROUPS if g in set(_getlist(params, "cols")))
    else:
        groups = DEFAULT_GROUPS
    values: dict[str, Any] = {"mode": mode, "groups": groups}
    if mode in ("date", "holder"):
        values["start"], values["end"] = parse_range(
            _text(params, "start"), _text(params, "end"), default_days=DEFAULT_DAYS,
            max_months=RANGE_MONTHS)
    if mode == "date":
        values.update(_date_filters(params))
    elif mode == "serial":
        serial = _text(params, "serial", 40).upper()
        if not serial:
            raise InvalidInput(NEED_SERIAL, fields={"serial": NEED_SERIAL})
        values["serial"] = serial
    elif mode == "holder":
        values.update(holder_name=_text(params, "holder_name", 50),
                      holder_mobile=_text(params, "holder_mobile", 20),
                      holder_email=_email(_text(params, "holder_email", 200)))
        if not (values["holder_name"] or values["holder_mobile"] or values["holder_email"]):
            raise InvalidInput(NEED_HOLDER, fields={"holder_name": NEED_HOLDER})
    else:
        values.update(order_no=_text(params, "order_no", 24),
                      merchant_order_no=_text(params, "merchant_order_no", 25))
        if not (values["order_no"] or values["merchant_order_no"]):
            raise InvalidInput(NEED_ORDER, fields={"order_no": NEED_ORDER})
    return TicketQuery(**values)


def _email(typed: str) -> str:
    """An e-mail as issuance stores it (validate_email's normal form: the domain in lower
    case), so the holder search is an exact, indexable match."""
    local, at, domain = typed.rpartition("@")
    return f"{local}@{domain.lower()}" if at and local else typed


def _date_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    date_type = _text(params, "date_type") or "issued"
    if date_type not in DATE_TYPES:
        raise InvalidInput(BAD_DATE_TYPE, fields={"date_type": BAD_DATE_TYPE})
    branch_type = _text(params, "branch_type")
    if branch_type not in BRANCH_TYPES:
        raise InvalidInput(BAD_BRANCH_TYPE, fields={"branch_type": BAD_BRANCH_TYPE})
    group_value = _text(params, "status_group")
    group = _enum(StatusGroup, group_value, BAD_STATUS, "status_group") if group_value else None
    statuses = tuple(dict.fromkeys(_enum(TicketStatus, v, BAD_STATUS, "status")
                                   for v in _getlist(params, "status") if v))
    if group is not None:  # a detailed status of another group (left ticked in the form) is dropped
        statuses = tuple(s for s in statuses if s in STATUS_GROUPS[group])
    type_value = _text(params, "delivery_type")
    kind = _enum(DeliveryType, type_value, BAD_DELIVERY, "delivery_type") if type_value else None
    methods = tuple(dict.fromkeys(_enum(DeliveryMethod, v, BAD_DELIVERY, "delivery_method")
                                  for v in _getlist(params, "delivery_method") if v))
    if kind is not None:
        methods = tuple(m for m in methods if m.delivery_type is kind)
    return {"date_type": date_type, "branch_type": branch_type, "status_group": group,
            "statuses": statuses, "delivery_type": kind, "methods": methods}


# The effective status filter -------------------------------------------------------------------

def _past_end(today: date) -> ColumnElement[bool]:
    """An unused ticket whose end date (escrow end / validity end) is before today, Taipei."""
    return and_(Ticket.status == TicketStatus.UNUSED, Ticket.expires_on < today)


def status_condition(wanted: Sequence[TicketStatus], today: date) -> ColumnElement[bool]:
    """Tickets whose effective status is one of `wanted`, written so an index on the stored
    status still serves it (no CASE in the WHERE clause)."""
    wanted = set(wanted)
    stored = wanted - {TicketStatus.UNUSED}
    parts: list[ColumnElement[bool]] = []
    if stored:
        parts.append(Ticket.status.in_(sorted(stored, key=lambda s: s.value)))
    if TicketStatus.UNUSED in wanted:
        parts.append(and_(Ticket.status == TicketStatus.UNUSED, Ticket.expires_on >= today))
    expired_kinds = [kind for kind, status in ((ProductKind.PICKUP, TicketStatus.UNUSED_ESCROW_EXPIRED),
                                               (ProductKind.GIFT, TicketStatus.EXPIRED))
                     if status in wanted]
    if len(expired_kinds) == 2:
        parts.append(_past_end(today))
    elif expired_kinds:
        parts.append(and_(_past_end(today), Ticket.kind == expired_kinds[0]))
    return or_(*parts) if parts else false()


# Where the rows come from ------------------------------------------------------------------

DATE_COLUMNS = {"issued": Ticket.issued_at, "redeemed": Ticket.redeemed_at, "returned": Ticket.returned_at}


def branch_id_of(scope: ReportScope, q: TicketQuery) -> int | None:
    """The branch whose tickets are shown: always the bound one for a bound sub-account; a
    picked branch only in date mode (the other modes look one ticket or order up)."""
    if scope.branch_locked:
        return scope.branch_id
    return scope.branch_id if q.mode == "date" else None


def handled_by_branch(scope: ReportScope, branch_id: int, branch_type: str = "") -> ColumnElement[bool]:
    """Tickets the branch issued (as every report counts issuance: `issued_by_branch`),
    redeemed or returned; `branch_type` narrows to one of the three."""
    kinds = {"issued": issued_by_branch(scope, branch_id),
             "redeemed": Ticket.redeemed_branch_id == branch_id,
             "returned": Ticket.returned_branch_id == branch_id}
    return kinds[branch_type] if branch_type else or_(*kinds.values())


def _conditions(scope: ReportScope, q: TicketQuery, today: date) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Ticket.store_id.in_(scope.store_ids)]
    if q.start is not None and q.end is not None:
        column = DATE_COLUMNS[q.order_date]
        where += [column >= clock.day_start(q.start),
                  column < clock.day_start(q.end + timedelta(days=1))]
    branch_id = branch_id_of(scope, q)
    if branch_id is not None:
        where.append(handled_by_branch(scope, branch_id, q.branch_type if q.mode == "date" else ""))
    if q.wanted_statuses:
        where.append(status_condition(q.wanted_statuses, today))
    if q.wanted_methods:
        where.append(Ticket.delivery_method.in_(sorted(m.value for m in q.wanted_methods)))
    if q.serial:
        where.append(Ticket.serial == q.serial)
    if q.holder_name:
        where.append(Ticket.holder_name == q.holder_name)
    if q.holder_mobile:
        where.append(Ticket.holder_mobile == q.holder_mobile)
    if q.holder_email:
        where.append(Ticket.holder_email == q.holder_email)
    if q.mode == "order":  # the order's own store too, so (store_id, merchant_order_no) serves it
        where.append(Order.store_id.in_(scope.store_ids))
    if q.order_no:
        where.append(Order.order_no == q.order_no)
    if q.merchant_order_no:
        where.append(Order.merchant_order_no == q.merchant_order_no)
    return where


def _ordering(q: TicketQuery) -> tuple[ColumnElement[Any], ...]:
    return DATE_COLUMNS[q.order_date].desc(), Ticket.id.desc()


def count_statement(scope: ReportScope, q: TicketQuery, *, cap: int | None = None,
                    today: date | None = None) -> Select:
    """SELECT count(*) of the query's rows (at most `cap` + 1 of them when capped)."""
    inner = select(Ticket.id).select_from(Ticket)
    if q.mode == "order":
        inner = inner.join(Order, Order.id == Ticket.order_id)
    inner = inner.where(*_conditions(scope, q, today or clock.business_day()))
    if cap is not None:
        inner = inner.limit(cap + 1)
    return (select(func.count()).select_from(inner.subquery())
            .execution_options(unscoped=True, replica=True))


def count(scope: ReportScope, q: TicketQuery, *, cap: int | None = None) -> int:
    return db.session.scalar(count_statement(scope, q, cap=cap)) or 0


# Columns -------------------------------------------------------------------------------------

Row = Mapping[str, Any]


def _get(key: str) -> Callable[[Row], Any]:
    return lambda row: row[key]


def _label(value: Any) -> str:
    return value.label if value is not None else ""


# Looked up in a dict built once: an export asks for it on every one of its rows.
_STATUS_GROUP_LABELS = {s: s.group.label for s in TicketStatus}


def _delivery_type_label(row: Row) -> str:
    return row["delivery_method"].delivery_type.label


def _method_label(row: Row) -> str:
    return row["delivery_method"].label


def _branch_name(at_key: str, name_key: str, code_key: str) -> Callable[[Row], str]:
    def value(row: Row) -> str:
        if row[at_key] is None:
            return ""
        if row[name_key] is None:
            return HEAD_OFFICE
        return f"{row[code_key]} {row[name_key]}"
    return value


def _platform(row: Row) -> str:
    """The issuing platform (its name resolved in the rows' statement)."""
    return platform_text(row["platform_id"], row["platform_name"])


BASE_COLUMNS: tuple[Column, ...] = (
    Column("serial", "票券序號", _get("serial"), "code"),
    Column("product_name", "商品名稱", _get("product_name")),
    Column("face_value", "面額", _get("face_value"), "money"),
    Column("status_group", "票券狀態", lambda row: _STATUS_GROUP_LABELS[row["status"]]),
    Column("status_label", "詳細狀態", lambda row: row["status"].label),
    Column("issued_at", "發行日期", _get("issued_at"), "datetime"),
)
STORE_COLUMN = Column("store_name", "商店", _get("store_name"))


def _group(group: str, *cols: Column) -> tuple[Column, ...]:
    return tuple(replace(c, group=group) for c in cols)


GROUP_COLUMNS: tuple[Column, ...] = (
    *_group("issuer",
            Column("merchant_code", "商店代號", _get("merchant_code")),
            Column("issuer_name", "發行商名稱", _get("store_name")),
            Column("platform_id", "平台商編號（PlatformID）", _platform)),
    *_group("ticket",
            Column("kind", "票券類型", lambda row: _label(row["kind"])),
            Column("delivery_type", "出券類型", _delivery_type_label),
            Column("delivery_method", "發行方式", _method_label),
            Column("valid_from", "使用起始日", _get("valid_from"), "date"),
            Column("expires_on", "到期日", _get("expires_on"), "date"),
            Column("redeemed_at", "核銷日期", _get("redeemed_at"), "datetime"),
            Column("returned_at", "退貨日期", _get("returned_at"), "datetime"),
            Column("print_count", "列印次數", _get("print_count"), "number")),
    *_group("order",
            Column("order_no", "ECT訂單編號", _get("order_no")),
            Column("merchant_order_no", "廠商訂單編號", _get("merchant_order_no")),
            Column("purchaser_name", "購買人姓名", _get("purchaser_name")),
            Column("purchaser_mobile", "購買人手機", _get("purchaser_mobile")),
            Column("purchaser_email", "購買人 Email", _get("purchaser_email")),
            Column("transfer_no", "轉贈編號", lambda row: row["transfer_no"] or ""),
            Column("transferred_at", "轉贈時間", _get("transferred_at"), "datetime"),
            Column("recipient_name", "受贈人", lambda row: row["recipient_name"] or ""),
            Column("transfer_state", "轉贈狀態", lambda row: _label(row["transfer_state"])),
            Column("return_reason", "退貨原因", lambda row: row["return_reason"] or ""),
            Column("return_fee", "退貨手續費", _get("return_fee"), "money"),
            Column("applied_at", "申請退貨時間", _get("applied_at"), "datetime"),
            Column("application_status", "申請退貨狀態", lambda row: _label(row["application_status"])),
            Column("application_reason", "申請退貨原因", lambda row: row["application_reason"] or "")),
    *_group("operators",
            Column("redeemed_store", "核銷商店",
                   lambda row: row["redeemed_store_name"] or "" if row["redeemed_at"] else ""),
            Column("redeemed_branch", "核銷分店",
                   _branch_name("redeemed_at", "redeemed_branch_name", "redeemed_branch_code")),
            Column("redeemed_by", "核銷人員", lambda row: row["redeemed_by"] or ""),
            Column("returned_branch", "退貨分店",
                   _branch_name("returned_at", "returned_branch_name", "returned_branch_code")),
            Column("returned_by", "退貨人員", lambda row: row["returned_by"] or "")),
    *_group("holder",
            Column("holder_name", "持票人姓名", _get("holder_name")),
            Column("holder_mobile", "持票人手機", _get("holder_mobile")),
            Column("holder_email", "持票人 Email", _get("holder_email"))),
    # what the trust holds for the ticket now (its ledger's running balance; blank for a gift)
    *_group("escrow",
            Column("held_in_escrow", "價金保管餘額", _get("held_in_escrow"), "money")),
)


def columns(scope: ReportScope, q: TicketQuery) -> list[Column]:
    """The columns shown, in order: the base ones (with the store when a parent sees several),
    then the chosen groups in the form's order."""
    cols = list(BASE_COLUMNS)
    if len(scope.store_ids) > 1:
        cols.insert(0, STORE_COLUMN)
    return cols + [c for g in GROUPS if g in q.groups for c in GROUP_COLUMNS if c.group == g]


def headers(scope: ReportScope, q: TicketQuery) -> list[str]:
    return [c.header for c in columns(scope, q)]


# The rows statement --------------------------------------------------------------------------

# Aliases built once (building them per request costs more than running a page's query).
_Item = aliased(TransferItem, name="latest_item")
_Transfer = aliased(Transfer, name="latest_transfer")
_Application = aliased(ReturnApplication, name="latest_application")
_RedeemedStore = aliased(Store, name="redeemed_store")
_Platform = aliased(Store, name="platform")
_RedeemedBranch = aliased(Branch, name="redeemed_branch")
_ReturnedBranch = aliased(Branch, name="returned_branch")
_Redeemer = aliased(Account, name="redeemer")
_Returner = aliased(Account, name="returner")


def _lookup(column: Any, key: Any, ticket_column: Any) -> Any:
    """A name by its id on the ticket, as a scalar subquery: evaluated only for the rows read,
    and cheaper to plan than five more outer joins."""
    return select(column).where(key == ticket_column).correlate(Ticket).scalar_subquery()


def rows_statement(scope: ReportScope, q: TicketQuery, *, today: date | None = None,
                   for_page: bool = False) -> Select:
    """The query's rows with the labelled values its columns need, newest first.

    One row per ticket: the product, order and issuer are joined by key, the ticket's latest
    transfer item and return application (the highest id, through their ticket_id indexes) are
    outer-joined, and the operators' names are looked up by id."""
    today = today or clock.business_day()
    groups = set(q.groups)
    exprs: list[Any] = [
        Ticket.id.label("id"), Ticket.store_id.label("store_id"), Ticket.serial.label("serial"),
        Product.name.label("product_name"), Ticket.face_value.label("face_value"),
        effective_status(today).label("status"), Ticket.issued_at.label("issued_at"),
    ]
    stmt_joins: list[tuple[Any, Any, bool]] = [(Product, Product.id == Ticket.product_id, False)]
    if "issuer" in groups or len(scope.store_ids) > 1:
        exprs += [Store.name.label("store_name"), Store.merchant_code.label("merchant_code")]
        stmt_joins.append((Store, Store.id == Ticket.store_id, False))
    if "order" in groups or q.mode == "order":
        stmt_joins.append((Order, Order.id == Ticket.order_id, False))
    if "issuer" in groups:
        # the platform (its 商店代號 is the PlatformID), by the unique merchant_code index
        exprs += [Ticket.platform_id.label("platform_id"),
                  _lookup(_Platform.name, _Platform.merchant_code, Ticket.platform_id)
                  .label("platform_name")]
    if "ticket" in groups or "operators" in groups or for_page:
        exprs += [Ticket.redeemed_at.label("redeemed_at"), Ticket.returned_at.label("returned_at")]
    if "ticket" in groups or for_page:
        exprs += [Ticket.kind.label("kind"), Ticket.delivery_method.label("delivery_method"),
                  Ticket.valid_from.label("valid_from"), Ticket.expires_on.label("expires_on")]
    if "ticket" in groups:
        exprs.append(Ticket.print_count.label("print_count"))
    if "order" in groups:
        latest_item = (select(func.max(TransferItem.id)).where(TransferItem.ticket_id == Ticket.id)
                       .correlate(Ticket).scalar_subquery())
        latest_application = (select(func.max(ReturnApplication.id))
                              .where(ReturnApplication.ticket_id == Ticket.id)
                              .correlate(Ticket).scalar_subquery())
        exprs += [
            Order.order_no.label("order_no"), Order.merchant_order_no.label("merchant_order_no"),
            Order.purchaser_name.label("purchaser_name"),
            Order.purchaser_mobile.label("purchaser_mobile"),
            Order.purchaser_email.label("purchaser_email"),
            _Transfer.transfer_no.label("transfer_no"), _Transfer.created_at.label("transferred_at"),
            _Transfer.recipient_name.label("recipient_name"), _Item.state.label("transfer_state"),
            Ticket.return_reason.label("return_reason"), Ticket.return_fee.label("return_fee"),
            _Application.created_at.label("applied_at"),
            _Application.status.label("application_status"),
            _Application.reason.label("application_reason"),
        ]
        stmt_joins += [(_Item, _Item.id == latest_item, True),
                       (_Transfer, _Transfer.id == _Item.transfer_id, True),
                       (_Application, _Application.id == latest_application, True)]
    if "operators" in groups:
        exprs += [
            _lookup(_RedeemedStore.name, _RedeemedStore.id, Ticket.redeemed_store_id)
            .label("redeemed_store_name"),
            _lookup(_RedeemedBranch.name, _RedeemedBranch.id, Ticket.redeemed_branch_id)
            .label("redeemed_branch_name"),
            _lookup(_RedeemedBranch.code, _RedeemedBranch.id, Ticket.redeemed_branch_id)
            .label("redeemed_branch_code"),
            _lookup(_Redeemer.username, _Redeemer.id, Ticket.redeemed_by_id).label("redeemed_by"),
            _lookup(_ReturnedBranch.name, _ReturnedBranch.id, Ticket.returned_branch_id)
            .label("returned_branch_name"),
            _lookup(_ReturnedBranch.code, _ReturnedBranch.id, Ticket.returned_branch_id)
            .label("returned_branch_code"),
            _lookup(_Returner.username, _Returner.id, Ticket.returned_by_id).label("returned_by"),
        ]
    if "holder" in groups:
        exprs += [Ticket.holder_name.label("holder_name"), Ticket.holder_mobile.label("holder_mobile"),
                  Ticket.holder_email.label("holder_email")]
    if "escrow" in groups:
        exprs.append(held_in_escrow().label("held_in_escrow"))
    if for_page:
        # what the row's buttons need: the stored status and facts for the status machine, the
        # code for the counter pages, whether the product has partner stores
        exprs += [Ticket.status.label("stored_status"), Ticket.secret_salt.label("secret_salt"),
                  Ticket.secret_version.label("secret_version"),
                  Ticket.code_digest.label("code_digest"), Ticket.code_sealed.label("code_sealed"),
                  exists().where(ProductPartner.product_id == Ticket.product_id).label("has_partners")]
    stmt = select(*exprs).select_from(Ticket)
    for target, on, outer in stmt_joins:
        stmt = stmt.join(target, on, isouter=outer)
    # the replica may answer it (app.db.RoutingSession): the page, its Excel and the export
    return (stmt.where(*_conditions(scope, q, today)).order_by(*_ordering(q))
            .execution_options(unscoped=True, replica=True))


def stream_rows(scope: ReportScope, q: TicketQuery) -> Iterator[Row]:
    """Every row of the query, read YIELD_PER rows at a time."""
    stmt = rows_statement(scope, q).execution_options(yield_per=YIELD_PER)
    yield from db.session.execute(stmt).mappings()


@register("tickets")
def build_sheet(scope: ReportScope, params: Mapping[str, Any]) -> Sheet:
    """The Excel of a ticket report query: the same rows and columns as the page."""
    q = parse(params)
    return Sheet(title=TITLE, columns=columns(scope, q), lines=lambda: stream_rows(scope, q),
                 count=lambda: count(scope, q))


# A page --------------------------------------------------------------------------------------

# The counter pages a report row offers, when the status machine allows their action.
ROW_ACTIONS = tuple(BY_ACTION[key] for key in (Action.RETURN, Action.CANCEL_REDEMPTION,
                                                Action.CANCEL_RETURN))


@dataclass(frozen=True)
class PageRow:
    row: Row
    cells: list[Any]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.row[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def code(self) -> str:
        """The ticket's code for the counter pages, derived from the key (not stored)."""
        return Ticket.code.of(self)

    def actions(self, at: datetime) -> list[str]:
        """The counter actions the status machine allows on this ticket now (rights aside)."""
        facts = Facts.of(self, status=self.row["stored_status"])
        return [page.slug for page in ROW_ACTIONS if actions.applies(page.key, facts, at)]


@dataclass(frozen=True)
class ReportPage:
    items: list[PageRow]
    columns: list[Column]
    page: int
    per_page: int
    total: int  # exact unless `capped`
    capped: bool  # more than COUNT_CAP rows: the total is "COUNT_CAP 筆以上"
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def pages(self) -> int | None:
        if self.capped:
            return None
        return max(1, -(-self.total // self.per_page))


def page(scope: ReportScope, q: TicketQuery, number: int, per_page: int) -> ReportPage:
    """One page of the query: LIMIT/OFFSET on the ordered rows, one row more to know whether a
    next page exists, and the total counted up to COUNT_CAP."""
    number = max(1, number)
    cols = columns(scope, q)
    stmt = rows_statement(scope, q, for_page=True).limit(per_page + 1).offset((number - 1) * per_page)
    fetched = list(db.session.execute(stmt).mappings())
    items = [PageRow(row, values(cols, row)) for row in fetched[:per_page]]
    if number == 1 and len(fetched) <= per_page:
        total = len(fetched)  # everything is on this page: no count needed
    else:
        total = count(scope, q, cap=COUNT_CAP)
    capped = total > COUNT_CAP
    return ReportPage(items=items, columns=cols, page=number, per_page=per_page,
                      total=min(total, COUNT_CAP), capped=capped,
                      has_next=len(fetched) > per_page)


# Row details -----------------------------------------------------------------------------

def visible_ticket(scope: ReportScope, ticket_id: int) -> Ticket | None:
    """A ticket the report may show to this scope (its stores; a bound sub-account's branch)."""
    stmt = select(Ticket).where(Ticket.id == ticket_id, Ticket.store_id.in_(scope.store_ids))
    if scope.branch_locked:
        stmt = stmt.where(handled_by_branch(scope, scope.branch_id))
    return db.session.scalar(stmt.execution_options(unscoped=True))


def partner_stores(ticket: Ticket) -> list[Store]:
    """可核銷商店名單: the stores the ticket's product is opened to (跨店核銷)."""
    return list(db.session.scalars(
        select(Store).join(ProductPartner, ProductPartner.partner_store_id == Store.id)
        .where(ProductPartner.product_id == ticket.product_id)
        .order_by(Store.merchant_code).execution_options(unscoped=True)))

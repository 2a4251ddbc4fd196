"""The operator's fee rates (費率) of a store: listed by kind with their periods, added for today
or a later day, a not-yet-effective one deleted. The rules are in `app.billing.rules`; every
change is in the history (on the rate, under the store). Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app import clock, history
from app.auth.models import Account
from app.billing import rules
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.history import HistoryEntry
from app.stores.models import RedemptionMode, Store

# The kinds in the order the seed lists them (ECT作業處理費).
KINDS: tuple[FeeKind, ...] = (FeeKind.RETURN, FeeKind.SMS, FeeKind.PAPER_PRINT, FeeKind.SERIAL)


def basis_label(kind: FeeKind, mode: RedemptionMode | None, percent: bool) -> str:
    """What one unit of the kind is, by the store's contract mode (the return fee in installment
    mode is per returned order, or a percentage of the order's returned amount)."""
    if kind is FeeKind.RETURN:
        if mode is RedemptionMode.INSTALLMENT:
            return "訂單退貨金額之百分比" if percent else "每筆退貨訂單"
        return "票券面額之百分比" if percent else "每張退貨票券"
    return {FeeKind.SMS: "每則簡訊", FeeKind.PAPER_PRINT: "每張列印票券",
            FeeKind.SERIAL: "每組序號"}[kind]


def rate_text(rate: FeeRate) -> str:
    """NT$5 or 1.5% (tax included)."""
    if rate.percent_bp is not None:
        return rules.percent_text(rate.percent_bp)
    return f"NT${rate.amount:,}"


@dataclass(frozen=True)
class KindRates:
    kind: FeeKind
    periods: list[rules.Period]

    @property
    def current(self) -> rules.Period | None:
        return next((p for p in self.periods if p.current), None)


def rates_of(store_id: int, today: date | None = None) -> list[KindRates]:
    """Every rate of the store, by kind (in KINDS order), each kind's periods oldest first."""
    today = today or clock.business_day()
    found = list(db.session.scalars(
        select(FeeRate).where(FeeRate.store_id == store_id)
        .order_by(FeeRate.kind, FeeRate.effective_from, FeeRate.id)))
    return [KindRates(kind, rules.periods([r for r in found if r.kind is kind], today))
            for kind in KINDS]


def rate_history(store_id: int, limit: int = 200) -> list[HistoryEntry]:
    """Every rate added or deleted for the store, newest first (a deleted rate's history stays)."""
    return list(db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.subject_type == FeeRate.__tablename__,
                                   HistoryEntry.store_id == store_id)
        .order_by(HistoryEntry.at.desc(), HistoryEntry.id.desc()).limit(limit)
        .execution_options(unscoped=True)))


def _operator(actor: Account) -> None:
    if not actor.is_operator:
        raise Forbidden("僅平台管理員可設定費率")


def _snapshot(rate: FeeRate) -> dict[str, list]:
    return {"fee_kind": [None, rate.kind.label],
            "effective_from": [None, rate.effective_from.isoformat()],
            "rate": [None, rate_text(rate)]}


def add_rate(actor: Account, store: Store, *, kind: str, effective_from: date | None,
             amount: int | None = None, percent: str | None = None) -> FeeRate:
    """A new rate of `kind` from `effective_from` (today or later): a fixed amount per unit, or
    (the return fee only) a percentage typed as "1.5" meaning 1.5 %."""
    _operator(actor)
    problems: dict[str, str] = {}
    fee_kind = next((k for k in KINDS if k.value == kind), None)
    if fee_kind is None:
        problems["kind"] = "請選擇費用項目"
    if problem := rules.effective_problem(effective_from, clock.business_day()):
        problems["effective_from"] = problem
    percent_bp = None
    typed_percent = bool((percent or "").strip())
    if typed_percent and amount is not None:
        problems["percent"] = "固定金額與百分比請擇一填寫"
    elif typed_percent:
        if fee_kind is not None and fee_kind is not FeeKind.RETURN:
            problems["percent"] = "僅退貨作業費可設定百分比"
        else:
            percent_bp, problem = rules.parse_percent(percent)
            if problem:
                problems["percent"] = problem
    elif problem := rules.amount_problem(amount):
        problems["amount"] = problem
    if not problems and fee_kind is not None and effective_from is not None:
        # one rate per kind and day: the store's row is locked so two operators cannot both add it
        db.session.execute(select(Store.id).where(Store.id == store.id).with_for_update())
        taken = db.session.scalar(select(FeeRate.id).where(
            FeeRate.store_id == store.id, FeeRate.kind == fee_kind,
            FeeRate.effective_from == effective_from).execution_options(unscoped=True))
        if taken is not None:
            problems["effective_from"] = (
                f"{fee_kind.label}於 {effective_from:%Y/%m/%d} 已有費率；"
                "如需更換，請先刪除該筆尚未生效的費率再新增")
    if problems or fee_kind is None or effective_from is None:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    rate = FeeRate(store_id=store.id, kind=fee_kind, effective_from=effective_from,
                   amount=0 if percent_bp is not None else int(amount or 0),
                   percent_bp=percent_bp)
    db.session.add(rate)
    db.session.flush()
    history.record(rate, "rate_added", store_id=store.id, changes=_snapshot(rate))
    return rate


def delete_rate(actor: Account, store: Store, rate_id: int) -> FeeRate:
    """Delete a rate not yet in force; one whose day has come never changes."""
    _operator(actor)
    rate = db.session.scalar(select(FeeRate).where(FeeRate.id == rate_id,
                                                   FeeRate.store_id == store.id)
                             .with_for_update().execution_options(unscoped=True))
    if rate is None:
        raise NotFound("找不到此費率")
    if rules.locked(rate.effective_from, clock.business_day()):
        raise DomainError("此費率已生效，不可修改或刪除；如需調整，請新增自今天或之後生效的費率")
    history.record(rate, "rate_deleted", store_id=store.id,
                   changes={k: [v[1], None] for k, v in _snapshot(rate).items()})
    db.session.delete(rate)
    db.session.flush()
    return rate


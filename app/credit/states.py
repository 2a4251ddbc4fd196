"""The card transaction's state machine, without a database: which action each state allows,
where it leads, and the refusal (with ECPay's words where it has them) otherwise.

    authorised ──C──▶ close requested ──(daily close)──▶ closed
        │  ▲                 │
        N  └───────E─────────┘
        ▼
    abandoned

- `C` close (關帳): authorised only, within CLOSE_DAYS days of the authorisation; after that only
  the operator may (`error_overDate`).
- `E` cancel a close (取消關帳): close requested → authorised, and the transaction is never
  auto-closed again; closed with refunds still pending (not yet settled by a daily close) → stays
  closed and those refunds are cancelled (a refund can be undone until the next close).
  Either way the pending refunds are cancelled.
- `N` abandon (放棄): authorised only, always the whole amount; closing rules it out (a
  close-requested transaction is E then N).
- `R` refund (退刷): a negative entry, never above what is left. Closed: partial or full. Close
  requested: partial only (a full refund is E then N). Installment and bonus transactions:
  full refunds only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.checkout.models import TransactionStatus as S

CLOSE_DAYS = 21  # the close limit: authorised more than 21 days ago → error_overDate


class Action(enum.Enum):
    CLOSE = "C"
    CANCEL_CLOSE = "E"
    ABANDON = "N"
    REFUND = "R"

    @property
    def label(self) -> str:
        return {"C": "關帳", "E": "取消關帳", "N": "放棄", "R": "退刷"}[self.value]


@dataclass(frozen=True)
class Facts:
    status: S
    amount: int
    refunded: int = 0  # refunds already taken (pending or settled)
    pending: int = 0  # of which not yet settled by a daily close (E can still cancel them)
    age_days: int = 0  # Taipei days since the authorisation
    installment: bool = False
    bonus: bool = False

    @property
    def left(self) -> int:
        return self.amount - self.refunded


@dataclass(frozen=True)
class Decision:
    to: S | None  # the state after; None when refused
    error: str = ""
    code: str = ""  # ECPay's RtnMsg code where it has one

    @property
    def allowed(self) -> bool:
        return self.to is not None


def _no(error: str, code: str = "") -> Decision:
    return Decision(None, error, code)


ALREADY_CLOSE_REQUESTED = "此筆交易已要求關帳"
ALREADY_CLOSED = "此筆交易已關帳"
ABANDONED = "此筆交易已放棄授權，無法再執行任何動作"
OVER_DATE = f"授權已超過 {CLOSE_DAYS} 天，無法關帳，請聯繫客服"
NOT_CLOSE_REQUESTED = "此筆交易未要求關帳，無法取消關帳"
NOTHING_TO_CANCEL = "此筆交易已關帳，且沒有待結算的退刷可取消"
CANCEL_THEN_ABANDON = "此筆交易已要求關帳，請先取消關帳再放棄"
CLOSED_USE_REFUND = "此筆交易已關帳，請使用退刷"
NOT_CLOSED_USE_ABANDON = "此筆交易尚未關帳，請使用放棄"
REFUND_AMOUNT = "退刷金額須為正整數，且不可超過可退金額"
PARTIAL_NOT_ALLOWED = "分期及紅利交易不可部分退刷"
FULL_REFUND_THEN = "要關帳的交易不可全額退刷，請先取消關帳再放棄"


def decide(facts: Facts, action: Action, *, amount: int | None = None,
           by_operator: bool = False) -> Decision:
    """What `action` does to a transaction in `facts` (`amount` for a refund)."""
    status = facts.status
    if status is S.ABANDONED:
        return _no(ABANDONED)
    if action is Action.CLOSE:
        if status is S.CLOSE_REQUESTED:
            return _no(ALREADY_CLOSE_REQUESTED)
        if status is S.CLOSED:
            return _no(ALREADY_CLOSED)
        if facts.age_days > CLOSE_DAYS and not by_operator:
            return _no(OVER_DATE, "error_overDate")
        return Decision(S.CLOSE_REQUESTED)
    if action is Action.CANCEL_CLOSE:
        if status is S.CLOSED:
            return Decision(S.CLOSED) if facts.pending else _no(NOTHING_TO_CANCEL)
        if status is not S.CLOSE_REQUESTED:
            return _no(NOT_CLOSE_REQUESTED)
        return Decision(S.AUTHORISED)
    if action is Action.ABANDON:
        if status is S.CLOSE_REQUESTED:
            return _no(CANCEL_THEN_ABANDON)
        if status is S.CLOSED:
            return _no(CLOSED_USE_REFUND)
        if facts.refunded:
            return _no(CANCEL_THEN_ABANDON)
        return Decision(S.ABANDONED)
    # refund
    if status is S.AUTHORISED:
        return _no(NOT_CLOSED_USE_ABANDON)
    if amount is None or amount <= 0 or amount > facts.left:
        return _no(REFUND_AMOUNT)
    if (facts.installment or facts.bonus) and (amount != facts.left or facts.refunded):
        return _no(PARTIAL_NOT_ALLOWED)
    if status is S.CLOSE_REQUESTED and amount == facts.left:
        return _no(FULL_REFUND_THEN)
    return Decision(status)

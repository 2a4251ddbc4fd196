"""Pure rules of the escrow money ledger (價金保管帳): how each kind of entry moves the amount the
bank holds in trust (信託) for a voucher, and the running balance of a voucher's entries.

- 價金存入 (DEPOSIT): the face value goes into trust: held + amount;
- 核銷撥付 (RELEASE), 退款 (REFUND), 退貨手續費 (HANDLING_FEE), 價金保管逾期 (ESCROW_EXPIRED):
  money leaves trust, to the merchant or back to the consumer: held - amount (a return's
  refund and its handling fee together are the face value);
- 撥款 (PAYOUT, installment periods): money reaches the merchant's account after the payout
  delay; it left trust with its release already, so it does not move the held amount.

A voucher's entries are taken in the ledger's order (business day, then entry id), the order
the 撥款對帳報表 lists them in. No Flask, no database: the SQL sum of the ticket report's 價金保管餘額
column (`app.escrow.queries.held_in_escrow`) is built from the same signs.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate

from app.escrow.models import LedgerKind

# +1: into trust; -1: out of trust; 0: does not touch what the trust holds.
HELD_SIGN: dict[LedgerKind, int] = {
    LedgerKind.DEPOSIT: 1,
    LedgerKind.RELEASE: -1,
    LedgerKind.REFUND: -1,
    LedgerKind.HANDLING_FEE: -1,
    LedgerKind.ESCROW_EXPIRED: -1,
    LedgerKind.PAYOUT: 0,
}


def held_change(kind: LedgerKind, amount: int) -> int:
    """How an entry changes the amount held in trust (negative: paid out of it)."""
    return HELD_SIGN[kind] * amount


def running_balances(entries: Iterable[tuple[LedgerKind, int]]) -> list[int]:
    """The amount held in trust after each entry, in the entries' order (starting from 0)."""
    return list(accumulate(held_change(kind, amount) for kind, amount in entries))


def held(entries: Iterable[tuple[LedgerKind, int]]) -> int:
    """What the trust holds for the voucher after all its entries."""
    return sum(held_change(kind, amount) for kind, amount in entries)

"""Pure money rules of billing: integers only (no float anywhere), exact fees in 1/10,000 NTD.

- A return processing fee (退貨作業費) is either a fixed amount per returned ticket (or installment
  order) or a percentage (in basis points) of its face value (or the order's returned amount).
- A store's fees of one day are summed exactly, then rounded half up to a whole dollar once.
- Payments settle the oldest bills first: a bill is paid once the payments cover it and every
  bill before it (a later credit counts for the earlier bills).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

E4 = 10_000  # units of 1/10,000 NTD in a dollar; a basis point of a dollar amount is one unit


def fee_e4(fixed: int, percent_bp: int | None, base: int) -> int:
    """One return's exact fee in 1/10,000 NTD: `percent_bp` basis points of `base`, or `fixed`."""
    if percent_bp is not None:
        return base * percent_bp
    return fixed * E4


def round_half_up(total_e4: int) -> int:
    """Whole dollars from 1/10,000 NTD, halves rounded up (amounts are never negative)."""
    if total_e4 < 0:
        raise ValueError("a fee total is never negative")
    return (total_e4 + E4 // 2) // E4


def previous_month(day: date) -> date:
    """The first day of the month before `day`'s month."""
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def month_days(month: date) -> tuple[date, date]:
    """The first and last day of the month starting at `month`."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return month, following - timedelta(days=1)


def bill_day(month: date) -> date:
    """出帳日: the 1st of the month after the one billed."""
    return month_days(month)[1] + timedelta(days=1)


@dataclass(frozen=True)
class Standing:
    """Where a store stands: each bill's status (oldest first) and what it owes now."""

    paid: dict[int, bool]  # bill id → covered by payments
    due: int  # 應繳費用: every bill minus every payment (never below 0)
    credit: int  # payments beyond every bill


def standing(bills: Sequence[tuple[int, int]], paid_total: int) -> Standing:
    """`bills` as (id, amount) oldest first; payments settle them in that order. A bill is paid
    when the payments reach the running total at it, or at any later bill (a later credit
    adjustment lowers what was owed for the earlier ones)."""
    running, totals = 0, []
    for _, amount in bills:
        running += amount
        totals.append(running)
    covered, lowest = {}, None
    for (bill_id, _), total in zip(reversed(bills), reversed(totals), strict=True):
        lowest = total if lowest is None else min(lowest, total)
        covered[bill_id] = paid_total >= lowest
    owed = running - paid_total
    return Standing(dict(reversed(list(covered.items()))), max(owed, 0), max(-owed, 0))

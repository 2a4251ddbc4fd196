"""Pure rules of fee rates (費率): integers only, no Flask, no DB.

- A percentage is typed as people write it ("1.5" meaning 1.5 %) and kept as whole basis points
  (150); its digits are read as text, never as a float, with at most two decimals, 0 to 100 %.
- A rate may be added for today or a later day, never an earlier one; once its day has come it
  never changes (the bills of those days were priced with it); a later one may still be deleted.
- The rates of one kind make periods: each from its own day until the day before the next one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

BP_PER_PERCENT = 100
PERCENT_MAX_BP = 100 * BP_PER_PERCENT
AMOUNT_MAX = 1_000_000  # NTD per unit: far above any real fee, keeps typos out


_PERCENT = re.compile(r"(\d{1,3})(?:\.(\d+))?")


def parse_percent(text: str | None) -> tuple[int | None, str | None]:
    """("1.5" → 150 basis points, None) or (None, the problem in words): digits read as text,
    so no float or decimal arithmetic is involved."""
    value = (text or "").strip().removesuffix("%").strip()
    if not value:
        return None, "請輸入百分比"
    match = _PERCENT.fullmatch(value)
    if match is None:
        return None, "百分比須為 0 至 100 的數字"
    whole, decimals = match.group(1), (match.group(2) or "").rstrip("0")
    if len(decimals) > 2:
        return None, "百分比至多到小數點後 2 位"
    bp = int(whole) * BP_PER_PERCENT + int(decimals.ljust(2, "0"))
    if bp > PERCENT_MAX_BP:
        return None, "百分比須為 0 至 100 的數字"
    return bp, None


def percent_text(bp: int) -> str:
    """150 → "1.5%": basis points as people read them (integer arithmetic only)."""
    whole, part = divmod(bp, BP_PER_PERCENT)
    return f"{whole}%" if not part else f"{whole}.{part:02d}".rstrip("0") + "%"


def amount_problem(amount: int | None) -> str | None:
    if amount is None:
        return "請輸入固定金額"
    if amount < 0:
        return "固定金額不可小於 0"
    if amount > AMOUNT_MAX:
        return f"固定金額至多 {AMOUNT_MAX:,} 元"
    return None


def effective_problem(effective_from: date | None, today: date) -> str | None:
    """A new rate starts today or later: a day already past keeps the rate it was billed with."""
    if effective_from is None:
        return "請輸入生效日"
    if effective_from < today:
        return "生效日不可早於今天：已過日期的費率不可變更"
    return None


def locked(effective_from: date, today: date) -> bool:
    """A rate whose day has come can never be changed or deleted."""
    return effective_from <= today


@dataclass(frozen=True)
class Period:
    """One rate with the days it is in force: from `rate`'s day until `until` (None: open)."""

    rate: Any  # a FeeRate (or anything with effective_from)
    until: date | None
    current: bool  # in force today
    future: bool  # not yet in force (may still be deleted)


def periods(rates: Sequence[Any], today: date) -> list[Period]:
    """The rates of one kind as periods, oldest first (`rates` in any order; on one day the
    latest added wins, as `rate_on` picks it)."""
    ordered = sorted(rates, key=lambda r: (r.effective_from, r.id or 0))
    found = []
    for i, rate in enumerate(ordered):
        following = next((r.effective_from for r in ordered[i + 1:]
                          if r.effective_from > rate.effective_from), None)
        shadowed = any(r.effective_from == rate.effective_from for r in ordered[i + 1:])
        until = rate.effective_from - timedelta(days=1) if shadowed else (
            following - timedelta(days=1) if following else None)
        current = (rate.effective_from <= today and not shadowed
                   and (following is None or following > today))
        found.append(Period(rate, until, current, rate.effective_from > today))
    return found

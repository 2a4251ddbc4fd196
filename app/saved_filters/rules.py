"""Pure rules of saved filters: which query parameters a saved filter may keep, how long its
name may be, how many an account may keep per report, and relative dates.

A saved filter keeps only the parameters its page understands (the page's declared keys), never
`page`, `format` or `csrf_token`, each value and the whole query bounded; so applying one can
only fill the page's own filter form. A date range may be kept relative to the day it is
applied: `start=2026-11-15&end=2026-11-21` saved on 11/21 as `@-6` and `@0` (the last 7 days
of whatever day it is applied on).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode

from app.errors import InvalidInput

NAME_MAX = 30  # characters of a filter's name
PER_REPORT = 20  # saved filters an account keeps per report
VALUE_MAX = 200  # characters of one parameter's value
QUERY_MAX = 1000  # characters of the stored query string
PAIRS_MAX = 40  # parameters of one query
NEVER_KEPT = frozenset({"page", "format", "csrf_token"})
DATE_KEYS = ("start", "end")

NAME_REQUIRED = "請輸入篩選條件名稱"
NAME_TOO_LONG = f"篩選條件名稱最多 {NAME_MAX} 字"
NAME_TAKEN = "已有同名的篩選條件，請換一個名稱"
TOO_MANY = f"每個報表最多可儲存 {PER_REPORT} 組篩選條件，請先刪除不再使用的篩選條件"

Pairs = list[tuple[str, str]]

_RELATIVE = re.compile(r"@(-?\d{1,4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_name(name: str | None) -> str:
    """The name as kept (trimmed); InvalidInput when empty or longer than NAME_MAX."""
    text = _CONTROL.sub("", name or "").strip()
    if not text:
        raise InvalidInput(NAME_REQUIRED, fields={"name": NAME_REQUIRED})
    if len(text) > NAME_MAX:
        raise InvalidInput(NAME_TOO_LONG, fields={"name": NAME_TOO_LONG})
    return text


def check_room(kept: int) -> None:
    """Refuse a new filter when the account already keeps PER_REPORT for this report."""
    if kept >= PER_REPORT:
        raise InvalidInput(TOO_MANY)


def _value_kept(key: str, value: str) -> str | None:
    text = _CONTROL.sub("", value).strip()
    if not text or len(text) > VALUE_MAX:
        return None  # an empty value is the page's default; an overlong one is no real input
    if text.startswith("@") and not (key in DATE_KEYS and _RELATIVE.fullmatch(text)):
        return None
    return text


def sanitised(pairs: Iterable[tuple[str, str]], keys: Iterable[str]) -> Pairs:
    """The pairs a saved filter keeps: keys the page understands only, values trimmed and
    bounded, duplicates once, at most PAIRS_MAX pairs and QUERY_MAX characters encoded."""
    allowed = frozenset(keys) - NEVER_KEPT
    kept: Pairs = []
    length = 0
    for key, value in pairs:
        if key not in allowed or len(kept) >= PAIRS_MAX:
            continue
        text = _value_kept(key, str(value))
        if text is None or (key, text) in kept:
            continue
        size = len(urlencode([(key, text)])) + (1 if kept else 0)
        if length + size > QUERY_MAX:
            continue
        kept.append((key, text))
        length += size
    return kept


def encoded(pairs: Sequence[tuple[str, str]]) -> str:
    return urlencode(list(pairs))


def decoded(query: str) -> Pairs:
    return parse_qsl(query or "", keep_blank_values=False)


def made_relative(pairs: Sequence[tuple[str, str]], today: date) -> Pairs:
    """The date range's ISO dates as offsets from `today` (`@-6`); other pairs as they are."""
    out: Pairs = []
    for key, value in pairs:
        if key in DATE_KEYS and _ISO_DATE.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                out.append((key, value))
                continue
            out.append((key, f"@{(day - today).days}"))
        else:
            out.append((key, value))
    return out


def resolved(pairs: Sequence[tuple[str, str]], today: date) -> Pairs:
    """Relative dates (`@-6`) as the ISO dates they mean on `today`."""
    out: Pairs = []
    for key, value in pairs:
        match = _RELATIVE.fullmatch(value) if key in DATE_KEYS else None
        out.append((key, (today + timedelta(days=int(match[1]))).isoformat() if match else value))
    return out


def is_relative(pairs: Sequence[tuple[str, str]]) -> bool:
    return any(key in DATE_KEYS and _RELATIVE.fullmatch(value) for key, value in pairs)


def relative_label(pairs: Sequence[tuple[str, str]]) -> str:
    """「最近 7 天」 for a range ending today, 「相對日期」 for another relative range, else ""."""
    values = dict(pairs)
    start, end = (_RELATIVE.fullmatch(values.get(k, "")) for k in DATE_KEYS)
    if start and end and int(end[1]) == 0 and int(start[1]) <= 0:
        return f"最近 {1 - int(start[1])} 天"
    return "相對日期" if is_relative(pairs) else ""

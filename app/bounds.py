"""What input may hold before it reaches the database: integers within a column's range, text
without NUL. One place, so a path, a query, a form, an API body and a spreadsheet are refused
alike and never become a database error (PostgreSQL: "integer out of range", "A string literal
cannot contain NUL (0x00) characters").

- `INT_MAX` (an `Integer` column, most ids and every count), `BIGINT_MAX` (a `BigInteger` one:
  ticket ids, bank amounts in 1/10,000).
- `whole_number(text, low, high)`: a written whole number within [low, high], else None (never
  a ValueError: "²".isdigit() is True, int("²") is not a number).
- `IntConverter` / `BigIntConverter`: the URL converters `int` and `bigint` the app registers in
  place of Werkzeug's `int`; a number beyond the column's range does not match (404).
- `nul_fields(value)`: where a string, or any string inside a list or dict, holds a NUL.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
NUL = "\x00"
NUL_MESSAGE = "輸入內容含有不允許的控制字元（NUL）"
RANGE_MESSAGE = "數值超出允許範圍"
TOO_DEEP_MESSAGE = "請求內容的 JSON 巢狀層數過多"
# A JSON body nested deeper than this is refused before anything walks it.
MAX_JSON_DEPTH = 64


def whole_number(text: object, low: int = 0, high: int = INT_MAX) -> int | None:
    """`text` (str or int) as a whole number within [low, high]; None otherwise. Digits only
    (an optional leading minus when `low` < 0), ASCII, no more of them than the bound needs."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        value = text
    else:
        raw = str(text).strip() if text is not None else ""
        digits = raw[1:] if raw.startswith("-") and low < 0 else raw
        if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
            return None
        value = int(raw)
    return value if low <= value <= high else None


def digits_up_to(high: int) -> str:
    """A regular expression of the decimal numbers from 0 to `high` (leading zeros allowed):
    a URL whose number is beyond it does not match the rule at all, for any method (a value
    refused only after matching would make Werkzeug answer another method's rule with 405)."""
    text = str(high)
    shorter = f"[0-9]{{1,{len(text) - 1}}}" if len(text) > 1 else None
    same_length = [text]
    for i, digit in enumerate(text):
        if digit != "0":
            rest = len(text) - i - 1
            same_length.append(f"{text[:i]}[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    choices = ([shorter] if shorter else []) + same_length
    return "0*(?:" + "|".join(choices) + ")"


class IntConverter(IntegerConverter):
    """`<int:…>`: a non-negative id of an `Integer` column; beyond its range it does not match,
    so the URL is a 404 before any view or query runs."""

    high = INT_MAX

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = None, signed: bool = False) -> None:  # noqa: A002
        max = self.high if max is None else max  # noqa: A001
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        if not signed and not fixed_digits:
            self.regex = digits_up_to(max)


class BigIntConverter(IntConverter):
    """`<bigint:…>`: an id of a `BigInteger` column (tickets)."""

    high = BIGINT_MAX


def nul_fields(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> list[str]:
    """Where `value` (a string, or lists and dicts of them, keys included) holds a NUL: each
    place as a dotted path (`rows.0.email`; "" for `value` itself). Walked without recursion; a
    structure deeper than `max_depth` raises ValueError."""
    found: list[str] = []
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > max_depth:
            raise ValueError("nested too deep")
        if isinstance(item, str):
            if NUL in item:
                found.append(path)
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = str(key).replace(NUL, "")
                inner_path = f"{path}.{name}" if path else name
                if NUL in str(key):
                    found.append(inner_path)
                stack.append((inner, inner_path, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{path}.{n}" if path else str(n), depth + 1)
                         for n, inner in enumerate(item))
    return sorted(found)

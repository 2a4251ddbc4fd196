"""app.bounds: what input may hold before it reaches a column (pure table tests)."""

from __future__ import annotations

import re

import pytest

from app.bounds import BIGINT_MAX, INT_MAX, digits_up_to, nul_fields, whole_number


@pytest.mark.parametrize(("text", "low", "high", "expected"), [
    ("12", 0, INT_MAX, 12), (" 12 ", 0, INT_MAX, 12), (12, 0, INT_MAX, 12),
    (str(INT_MAX), 0, INT_MAX, INT_MAX), (str(INT_MAX + 1), 0, INT_MAX, None),
    ("99999999999999999999", 0, BIGINT_MAX, None), (str(BIGINT_MAX), 0, BIGINT_MAX, BIGINT_MAX),
    ("-5", 0, INT_MAX, None), ("-5", -10, INT_MAX, -5), ("²", 0, INT_MAX, None), ("１２", 0, INT_MAX, None),
    ("1" * 5000, 0, INT_MAX, None), ("", 0, INT_MAX, None), (None, 0, INT_MAX, None),
    (True, 0, INT_MAX, None), ("1.5", 0, INT_MAX, None), ("0", 1, INT_MAX, None),
])
def test_whole_number(text, low, high, expected):
    assert whole_number(text, low, high) == expected


@pytest.mark.parametrize("high", [0, 9, 10, 100, 2019, INT_MAX, BIGINT_MAX])
def test_digits_up_to_matches_exactly_the_numbers_up_to_high(high):
    pattern = re.compile(digits_up_to(high))
    for value in {0, 1, high - 1, high, high + 1, high * 10, 10 ** len(str(high)) - 1, 10 ** len(str(high))}:
        if value >= 0:
            assert bool(pattern.fullmatch(str(value))) == (value <= high), value
    assert pattern.fullmatch("00" + str(high))
    assert not pattern.fullmatch("-1") and not pattern.fullmatch("")


def test_nul_fields_names_every_place_and_refuses_endless_nesting():
    body = {"name": "a\x00b", "rows": [{"email": "x"}, {"email": "\x00"}], "k\x00": 1, "ok": 5}
    assert nul_fields(body) == ["k", "name", "rows.1.email"]
    assert nul_fields("\x00") == [""]
    assert nul_fields({"a": [1, None, True, "x"]}) == []
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError):
        nul_fields(deep)

"""Saved filters' pure rules, as tables: which parameters a saved filter keeps, its name, the
per-report limit and relative dates."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import InvalidInput
from app.saved_filters import rules

KEYS = {"mode", "q", "start", "end", "status", "serial", "page", "format"}
TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(("pairs", "kept"), [
    ([("mode", "date"), ("q", "1")], [("mode", "date"), ("q", "1")]),
    # page, format and csrf_token never, even when the page names them
    ([("page", "3"), ("format", "xlsx"), ("csrf_token", "x"), ("q", "1")], [("q", "1")]),
    # keys the page does not understand are dropped
    ([("next", "https://evil.example"), ("redirect", "/x"), ("mode", "date")], [("mode", "date")]),
    # empty values are the page's defaults; values are trimmed; control characters go
    ([("serial", "  "), ("serial", " AB12 "), ("mode", "da\x00te")], [("serial", "AB12"), ("mode", "date")]),
    # a repeated key keeps each value once (a multi-select), in order
    ([("status", "used"), ("status", "unused"), ("status", "used")], [("status", "used"), ("status", "unused")]),
    # an overlong value is no real input: dropped, not cut
    ([("serial", "A" * 201), ("q", "1")], [("q", "1")]),
    ([("serial", "A" * 200)], [("serial", "A" * 200)]),
    # a relative date only on the date keys, and only in its exact shape
    ([("start", "@-6"), ("end", "@0"), ("serial", "@-6"), ("mode", "@x")], [("start", "@-6"), ("end", "@0")]),
    ([("start", "@-6; drop"), ("end", "@99999")], []),
])
def test_sanitised_keeps_only_what_the_page_understands(pairs, kept):
    assert rules.sanitised(pairs, KEYS) == kept


def test_sanitised_bounds_the_number_of_pairs_and_the_query_length():
    many = [("status", f"s{i}") for i in range(100)]
    assert len(rules.sanitised(many, KEYS)) == rules.PAIRS_MAX
    long = [("status", f"{i:03d}" + "x" * 190) for i in range(10)]
    kept = rules.sanitised(long, KEYS)
    assert len(rules.encoded(kept)) <= rules.QUERY_MAX
    assert 0 < len(kept) < 10


@pytest.mark.parametrize(("name", "kept", "message"), [
    ("本月已核銷", "本月已核銷", None),
    ("  A001 分店  ", "A001 分店", None),
    ("字" * 30, "字" * 30, None),
    ("字" * 31, None, rules.NAME_TOO_LONG),
    ("", None, rules.NAME_REQUIRED),
    ("   ", None, rules.NAME_REQUIRED),
    (None, None, rules.NAME_REQUIRED),
    ("\x00\x01", None, rules.NAME_REQUIRED),
])
def test_checked_name(name, kept, message):
    if message is None:
        assert rules.checked_name(name) == kept
    else:
        with pytest.raises(InvalidInput) as caught:
            rules.checked_name(name)
        assert caught.value.message == message
        assert caught.value.fields == {"name": message}


@pytest.mark.parametrize(("kept", "refused"), [(0, False), (19, False), (20, True), (25, True)])
def test_at_most_twenty_per_report(kept, refused):
    if refused:
        with pytest.raises(InvalidInput) as caught:
            rules.check_room(kept)
        assert caught.value.message == rules.TOO_MANY
        assert "20" in caught.value.message
    else:
        assert rules.check_room(kept) is None


@pytest.mark.parametrize(("pairs", "relative", "label", "applied_on_12_01"), [
    # the last 7 days: stays the last 7 days of whatever day it is applied on
    ([("start", "2026-11-15"), ("end", "2026-11-21")], [("start", "@-6"), ("end", "@0")], "最近 7 天",
     [("start", "2026-11-25"), ("end", "2026-12-01")]),
    ([("start", "2026-11-21"), ("end", "2026-11-21")], [("start", "@0"), ("end", "@0")], "最近 1 天",
     [("start", "2026-12-01"), ("end", "2026-12-01")]),
    # a range ending before today moves along too, labelled as relative
    ([("start", "2026-10-01"), ("end", "2026-10-31")], [("start", "@-51"), ("end", "@-21")], "相對日期",
     [("start", "2026-10-11"), ("end", "2026-11-10")]),
    # no dates typed (the page's default window) and other keys: unchanged
    ([("mode", "date"), ("serial", "2026-11-15")], [("mode", "date"), ("serial", "2026-11-15")], "",
     [("mode", "date"), ("serial", "2026-11-15")]),
    # not a date: left as typed (the page refuses it as it would anyway)
    ([("start", "2026-02-30")], [("start", "2026-02-30")], "", [("start", "2026-02-30")]),
])
def test_relative_dates(pairs, relative, label, applied_on_12_01):
    made = rules.made_relative(pairs, TODAY)
    assert made == relative
    assert rules.relative_label(made) == label
    assert rules.resolved(made, date(2026, 12, 1)) == applied_on_12_01
    assert rules.resolved(made, TODAY) == pairs


def test_encoded_and_decoded_round_trip():
    pairs = [("mode", "date"), ("status", "已核銷"), ("status", "a&b=c")]
    assert rules.decoded(rules.encoded(pairs)) == pairs
    assert rules.decoded("") == []

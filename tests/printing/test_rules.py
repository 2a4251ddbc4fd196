"""Pure rules of printing: the 21:00 reminder window and "printed more than once", pickup codes,
print-form ids."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import taipei_datetime as tp
from app.printing import rules

# at (Taipei), the window's start and end (Taipei), the day named in the e-mail
WINDOWS = [
    (tp(2026, 11, 22, 21, 0, 0), tp(2026, 11, 21, 21), tp(2026, 11, 22, 21), "2026-11-22"),
    (tp(2026, 11, 22, 21, 0, 1), tp(2026, 11, 21, 21), tp(2026, 11, 22, 21), "2026-11-22"),
    (tp(2026, 11, 22, 23, 59, 59), tp(2026, 11, 21, 21), tp(2026, 11, 22, 21), "2026-11-22"),
    (tp(2026, 11, 23, 0, 30), tp(2026, 11, 21, 21), tp(2026, 11, 22, 21), "2026-11-22"),
    (tp(2026, 11, 22, 20, 59, 59), tp(2026, 11, 20, 21), tp(2026, 11, 21, 21), "2026-11-21"),
    (tp(2026, 1, 1, 21), tp(2025, 12, 31, 21), tp(2026, 1, 1, 21), "2026-01-01"),  # new year
    (tp(2028, 3, 1, 21), tp(2028, 2, 29, 21), tp(2028, 3, 1, 21), "2028-03-01"),  # leap day
]


@pytest.mark.parametrize(("at", "start", "end", "day"), WINDOWS)
def test_the_window_is_the_last_complete_21_to_21_taipei(at, start, end, day):
    window = rules.reminder_window(at)
    assert (window.start, window.end, window.day.isoformat()) == (start, end, day)


def test_21_taipei_is_13_utc():
    window = rules.reminder_window(tp(2026, 11, 22, 21))
    assert window.end.isoformat() == "2026-11-22T13:00:00+00:00"


END = tp(2026, 11, 22, 21)
START = END - timedelta(days=1)
W = rules.reminder_window(END)
CONTAINS = [
    (START - timedelta(seconds=1), False),
    (START, False),  # 21:00:00 yesterday belongs to yesterday's window
    (START + timedelta(microseconds=1), True),
    (END - timedelta(seconds=1), True),  # 20:59:59 today
    (END, True),  # 21:00:00 today
    (END + timedelta(microseconds=1), False),
    (END + timedelta(seconds=1), False),  # 21:00:01 belongs to tomorrow's window
]


@pytest.mark.parametrize(("at", "inside"), CONTAINS)
def test_the_window_is_open_at_its_start_and_closed_at_its_end(at, inside):
    assert W.contains(at) is inside


s = timedelta(seconds=1)
MORE_THAN_ONCE = [
    # name, prints (ticket, at), expected {ticket: times}
    ("nothing", [], {}),
    ("once", [(1, END - s)], {}),
    ("twice inside", [(1, START + s), (1, END)], {1: [START + s, END]}),
    ("20:59:59 and 21:00:00 today", [(1, END - s), (1, END)], {1: [END - s, END]}),
    ("21:00:00 yesterday does not count", [(1, START), (1, END - s)], {}),
    ("21:00:00 and 21:00:01 today: one each side", [(1, END), (1, END + s)], {}),
    ("earlier prints do not count", [(1, START - timedelta(hours=5)), (1, START - s), (1, END)], {}),
    ("three inside, given unordered", [(2, END), (2, START + s), (2, END - s)],
     {2: [START + s, END - s, END]}),
    ("tickets apart", [(1, END), (2, END), (3, END), (3, END - s)], {3: [END - s, END]}),
    ("two tickets", [(5, END), (4, END), (5, END - s), (4, END - s)],
     {4: [END - s, END], 5: [END - s, END]}),
]


@pytest.mark.parametrize(("name", "prints", "expected"), MORE_THAN_ONCE, ids=[c[0] for c in MORE_THAN_ONCE])
def test_printed_more_than_once_in_the_window(name, prints, expected):
    assert rules.printed_more_than_once(prints, W) == expected


PICKUP_CODES = [
    ("123456789012", True),
    ("900000000000", True),
    ("012345678901", False),  # never starts with 0
    ("12345678901", False),
    ("1234567890123", False),
    ("12345678901a", False),
    ("１２３４５６７８９０１２", False),  # full-width digits
    ("", False),
    ("12345678901 ", False),
]


@pytest.mark.parametrize(("text", "ok"), PICKUP_CODES)
def test_pickup_codes(text, ok):
    assert rules.is_pickup_code(text) is ok


TICKET_IDS = [
    ([], []),
    (["3", "1", "3", " 2 "], [3, 1, 2]),
    (["1", "x"], None),
    (["0"], None),
    (["-1"], None),
    (["1.5"], None),
    (["9" * 19], None),
    (["٣"], None),  # a non-ASCII digit
]


@pytest.mark.parametrize(("values", "expected"), TICKET_IDS)
def test_print_form_ids(values, expected):
    assert rules.clean_ticket_ids(values) == expected

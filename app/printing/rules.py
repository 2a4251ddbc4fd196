"""Pure rules of paper-ticket printing (no Flask, no database).

The multi-print reminder (票券多次列印提醒, docs/consumers.md): every day at 21:00 Taipei the finance
contact hears of the tickets printed more than once "between 21:00 the previous day and 21:00
today". The window is half-open on the left: (yesterday 21:00, today 21:00]. A print at exactly
21:00:00 belongs to the window that ends then, a print at 21:00:01 to the next one, so every
print falls in exactly one window. "Printed more than once in the window" means two or more
print records (PrintedTicket rows) whose time lies in the window; prints before the window do
not count, whatever the ticket's total print count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app import clock
from app.tickets.codes import MAX_TICKETS_PER_BATCH

REMINDER_HOUR = 21
MAX_TICKETS_PER_PRINT = MAX_TICKETS_PER_BATCH  # one issuance batch at most

# What the kiosk answers (also for an unknown code: one message for every failure).
PICKUP_CODE_LENGTH = 12


@dataclass(frozen=True)
class Window:
    """(start, end] in UTC, with the Taipei day whose 21:00 ends it."""

    start: datetime
    end: datetime
    day: date

    def contains(self, at: datetime) -> bool:
        return self.start < at <= self.end


def reminder_window(at: datetime) -> Window:
    """The latest complete window ending at or before `at`: (D-1 21:00, D 21:00] Taipei, where
    D 21:00 is the last 21:00 Taipei not after `at` (a job running late still reports the window
    of its slot; one run at 20:59 reports the previous day's)."""
    local = clock.taipei(at)
    day = local.date()
    if local.time() < time(REMINDER_HOUR):
        day -= timedelta(days=1)
    end = datetime.combine(day, time(REMINDER_HOUR), tzinfo=clock.TAIPEI).astimezone(UTC)
    return Window(start=end - timedelta(days=1), end=end, day=day)


def printed_more_than_once(prints: Iterable[tuple[int, datetime]],
                           window: Window) -> dict[int, list[datetime]]:
    """{ticket id: its print times in the window, oldest first} of the tickets with two or more
    prints in the window. `prints` are (ticket id, printed at) pairs, one per print record."""
    times: dict[int, list[datetime]] = {}
    for ticket_id, at in prints:
        if window.contains(at):
            times.setdefault(ticket_id, []).append(at)
    return {ticket_id: sorted(ts) for ticket_id, ts in sorted(times.items()) if len(ts) >= 2}


def is_pickup_code(text: str) -> bool:
    """A convenience-store pickup code as issued: 12 digits, the first never 0."""
    return len(text) == PICKUP_CODE_LENGTH and text.isascii() and text.isdigit() and text[0] != "0"


def clean_ticket_ids(values: Iterable[str]) -> list[int] | None:
    """The distinct ticket ids of a print form, in the order given; None when any is not a
    positive integer (a tampered form)."""
    out: dict[int, None] = {}
    for value in values:
        text = (value or "").strip()
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            return None
        number = int(text)
        if number <= 0:
            return None
        out[number] = None
    return list(out)

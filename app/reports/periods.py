"""What the circulation, cross-store and branch reports share: the query period (Taipei days,
at most three months, 「查詢區間不可超過三個月」 beyond), a count of tickets with their face value,
and the ticket columns of a line of their detail lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from app import clock
from app.columns import Column
from app.daterange import parse_range

DEFAULT_DAYS = 30  # an empty period: the last 30 days
MAX_MONTHS = 3


@dataclass(frozen=True)
class Period:
    start: date  # Taipei days, inclusive
    end: date

    @property
    def start_at(self) -> datetime:
        return clock.day_start(self.start)

    @property
    def end_at(self) -> datetime:
        return clock.day_end(self.end)

    @property
    def label(self) -> str:
        return f"{self.start:%Y/%m/%d}～{self.end:%Y/%m/%d}"


def parse_period(params: Mapping[str, object]) -> Period:
    """The `start` / `end` of a query; InvalidInput beyond three months or backwards."""
    start, end = parse_range(_text(params.get("start")), _text(params.get("end")),
                             default_days=DEFAULT_DAYS, max_months=MAX_MONTHS)
    return Period(start, end)


def _text(value: object) -> str:
    return str(value) if value is not None else ""


@dataclass(frozen=True)
class Figure:
    """A number of tickets and the sum of their face values (NTD)."""

    count: int = 0
    amount: int = 0

    def __add__(self, other: Figure) -> Figure:
        return Figure(self.count + other.count, self.amount + other.amount)


def total(figures: Iterable[Figure]) -> Figure:
    out = Figure()
    for figure in figures:
        out = out + figure
    return out


def ticket_columns(status_header: str) -> tuple[Column, ...]:
    """The ticket of a detail line (a Line with product, serial, kind, face_value, status)."""
    return (Column("product", "商品名稱", lambda line: line.product),
            Column("serial", "票券序號", lambda line: line.serial, "code"),
            Column("kind", "票券類型", lambda line: line.kind.label),
            Column("face_value", "面額", lambda line: line.face_value, "money"),
            Column("status", status_header, lambda line: line.status, "status"))

"""One column spec per list: a list page's table and its 下載Excel come from the same columns.

A `Column` says what a list shows: its key, header, how its value is read from a row, its
format (text, code, money, number, date, datetime, ticket status), its width in Excel and,
for lists with column groups, its group. The page renders the columns through the macros
`column_headers` and `column_cells` (templates/_macros/tables.html); the Excel is written from
the same columns by `xlsx_response` (streamed by app.spreadsheets, formula guard included).

Where the page and the file differ, the spec says so: a column the page leaves out (an
e-mail, a long description) is `excel_only`; a value the page shows differently from the file
(a masked mobile) has a `shown` getter. The page may add controls (check boxes, buttons) around
the columns, never other data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any

from flask import Response

from app import spreadsheets

FORMATS = frozenset({"text", "code", "money", "number", "date", "datetime", "status"})

@dataclass(frozen=True)
class Column:
    key: str
    header: str
    value: Callable[[Any], Any]  # the cell, from one row of the list's query
    format: str = "text"  # how the page formats it (money: NT$1,200; status: a badge …)
    width: float | None = None  # Excel column width; None: from the header's length
    group: str = ""  # a column group the user may show or hide ("" for the base columns)
    excel_only: bool = False  # in the Excel only (the page leaves it out)
    shown: Callable[[Any], Any] | None = None  # what the page shows instead of `value`

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown column format {self.format!r}")

    def page_value(self, row: Any) -> Any:
        return (self.shown or self.value)(row)


def on_page(columns: Iterable[Column]) -> list[Column]:
    """The columns the page shows, in order."""
    return [c for c in columns if not c.excel_only]


def excel_only(columns: Iterable[Column], *keys: str) -> tuple[Column, ...]:
    """The columns with those named Excel-only (a column the page shows only sometimes)."""
    return tuple(replace(c, excel_only=True) if c.key in keys else c for c in columns)


def values(columns: Sequence[Column], row: Any) -> list[Any]:
    """One row's Excel cells."""
    return [c.value(row) for c in columns]


def widths(columns: Sequence[Column]) -> list[float]:
    return [c.width if c.width is not None else spreadsheets.header_width(c.header)
            for c in columns]


def sheet_rows(columns: Sequence[Column], rows: Iterable[Any]) -> Iterator[list[Any]]:
    getters = [c.value for c in columns]
    for row in rows:
        yield [get(row) for get in getters]


def write_xlsx(out: IO[bytes], columns: Sequence[Column], rows: Iterable[Any],
               sheet_title: str) -> None:
    """Write `rows` under the columns' headers to a binary file (a background export)."""
    spreadsheets.write_xlsx(out, [c.header for c in columns], sheet_rows(columns, rows),
                            sheet_title, widths=widths(columns))


def xlsx_response(filename: str, columns: Sequence[Column], rows: Iterable[Any], *,
                  sheet_title: str) -> Response:
    """下載Excel of a list: every column of the spec (Excel-only ones too), one line a row."""
    return spreadsheets.xlsx_response(filename, [c.header for c in columns],
                                      sheet_rows(columns, rows), sheet_title,
                                      widths=widths(columns))

"""The streaming xlsx writer: what it writes is what openpyxl reads back."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app import xlsxstream


@pytest.mark.parametrize(("index", "letters"), [(1, "A"), (26, "Z"), (27, "AA"), (52, "AZ"),
                                                 (53, "BA"), (702, "ZZ"), (703, "AAA")])
def test_column_letters(index: int, letters: str) -> None:
    assert xlsxstream.column_letter(index) == letters


def _written(headers, rows, title="報表"):  # noqa: ANN001, ANN202
    out = io.BytesIO()
    xlsxstream.write(out, headers, rows, sheet_title=title, widths=[12] * len(headers),
                     datetime_format="yyyy/mm/dd hh:mm:ss", date_format="yyyy/mm/dd")
    out.seek(0)
    return load_workbook(out)


def test_values_round_trip_with_their_types_and_formats() -> None:
    rows = [["<a & \"b\">", 12, 3.5, Decimal("7.25"), True, datetime(2026, 11, 22, 9, 30, 15),
             date(2026, 2, 28), time(13, 45, 0), ""],
            ["第二列", -1, 0, Decimal("0"), False, datetime(1999, 12, 31, 23, 59, 59),
             date(1900, 3, 1), time(0, 0, 1), "尾"]]
    wb = _written(list("ABCDEFGHI"), rows, title="票券 & 報表")
    ws = wb.active
    assert ws.title == "票券 & 報表"
    assert [c.value for c in ws[1]] == list("ABCDEFGHI")
    assert ws["A1"].font.b and ws.freeze_panes == "A2"
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert got[0][:5] == ["<a & \"b\">", 12, 3.5, 7.25, True]
    assert got[0][5] == datetime(2026, 11, 22, 9, 30, 15)
    assert got[0][6] == datetime(2026, 2, 28) and got[0][7] == time(13, 45, 0)
    assert got[0][8] is None
    assert got[1] == ["第二列", -1, 0, 0, False, datetime(1999, 12, 31, 23, 59, 59),
                      datetime(1900, 3, 1), time(0, 0, 1), "尾"]
    assert ws["F2"].number_format == "yyyy/mm/dd hh:mm:ss" and ws["G2"].number_format == "yyyy/mm/dd"


def test_empty_cells_keep_rows_as_wide_as_the_header() -> None:
    out = io.BytesIO()
    xlsxstream.write(out, ["a", "b", "c"], [["x", "", ""]], sheet_title="s", widths=[10, 10, 10],
                     datetime_format="yyyy/mm/dd hh:mm:ss", date_format="yyyy/mm/dd")
    out.seek(0)
    rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    assert rows == [("a", "b", "c"), ("x", None, None)]


def test_rows_are_consumed_lazily_in_chunks() -> None:
    seen = []

    def rows():  # noqa: ANN202
        for i in range(xlsxstream.ROWS_PER_WRITE * 3 + 7):
            seen.append(i)
            yield [i]

    wb = _written(["n"], rows())
    assert wb.active.max_row == xlsxstream.ROWS_PER_WRITE * 3 + 8
    assert len(seen) == xlsxstream.ROWS_PER_WRITE * 3 + 7

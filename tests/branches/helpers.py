"""Small helpers for the branch tests."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from app.db import db
from app.history import HistoryEntry

FORMULA_STARTS = ("=", "+", "-", "@")


def fresh(model, ident):  # noqa: ANN001, ANN201
    """A row as the database has it now (the requests ran in their own sessions)."""
    db.session.expire_all()
    return db.session.get(model, ident)


def entries(subject_type: str, subject_id: int, action: str | None = None) -> list[HistoryEntry]:
    db.session.expire_all()
    stmt = select(HistoryEntry).where(HistoryEntry.subject_type == subject_type,
                                      HistoryEntry.subject_id == subject_id)
    if action:
        stmt = stmt.where(HistoryEntry.action == action)
    return list(db.session.scalars(stmt.order_by(HistoryEntry.id)))


def read_xlsx(response) -> list[list[object]]:  # noqa: ANN001
    """The rows of a downloaded workbook, after checking no text cell can start a formula."""
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(response.get_data()))
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    for row in rows:
        for cell in row:
            if isinstance(cell, str):
                assert not cell.startswith(FORMULA_STARTS), cell
    return rows

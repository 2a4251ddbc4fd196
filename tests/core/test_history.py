"""The one audit trail: fixed label tables, and `record_many` for work on many rows at once."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import clock, history
from app.db import db
from app.history import HistoryEntry
from tests.factories import make_store

APP = Path(__file__).resolve().parents[2] / "app"
# The functions that take a history action as their second positional argument.
RECORDERS = {"record", "record_many", "_history"}


def _recorded_actions() -> set[tuple[str, str]]:
    """(file, action) for every literal action the code passes to a history writer."""
    found = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            action = node.args[1]
            if name in RECORDERS and isinstance(action, ast.Constant) and isinstance(action.value, str):
                found.add((str(path.relative_to(APP)), action.value))
    return found


def test_every_action_the_code_records_has_a_label():
    recorded = _recorded_actions()
    assert len(recorded) > 30  # the scan finds the writers
    missing = sorted((f, a) for f, a in recorded if a not in history.ACTION_LABELS)
    assert missing == []


def test_the_label_tables_are_fixed_not_filled_at_import():
    with pytest.raises(TypeError):
        history.ACTION_LABELS["new"] = "新"  # type: ignore[index]
    with pytest.raises(TypeError):
        history.FIELD_LABELS["new"] = "新"  # type: ignore[index]
    for path in APP.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "LABELS.update(" not in text and "LABELS.setdefault(" not in text, path


def test_record_many_writes_one_entry_per_row_with_the_actor_in_one_statement(ctx, count_queries):
    clock.freeze(datetime(2026, 7, 1, 2, tzinfo=UTC))
    store = make_store()
    db.session.commit()
    actor = history.Actor(None, "排程", store.id, None, "10.0.0.1")
    count_queries.clear()
    written = history.record_many("tickets", "expired", [
        {"subject_id": 1, "store_id": store.id},
        {"subject_id": 2, "store_id": store.id, "reason": "另一個原因", "to_status": "expired"},
    ], actor=actor, from_status="unused", to_status="unused_escrow_expired", reason="期限已過")
    assert written == 2
    assert len([s for s in count_queries if s.lstrip().upper().startswith("INSERT")]) == 1
    db.session.commit()
    first, second = db.session.scalars(db.select(HistoryEntry).order_by(HistoryEntry.subject_id))
    assert (first.action, first.actor_label, first.actor_store_id, first.ip) == ("expired", "排程", store.id,
                                                                                 "10.0.0.1")
    assert (first.from_status, first.to_status, first.reason) == ("unused", "unused_escrow_expired", "期限已過")
    assert (second.to_status, second.reason) == ("expired", "另一個原因")
    assert first.at == clock.now() and history.action_label(first.action) == "逾期"


def test_record_many_of_nothing_writes_nothing(ctx, count_queries):
    count_queries.clear()
    assert history.record_many("tickets", "expired", []) == 0
    assert count_queries == []

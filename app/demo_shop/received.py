"""The notices the sample shop received at its ReturnURL: an append-only JSON-lines file (one
notice a line: when, whether its CheckMacValue verified, its fields).

A file rather than a table: the shop plays the merchant's own system, which keeps no ectix
table; rather than a list in memory: the debug server restarts on every code change, and the
newcomer should still see the notice that came while it did. Bounded: a notice keeps at most
MAX_FIELDS fields of at most MAX_VALUE characters, and the page reads the last SHOWN lines.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

MAX_FIELDS = 80
MAX_NAME = 40
MAX_VALUE = 300
SHOWN = 50
_lock = threading.Lock()


def _bounded(fields: Mapping[str, str]) -> dict[str, str]:
    return {name[:MAX_NAME]: value[:MAX_VALUE]
            for name, value in list(fields.items())[:MAX_FIELDS]}


def append(path: str | Path, fields: Mapping[str, str], *, verified: bool, at: datetime) -> None:
    line = json.dumps({"received_at": at.isoformat(), "verified": verified,
                       "fields": _bounded(fields)}, ensure_ascii=False)
    target = Path(path)
    with _lock:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def latest(path: str | Path, limit: int = SHOWN) -> list[dict]:
    """The last `limit` notices, newest first (a line that is not a notice is skipped)."""
    target = Path(path)
    if not target.exists():
        return []
    with _lock, target.open(encoding="utf-8", errors="replace") as lines:
        last = deque(lines, maxlen=limit)
    notices = []
    for line in reversed(last):
        try:
            notice = json.loads(line)
            notice["received_at"] = datetime.fromisoformat(notice["received_at"])
            if isinstance(notice.get("fields"), dict):
                notices.append(notice)
        except (ValueError, KeyError, TypeError):
            continue
    return notices

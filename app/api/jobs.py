"""Job entry points of the API: the daily pruning of idempotency keys."""

from __future__ import annotations

from datetime import datetime

from app.api import idempotency
from app.db import db


def prune_idempotency_keys(slot: str) -> int:
    """Delete keys older than 24 hours before the slot. Idempotent."""
    deleted = idempotency.forget_before(datetime.fromisoformat(slot) - idempotency.KEPT)
    db.session.commit()
    return deleted

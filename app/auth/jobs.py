"""Recurring housekeeping for accounts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from app.auth.models import LoginEvent
from app.db import db
from app.ratelimit import prune_counters

LOGIN_HISTORY_KEPT = timedelta(days=365)


def prune_login_events(slot: str) -> int:
    """Delete login history older than a year before the slot, and the attempt counters whose
    window has ended (database counters only; Redis expires its own). Idempotent."""
    cutoff = datetime.fromisoformat(slot) - LOGIN_HISTORY_KEPT
    deleted = db.session.execute(delete(LoginEvent).where(LoginEvent.at < cutoff)).rowcount
    prune_counters()
    db.session.commit()
    return deleted

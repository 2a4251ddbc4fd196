"""Recurring job entry for the nightly bank escrow sync (app.schedule: "escrow_sync")."""

from __future__ import annotations

from datetime import datetime

from app import clock
from app.escrow.models import SyncRunStatus
from app.escrow.sync import SyncFailed, sync_night


def nightly_sync(slot: str) -> int:
    """Sync the night of the slot's Taipei date (01:00: what happened before its 00:00).

    Returns the run's id. A failed run raises, so the scheduled run is recorded as failed too;
    a night another worker already has is left to it.
    """
    day = clock.business_day(datetime.fromisoformat(slot))
    outcome = sync_night(day, trigger="schedule")
    if outcome.ran and outcome.run.status is SyncRunStatus.FAILED:
        raise SyncFailed(f"價金保管同步 #{outcome.run.id} 失敗：{outcome.run.error}")
    return outcome.run.id

"""Job entry points of the ticket core: they take a slot or ids, call a service, and commit."""

from __future__ import annotations

from datetime import datetime

from app.db import db
from app.tickets import expiry


def expire_tickets(slot: str) -> int:
    """The daily expiry as of the slot (00:05 Taipei): every unused ticket past its end date,
    committed batch by batch so a crash keeps what was done; the number of tickets changed."""
    at = datetime.fromisoformat(slot)
    total, last_id = 0, 0
    while True:
        moved, last = expiry.expire_batch(at, last_id)
        db.session.commit()
        if last is None:
            return total
        total, last_id = total + moved, last

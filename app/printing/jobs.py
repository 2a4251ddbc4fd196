"""The daily 21:00 job of paper printing (app.schedule): 票券多次列印提醒."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.db import db
from app.printing import queries, reminders, rules
from app.stores.models import Store


def send_multi_print_reminders(slot: str) -> int:
    """E-mail each store's finance contacts the tickets printed more than once in the window
    ending at the slot's 21:00 (Taipei). Safe to run twice. Returns how many stores were told."""
    window = rules.reminder_window(datetime.fromisoformat(slot))
    found = queries.multi_printed(window)
    told = 0
    if found:
        stores = db.session.scalars(select(Store).where(Store.id.in_(list(found))))
        for store in stores:
            if reminders.send_reminder(store, window, found[store.id]):
                told += 1
    db.session.commit()
    return told

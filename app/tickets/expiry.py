"""The daily expiry job (domain §6): an unused ticket past its end date — the escrow end of a
pickup voucher, the validity end of a gift voucher, both through 23:59:59 Taipei — becomes
`unused_escrow_expired` (pickup: its price is released to the merchant, ledger ESCROW_EXPIRED)
or `expired` (gift).

Screens already show the expiry before the job writes it (`lifecycle.effective_status`); the
job decides with the same `lifecycle.expire`, so both always agree. It works in batches, one
compare-and-set UPDATE per batch (`… WHERE id IN (…) AND status = 'unused'`) with the history
and ledger rows of the tickets it moved in the same transaction; it takes everything past its
end date, so one run catches up any number of missed days, and a second run finds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from app import clock, history
from app.db import db
from app.escrow.models import LedgerEntry, LedgerKind
from app.tickets import lifecycle
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S

BATCH = 1000


REASONS = {S.UNUSED_ESCROW_EXPIRED: "價金保管期限已過（{end:%Y/%m/%d}）",
           S.EXPIRED: "使用期限已過（{end:%Y/%m/%d}）"}


def _facts(row) -> lifecycle.Facts:  # noqa: ANN001
    return lifecycle.Facts(status=row.status, kind=row.kind.value, face_value=row.face_value,
                           expires_on=row.expires_on, valid_from=row.valid_from)


def expire_tickets(slot: str) -> int:
    """Write the expiry of every unused ticket past its end date as of the slot; the number
    of tickets changed. Commits each batch."""
    at = datetime.fromisoformat(slot)
    today = clock.business_day(at)
    total = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(Ticket.id, Ticket.store_id, Ticket.status, Ticket.kind, Ticket.face_value,
                   Ticket.expires_on, Ticket.valid_from)
            .where(Ticket.status == S.UNUSED, Ticket.expires_on < today, Ticket.id > last_id)
            .order_by(Ticket.id).limit(BATCH).execution_options(unscoped=True)).all()
        if not rows:
            break
        last_id = rows[-1].id
        total += _expire_batch(rows, at)
        db.session.commit()
    db.session.commit()
    return total


def _expire_batch(rows, at: datetime) -> int:  # noqa: ANN001
    by_target: dict[S, list] = {}
    for row in rows:
        decision = lifecycle.expire(_facts(row), at)
        if isinstance(decision, lifecycle.Move):
            by_target.setdefault(decision.to, []).append(row)
    now = clock.now()
    moved_total = 0
    for to, targets in by_target.items():
        by_id = {r.id: r for r in targets}
        moved = list(db.session.scalars(
            update(Ticket).where(Ticket.id.in_(list(by_id)), Ticket.status == S.UNUSED)
            .values(status=to, status_changed_at=now).returning(Ticket.id)
            .execution_options(synchronize_session=False, unscoped=True)))
        if not moved:
            continue
        moved_total += len(moved)
        history.record_many(Ticket.__tablename__, "expired", (
            {"subject_id": i, "store_id": by_id[i].store_id,
             "reason": REASONS[to].format(end=by_id[i].expires_on)} for i in moved),
            from_status=S.UNUSED.value, to_status=to.value)
        if to is S.UNUSED_ESCROW_EXPIRED:
            db.session.execute(insert(LedgerEntry).values([
                {"ticket_id": i, "store_id": by_id[i].store_id, "kind": LedgerKind.ESCROW_EXPIRED,
                 "amount": by_id[i].face_value, "day": by_id[i].expires_on + timedelta(days=1),
                 "instruction_id": None, "created_at": now} for i in moved]))
    return moved_total

"""The daily expiry (docs/tickets.md): an unused ticket past its end date — the escrow end of a
pickup voucher, the validity end of a gift voucher, both through 23:59:59 Taipei — becomes
`unused_escrow_expired` (pickup: its price is released to the merchant, which the escrow ledger
records as an after-move reaction) or `expired` (gift).

Screens already show the expiry before the job writes it (`lifecycle.effective_status`); the
job decides with the same `lifecycle.expire`, so both always agree. It works in batches, one
compare-and-set UPDATE per batch (`… WHERE id IN (…) AND status = 'unused'`) with the history of
the tickets it moved in the same transaction; it takes everything past its end date, so one run
catches up any number of missed days, and a second run finds nothing. The job entry point
(`app.tickets.jobs.expire_tickets`) commits each batch; this module never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app import clock, history
from app.db import db
from app.tickets import lifecycle, reactions
from app.tickets.lifecycle import Action, Facts
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S

BATCH = 1000

REASONS = {S.UNUSED_ESCROW_EXPIRED: "價金保管期限已過（{end:%Y/%m/%d}）",
           S.EXPIRED: "使用期限已過（{end:%Y/%m/%d}）"}


def expire_batch(at: datetime, after_id: int = 0) -> tuple[int, int | None]:
    """Expire the next batch of unused tickets past their end date as of `at`, with ids above
    `after_id`: (tickets changed, the last id read — None when there was nothing left)."""
    today = clock.business_day(at)
    rows = db.session.execute(
        select(Ticket.id, Ticket.store_id, Ticket.status, Ticket.kind, Ticket.face_value,
               Ticket.expires_on, Ticket.valid_from)
        .where(Ticket.status == S.UNUSED, Ticket.expires_on < today, Ticket.id > after_id)
        .order_by(Ticket.id).limit(BATCH).execution_options(unscoped=True)).all()
    if not rows:
        return 0, None
    return _expire(rows, at), rows[-1].id


def _expire(rows, at: datetime) -> int:  # noqa: ANN001
    by_target: dict[S, list] = {}
    for row in rows:
        decision = lifecycle.expire(Facts.of(row), at)
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
        reactions.bulk_moved(Action.EXPIRE, S.UNUSED, to, [
            reactions.MovedRow(i, by_id[i].store_id, by_id[i].face_value, by_id[i].expires_on)
            for i in moved])
    return moved_total

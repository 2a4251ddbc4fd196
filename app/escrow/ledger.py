"""Ledger entries written as tickets move, without the bank: the price of a pickup voucher whose
escrow ended unused is released to the merchant (價金保管逾期, `ESCROW_EXPIRED`).

That happens in two ways, and both land here as after-move reactions of the ticket core:
- the daily expiry job moves unused tickets past their escrow end to 未使用且價金保管逾期 (a bulk
  move);
- a clerk redeems or returns an unused ticket already past its escrow end before that job ran
  (未使用 → 逾期兌回 / 已退貨且價金保管逾期): the escrow ended all the same, so the entry is
  written then, for the day after the escrow end, exactly as the job would have.
A ticket moves out of 未使用 once, so each gets the entry once; a cancelled redemption or return
goes back to 未使用且價金保管逾期, which neither path touches again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import insert

from app import clock
from app.db import db
from app.escrow.models import LedgerEntry, LedgerKind
from app.tickets import reactions
from app.tickets.lifecycle import Action
from app.tickets.status import TicketStatus as S

PAST_ESCROW_END = frozenset({S.UNUSED_ESCROW_EXPIRED, S.USED_AFTER_EXPIRY, S.RETURNED_ESCROW_EXPIRED})


def _escrow_expired(rows: Sequence[reactions.MovedRow]) -> None:
    now = clock.now()
    db.session.execute(insert(LedgerEntry), [
        {"ticket_id": r.id, "store_id": r.store_id, "kind": LedgerKind.ESCROW_EXPIRED,
         "amount": r.face_value, "day": r.expires_on + timedelta(days=1), "instruction_id": None,
         "created_at": now} for r in rows])


@reactions.after_move
def _moved_past_escrow_end(moved: reactions.Moved) -> None:
    if moved.seen is S.UNUSED and moved.to in PAST_ESCROW_END:
        t = moved.ticket
        _escrow_expired([reactions.MovedRow(t.id, t.store_id, t.face_value, t.expires_on)])


@reactions.after_bulk_move
def _expired(action: Action, seen: S, to: S, rows: Sequence[reactions.MovedRow]) -> None:
    if seen is S.UNUSED and to in PAST_ESCROW_END:
        _escrow_expired(rows)

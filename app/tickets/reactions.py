"""After-move reactions: how the features built on tickets hear that a ticket changed status,
inside the same transaction, without the ticket core importing them.

A feature registers a function at import time (`@reactions.after_move`); the ticket core calls
every registered function after its compare-and-set has won, with the ticket already in its new
state. Transfers take a returned ticket back, return applications close on a return, the escrow
ledger records a price released at escrow end. A reaction runs in the caller's transaction and
never commits; if it raises, the whole move is rolled back with it.

Single moves (a clerk's action) pass the ticket; bulk moves (the daily expiry job) pass plain
rows, so a thousand tickets are one call, not a thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from app.stores.models import Store
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket
from app.tickets.plain import TicketRow
from app.tickets.status import TicketStatus


@dataclass(frozen=True)
class Moved:
    """One ticket moved by `action` from `seen` to `to`, by `actor_id` (None: the system), for
    `acting_store` (the acting store, only read: a reaction needing the ticket's store finds it
    there without a statement when it is the same)."""

    ticket: Ticket | TicketRow  # a plain row only for a redemption (app.tickets.plain)
    action: Action
    seen: TicketStatus
    to: TicketStatus
    actor_id: int | None
    acting_store: Store | None = None


@dataclass(frozen=True)
class MovedRow:
    """A ticket of a bulk move, as the job read it."""

    id: int
    store_id: int
    face_value: int
    expires_on: date


SingleReaction = Callable[[Moved], None]
BulkReaction = Callable[[Action, TicketStatus, TicketStatus, Sequence[MovedRow]], None]

_single: list[SingleReaction] = []
_bulk: list[BulkReaction] = []


def after_move(reaction: SingleReaction) -> SingleReaction:
    """Register `reaction` for every single move (a decorator)."""
    if reaction not in _single:
        _single.append(reaction)
    return reaction


def after_bulk_move(reaction: BulkReaction) -> BulkReaction:
    """Register `reaction` for every bulk move (a decorator)."""
    if reaction not in _bulk:
        _bulk.append(reaction)
    return reaction


def registered() -> tuple[tuple[SingleReaction, ...], tuple[BulkReaction, ...]]:
    return tuple(_single), tuple(_bulk)


def moved(event: Moved) -> None:
    for reaction in _single:
        reaction(event)


def bulk_moved(action: Action, seen: TicketStatus, to: TicketStatus,
               rows: Sequence[MovedRow]) -> None:
    if rows:
        for reaction in _bulk:
            reaction(action, seen, to, rows)

"""批次關帳 and the note (備註): work of the back-office pages on card transactions that the
state machine does not hold. They flush, never commit.

A batch close runs `services.perform(C)` on each transaction in turn; a refusal (closed already,
past the close limit, moved meanwhile) writes nothing (the decision refuses before the
compare-and-set, or the compare-and-set matched no row) and is reported with its reason, so
the others still close and none fails silently."""

from __future__ import annotations

from dataclasses import dataclass, field

from app import history
from app.checkout.models import CardTransaction
from app.credit import services
from app.credit.states import Action
from app.errors import DomainError, InvalidInput

NOTE_MAX = 500
NOTE_TOO_LONG = f"備註最多 {NOTE_MAX} 字"


@dataclass
class BatchResult:
    closed: list[CardTransaction] = field(default_factory=list)
    refused: list[tuple[CardTransaction, str]] = field(default_factory=list)


def close_many(txns: list[CardTransaction]) -> BatchResult:
    """Ask to close each transaction (要關帳); the ones refused, with the reason."""
    result = BatchResult()
    for txn in txns:
        try:
            services.perform(txn, Action.CLOSE)
        except DomainError as err:
            result.refused.append((txn, err.message))
        else:
            result.closed.append(txn)
    return result


def set_note(txn: CardTransaction, note: str) -> bool:
    """Write the transaction's note (備註), its change in the history; False when unchanged."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(NOTE_TOO_LONG, fields={"note": NOTE_TOO_LONG})
    return history.change(txn, "remark_changed", {"note": note})

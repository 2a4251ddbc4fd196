"""What the holder of a confirmed link may do: transfer (轉贈) tickets, re-send a transfer's link
to its recipient (重新發送), apply for a return (申請退貨).

Each checks what the wallet offers against the link's own tickets (an id from the form that is
not one of them is "not found"), then calls the owning service (app.transfers,
app.return_applications), which locks and compare-and-sets. They flush, never commit
(`check_transfer`, a dry run, rolls back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app import history, ratelimit
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.ratelimit import Rule
from app.return_applications import services as return_applications
from app.return_applications.models import ReturnApplication
from app.tickets.models import Ticket
from app.transfers import services as transfers
from app.transfers.models import Transfer, TransferStatus
from app.wallet import rules
from app.wallet.links import Holding

PURCHASER_ONLY = "只有購買人的票券連結可以轉贈或申請退貨"
TRANSFER_ENDED = "此轉贈已取消，無法重新發送"
NO_CHANNEL = "受贈人沒有可發送的 Email 或手機，無法重新發送"
RESENDS_PER_TRANSFER = Rule("wallet-resend", "3/hour", "重新發送次數過多，請稍後再試")



@dataclass(frozen=True)
class Recipient:
    name: str
    mobile: str
    email: str

    @property
    def masked_name(self) -> str:
        return rules.mask_name(self.name)


def _purchaser_only(holding: Holding) -> None:
    if not holding.is_purchaser:
        raise DomainError(PURCHASER_ONLY, code="not_purchaser")


def _chosen(holding: Holding, ticket_ids: Sequence[int], *, nothing: str) -> list[Ticket]:
    ids = sorted(set(ticket_ids))
    if not ids:
        raise InvalidInput(nothing, fields={"tickets": nothing})
    mine = {t.id: t for t in holding.tickets}
    if any(i not in mine for i in ids):
        raise NotFound(nothing)  # not a ticket of this link: the same as an unknown id
    return [mine[i] for i in ids]


def check_transfer(holding: Holding, ticket_ids: Sequence[int], *, name: str | None,
                   mobile: str | None, email: str | None) -> Recipient:
    """The transfer's confirm step: to whom the chosen tickets would go, or why they cannot.

    The transfer service decides, not a copy of its rules: `give` runs and its transaction is
    rolled back, so the confirm step refuses exactly what the final step would refuse. Nothing
    is kept and nothing is sent (queued messages and jobs go with the rollback). The caller
    reloads what it shows afterwards."""
    _purchaser_only(holding)
    tickets = _chosen(holding, ticket_ids, nothing=transfers.NOTHING_CHOSEN)
    try:
        made = transfers.give(holding.order, [t.id for t in tickets], name=name, mobile=mobile,
                              email=email)
        return Recipient(made.recipient_name, made.recipient_mobile, made.recipient_email)
    finally:
        db.session.rollback()


def transfer(holding: Holding, ticket_ids: Sequence[int], *, name: str | None, mobile: str | None,
             email: str | None) -> Transfer:
    """轉贈: give the chosen tickets to the recipient; the recipient's notice is queued."""
    _purchaser_only(holding)
    tickets = _chosen(holding, ticket_ids, nothing=transfers.NOTHING_CHOSEN)
    return transfers.give(holding.order, [t.id for t in tickets], name=name, mobile=mobile,
                          email=email)


def resend(holding: Holding, transfer_id: int | None) -> tuple[Transfer, list[str]]:
    """重新發送: the recipient's link again, to the recipient only; the channels used."""
    _purchaser_only(holding)
    found = db.session.scalar(
        select(Transfer).where(Transfer.id == (transfer_id or 0),
                               Transfer.order_id == holding.order.id)
        .execution_options(unscoped=True))
    if found is None:
        raise NotFound(transfers.TRANSFER_NOT_FOUND)
    if found.status is not TransferStatus.ACTIVE:
        raise DomainError(TRANSFER_ENDED, code="transfer_ended")
    ratelimit.check(RESENDS_PER_TRANSFER, found.id)
    channels = transfers.notify_recipient(found, resend=True)
    if not channels:
        raise DomainError(NO_CHANNEL, code="no_channel")
    ratelimit.count_failure(RESENDS_PER_TRANSFER, found.id)  # every re-send counts
    history.record(found, "transfer_link_resent", reason="、".join(channels))
    return found, channels


def apply_return(holding: Holding, ticket_ids: Sequence[int],
                 reason: str | None) -> list[ReturnApplication]:
    """申請退貨 of some of the purchaser's own (not given away) tickets."""
    _purchaser_only(holding)
    if not return_applications.offered(holding.store):
        raise DomainError(return_applications.NOT_OFFERED, code="not_offered")
    tickets = _chosen(holding, ticket_ids, nothing=return_applications.NOTHING_CHOSEN)
    if any(holding.given_away(t) for t in tickets):
        raise DomainError(transfers.ALREADY_GIVEN, code="stale")
    order = holding.order
    return return_applications.apply(holding.store, order, tickets, reason=reason,
                                     name=order.purchaser_name, mobile=order.purchaser_mobile,
                                     email=order.purchaser_email)

"""The wallet page's content: one card per ticket (its face, its status in plain words, its QR
code while it is usable) and the issuer's header and footer.

Everything is loaded in a fixed number of queries, however many tickets the order has: the
faces (app.issuance.presentation), the pending return applications, and the images' uploads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import select

from app.db import db
from app.issuance.presentation import TicketFace, faces_for
from app.printing import qr
from app.return_applications.services import offered, pending_ticket_ids
from app.settings.services import settings_or_blank
from app.transfers.models import Transfer, TransferStatus
from app.transfers.services import transferable
from app.uploads.models import Upload
from app.uploads.views import url_for_upload
from app.wallet import rules
from app.wallet.links import Holding

QR_SIZE_PX = 220


@dataclass(frozen=True)
class Card:
    face: TicketFace
    shown: rules.Shown
    return_pending: bool
    image_url: str | None
    qr_svg: Markup | None  # only while the code is worth showing
    transfer: Transfer | None = None  # purchaser's link: the transfer holding the ticket

    @property
    def ticket_id(self) -> int:
        return self.face.ticket_id

    @property
    def recipient(self) -> str:
        return rules.mask_name(self.transfer.recipient_name) if self.transfer else ""


@dataclass(frozen=True)
class Issuer:
    name: str
    cs_phone: str
    cs_email: str
    line_url: str
    facebook_url: str
    instagram_url: str
    logo_url: str | None
    banner_url: str | None

    @property
    def tel(self) -> str:
        """The customer-service phone for a tel: link: digits, `+`, and `,` (a pause) for `#`."""
        return re.sub(r"[^\d+,]", "", self.cs_phone.replace("#", ","))


@dataclass(frozen=True)
class GivenTransfer:
    """A transfer of the purchaser's tickets, for 已轉贈 and 重新發送."""

    transfer: Transfer
    recipient: str  # masked
    tickets: int

    @property
    def active(self) -> bool:
        return self.transfer.status is TransferStatus.ACTIVE


@dataclass(frozen=True)
class Wallet:
    issuer: Issuer
    cards: list[Card]
    returns_offered: bool
    given: list[GivenTransfer]

    @property
    def transferable(self) -> list[Card]:
        return [c for c in self.cards if c.shown.may_transfer]

    @property
    def returnable(self) -> list[Card]:
        return [c for c in self.cards if c.shown.may_apply_return]


def _uploads(ids: set[int | None]) -> dict[int, str | None]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.scalars(select(Upload).where(Upload.id.in_(wanted))
                              .execution_options(unscoped=True))
    return {u.id: url_for_upload(u) for u in rows}


def issuer_of(holding: Holding) -> Issuer:
    """The issuer's name, customer service and images (the entry page shows these alone)."""
    s = settings_or_blank(holding.store)
    urls = _uploads({s.logo_upload_id, s.banner_upload_id})
    return Issuer(holding.store.name, s.cs_phone, s.cs_email, s.line_url, s.facebook_url,
                  s.instagram_url, urls.get(s.logo_upload_id or 0), urls.get(s.banner_upload_id or 0))


def wallet_of(holding: Holding) -> Wallet:
    faces = faces_for(holding.tickets)
    tickets = {t.id: t for t in holding.tickets}
    pending = pending_ticket_ids(list(tickets))
    s = settings_or_blank(holding.store)
    urls = _uploads({s.logo_upload_id, s.banner_upload_id} | {f.image_upload_id for f in faces})
    returns_offered = holding.is_purchaser and offered(holding.store)
    cards = []
    for face in faces:
        ticket = tickets[face.ticket_id]
        given = holding.given_away(ticket)
        shown = rules.shown(face.status, usable=face.usable, given_away=given,
                            transferable=transferable(ticket, holding.order),
                            return_pending=face.ticket_id in pending, purchaser=holding.is_purchaser,
                            returns_offered=returns_offered)
        cards.append(Card(
            face=face, shown=shown, return_pending=face.ticket_id in pending,
            image_url=urls.get(face.image_upload_id or 0),
            qr_svg=qr.svg(face.code, size_px=QR_SIZE_PX, label=f"核銷代碼 {face.code_display}")
            if shown.show_code else None,
            transfer=holding.transfers.get(ticket.transfer_id or 0) if given else None))
    given_transfers = []
    for tr in holding.transfers.values():
        given_transfers.append(GivenTransfer(tr, rules.mask_name(tr.recipient_name), tr.ticket_count))
    issuer = Issuer(holding.store.name, s.cs_phone, s.cs_email, s.line_url, s.facebook_url,
                    s.instagram_url, urls.get(s.logo_upload_id or 0), urls.get(s.banner_upload_id or 0))
    return Wallet(issuer, cards, returns_offered, given_transfers)

"""What a ticket shows its holder: the same facts on the wallet page, the paper ticket PDF and
the convenience-store kiosk page (docs/consumers.md), gathered in one place so they never differ.

`faces_for(tickets)` loads each store's settings, each batch's rights statement and each
product once, however many tickets (a 1000-ticket print must not make 3000 queries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app import clock
from app.db import db
from app.issuance.models import Batch
from app.products.models import Product, ProductKind
from app.settings.services import settings_or_blank
from app.stores.models import Store
from app.tickets.codes import display_code
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus


@dataclass(frozen=True)
class TicketFace:
    ticket_id: int
    serial: str
    code: str  # the redemption code as stored (what the QR code encodes)
    code_display: str  # grouped for reading aloud / typing
    product_name: str
    description: str
    usage_instructions: str
    is_pickup: bool
    kind_label: str  # 提貨券 / 贈品券
    face_value: int
    status: TicketStatus
    status_label: str
    usable: bool  # may be redeemed now (unused, and past its start date if deferred)
    valid_from: date | None  # deferred electronic tickets
    valid_until: date  # escrow end (pickup) or validity end (gift)
    issuer_name: str
    cs_phone: str
    cs_email: str
    line_url: str
    facebook_url: str
    instagram_url: str
    rights_statement: str  # pickup vouchers only; empty for gift vouchers
    image_upload_id: int | None
    logo_upload_id: int | None
    banner_upload_id: int | None

    @property
    def validity_text(self) -> str:
        end = f"{self.valid_until:%Y/%m/%d}"
        if self.valid_from:
            return f"{self.valid_from:%Y/%m/%d} 至 {end}"
        return f"至 {end} 止"

    @property
    def validity_label(self) -> str:
        return "價金保管迄日" if self.is_pickup else "使用期限"


def _by_id(model, ids: set[int]) -> dict:  # noqa: ANN001 - any model with an integer id
    if not ids:
        return {}
    rows = db.session.scalars(select(model).where(model.id.in_(ids)).execution_options(unscoped=True))
    return {row.id: row for row in rows}


def faces_for(tickets: Sequence[Ticket], *, today: date | None = None) -> list[TicketFace]:
    """One face per ticket, in the order given."""
    today = today or clock.business_day()
    products = _by_id(Product, {t.product_id for t in tickets})
    stores = _by_id(Store, {t.store_id for t in tickets})
    batches = {
        batch_id: statement for batch_id, statement in db.session.execute(
            select(Batch.id, Batch.rights_statement)
            .where(Batch.id.in_({t.batch_id for t in tickets}))
            .execution_options(unscoped=True))
    } if tickets else {}
    settings = {store_id: settings_or_blank(store) for store_id, store in stores.items()}
    faces = []
    for t in tickets:
        product = products[t.product_id]
        store = stores[t.store_id]
        s = settings[t.store_id]
        pickup = t.kind is ProductKind.PICKUP
        status = t.current_status
        usable = (status in (TicketStatus.UNUSED, TicketStatus.UNUSED_ESCROW_EXPIRED)
                  and (t.valid_from is None or t.valid_from <= today))
        faces.append(TicketFace(
            ticket_id=t.id, serial=t.serial, code=t.code, code_display=display_code(t.code),
            product_name=product.name, description=product.description,
            usage_instructions=product.usage_instructions, is_pickup=pickup,
            kind_label="提貨券" if pickup else "贈品券", face_value=t.face_value, status=status,
            status_label=status.label, usable=usable, valid_from=t.valid_from,
            valid_until=t.expires_on, issuer_name=store.name, cs_phone=s.cs_phone,
            cs_email=s.cs_email, line_url=s.line_url, facebook_url=s.facebook_url,
            instagram_url=s.instagram_url,
            rights_statement=(batches.get(t.batch_id) or s.rights_statement) if pickup else "",
            image_upload_id=product.image_upload_id, logo_upload_id=s.logo_upload_id,
            banner_upload_id=s.banner_upload_id,
        ))
    return faces

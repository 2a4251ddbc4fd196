"""Tickets for lifecycle tests, issued through the real issuance service."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.issuance import services as issuance
from app.products.models import Product, ProductKind
from app.stores.models import DeliveryMethod
from app.tickets.models import Ticket
from tests.issuance.helpers import rows

_n = iter(range(1, 1_000_000))


def issue(owner, store, product: Product, quantity: int = 1,
          method: DeliveryMethod = DeliveryMethod.IMMEDIATE) -> list[Ticket]:
    n = next(_n)
    batch = issuance.prepare_batch(owner, store, import_no=f"T{n}", method=method,
                                   kind=ProductKind(product.kind.value),
                                   rows=rows(product, quantity=quantity, prefix=f"T{n}X"))
    db.session.commit()
    issuance.confirm_batch(owner, store, batch)
    db.session.commit()
    db.session.expire_all()
    return list(db.session.scalars(select(Ticket).where(Ticket.batch_id == batch.id)))

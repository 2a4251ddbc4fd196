"""Return applications for the tests: a store that offers them, an order, an application."""

from __future__ import annotations

from app.db import db
from app.return_applications import services
from app.return_applications.models import ReturnApplication
from app.settings.services import settings_for
from app.stores.models import Store
from app.tickets.models import Order, Ticket

APPLICANT = {"name": "王小明", "mobile": "0912345678", "email": "old@example.com"}


def offer_returns(store: Store, *, finance: str = "finance@shop.example; boss@shop.example",
                  cs_email: str = "service@shop.example") -> None:
    store.finance_emails = finance
    settings = settings_for(store)
    settings.online_return_application = True
    settings.cs_email = cs_email
    db.session.commit()


def apply(store: Store, order: Order, tickets: list[Ticket],
          reason: str = "買錯商品了") -> list[ReturnApplication]:
    made = services.apply(store, order, tickets, reason=reason, **APPLICANT)
    db.session.commit()
    ids = [a.id for a in made]
    db.session.expire_all()
    return [db.session.get(ReturnApplication, i) for i in ids]

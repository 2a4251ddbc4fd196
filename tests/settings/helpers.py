"""Helpers for the settings tests: a store with its main account, images, saved settings."""

from __future__ import annotations

import io

from PIL import Image

from app.db import db
from app.settings import services
from app.stores.models import Store
from tests.factories import make_account, make_store

RIGHTS = "本券為提貨券，價金已依法交付信託。\n未使用之票券可於價金保管期間內申請退貨。"
TICKET_PAGE = {
    "cs_phone": "(02) 2655-1775 #123",
    "cs_email": "service@shop.example.tw",
    "line_url": "https://line.me/R/ti/p/@shop",
    "facebook_url": "https://www.facebook.com/shop",
    "instagram_url": "http://instagram.com/shop",
    "rights_statement": RIGHTS,
}


def store_with_owner(username: str, *, sms_enabled: bool = True,
                     issuance_active: bool = True, name: str | None = None) -> Store:
    store = make_store(name, sms_enabled=sms_enabled, issuance_active=issuance_active)
    store.responsible_person = "王大明"
    store.address = "台北市南港區經貿二路 1 號"
    store.website = "https://shop.example.tw"
    make_account(store, username=username)
    db.session.commit()
    return store


def png(size: tuple[int, int] = (40, 20), color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def mark_complete(store: Store) -> None:
    """Give `store` saved basic settings and ticket-page information (no request needed)."""
    from app import clock

    settings = services.settings_for(store)
    settings.basic_completed_at = clock.now()
    settings.ticket_page_completed_at = clock.now()
    settings.cs_phone = TICKET_PAGE["cs_phone"]
    settings.rights_statement = RIGHTS
    db.session.commit()

"""Who may see and change the settings: rights, sub-accounts and tenancy."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.settings.models import StoreSettings
from app.stores.models import RedemptionMode
from tests.factories import login, make_account, make_store, make_sub
from tests.settings.helpers import TICKET_PAGE, png, store_with_owner


def _settings(store):
    db.session.expire_all()
    return db.session.scalar(select(StoreSettings).where(StoreSettings.store_id == store.id))


def test_view_only_sub_account_sees_values_without_buttons_and_is_refused(client, ctx):
    store = store_with_owner("owner51")
    make_sub(store, username="clerk51", grants={Function.OPERATION_SETTINGS: Level.VIEW})
    db.session.commit()
    login(client, "clerk51")
    page = client.get("/settings/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "基本設定" in html and "票券頁面資訊" in html
    assert ">設定</a>" not in html
    assert client.get("/settings/history").status_code == 200
    assert client.get("/settings/basic").status_code == 403
    assert client.get("/settings/ticket-page").status_code == 403
    assert client.post("/settings/basic", data={"sms_on": "y"}).status_code == 403
    body = dict(TICKET_PAGE) | {"logo": (io.BytesIO(png()), "logo.png")}
    response = client.post("/settings/ticket-page", data=body, content_type="multipart/form-data")
    assert response.status_code == 403
    assert _settings(store) is None
    assert db.session.scalar(select(HistoryEntry)) is None


def test_sub_account_with_modify_may_change(app, ctx):
    store = store_with_owner("owner52")
    make_sub(store, username="clerk52", grants={Function.OPERATION_SETTINGS: Level.MODIFY})
    db.session.commit()
    client = app.test_client()
    login(client, "clerk52")
    assert client.get("/settings/").get_data(as_text=True).count(">設定</a>") == 3  # three sections
    assert client.post("/settings/basic", data={"online_return_application": "y"}).status_code == 303
    assert _settings(store).online_return_application is True
    assert db.session.scalar(select(HistoryEntry)).actor_label == "clerk52"


@pytest.mark.parametrize("url", ["/settings/", "/settings/history", "/settings/basic",
                                 "/settings/ticket-page"])
def test_sub_account_without_the_function_is_refused(client, ctx, url):
    store = store_with_owner("owner53")
    make_sub(store, username="clerk53", grants={Function.PRODUCTS: Level.MODIFY})
    db.session.commit()
    login(client, "clerk53")
    assert client.get(url).status_code == 403


def test_anonymous_is_sent_to_login(client, ctx):
    response = client.get("/settings/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_installment_store_has_no_such_page(client, ctx):
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="owner54")
    db.session.commit()
    login(client, "owner54")
    assert client.get("/settings/").status_code == 403


def test_each_store_sees_and_changes_only_its_own_settings(app, ctx):
    shop_a = store_with_owner("ownera55", name="甲商店")
    shop_b = store_with_owner("ownerb55", name="乙商店")
    a, b = app.test_client(), app.test_client()
    login(a, "ownera55")
    login(b, "ownerb55")
    body = dict(TICKET_PAGE) | {"cs_phone": "02-1111-1111",
                                "logo": (io.BytesIO(png()), "logo.png")}
    assert a.post("/settings/ticket-page", data=body,
                  content_type="multipart/form-data").status_code == 303
    assert a.post("/settings/basic", data={"sms_on": "y"}).status_code == 303
    settings_a = _settings(shop_a)
    token = settings_a.logo.token

    page_b = b.get("/settings/").get_data(as_text=True)
    assert "乙商店" in page_b and "甲商店" not in page_b
    assert "02-1111-1111" not in page_b and token not in page_b
    assert "尚未設定" in page_b
    assert "02-1111-1111" not in b.get("/settings/history").get_data(as_text=True)
    assert "02-1111-1111" not in b.get("/settings/ticket-page").get_data(as_text=True)

    # B's save creates B's own row and leaves A's untouched.
    body_b = dict(TICKET_PAGE) | {"cs_phone": "03-2222-2222"}
    assert b.post("/settings/ticket-page", data=body_b,
                  content_type="multipart/form-data").status_code == 303
    assert _settings(shop_b).cs_phone == "03-2222-2222"
    assert _settings(shop_b).logo_upload_id is None
    assert _settings(shop_a).cs_phone == "02-1111-1111"
    assert _settings(shop_a).sms_on is True and _settings(shop_b).sms_on is False
    entries_b = db.session.scalars(select(HistoryEntry).where(HistoryEntry.store_id == shop_b.id)).all()
    assert [e.actor_label for e in entries_b] == ["ownerb55"]

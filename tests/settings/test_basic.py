"""基本設定: SMS switch (only where the contract enables SMS) and online return application."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.history import HistoryEntry
from app.settings import services
from app.settings.models import StoreSettings
from tests.factories import login
from tests.settings.helpers import store_with_owner


def _settings(store):
    db.session.expire_all()
    return db.session.scalar(select(StoreSettings).where(StoreSettings.store_id == store.id))


def test_page_before_anything_is_saved(client, ctx):
    store = store_with_owner("owner31")
    login(client, "owner31")
    response = client.get("/settings/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "操作設定管理" in html and "基本設定" in html and "票券頁面資訊" in html
    assert 'class="nav-link active" href="/settings/"' in html  # the tabs, this one active
    assert services.BASIC_MISSING in html  # issuance is blocked until both are saved
    assert html.count(">設定</a>") == 3  # basic, offline, ticket page
    assert "尚未設定" in html
    assert _settings(store) is None  # a GET writes nothing


def test_saving_basic_settings_completes_them_and_writes_history(client, ctx):
    store = store_with_owner("owner32")
    login(client, "owner32")
    form = client.get("/settings/basic")
    assert form.status_code == 200
    assert 'name="sms_on"' in form.get_data(as_text=True)
    response = client.post("/settings/basic", data={"sms_on": "y",
                                                    "online_return_application": "y"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/settings/")
    settings = _settings(store)
    assert settings.sms_on is True and settings.online_return_application is True
    assert settings.basic_completed_at is not None
    assert settings.ticket_page_completed_at is None
    assert services.sms_active(store) is True
    assert services.issuance_blocker(store) == services.TICKET_PAGE_MISSING
    entry = db.session.scalar(select(HistoryEntry))
    assert entry.action == "basic_settings_updated" and entry.actor_label == "owner32"
    assert entry.store_id == store.id and entry.subject_id == settings.id
    assert entry.changes["sms_on"] == [False, True]
    assert entry.changes["online_return_application"] == [False, True]
    assert entry.changes["basic_completed_at"][0] is None
    html = client.get("/settings/").get_data(as_text=True)
    assert "基本設定已儲存" in html
    assert services.TICKET_PAGE_MISSING in html


def test_turning_off_keeps_the_completion_and_unchanged_saves_write_nothing(client, ctx):
    store = store_with_owner("owner33")
    login(client, "owner33")
    client.post("/settings/basic", data={"sms_on": "y"})
    first = _settings(store).basic_completed_at
    assert client.post("/settings/basic", data={}).status_code == 303  # both off
    settings = _settings(store)
    assert settings.sms_on is False and settings.basic_completed_at == first
    assert client.post("/settings/basic", data={}).status_code == 303  # nothing changed
    entries = db.session.scalars(select(HistoryEntry).order_by(HistoryEntry.id)).all()
    assert [e.changes for e in entries][1] == {"sms_on": [True, False]}
    assert len(entries) == 2
    assert "基本設定未變更" in client.get("/settings/").get_data(as_text=True)


def test_first_save_with_both_off_still_completes(client, ctx):
    store = store_with_owner("owner34")
    login(client, "owner34")
    assert client.post("/settings/basic", data={}).status_code == 303
    assert _settings(store).basic_completed_at is not None
    assert db.session.scalar(select(HistoryEntry)).changes.keys() == {"basic_completed_at"}


def test_sms_not_enabled_by_contract_is_shown_and_refused(client, ctx):
    store = store_with_owner("owner35", sms_enabled=False)
    login(client, "owner35")
    page = client.get("/settings/").get_data(as_text=True)
    assert "並未開通此服務" in page
    form = client.get("/settings/basic").get_data(as_text=True)
    assert "並未開通此服務" in form
    assert 'name="sms_on"' not in form  # the switch cannot be turned on
    assert 'id="sms_on" disabled' in form
    # A forged POST that switches SMS on is refused and nothing is saved.
    response = client.post("/settings/basic", data={"sms_on": "y",
                                                    "online_return_application": "y"})
    assert response.status_code == 422
    assert services.SMS_REFUSED in response.get_data(as_text=True)
    assert _settings(store) is None
    assert db.session.scalar(select(HistoryEntry)) is None
    # Without SMS the rest saves normally.
    assert client.post("/settings/basic",
                       data={"online_return_application": "y"}).status_code == 303
    settings = _settings(store)
    assert settings.sms_on is False and settings.online_return_application is True
    assert services.sms_active(store) is False


def test_service_refuses_sms_without_contract(ctx):
    import pytest

    from app.auth.models import Account
    from app.errors import InvalidInput

    store = store_with_owner("owner36", sms_enabled=False)
    owner = db.session.scalar(select(Account).where(Account.username == "owner36"))
    with pytest.raises(InvalidInput) as caught:
        services.update_basic(owner, store, sms_on=True, online_return_application=False)
    assert caught.value.fields == {"sms_on": services.SMS_REFUSED}

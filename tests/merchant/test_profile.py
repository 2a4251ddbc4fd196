from sqlalchemy import select

from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.stores.models import Store
from tests.factories import login, make_account, make_store, make_sub


def _store_with_owner(username="owner11"):
    store = make_store("好吃餅舖")
    store.tax_id = "12345678"
    store.responsible_person = "王大明"
    store.address = "台北市南港區經貿二路 1 號"
    store.website = "https://shop.example.tw"
    store.finance_emails = "fin@example.tw"
    make_account(store, username=username)
    db.session.commit()
    return store


def test_profile_shows_the_operator_edited_data_read_only(client, ctx):
    store = _store_with_owner()
    login(client, "owner11")
    response = client.get("/vendor/profile")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (store.merchant_code, "好吃餅舖", "12345678", "王大明", "台北市南港區經貿二路 1 號",
                 "https://shop.example.tw", "如需調整，請聯繫所屬業務"):
        assert text in html
    for name in ("merchant_code", "tax_id", "responsible_person", "address", "website"):
        assert f'name="{name}"' not in html  # no inputs for operator-edited data
    assert 'value="fin@example.tw"' in html  # main account edits the contacts
    assert "帳務聯絡人" in html and "業務聯絡人" in html and "技術聯絡人" in html


def test_main_account_updates_contacts_with_history(client, ctx):
    store = _store_with_owner("owner12")
    login(client, "owner12")
    response = client.post("/vendor/profile", data={
        "finance_emails": " a@example.tw ; b@example.tw;; ",
        "sales_emails": "sales@example.tw",
        "technical_emails": "",
    })
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/vendor/profile")
    db.session.expire_all()
    fresh = db.session.get(Store, store.id)
    assert fresh.finance_emails == "a@example.tw;b@example.tw"
    assert fresh.sales_emails == "sales@example.tw"
    assert fresh.technical_emails == ""
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "contacts_updated"))
    assert entry.store_id == store.id and entry.actor_label == "owner12"
    assert entry.changes == {
        "finance_emails": ["fin@example.tw", "a@example.tw;b@example.tw"],
        "sales_emails": ["", "sales@example.tw"],
    }
    html = client.get("/vendor/profile").get_data(as_text=True)
    assert "聯絡人資訊已修改" in html
    assert "修改聯絡人" in html  # the history row's action label
    assert "a@example.tw;b@example.tw" in html


def test_a_bad_address_is_named_and_nothing_is_saved(client, ctx):
    store = _store_with_owner("owner13")
    login(client, "owner13")
    response = client.post("/vendor/profile", data={
        "finance_emails": "new@example.tw",
        "sales_emails": "ok@example.tw;not-an-email",
        "technical_emails": "t@example.tw，u@example.tw",
    })
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "「not-an-email」不是有效的電子信箱" in html
    assert "技術聯絡人" in html and "「t@example.tw，u@example.tw」" in html
    db.session.expire_all()
    fresh = db.session.get(Store, store.id)
    assert (fresh.finance_emails, fresh.sales_emails, fresh.technical_emails) == (
        "fin@example.tw", "", "")
    assert db.session.scalar(select(HistoryEntry)) is None


def test_unchanged_contacts_write_no_history(client, ctx):
    _store_with_owner("owner14")
    login(client, "owner14")
    response = client.post("/vendor/profile", data={"finance_emails": "fin@example.tw",
                                                    "sales_emails": "", "technical_emails": ""})
    assert response.status_code == 303
    assert db.session.scalar(select(HistoryEntry)) is None
    assert "聯絡人資訊未變更" in client.get("/vendor/profile").get_data(as_text=True)


def test_view_only_sub_account_sees_no_form_and_is_refused_on_post(client, ctx):
    store = _store_with_owner("owner15")
    make_sub(store, username="clerk15a", grants={Function.VENDOR_PROFILE: Level.VIEW})
    db.session.commit()
    login(client, "clerk15a")
    page = client.get("/vendor/profile")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "fin@example.tw" in html
    assert 'name="finance_emails"' not in html and ">修改</button>" not in html
    response = client.post("/vendor/profile", data={"finance_emails": "evil@example.tw",
                                                    "sales_emails": "", "technical_emails": ""})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Store, store.id).finance_emails == "fin@example.tw"


def test_sub_account_with_modify_may_edit(client, ctx):
    store = _store_with_owner("owner16")
    make_sub(store, username="clerk16a", grants={Function.VENDOR_PROFILE: Level.MODIFY})
    db.session.commit()
    login(client, "clerk16a")
    assert ">修改</button>" in client.get("/vendor/profile").get_data(as_text=True)
    response = client.post("/vendor/profile", data={"finance_emails": "x@example.tw",
                                                    "sales_emails": "", "technical_emails": ""})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Store, store.id).finance_emails == "x@example.tw"


def test_sub_account_without_the_function_gets_403(client, ctx):
    store = _store_with_owner("owner17")
    make_sub(store, username="clerk17a", grants={Function.LOGIN_HISTORY: Level.VIEW})
    db.session.commit()
    login(client, "clerk17a")
    assert client.get("/vendor/profile").status_code == 403
    assert client.get("/vendor/contract").status_code == 403


def test_post_without_csrf_is_refused(client, ctx):
    store = _store_with_owner("owner18")
    login(client, "owner18")
    response = client.post("/vendor/profile", data={"finance_emails": "x@example.tw"},
                           csrf=False)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Store, store.id).finance_emails == "fin@example.tw"

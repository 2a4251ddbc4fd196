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
    assert "廠商基本資料已修改" in html
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
    assert "廠商基本資料未變更" in client.get("/vendor/profile").get_data(as_text=True)


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


def _full_post(**overrides: str) -> dict[str, str]:
    data = {"finance_name": "陳帳務", "finance_phone": "(02)2345-6789#12",
            "finance_emails": "fin@example.tw", "sales_name": "林業務", "sales_phone": "0912-345-678",
            "sales_emails": "", "technical_name": "", "technical_phone": "", "technical_emails": "",
            "payout_notice": "off"}
    return data | overrides


def test_contact_names_and_phones_are_saved_with_history(client, ctx):
    store = _store_with_owner("owner17")
    login(client, "owner17")
    response = client.post("/vendor/profile", data=_full_post())
    assert response.status_code == 303
    db.session.expire_all()
    fresh = db.session.get(Store, store.id)
    assert (fresh.finance_name, fresh.finance_phone) == ("陳帳務", "02-23456789#12")
    assert (fresh.sales_name, fresh.sales_phone) == ("林業務", "0912345678")
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "contacts_updated"))
    assert entry.changes == {"finance_name": ["", "陳帳務"], "finance_phone": ["", "02-23456789#12"],
                             "sales_name": ["", "林業務"], "sales_phone": ["", "0912345678"]}
    html = client.get("/vendor/profile").get_data(as_text=True)
    assert 'value="02-23456789#12"' in html and 'value="林業務"' in html
    assert "帳務聯絡人電話" in html and "02-23456789#12" in html  # the history row too


def test_each_bad_field_gets_its_message_under_it_and_nothing_is_saved(client, ctx):
    store = _store_with_owner("owner18")
    login(client, "owner18")
    response = client.post("/vendor/profile", data=_full_post(
        finance_name="王" * 21, sales_phone="2345-6789", payout_notice="on"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    name_input = html.index('name="finance_name"')
    assert html.index("帳務聯絡人姓名至多 20 字", name_input) < html.index('name="finance_phone"')
    phone_input = html.index('name="sales_phone"')
    assert html.index("「2345-6789」不是有效的電話號碼", phone_input) < html.index('name="sales_emails"')
    assert 'id="sales_phone"' in html and 'is-invalid' in html[phone_input - 200:phone_input + 200]
    db.session.expire_all()
    fresh = db.session.get(Store, store.id)
    assert (fresh.finance_name, fresh.sales_phone, fresh.payout_notice) == ("", "", False)
    assert db.session.scalar(select(HistoryEntry)) is None


def test_the_payout_notice_setting_is_saved_with_its_own_history(client, ctx):
    store = _store_with_owner("owner19")
    login(client, "owner19")
    page = client.get("/vendor/profile").get_data(as_text=True)
    assert "收付款通知設定" in page and '<input checked class="form-check-input" id="payout_notice-1"' in page
    # the 修改 button is the last control of the form, after the notice setting
    assert page.index("收付款通知設定") < page.rindex(">修改</button>")
    response = client.post("/vendor/profile", data=_full_post(
        finance_name="", finance_phone="", sales_name="", sales_phone="", payout_notice="on"))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Store, store.id).payout_notice is True
    [entry] = db.session.scalars(select(HistoryEntry)).all()
    assert entry.action == "payout_notice_updated"
    assert entry.changes == {"payout_notice": [False, True]}
    html = client.get("/vendor/profile").get_data(as_text=True)
    assert "修改收付款通知設定" in html and "關閉 → 開啟" in html
    assert client.post("/vendor/profile", data=_full_post(payout_notice="maybe")).status_code == 422


def test_a_view_only_account_sees_names_phones_and_the_setting(client, ctx):
    store = _store_with_owner("owner20")
    store.finance_name, store.finance_phone, store.payout_notice = "陳帳務", "02-23456789", True
    make_sub(store, username="clerk20a", grants={Function.VENDOR_PROFILE: Level.VIEW})
    db.session.commit()
    login(client, "clerk20a")
    html = client.get("/vendor/profile").get_data(as_text=True)
    assert "陳帳務" in html and "02-23456789" in html
    assert 'data-testid="payout-notice-state">開啟<' in html
    assert 'name="payout_notice"' not in html

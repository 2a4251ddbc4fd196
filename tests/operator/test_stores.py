from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock, history
from app.auth.models import Account, AccountKind
from app.auth.passwords import verify_password
from app.db import db
from app.history import HistoryEntry
from app.stores.models import Contract, RedemptionMode, Store
from tests.factories import login, make_account, make_store, make_sub
from tests.operator.helpers import contract_form, new_store_form, operator_logged_in, store_form


def _counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count(Store.id))),
            db.session.scalar(select(func.count(Contract.id))),
            db.session.scalar(select(func.count(Account.id))))


def test_create_store_with_contract_and_main_account_then_log_in_as_it(app, client):
    # No `ctx` here: requests made inside one pushed app context share `g`, where Flask-Login
    # caches the user, so a second client would be served as the first one's account.
    clock.freeze(clock.taipei_datetime(2026, 3, 2, 10, 0))
    with app.app_context():
        operator_logged_in(client)
    page = client.get("/operator/stores/new")
    assert page.status_code == 200
    assert "商店代號" in page.get_data(as_text=True)

    response = client.post("/operator/stores/new", data=new_store_form())
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.merchant_code == "3100001"))
        assert response.headers["Location"] == f"/operator/stores/{store.id}"
        assert (store.name, store.tax_id, store.responsible_person) == (
            "新開商店", "12345675", "王大明")
        assert store.finance_emails == "finance@shop.example;boss@shop.example"
        assert store.technical_emails == "dev@shop.example"
        contract = store.current_contract
        assert contract is not None
        assert (contract.start_date, contract.end_date) == (date(2026, 1, 1), date(2026, 12, 31))
        assert contract.issuance_active and contract.sms_enabled
        assert contract.redemption_mode is RedemptionMode.REDEEM_AFTER_USE
        assert contract.enabled_methods == ["cvs:ibon", "electronic:immediate"]
        assert (contract.payout_delay_days, contract.escrow_bank) == (7, "示範信託銀行")
        main = db.session.scalar(select(Account).where(Account.username == "newmain01"))
        assert main.kind is AccountKind.MAIN and main.store_id == store.id
        assert main.password_hash != "Secret#1" and verify_password(main.password_hash, "Secret#1")

        assert [e.action for e in history.entries_for(store)] == ["created"]
        contract_entries = history.entries_for(contract)
        assert [e.action for e in contract_entries] == ["contract_created"]
        assert contract_entries[0].store_id == store.id
        assert contract_entries[0].changes["redemption_mode"] == [None, "redeem_after_use"]
        assert [e.action for e in history.entries_for(main)] == ["created"]

    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "newmain01" in detail and "新開商店" in detail and "新增合約" in detail

    merchant = app.test_client()
    login(merchant, "newmain01", "Secret#1")
    home = merchant.get("/home")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert "管理後台首頁" in html and "3100001 新開商店" in html
    assert "使用後核銷" in html and "已開通" in html


@pytest.mark.parametrize(("overrides", "field_message"), [
    ({"merchant_code": "12345"}, "商店代號必須為 7-10 位數字"),
    ({"merchant_code": "12345678901"}, "商店代號必須為 7-10 位數字"),
    ({"merchant_code": "31000ab"}, "商店代號必須為 7-10 位數字"),
    ({"tax_id": "1234567"}, "統一編號必須為 8 位數字"),
    ({"tax_id": "1234567A"}, "統一編號必須為 8 位數字"),
    ({"finance_emails": "ok@shop.example; not-an-email"}, "電子信箱格式錯誤：not-an-email"),
    ({"technical_emails": "a@b"}, "電子信箱格式錯誤：a@b"),
    ({"username": "abc"}, "管理者帳號必須為 6-20 位英文或數字"),
    ({"password": "onlyletters"}, "密碼必須為 6-20 位英文、數字或符號至少兩種之混合"),
    ({"end_date": "2025-12-31"}, "合約結束日不可早於開始日"),
    ({"payout_delay_days": "-1"}, "撥款天期不可小於 0"),
    ({"redemption_mode": "installment", "installment_period_days": "", "installment_period_count": "12"},
     "分期核銷須設定每期天數（大於 0）"),
    ({"redemption_mode": "installment", "installment_period_days": "0", "installment_period_count": "12"},
     "分期核銷須設定每期天數（大於 0）"),
    ({"redemption_mode": "installment", "installment_period_days": "30", "installment_period_count": ""},
     "分期核銷須設定期數（1 至 60 期）"),
    ({"redemption_mode": "installment", "installment_period_days": "30", "installment_period_count": "0"},
     "分期核銷須設定期數（1 至 60 期）"),
    ({"redemption_mode": "installment", "installment_period_days": "30", "installment_period_count": "61"},
     "分期核銷須設定期數（1 至 60 期）"),
    ({"website": "javascript:alert(1)"}, "商店網址必須以 http:// 或 https:// 開頭"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_created(client, ctx, overrides,
                                                                     field_message):
    operator_logged_in(client)
    before = _counts()
    response = client.post("/operator/stores/new", data=new_store_form(**overrides))
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)
    assert _counts() == before


def test_duplicate_merchant_code_and_username_are_refused(client, ctx):
    existing = make_store()
    make_account(existing, username="takenname1")
    db.session.commit()
    operator_logged_in(client)
    before = _counts()
    response = client.post("/operator/stores/new", data=new_store_form(
        merchant_code=existing.merchant_code, username="takenname1"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "此商店代號已存在" in html and "此帳號已被使用" in html
    assert _counts() == before
    assert db.session.scalar(select(func.count(HistoryEntry.id))) == 0


def test_installment_contract_keeps_its_settings(client, ctx):
    operator_logged_in(client)
    response = client.post("/operator/stores/new", data=new_store_form(
        redemption_mode="installment", installment_period_days="30", installment_period_count="12",
        escrow_type="信託"))
    assert response.status_code == 303
    contract = db.session.scalar(select(Contract))
    assert contract.redemption_mode is RedemptionMode.INSTALLMENT
    assert (contract.installment_period_days, contract.installment_period_count,
            contract.escrow_type) == (30, 12, "信託")


def test_a_redeem_after_use_contract_stores_no_installment_settings(client, ctx):
    operator_logged_in(client)
    response = client.post("/operator/stores/new", data=new_store_form(
        installment_period_days="30", installment_period_count="12", escrow_type="信託"))
    assert response.status_code == 303
    contract = db.session.scalar(select(Contract))
    assert (contract.installment_period_days, contract.installment_period_count,
            contract.escrow_type) == (None, None, "")


def test_store_list_searches_code_or_name_case_insensitively(client, ctx):
    make_store("Alpha Coffee")
    beta = make_store("Beta 書店")
    db.session.commit()
    operator_logged_in(client)
    html = client.get("/operator/stores", query_string={"q": "alpha"}).get_data(as_text=True)
    assert "Alpha Coffee" in html and "Beta 書店" not in html
    html = client.get("/operator/stores",
                      query_string={"q": beta.merchant_code[-3:]}).get_data(as_text=True)
    assert "Beta 書店" in html
    assert "Alpha Coffee" not in client.get("/operator/stores",
                                            query_string={"q": "%"}).get_data(as_text=True)


def test_store_list_shows_contract_and_account_count(client, ctx):
    store = make_store("計數商店", mode=RedemptionMode.INSTALLMENT, issuance_active=False)
    make_account(store)
    make_sub(store)
    db.session.commit()
    operator_logged_in(client)
    response = client.get("/operator/stores")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row = html[html.index("計數商店"):html.index("</tr>", html.index("計數商店"))]
    assert "分期核銷" in row and "未開通" in row and '<td class="text-end">2</td>' in row


def test_store_list_is_paginated(client, ctx):
    for n in range(25):
        make_store(f"分頁商店{n:02d}")
    db.session.commit()
    operator_logged_in(client)
    first = client.get("/operator/stores").get_data(as_text=True)
    assert "第 1 / 2 頁（共 25 筆）" in first
    second = client.get("/operator/stores", query_string={"page": 2}).get_data(as_text=True)
    assert second.count("分頁商店") == 5


def test_edit_store_fields_writes_history(client, ctx):
    store = make_store("舊名稱")
    db.session.commit()
    operator_logged_in(client)
    response = client.post(f"/operator/stores/{store.id}", data=store_form(
        store, name="新名稱", sales_emails="sales@shop.example"))
    assert response.status_code == 303
    db.session.expire_all()
    assert store.name == "新名稱" and store.sales_emails == "sales@shop.example"
    entry = history.entries_for(store)[0]
    assert entry.action == "updated"
    assert entry.changes == {"name": ["舊名稱", "新名稱"],
                             "sales_emails": ["", "sales@shop.example"]}
    assert "新名稱" in client.get(f"/operator/stores/{store.id}").get_data(as_text=True)


def test_contract_edit_writes_history_shown_on_the_page(client, ctx):
    store = make_store()
    contract = store.contracts[0]
    db.session.commit()
    operator_logged_in(client)
    page = client.get(f"/operator/stores/{store.id}/contracts/{contract.id}")
    assert page.status_code == 200
    response = client.post(
        f"/operator/stores/{store.id}/contracts/{contract.id}",
        data=contract_form(contract, sms_enabled=None, payout_delay_days="14",
                           enabled_methods=["electronic:immediate"]),
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert not contract.sms_enabled and contract.payout_delay_days == 14
    assert contract.enabled_methods == ["electronic:immediate"]
    entry = history.entries_for(contract)[0]
    assert entry.action == "contract_updated" and entry.store_id == store.id
    assert entry.changes["sms_enabled"] == [True, False]
    assert entry.changes["payout_delay_days"] == [7, 14]
    assert set(entry.changes) == {"sms_enabled", "payout_delay_days", "enabled_methods"}
    html = client.get(f"/operator/stores/{store.id}").get_data(as_text=True)
    assert "修改合約" in html and "payout_delay_days" in html


def test_contract_edit_without_changes_writes_no_history(client, ctx):
    store = make_store()
    contract = store.contracts[0]
    db.session.commit()
    operator_logged_in(client)
    response = client.post(f"/operator/stores/{store.id}/contracts/{contract.id}",
                           data=contract_form(contract))
    assert response.status_code == 303
    assert history.entries_for(contract) == []


def test_contract_with_end_before_start_is_refused(client, ctx):
    store = make_store()
    contract = store.contracts[0]
    db.session.commit()
    operator_logged_in(client)
    response = client.post(f"/operator/stores/{store.id}/contracts/{contract.id}",
                           data=contract_form(contract, end_date="2019-01-01"))
    assert response.status_code == 422
    assert "合約結束日不可早於開始日" in response.get_data(as_text=True)
    db.session.expire_all()
    assert contract.end_date == date(2099, 12, 31)


def test_add_contract_becomes_current_once_started(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 6, 1, 9, 0))
    store = make_store()
    db.session.commit()
    operator_logged_in(client)
    old = store.contracts[0]
    response = client.post(f"/operator/stores/{store.id}/contracts/new", data=contract_form(
        old, start_date="2026-05-01", end_date="2027-04-30", redemption_mode="installment",
        installment_period_days="30", installment_period_count="6", escrow_type="信託"))
    assert response.status_code == 303
    db.session.expire_all()
    assert len(store.contracts) == 2
    current = store.current_contract
    assert current.id != old.id and current.redemption_mode is RedemptionMode.INSTALLMENT
    assert [e.action for e in history.entries_for(current)] == ["contract_created"]


def test_contract_of_another_store_is_not_found(client, ctx):
    store, other = make_store(), make_store()
    db.session.commit()
    operator_logged_in(client)
    url = f"/operator/stores/{store.id}/contracts/{other.contracts[0].id}"
    assert client.get(url).status_code == 404
    assert client.post(url, data=contract_form(other.contracts[0])).status_code == 404
    assert client.get("/operator/stores/999999").status_code == 404


def test_parent_and_child_rules_are_refused(client, ctx):
    parent = make_store("母商店")
    child = make_store("子商店", parent=parent)
    loner = make_store("獨立商店")
    db.session.commit()
    operator_logged_in(client)

    def set_parent(store, parent_id):  # noqa: ANN001, ANN202
        return client.post(f"/operator/stores/{store.id}",
                           data=store_form(store, parent_id=str(parent_id)))

    cases = [
        (loner, loner.id, "商店不可設為自己的母商店"),
        (loner, child.id, "所選商店本身為子商店，不可再作為母商店"),
        (parent, loner.id, "此商店已有子商店，不可再設定母商店"),
        (parent, child.id, "不可將自己的子商店設為母商店"),
        (loner, 999999, "找不到所選的母商店"),
    ]
    for store, parent_id, message in cases:
        response = set_parent(store, parent_id)
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert (loner.parent_id, parent.parent_id, child.parent_id) == (None, None, parent.id)

    # a new store cannot hang under a child either
    response = client.post("/operator/stores/new", data=new_store_form(parent_id=str(child.id)))
    assert response.status_code == 422
    assert "所選商店本身為子商店，不可再作為母商店" in response.get_data(as_text=True)

    # the allowed case: a top-level store without children under a top-level parent
    response = set_parent(loner, parent.id)
    assert response.status_code == 303
    db.session.expire_all()
    assert loner.parent_id == parent.id
    assert history.entries_for(loner)[0].changes == {"parent": [None, parent.label]}


def test_parent_select_offers_only_top_level_stores(client, ctx):
    parent = make_store("母商店甲")
    make_store("子商店乙", parent=parent)
    db.session.commit()
    operator_logged_in(client)
    html = client.get("/operator/stores/new").get_data(as_text=True)
    select_html = html[html.index('name="parent_id"'):html.index("</select>",
                                                                  html.index('name="parent_id"'))]
    assert "母商店甲" in select_html and "子商店乙" not in select_html

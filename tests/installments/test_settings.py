"""8-1 操作設定管理: the refund-notification URL, its checks and history, the signing key, who may
see and change them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, history
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import Forbidden, InvalidInput
from app.history import HistoryEntry
from app.installments import settings
from app.installments.models import AllowedDomain, InstallmentSettings
from app.stores.models import RedemptionMode
from tests.factories import login, make_account, make_branch, make_operator, make_store, make_sub
from tests.installments.notice_helpers import installment_store, make_refunded_order

URL = "https://api.shop.example.com/ecticket/refund"


def _open(store, *hosts: str) -> None:  # noqa: ANN001
    for host in hosts:
        db.session.add(AllowedDomain(store_id=store.id, host=host))
    db.session.commit()


def _stored(store) -> InstallmentSettings | None:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(select(InstallmentSettings)
                             .where(InstallmentSettings.store_id == store.id))


# Pure checks -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "problem"), [
    ("", None),
    ("   ", None),
    (URL, None),
    ("HTTPS://API.shop.example.com:8443/n?x=1", None),
    ("http://api.shop.example.com/n", settings.URL_NOT_HTTPS),
    ("ftp://api.shop.example.com/n", settings.URL_NOT_HTTPS),
    ("api.shop.example.com/n", settings.URL_NOT_HTTPS),
    ("https://" + "a" * 480 + ".example.com/", settings.URL_TOO_LONG),
    ("https://user:secret@api.shop.example.com/n", settings.URL_CREDENTIALS),
    ("https://user@api.shop.example.com/n", settings.URL_CREDENTIALS),
    ("https://api.shop.example.com:port/n", settings.URL_MALFORMED),
    ("https:///n", settings.URL_MALFORMED),
    ("https://api.shop.example.com/a b", settings.URL_MALFORMED),
    ("https://api.shop.example.com/\x00", settings.URL_MALFORMED),
])
def test_url_problems(url, problem):
    assert settings.url_problem(url) == problem


def test_a_url_of_exactly_500_characters_is_fine():
    url = "https://api.shop.example.com/" + "a" * (500 - len("https://api.shop.example.com/"))
    assert len(url) == 500 and settings.url_problem(url) is None


@pytest.mark.parametrize(("url", "host"), [
    ("https://API.Shop.Example.com:8443/x", "api.shop.example.com"),
    ("https://api.shop.example.com./x", "api.shop.example.com"),
    ("https://shop.example.com", "shop.example.com"),
])
def test_the_host_is_lower_case_without_port(url, host):
    assert settings.host_of(url) == host


@pytest.mark.parametrize(("raw", "host", "problem"), [
    ("api.shop.example.com", "api.shop.example.com", None),
    ("  API.Shop.Example.COM. ", "api.shop.example.com", None),
    ("xn--kpry57d.xn--kpry57d", "xn--kpry57d.xn--kpry57d", None),
    ("a-b.example.tw", "a-b.example.tw", None),
    ("", "", settings.HOST_MISSING),
    ("localhost", "localhost", settings.HOST_MALFORMED),
    ("-shop.example.com", "-shop.example.com", settings.HOST_MALFORMED),
    ("shop-.example.com", "shop-.example.com", settings.HOST_MALFORMED),
    ("sh_op.example.com", "sh_op.example.com", settings.HOST_MALFORMED),
    ("shop..example.com", "shop..example.com", settings.HOST_MALFORMED),
    ("shop.example.com/path", "shop.example.com/path", settings.HOST_MALFORMED),
    ("shop.example.com:443", "shop.example.com:443", settings.HOST_MALFORMED),
    ("https://shop.example.com", "https://shop.example.com", settings.HOST_MALFORMED),
    ("1.2.3.4", "1.2.3.4", settings.HOST_IS_ADDRESS),
    ("[::1]", "[::1]", settings.HOST_IS_ADDRESS),
    ("商店.tw", "商店.tw", settings.HOST_NOT_ASCII),
    ("a" * 64 + ".example.com", "a" * 64 + ".example.com", settings.HOST_MALFORMED),
    (("a" * 60 + ".") * 5 + "com", ("a" * 60 + ".") * 5 + "com", settings.HOST_TOO_LONG),
])
def test_host_rules(raw, host, problem):
    assert settings.normalise_host(raw) == host
    assert settings.host_problem(host) == problem


# The page ------------------------------------------------------------------------------------

def test_main_account_sets_the_url_and_sees_its_history(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    store = installment_store("inst01")
    _open(store, "api.shop.example.com")
    login(client, "inst01")

    page = client.get("/installments/settings").get_data(as_text=True)
    assert "發行前置設定" in page and "未設定" in page and ">設定</a>" in page
    assert "此節點設定及異動皆不溯及已發行之訂單" in page
    assert "申請開通 URL Domain 防火牆" in page and "api.shop.example.com" in page

    form = client.get("/installments/settings/refund-url").get_data(as_text=True)
    assert "退款結果主動通知 URL" in form and ">修改</button>" in form
    response = client.post("/installments/settings/refund-url", data={"refund_notify_url": f"  {URL} "})
    assert response.status_code == 303 and response.headers["Location"] == "/installments/settings"
    assert _stored(store).refund_notify_url == URL
    assert settings.refund_url_for(store.id) == URL
    assert URL in client.get("/installments/settings").get_data(as_text=True)

    clock.move(timedelta(minutes=5))
    other = "https://API.shop.example.com:8443/v2/refund"
    assert client.post("/installments/settings/refund-url",
                       data={"refund_notify_url": other}).status_code == 303
    assert client.post("/installments/settings/refund-url",
                       data={"refund_notify_url": ""}).status_code == 303
    assert settings.refund_url_for(store.id) == ""

    entries = history.entries_for(_stored(store))
    assert [(e.action, e.changes["refund_notify_url"], e.actor_label) for e in entries] == [
        ("refund_url_updated", [other, ""], "inst01"),
        ("refund_url_updated", [URL, other], "inst01"),
        ("refund_url_updated", ["", URL], "inst01")]
    page = client.get("/installments/settings/history").get_data(as_text=True)
    assert page.count("修改退款結果主動通知 URL") == 3 and other in page and "inst01" in page
    assert "退款結果主動通知 URL" in page


def test_saving_the_same_url_writes_no_history(client, ctx):
    store = installment_store("inst02")
    _open(store, "api.shop.example.com")
    login(client, "inst02")
    for _ in range(2):
        client.post("/installments/settings/refund-url", data={"refund_notify_url": URL})
    assert len(history.entries_for(_stored(store))) == 1


@pytest.mark.parametrize(("url", "message"), [
    ("http://api.shop.example.com/n", "網址須為 https:// 開頭"),
    ("https://other.example.com/n", "此網址的網域尚未開通，請先聯繫所屬業務申請開通 URL Domain 防火牆"),
    ("https://shop.example.com/n", "此網址的網域尚未開通"),  # a parent domain is another host
    ("https://x.api.shop.example.com/n", "此網址的網域尚未開通"),
    ("https://me:pw@api.shop.example.com/n", "網址不可包含帳號或密碼"),
    ("https://api.shop.example.com/" + "a" * 500, "網址長度不可超過 500 字元"),
])
def test_refused_urls_say_why_and_change_nothing(client, ctx, url, message):
    store = installment_store("inst03")
    _open(store, "api.shop.example.com")
    login(client, "inst03")
    response = client.post("/installments/settings/refund-url", data={"refund_notify_url": url})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    stored = _stored(store)
    assert stored is None or stored.refund_notify_url == ""
    assert db.session.scalar(select(HistoryEntry)) is None


def test_the_service_checks_the_domain_too(ctx):
    store = installment_store("inst04")
    owner = db.session.scalar(select(Account).where(Account.username == "inst04"))
    with pytest.raises(InvalidInput) as refused:
        settings.update_refund_url(owner, store, "https://api.shop.example.com/n")
    assert refused.value.fields == {"refund_notify_url": settings.URL_DOMAIN_CLOSED}


def test_a_change_is_not_retroactive(client, ctx):
    store = installment_store("inst05")
    _open(store, "api.shop.example.com", "new.shop.example.com")
    login(client, "inst05")
    client.post("/installments/settings/refund-url", data={"refund_notify_url": URL})
    issued = make_refunded_order(store, url=settings.refund_url_for(store.id))
    db.session.commit()
    client.post("/installments/settings/refund-url",
                data={"refund_notify_url": "https://new.shop.example.com/n"})
    db.session.expire_all()
    assert issued.refund_notify_url == URL
    assert settings.refund_url_for(store.id) == "https://new.shop.example.com/n"


# The signing key -------------------------------------------------------------------------------

def test_the_key_is_made_with_the_settings_shown_to_modifiers_and_can_be_made_anew(app, ctx):
    store = installment_store("inst06")
    _open(store, "api.shop.example.com")
    make_sub(store, username="view06", grants={Function.INSTALLMENT_SETTINGS: Level.VIEW})
    db.session.commit()
    owner, viewer = app.test_client(), app.test_client()
    login(owner, "inst06")
    login(viewer, "view06")
    assert "設定通知 URL 後產生" in owner.get("/installments/settings").get_data(as_text=True)
    owner.post("/installments/settings/refund-url", data={"refund_notify_url": URL})
    key = _stored(store).notify_secret
    assert len(key) == 64
    assert key in owner.get("/installments/settings").get_data(as_text=True)
    seen = viewer.get("/installments/settings").get_data(as_text=True)
    assert key not in seen and "僅具「操作設定管理」修改權限者可檢視" in seen

    assert viewer.post("/installments/settings/secret").status_code == 403
    assert _stored(store).notify_secret == key
    assert owner.post("/installments/settings/secret").status_code == 303
    new_key = _stored(store).notify_secret
    assert new_key != key and len(new_key) == 64
    assert settings.notice_secret_for(store.id) == new_key
    entry = history.entries_for(_stored(store))[0]
    assert entry.action == "refund_secret_regenerated" and entry.changes == {}
    log = owner.get("/installments/settings/history").get_data(as_text=True)
    assert "重新產生通知簽章金鑰" in log and key not in log and new_key not in log


# Who may --------------------------------------------------------------------------------------

def test_view_only_sub_account_sees_the_page_without_the_button_and_is_refused(client, ctx):
    store = installment_store("inst07")
    _open(store, "api.shop.example.com")
    make_sub(store, username="view07", grants={Function.INSTALLMENT_SETTINGS: Level.VIEW})
    db.session.commit()
    login(client, "view07")
    page = client.get("/installments/settings")
    assert page.status_code == 200 and "發行前置設定" in page.get_data(as_text=True)
    assert ">設定</a>" not in page.get_data(as_text=True)
    assert client.get("/installments/settings/history").status_code == 200
    assert client.get("/installments/settings/refund-url").status_code == 403
    assert client.post("/installments/settings/refund-url",
                       data={"refund_notify_url": URL}).status_code == 403
    assert _stored(store) is None


def test_the_service_refuses_a_view_only_account(ctx):
    store = installment_store("inst08")
    _open(store, "api.shop.example.com")
    viewer = make_sub(store, username="view08", grants={Function.INSTALLMENT_SETTINGS: Level.VIEW})
    db.session.commit()
    with pytest.raises(Forbidden, match=settings.NO_RIGHT):
        settings.update_refund_url(viewer, store, URL)
    with pytest.raises(Forbidden, match=settings.NO_RIGHT):
        settings.regenerate_secret(viewer, store)


def test_sub_account_with_modify_may_change(client, ctx):
    store = installment_store("inst09")
    _open(store, "api.shop.example.com")
    make_sub(store, username="mod09", grants={Function.INSTALLMENT_SETTINGS: Level.MODIFY})
    db.session.commit()
    login(client, "mod09")
    assert ">設定</a>" in client.get("/installments/settings").get_data(as_text=True)
    assert client.post("/installments/settings/refund-url",
                       data={"refund_notify_url": URL}).status_code == 303
    assert history.entries_for(_stored(store))[0].actor_label == "mod09"


def test_a_clerk_of_a_disabled_branch_may_not_modify(client, ctx):
    store = installment_store("inst10")
    _open(store, "api.shop.example.com")
    branch = make_branch(store, enabled=False)
    clerk = make_sub(store, username="clerk10", branch=branch,
                     grants={Function.INSTALLMENT_SETTINGS: Level.MODIFY})
    db.session.commit()
    login(client, "clerk10")
    page = client.get("/installments/settings")
    assert page.status_code == 200 and ">設定</a>" not in page.get_data(as_text=True)
    response = client.post("/installments/settings/refund-url", data={"refund_notify_url": URL})
    assert response.status_code == 403 and "分店已停用" in response.get_data(as_text=True)
    assert _stored(store) is None
    with pytest.raises(Forbidden, match="分店已停用"):
        settings.update_refund_url(clerk, store, URL)


@pytest.mark.parametrize("url", ["/installments/settings", "/installments/settings/history",
                                 "/installments/settings/refund-url"])
def test_sub_account_without_the_function_is_refused(client, ctx, url):
    store = installment_store("inst11")
    make_sub(store, username="other11", grants={Function.INSTALLMENT_REPORTS: Level.MODIFY})
    db.session.commit()
    login(client, "other11")
    assert client.get(url).status_code == 403


def test_a_redeem_after_use_store_has_no_such_page(client, ctx):
    store = make_store(mode=RedemptionMode.REDEEM_AFTER_USE)
    make_account(store, username="plain12")
    db.session.commit()
    login(client, "plain12")
    assert client.get("/installments/settings").status_code == 403


def test_an_operator_has_no_merchant_settings_page(client, ctx):
    make_operator("op0013")
    db.session.commit()
    login(client, "op0013")
    assert client.get("/installments/settings").status_code == 403


def test_each_store_sees_and_changes_only_its_own(app, ctx):
    a_store = installment_store("insta14", name="甲分期")
    b_store = installment_store("instb14", name="乙分期")
    _open(a_store, "api.shop.example.com")
    a, b = app.test_client(), app.test_client()
    login(a, "insta14")
    login(b, "instb14")
    assert a.post("/installments/settings/refund-url",
                  data={"refund_notify_url": URL}).status_code == 303
    # B cannot use a domain opened for A
    refused = b.post("/installments/settings/refund-url", data={"refund_notify_url": URL})
    assert refused.status_code == 422 and "尚未開通" in refused.get_data(as_text=True)
    page_b = b.get("/installments/settings").get_data(as_text=True)
    assert URL not in page_b and "api.shop.example.com" not in page_b
    assert URL not in b.get("/installments/settings/history").get_data(as_text=True)
    assert _stored(b_store) is None and _stored(a_store).refund_notify_url == URL

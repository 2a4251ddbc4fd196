from datetime import timedelta
from io import BytesIO

from openpyxl import load_workbook

from app import clock
from app.auth.models import LoginEvent
from app.auth.permissions import Function, Level
from app.db import db
from tests.factories import login, make_account, make_operator, make_store, make_sub

NOW = clock.taipei_datetime(2026, 11, 21, 10, 0)


def _event(store, username, at, *, success=True, reason="", ip="203.0.113.5", ua="Mozilla/5.0"):
    db.session.add(LoginEvent(at=at, username=username, store_id=store.id if store else None,
                              ip=ip, user_agent=ua, success=success, reason=reason))


def _two_stores():
    clock.freeze(NOW)
    mine = make_store("我的商店")
    other = make_store("別人的商店")
    make_account(mine, username="owner21")
    make_account(other, username="other21")
    _event(mine, "owner21", NOW - timedelta(days=1), ua="MineBrowser/1.0")
    _event(mine, "owner21", NOW - timedelta(days=2), success=False, reason="bad_password")
    _event(mine, "owner21", NOW - timedelta(days=3), success=False, reason="locked")
    _event(mine, "owner21", NOW - timedelta(days=45), ua="OldBrowser/0.1")  # outside default
    _event(other, "other21", NOW - timedelta(days=1), ua="OtherBrowser/9", ip="198.51.100.9")
    _event(None, "nobody21", NOW - timedelta(days=1), success=False, reason="unknown",
           ua="UnknownBrowser/7")
    db.session.commit()
    return mine, other


def test_only_the_acting_stores_events_newest_first(client, ctx):
    _two_stores()
    login(client, "owner21")
    response = client.get("/vendor/login-history")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "MineBrowser/1.0" in html
    assert "失敗（密碼錯誤）" in html and "失敗（帳號鎖定）" in html
    assert "OtherBrowser/9" not in html and "198.51.100.9" not in html
    assert "UnknownBrowser/7" not in html and "nobody21" not in html
    assert "OldBrowser/0.1" not in html  # default: the last 30 days
    # newest first: today's login, then yesterday's, ...
    assert html.index("2026/11/21 10:00") < html.index("MineBrowser/1.0") < html.index("密碼錯誤")


def test_date_range_filter_and_the_three_month_rule(client, ctx):
    _two_stores()
    login(client, "owner21")
    html = client.get("/vendor/login-history?start=2026-09-01&end=2026-11-30").get_data(
        as_text=True)
    assert "OldBrowser/0.1" in html and "MineBrowser/1.0" in html
    too_long = client.get("/vendor/login-history?start=2026-08-01&end=2026-11-21")
    assert too_long.status_code == 200
    html = too_long.get_data(as_text=True)
    assert "查詢區間不可超過三個月" in html
    assert "MineBrowser/1.0" not in html and "OldBrowser/0.1" not in html
    backwards = client.get("/vendor/login-history?start=2026-11-21&end=2026-11-01")
    assert "起日不可晚於迄日" in backwards.get_data(as_text=True)
    xlsx = client.get("/vendor/login-history?start=2026-08-01&end=2026-11-21&format=xlsx")
    assert xlsx.mimetype == "text/html"  # no file for a refused range
    assert "查詢區間不可超過三個月" in xlsx.get_data(as_text=True)


def test_result_filter(client, ctx):
    _two_stores()
    login(client, "owner21")
    html = client.get("/vendor/login-history?result=failure").get_data(as_text=True)
    assert "密碼錯誤" in html and "MineBrowser/1.0" not in html


def test_pagination(client, ctx):
    clock.freeze(NOW)
    store = make_store()
    make_account(store, username="owner22")
    for i in range(60):
        _event(store, "owner22", NOW - timedelta(minutes=i + 1), ua=f"Agent-{i:02d}")
    db.session.commit()
    login(client, "owner22")
    first = client.get("/vendor/login-history").get_data(as_text=True)
    assert "Agent-00" in first and "Agent-59" not in first
    assert "第 1 / 2 頁（共 61 筆）" in first
    second = client.get("/vendor/login-history?page=2").get_data(as_text=True)
    assert "Agent-59" in second and "Agent-00" not in second


def test_excel_download_of_the_current_query(client, ctx):
    _two_stores()
    db.session.add(LoginEvent(at=NOW - timedelta(hours=5), username="owner21",
                              store_id=db.session.scalar(
                                  db.select(LoginEvent.store_id).where(
                                      LoginEvent.username == "owner21")),
                              ip="=1+1", user_agent="@SUM(A1)", success=True))
    db.session.commit()
    login(client, "owner21")
    response = client.get("/vendor/login-history?start=2026-11-01&end=2026-11-21&format=xlsx")
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    disposition = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''%E7%99%BB%E5%85%A5%E6%AD%B7%E7%A8%8B_" in disposition  # 登入歷程_
    assert "20261101-20261121.xlsx" in disposition
    ws = load_workbook(BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("時間", "帳號", "IP", "瀏覽器", "結果")
    body = rows[1:]
    assert len(body) == 5  # today's login, the injected one, and three from the fixture
    assert body[0][0].strftime("%Y/%m/%d %H:%M") == "2026/11/21 10:00"  # Taipei wall time
    assert body[1][2:] == ("'=1+1", "'@SUM(A1)", "成功")
    assert ("owner21", "203.0.113.5", "Mozilla/5.0", "失敗（密碼錯誤）") in [r[1:] for r in body]
    assert all(r[1] == "owner21" for r in body)  # never another store's events
    assert [r[0] for r in body] == sorted((r[0] for r in body), reverse=True)


def test_sub_account_needs_the_login_history_function(client, ctx):
    store = make_store()
    make_account(store, username="owner23")
    make_sub(store, username="clerk23a", grants={Function.VENDOR_PROFILE: Level.MODIFY})
    make_sub(store, username="clerk23b", grants={Function.LOGIN_HISTORY: Level.VIEW})
    db.session.commit()
    login(client, "clerk23a")
    assert client.get("/vendor/login-history").status_code == 403
    assert client.get("/vendor/login-history?format=xlsx").status_code == 403
    client.post("/logout")
    login(client, "clerk23b")
    html = client.get("/vendor/login-history").get_data(as_text=True)
    assert "clerk23b" in html and "clerk23a" in html  # the store's events, any account


def test_operator_gets_403_on_vendor_pages(client, ctx):
    make_operator("op0021")
    db.session.commit()
    login(client, "op0021")
    for url in ("/vendor/profile", "/vendor/login-history", "/vendor/contract", "/vendor/news",
                "/vendor/login-history?format=xlsx"):
        assert client.get(url).status_code == 403, url
    assert client.post("/vendor/profile", data={"finance_emails": "a@b.tw"}).status_code == 403


def test_anonymous_is_sent_to_login(client, ctx):
    response = client.get("/vendor/login-history")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

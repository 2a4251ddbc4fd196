"""The UI shell: full page vs fragment, the menu, the store switcher, demo data."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.stores.models import Store
from demodata.cli import demo_data
from tests.factories import login, make_account, make_store, make_sub


def test_full_page_normally_and_the_content_fragment_for_htmx(client, ctx):
    make_account(make_store(), username="owner11")
    db.session.commit()
    login(client, "owner11")
    full = client.get("/home")
    assert "<html" in full.get_data(as_text=True) and "主選單" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    fragment = client.get("/home", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and "主選單" not in html and "訊息中心" in html
    boosted = client.get("/home", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_htmx_vendored_and_pinned_with_its_licence(app):
    from pathlib import Path

    vendor = Path(app.static_folder) / "vendor" / "htmx"
    assert (vendor / "htmx-2.0.11.min.js").stat().st_size > 10_000
    assert "BSD" in (vendor / "LICENSE").read_text() or "Zero-Clause" in (vendor / "LICENSE").read_text()


def test_menu_shows_only_what_the_account_may_use(client, ctx):
    store = make_store()
    make_account(store, username="owner12")
    make_sub(store, username="clerk12a", grants={Function.LOGIN_HISTORY: Level.VIEW})
    db.session.commit()
    login(client, "owner12")
    main_html = client.get("/home").get_data(as_text=True)
    assert "登入歷程" in main_html and "合約及費率" in main_html
    client.post("/logout")
    login(client, "clerk12a")
    sub_html = client.get("/home").get_data(as_text=True)
    assert "登入歷程" in sub_html
    assert "合約及費率" not in sub_html and "廠商基本資料" not in sub_html
    assert client.get("/vendor/contract").status_code == 403


def test_installment_menu_differs_from_redeem_after_use(client, ctx):
    from app.menu import MERCHANT_MENU

    installment_only = {e.endpoint for s in MERCHANT_MENU for e in s.entries
                        if e.mode == "installment"}
    redeem_only = {e.endpoint for s in MERCHANT_MENU for e in s.entries
                   if e.mode == "redeem_after_use"}
    assert installment_only and redeem_only and not installment_only & redeem_only


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_parent_switches_into_a_child_and_back(client, ctx):
    parent = make_store("母商店")
    child = make_store("子商店", parent=parent)
    other = make_store("別人的商店")
    make_account(parent, username="parent01")
    db.session.commit()
    login(client, "parent01")
    home = client.get("/home").get_data(as_text=True)
    assert "切換子商店代號" in home and child.merchant_code in home
    response = client.post("/switch-store", data={"store_id": child.id})
    assert response.status_code == 302
    now_child = client.get("/home").get_data(as_text=True)
    assert "目前以子商店" in now_child and "子商店" in now_child
    assert client.post("/switch-store", data={"store_id": other.id}).status_code == 404
    assert client.post("/switch-store", data={"store_id": "abc"}).status_code == 404
    client.post("/switch-store", data={"store_id": parent.id})
    assert "目前以子商店" not in client.get("/home").get_data(as_text=True)


def test_a_store_without_children_has_no_switcher(client, ctx):
    make_account(make_store(), username="owner13")
    db.session.commit()
    login(client, "owner13")
    assert "切換子商店代號" not in client.get("/home").get_data(as_text=True)


def test_demo_data_is_idempotent_and_its_logins_work(app, ctx):
    runner = app.test_cli_runner()
    first = runner.invoke(demo_data)
    assert first.exit_code == 0, first.output
    counts = (db.session.scalar(select(func.count()).select_from(Store)),
              db.session.scalar(select(func.count()).select_from(Account)))
    second = runner.invoke(demo_data)
    assert second.exit_code == 0
    db.session.expire_all()
    assert counts == (db.session.scalar(select(func.count()).select_from(Store)),
                      db.session.scalar(select(func.count()).select_from(Account)))
    for username in ("operator", "issuer", "clerk1", "partner", "parent", "child", "installment"):
        assert username in first.output
        client = app.test_client()
        login(client, username, "Demo1234")
    child = db.session.scalar(select(Store).where(Store.merchant_code == "3002610"))
    assert child.parent.merchant_code == "3002609"


def test_scheduled_news_stays_hidden_until_its_time(client, ctx):
    from datetime import timedelta

    from app import clock
    from app.news.models import NewsItem

    make_account(make_store(), username="owner14")
    now = clock.now()
    db.session.add_all([NewsItem(title="已發佈的消息", body="x", published_at=now),
                        NewsItem(title="排程中的消息", body="y",
                                 published_at=now + timedelta(days=1))])
    db.session.commit()
    future_id = db.session.scalar(select(NewsItem.id).where(NewsItem.title == "排程中的消息"))
    login(client, "owner14")
    for url in ("/home", "/vendor/news"):
        html = client.get(url).get_data(as_text=True)
        assert "已發佈的消息" in html and "排程中的消息" not in html
    assert client.get(f"/vendor/news/{future_id}").status_code == 404


def test_wtforms_builtin_messages_are_traditional_chinese(app):
    from wtforms import IntegerField

    from app.forms import FlaskForm

    class AgeForm(FlaskForm):
        age = IntegerField()

    with app.test_request_context("/", method="POST", data={"age": "x"}):
        form = AgeForm(meta={"csrf": False})
        form.validate()
        assert form.age.errors == ["不是有效的整數值。"]


def test_the_flask_command_line_offers_demo_data():
    """`make run` runs `flask --app app demo-data`: the plugin command is installed with the
    project (pyproject.toml's flask.commands entry point)."""
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "demo-data", "--help"],
                         capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--tickets" in out.stdout

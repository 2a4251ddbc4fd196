"""Tab titles agree with what the page shows (issue 16, item 8): a product's pages name the
product in the <title> as in their heading, every back-office title ends with the platform's
name ECTicket (the name the menu shows), and the shell links the favicon and the script that
keeps confirm boxes after the browser's checks (also on the product form)."""

from __future__ import annotations

import re

from app.db import db
from tests.factories import login, make_account, make_product, make_store
from tests.products.helpers import freeze_today


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def test_a_products_pages_name_it_in_the_tab_title(ctx, client):
    freeze_today()
    store = make_store("好吃餐廳")
    owner = make_account(store, username="owner01")
    product = make_product(store, "招牌牛肉麵兌換券")
    db.session.commit()
    login(client, owner.username)
    for path, title in ((f"/products/{product.id}/edit", "編輯商品：招牌牛肉麵兌換券 · ECTicket"),
                        (f"/products/{product.id}/history", "商品歷程：招牌牛肉麵兌換券 · ECTicket")):
        html = client.get(path).get_data(as_text=True)
        assert _title(html) == title, path
        assert re.search(r"<h1[^>]*>[^<]*招牌牛肉麵兌換券</h1>", html), path
    html = client.get("/products/").get_data(as_text=True)
    assert _title(html) == "商品管理 · ECTicket" and "ectix" not in _title(html)
    assert '<link rel="icon" href="/static/favicon.svg' in html
    assert 'src="/static/js/form-errors.js"' in html
    form = client.get("/products/new").get_data(as_text=True)
    assert "data-confirm=" in form and re.search(r'name="name"[^>]*required', form)

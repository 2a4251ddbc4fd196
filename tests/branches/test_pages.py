"""Every branches page renders whole, and as an HTMX fragment (its content block alone)."""

from __future__ import annotations

from app.db import db
from tests.factories import login, make_account, make_branch, make_store, make_sub


def test_every_page_renders_as_a_page_and_as_a_fragment(app, ctx):
    store = make_store()
    make_account(store, username="owner01")
    branch = make_branch(store, "A001", "台北店")
    clerk = make_sub(store, "clerk001", branch=branch)
    make_sub(store, "clerk002")
    db.session.commit()
    browser = app.test_client()
    login(browser, "owner01")
    urls = ["/settings/branches/", "/settings/branches/new",
            f"/settings/branches/{branch.id}/edit", f"/settings/branches/{branch.id}/history",
            "/settings/branches/bindings", "/settings/branches/bindings/new",
            f"/settings/branches/bindings/{clerk.id}/rebind",
            f"/settings/branches/bindings/{clerk.id}/history"]
    for url in urls:
        page = browser.get(url)
        assert page.status_code == 200, url
        assert "<html" in page.get_data(as_text=True) and "票券分店管理" in page.get_data(as_text=True)
        fragment = browser.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200, url
        text = fragment.get_data(as_text=True)
        assert "<html" not in text and "票券分店管理" in text, url


def test_the_edit_form_asks_before_saving_a_disabled_status(app, ctx):
    store = make_store()
    make_account(store, username="owner01")
    enabled = make_branch(store, "A001", "台北店")
    disabled = make_branch(store, "B002", "台中店", enabled=False)
    db.session.commit()
    browser = app.test_client()
    login(browser, "owner01")
    html = browser.get(f"/settings/branches/{enabled.id}/edit").get_data(as_text=True)
    assert 'data-disable-warning="停用後該分店員工僅可查詢報表，無法進行票券操作"' in html
    assert 'data-was-enabled="1"' in html and 'id="branch-save"' in html
    html = browser.get(f"/settings/branches/{disabled.id}/edit").get_data(as_text=True)
    assert 'data-was-enabled="0"' in html  # already disabled: nothing to confirm

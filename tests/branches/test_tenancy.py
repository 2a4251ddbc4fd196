"""Store B's main account gets 404 on every branches route that names one of store A's rows."""

from __future__ import annotations

from app.db import db
from tests.factories import login, make_account, make_branch, make_store, make_sub

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def test_store_b_gets_404_on_every_branch_and_binding_of_store_a(app, ctx):
    a, b = make_store("商店A"), make_store("商店B")
    branch = make_branch(a, "A001", "台北店")
    ids = {"branch_id": branch.id,
           "account_id": make_sub(a, "clerkaaa1", branch=branch).id}
    make_account(b, username="mainbbb1")
    make_sub(b, username="clerkbbb1")
    db.session.commit()
    browser = app.test_client()
    login(browser, "mainbbb1")

    rules = [r for r in app.url_map.iter_rules()
             if r.endpoint.startswith("branches.") and r.arguments]
    assert {r.endpoint for r in rules} >= {"branches.edit", "branches.set_status",
                                           "branches.branch_history", "branches.rebind",
                                           "branches.binding_history"}
    wrong, checked = [], 0
    for rule in rules:
        url = app.url_map.bind("localhost").build(rule.endpoint,
                                                  {arg: ids[arg] for arg in rule.arguments})
        for method in METHODS:
            if method in rule.methods:
                checked += 1
                response = browser.open(url, method=method,
                                        data={"branch_id": branch.id, "name": "x",
                                              "status": "disabled"})
                if response.status_code != 404:
                    wrong.append((method, url, response.status_code))
    assert checked == 7 and wrong == []
    db.session.expire_all()
    assert (branch.name, branch.enabled) == ("台北店", True)

"""Ids of other stores' relations are 404 on every route; no MODIFY is 403; operators only."""

import pytest

from app.auth.permissions import Function, Level
from app.db import db
from app.stores.models import DissolvedBy, RelationStatus
from tests.factories import make_relation, make_sub
from tests.partners.helpers import relation_of

ISSUER_ROUTES = ("/settings/partners/{id}/edit", "/settings/partners/{id}/history")
PARTNER_ROUTES = ("/settings/partners/joint-issuers/{id}/edit",
                  "/settings/partners/joint-issuers/{id}/history")


@pytest.fixture
def relations(world):
    """A → B (open) and C → A (open): A is the issuer of one and the partner of the other."""
    ab = make_relation(world.a, world.b)
    ca = make_relation(world.c, world.a)
    db.session.commit()
    return ab, ca


def test_issuer_routes_404_for_any_relation_not_issued_by_the_store(world, relations, browser):
    ab, ca = relations
    for username, relation_id in (("ownerB01", ab.id),   # B is A→B's partner, not its issuer
                                  ("ownerC01", ab.id),   # C has nothing to do with A→B
                                  ("ownerA01", ca.id),   # A is C→A's partner
                                  ("ownerA01", 999999)):
        client = browser(username)
        for route in ISSUER_ROUTES:
            url = route.format(id=relation_id)
            assert client.get(url).status_code == 404, (username, url)
        assert client.post(f"/settings/partners/{relation_id}/edit",
                           data={"status": "dissolved"}).status_code == 404
    assert relation_of(world.a, world.b).is_open and relation_of(world.c, world.a).is_open


def test_partner_routes_404_for_any_relation_not_naming_the_store(world, relations, browser):
    ab, ca = relations
    for username, relation_id in (("ownerA01", ab.id),   # A is A→B's issuer, not its partner
                                  ("ownerC01", ab.id),
                                  ("ownerB01", ca.id),
                                  ("ownerC01", ca.id),   # C is C→A's issuer
                                  ("ownerB01", 999999)):
        client = browser(username)
        for route in PARTNER_ROUTES:
            url = route.format(id=relation_id)
            assert client.get(url).status_code == 404, (username, url)
        assert client.post(f"/settings/partners/joint-issuers/{relation_id}/edit"
                           ).status_code == 404
    assert relation_of(world.a, world.b).is_open and relation_of(world.c, world.a).is_open


def test_own_relations_answer_on_their_own_side(world, relations, browser):
    ab, ca = relations
    a = browser("ownerA01")
    assert all(a.get(r.format(id=ab.id)).status_code == 200 for r in ISSUER_ROUTES)
    assert all(a.get(r.format(id=ca.id)).status_code == 200 for r in PARTNER_ROUTES)


def test_view_only_accounts_see_lists_but_forged_posts_are_403(world, relations, browser):
    ab, ca = relations
    viewer = browser("viewA001")
    listing = viewer.get("/settings/partners/").get_data(as_text=True)
    assert "乙夥伴" in listing and "新增跨店" not in listing and "/edit" not in listing
    joint = viewer.get("/settings/partners/joint-issuers").get_data(as_text=True)
    assert "丙商店" in joint and "/edit" not in joint
    assert viewer.get(f"/settings/partners/{ab.id}/history").status_code == 200
    assert viewer.get(f"/settings/partners/joint-issuers/{ca.id}/history").status_code == 200
    for url in ("/settings/partners/search?q=丙", f"/settings/partners/{ab.id}/edit",
                f"/settings/partners/joint-issuers/{ca.id}/edit"):
        assert viewer.get(url).status_code == 403, url
    assert viewer.post("/settings/partners/add",
                       data={"store_ids": [world.c.id]}).status_code == 403
    assert viewer.post(f"/settings/partners/{ab.id}/edit",
                       data={"status": "dissolved"}).status_code == 403
    assert viewer.post(f"/settings/partners/joint-issuers/{ca.id}/edit").status_code == 403
    assert relation_of(world.a, world.c) is None
    assert relation_of(world.a, world.b).is_open and relation_of(world.c, world.a).is_open


def test_accounts_without_the_function_get_403_everywhere(world, relations, browser):
    ab, ca = relations
    make_sub(world.a, username="clerkA01", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    clerk = browser("clerkA01")
    for url in ("/settings/partners/", "/settings/partners/?format=xlsx",
                "/settings/partners/joint-issuers", f"/settings/partners/{ab.id}/history",
                f"/settings/partners/joint-issuers/{ca.id}/history"):
        assert clerk.get(url).status_code == 403, url


def test_an_editor_sub_account_may_change_relations(world, relations, browser):
    ab, _ = relations
    editor = browser("editA001")
    assert editor.post(f"/settings/partners/{ab.id}/edit",
                       data={"status": "dissolved"}).status_code == 303
    assert relation_of(world.a, world.b).dissolved_by is DissolvedBy.ISSUER


def test_posts_without_a_csrf_token_change_nothing(world, relations, browser):
    ab, ca = relations
    a = browser("ownerA01")
    assert a.post(f"/settings/partners/{ab.id}/edit", data={"status": "dissolved"},
                  csrf=False).status_code == 400
    assert a.post(f"/settings/partners/joint-issuers/{ca.id}/edit", csrf=False).status_code == 400
    assert a.post("/settings/partners/add", data={"store_ids": [world.c.id]},
                  csrf=False).status_code in (400, 422)
    assert relation_of(world.a, world.b).status is RelationStatus.OPEN
    assert relation_of(world.c, world.a).status is RelationStatus.OPEN
    assert relation_of(world.a, world.c) is None


def test_operator_routes_are_403_for_merchants(world, relations, browser):
    ab, _ = relations
    ab_blocked = make_relation(world.b, world.c, status=RelationStatus.DISSOLVED,
                               dissolved_by=DissolvedBy.PARTNER, blocked=True)
    db.session.commit()
    for username in ("ownerA01", "ownerC01", "viewA001"):
        client = browser(username)
        assert client.get("/operator/partners/").status_code == 403
        assert client.get("/operator/partners/?format=xlsx").status_code == 403
        assert client.get(f"/operator/partners/{ab.id}/history").status_code == 403
        assert client.post(f"/operator/partners/{ab_blocked.id}/unblock").status_code == 403
    assert relation_of(world.b, world.c).blocked


def test_merchant_pages_are_403_for_the_operator(world, relations, browser):
    operator = browser("op000001")
    assert operator.get("/settings/partners/").status_code == 403
    assert operator.get("/settings/partners/joint-issuers").status_code == 403


def test_every_partners_route_with_an_id_is_404_for_an_unrelated_store(app, world, browser):
    """The matrix of tests/web/test_tenancy_matrix.py, for this blueprint: every route and
    method, with the id of a relation between two other stores."""
    ab = make_relation(world.a, world.b)
    db.session.commit()
    client = browser("ownerC01")
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("partners.") or "relation_id" not in rule.arguments:
            continue
        url = app.url_map.bind("localhost").build(rule.endpoint, {"relation_id": ab.id})
        for method in ("GET", "POST"):
            if method in rule.methods:
                data = {"status": "dissolved"} if method == "POST" else None
                assert client.open(url, method=method, data=data).status_code == 404, url
                checked += 1
    assert checked == 6
    assert relation_of(world.a, world.b).is_open

"""聯合票券發行單位: the partner's side lists, dissolves, shows history and exports."""

from app.db import db
from app.stores.models import DissolvedBy, RelationStatus
from tests.factories import make_product, make_relation, make_store
from tests.partners.helpers import BLOCKED_MESSAGE, granted_ids, relation_of, table, xlsx_rows


def test_partner_sees_only_relations_naming_it(world, browser):
    make_relation(world.a, world.b)  # A → B: B's joint issuer is A
    make_relation(world.c, world.b, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.ISSUER)
    make_relation(world.b, world.c)  # B's own issuing relation: not on this page
    make_relation(world.a, world.c)  # another pair
    db.session.commit()
    html = browser("ownerB01").get("/settings/partners/joint-issuers").get_data(as_text=True)
    assert 'class="nav-link active" href="/settings/partners/joint-issuers"' in html
    rows = table(html, "joint-issuers")
    assert rows.count('data-testid="relation-row"') == 2
    assert world.a.merchant_code in rows and "甲發行" in rows and "丙商店" in rows
    assert "解除關聯" in rows  # C's dissolved relation
    c_rows = table(browser("ownerC01").get("/settings/partners/joint-issuers").get_data(
        as_text=True), "joint-issuers")
    assert c_rows.count('data-testid="relation-row"') == 2  # from A and from B
    a_rows = table(browser("ownerA01").get("/settings/partners/joint-issuers").get_data(
        as_text=True), "joint-issuers")
    assert "尚無聯合票券發行單位" in a_rows


def test_partner_list_paginates_its_own_rows(app, world, browser):
    app.config["PAGE_SIZE"] = 1
    make_relation(world.a, world.b)
    make_relation(world.c, world.b)
    make_relation(world.a, world.c)
    db.session.commit()
    html = browser("ownerB01").get("/settings/partners/joint-issuers").get_data(as_text=True)
    assert "第 1 / 2 頁（共 2 筆）" in html


def test_partner_dissolves_with_a_confirm_and_the_issuer_is_blocked(world, browser):
    relation = make_relation(world.a, world.b)
    product = make_product(world.a, partners=(world.b,))
    db.session.commit()
    partner = browser("ownerB01")
    listing = table(partner.get("/settings/partners/joint-issuers").get_data(as_text=True),
                    "joint-issuers")
    assert f"/settings/partners/joint-issuers/{relation.id}/edit" in listing
    page = partner.get(f"/settings/partners/joint-issuers/{relation.id}/edit")
    assert "data-confirm=" in page.get_data(as_text=True)
    response = partner.post(f"/settings/partners/joint-issuers/{relation.id}/edit")
    assert response.status_code == 303
    after = relation_of(world.a, world.b)
    assert (after.status, after.dissolved_by, after.blocked) == (
        RelationStatus.DISSOLVED, DissolvedBy.PARTNER, True)
    assert granted_ids(product.id) == set()
    listing = table(partner.get("/settings/partners/joint-issuers").get_data(as_text=True),
                    "joint-issuers")
    assert "/edit" not in listing and "可核銷商店" in listing  # no 編輯 once dissolved
    again = partner.post(f"/settings/partners/joint-issuers/{relation.id}/edit")
    assert again.status_code == 409 and "此關聯已解除" in again.get_data(as_text=True)

    issuer = browser("ownerA01")
    issuer_list = table(issuer.get("/settings/partners/").get_data(as_text=True),
                        "partner-relations")
    assert "封鎖中" in issuer_list
    refused = issuer.post(f"/settings/partners/{relation.id}/edit", data={"status": "open"})
    assert refused.status_code == 409 and BLOCKED_MESSAGE in refused.get_data(as_text=True)
    assert relation_of(world.a, world.b).status is RelationStatus.DISSOLVED


def test_history_is_visible_on_both_sides_and_only_for_that_pair(world, browser):
    issuer = browser("ownerA01")
    issuer.post("/settings/partners/add", data={"store_ids": [world.b.id, world.c.id]})
    ab, ac = relation_of(world.a, world.b), relation_of(world.a, world.c)
    issuer.post(f"/settings/partners/{ac.id}/edit", data={"status": "dissolved"})
    partner = browser("ownerB01")
    partner.post(f"/settings/partners/joint-issuers/{ab.id}/edit")

    seen_by_b = table(partner.get(f"/settings/partners/joint-issuers/{ab.id}/history")
                      .get_data(as_text=True), "relation-history")
    assert "新增可核銷商店" in seen_by_b and "可核銷商店解除關聯" in seen_by_b
    assert "ownerB01" in seen_by_b  # its own staff by name
    assert "ownerA01" not in seen_by_b and f"發行單位（{world.a.merchant_code}" in seen_by_b
    assert "發行單位解除關聯" not in seen_by_b  # that was the A→C pair
    assert "封鎖：否 → 是" in seen_by_b

    seen_by_a = table(issuer.get(f"/settings/partners/{ab.id}/history").get_data(as_text=True),
                      "relation-history")
    assert "可核銷商店解除關聯" in seen_by_a and "ownerA01" in seen_by_a
    assert "ownerB01" not in seen_by_a and f"可核銷商店（{world.b.merchant_code}" in seen_by_a
    assert "發行單位解除關聯" not in seen_by_a

    # C is the partner of A→C, not of A→B: it sees its own pair's history and nothing else.
    third = browser("ownerC01")
    assert third.get(f"/settings/partners/joint-issuers/{ab.id}/history").status_code == 404
    seen_by_c = table(third.get(f"/settings/partners/joint-issuers/{ac.id}/history")
                      .get_data(as_text=True), "relation-history")
    assert "發行單位解除關聯" in seen_by_c and "可核銷商店解除關聯" not in seen_by_c


def test_partner_excel_export(world, browser):
    hostile = make_store("@SUM(1+1)")
    make_relation(world.a, world.b)
    make_relation(hostile, world.b, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.PARTNER, blocked=True)
    make_relation(world.a, world.c)
    db.session.commit()
    rows = xlsx_rows(browser("viewB001").get("/settings/partners/joint-issuers?format=xlsx"))
    assert rows[0] == ("發行單位商店代號", "發行單位名稱", "關聯狀態", "解除方", "封鎖",
                       "最後異動時間", "近90天跨店核銷張數", "近90天跨店核銷面額")
    assert sorted(r[:5] for r in rows[1:]) == sorted([
        (world.a.merchant_code, "甲發行", "開啟", None, "否"),
        (hostile.merchant_code, "'@SUM(1+1)", "解除關聯", "可核銷商店", "是"),
    ])
    assert all(r[5] is not None for r in rows[1:])
    assert all(r[6:] == (0, 0) for r in rows[1:])  # no cross-store redemptions yet
    open_only = xlsx_rows(browser("ownerB01").get(
        "/settings/partners/joint-issuers?format=xlsx&status=open"))
    assert [r[0] for r in open_only[1:]] == [world.a.merchant_code]

"""跨店關聯封鎖: the operator finds blocked relations, unblocks them; the issuer re-opens."""

from app.db import db
from app.stores.models import DissolvedBy, RelationStatus
from tests.factories import make_relation
from tests.partners.helpers import BLOCKED_MESSAGE, relation_of, table, xlsx_rows


def _blocked(world):  # noqa: ANN001, ANN202
    relation = make_relation(world.a, world.b, status=RelationStatus.DISSOLVED,
                             dissolved_by=DissolvedBy.PARTNER, blocked=True)
    make_relation(world.a, world.c)
    db.session.commit()
    return relation


def test_page_opens_on_blocked_relations_and_searches_all(world, browser):
    _blocked(world)
    operator = browser("op000001")
    html = operator.get("/operator/partners/").get_data(as_text=True)
    rows = table(html, "admin-relations")
    assert rows.count('data-testid="relation-row"') == 1
    assert "乙夥伴" in rows and "甲發行" in rows and "解除封鎖" in rows and "data-confirm=" in rows
    every = table(operator.get("/operator/partners/?status=").get_data(as_text=True),
                  "admin-relations")
    assert every.count('data-testid="relation-row"') == 2
    found = table(operator.get("/operator/partners/?status=&q=丙").get_data(as_text=True),
                  "admin-relations")
    assert found.count('data-testid="relation-row"') == 1 and "丙商店" in found
    none = table(operator.get("/operator/partners/?q=丙").get_data(as_text=True),
                 "admin-relations")
    assert "查無符合條件的跨店關聯" in none


def test_unblock_then_the_issuer_may_reopen(world, browser):
    relation = _blocked(world)
    issuer = browser("ownerA01")
    refused = issuer.post("/settings/partners/add", data={"store_ids": [world.b.id]})
    assert refused.status_code == 409 and BLOCKED_MESSAGE in refused.get_data(as_text=True)

    operator = browser("op000001")
    response = operator.post(f"/operator/partners/{relation.id}/unblock")
    assert response.status_code == 303
    after = relation_of(world.a, world.b)
    assert after.status is RelationStatus.DISSOLVED and not after.blocked
    assert "已解除封鎖" in operator.get("/operator/partners/").get_data(as_text=True)
    again = operator.post(f"/operator/partners/{relation.id}/unblock", follow_redirects=True)
    assert "此關聯未被封鎖" in again.get_data(as_text=True)

    assert issuer.post(f"/settings/partners/{relation.id}/edit",
                       data={"status": "open"}).status_code == 303
    assert relation_of(world.a, world.b).status is RelationStatus.OPEN

    history = table(operator.get(f"/operator/partners/{relation.id}/history")
                    .get_data(as_text=True), "relation-history")
    assert "解除封鎖" in history and "op000001" in history and "重新開啟關聯" in history
    partner_view = table(browser("ownerB01").get(
        f"/settings/partners/joint-issuers/{relation.id}/history").get_data(as_text=True),
        "relation-history")
    assert "解除封鎖" in partner_view and "平台管理員" in partner_view
    assert "op000001" not in partner_view


def test_unblock_needs_the_csrf_token_and_a_real_relation(world, browser):
    relation = _blocked(world)
    operator = browser("op000001")
    assert operator.post(f"/operator/partners/{relation.id}/unblock",
                         csrf=False).status_code == 400
    assert operator.post("/operator/partners/999999/unblock").status_code == 404
    assert operator.get("/operator/partners/999999/history").status_code == 404
    assert relation_of(world.a, world.b).blocked


def test_operator_excel(world, browser):
    _blocked(world)
    rows = xlsx_rows(browser("op000001").get("/operator/partners/?status=&format=xlsx"))
    assert rows[0] == ("發行單位商店代號", "發行單位名稱", "可核銷商店代號", "可核銷商店名稱",
                       "關聯狀態", "解除方", "封鎖", "最後異動時間")
    assert sorted(r[2:7] for r in rows[1:]) == sorted([
        (world.b.merchant_code, "乙夥伴", "解除關聯", "可核銷商店", "是"),
        (world.c.merchant_code, "丙商店", "開啟", None, "否"),
    ])

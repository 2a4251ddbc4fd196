"""可核銷商店設定: list, search and add, edit (open / dissolve), history, Excel."""

from app.db import db
from app.stores.models import DissolvedBy, RelationStatus
from tests.factories import make_product, make_relation
from tests.partners.helpers import BLOCKED_MESSAGE, granted_ids, relation_of, table, xlsx_rows


def test_empty_list_and_the_add_button(world, browser):
    html = browser("ownerA01").get("/settings/partners/").get_data(as_text=True)
    assert "尚未設定可核銷商店" in html and "新增跨店" in html
    assert 'class="nav-link active" href="/settings/partners/"' in html  # the tab


def test_search_excludes_itself_and_open_relations(world, browser):
    make_relation(world.a, world.c)
    db.session.commit()
    client = browser("ownerA01")
    assert "請輸入商店代號或名稱" in client.get("/settings/partners/search").get_data(as_text=True)
    html = table(client.get("/settings/partners/search?q=商").get_data(as_text=True),
                 "search-results")
    assert "丙商店" not in html and "甲發行" not in html  # open relation; the store itself
    assert "乙夥伴" not in html  # its name does not contain 商
    html = table(client.get("/settings/partners/search?q=店").get_data(as_text=True),
                 "search-results")
    assert "丙商店" not in html and "乙夥伴" not in html
    html = client.get("/settings/partners/search?q=乙").get_data(as_text=True)
    assert world.b.merchant_code in html and "乙夥伴" in html
    by_code = client.get(f"/settings/partners/search?q={world.b.merchant_code}")
    assert f'value="{world.b.id}"' in by_code.get_data(as_text=True)
    assert "查無可新增的商店" in client.get("/settings/partners/search?q=ZZZ").get_data(
        as_text=True)


def test_search_is_case_insensitive(world, browser):
    world.c.name = "Coffee Shop"
    db.session.commit()
    html = browser("ownerA01").get("/settings/partners/search?q=cOFFEE").get_data(as_text=True)
    assert "Coffee Shop" in html


def test_tick_and_confirm_adds_open_relations(world, browser):
    client = browser("ownerA01")
    response = client.post("/settings/partners/add", data={"store_ids": [world.b.id, world.c.id]})
    assert response.status_code == 303 and response.location.endswith("/settings/partners/")
    assert relation_of(world.a, world.b).status is RelationStatus.OPEN
    assert relation_of(world.a, world.c).status is RelationStatus.OPEN
    html = client.get("/settings/partners/").get_data(as_text=True)
    assert "已新增可核銷商店" in html
    assert "乙夥伴" in html and "丙商店" in html and html.count("開啟") >= 2


def test_adding_nothing_is_refused_on_the_page(world, browser):
    response = browser("ownerA01").post("/settings/partners/add", data={"q": "乙"})
    assert response.status_code == 422
    assert "請勾選至少一間商店" in response.get_data(as_text=True)


def test_re_adding_a_relation_the_issuer_dissolved_reopens_it(world, browser):
    make_relation(world.a, world.b, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.ISSUER)
    db.session.commit()
    client = browser("ownerA01")
    assert "勾選後將重新開啟" in client.get("/settings/partners/search?q=乙").get_data(
        as_text=True)
    assert client.post("/settings/partners/add",
                       data={"store_ids": [world.b.id]}).status_code == 303
    assert relation_of(world.a, world.b).status is RelationStatus.OPEN


def test_a_blocked_relation_is_refused_with_the_message(world, browser):
    make_relation(world.a, world.b, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.PARTNER, blocked=True)
    db.session.commit()
    client = browser("ownerA01")
    search = client.get("/settings/partners/search?q=乙").get_data(as_text=True)
    assert "封鎖中" in search
    response = client.post("/settings/partners/add", data={"store_ids": [world.b.id]})
    assert response.status_code == 409
    assert BLOCKED_MESSAGE in response.get_data(as_text=True)
    edit = client.get(f"/settings/partners/{relation_of(world.a, world.b).id}/edit")
    assert BLOCKED_MESSAGE in edit.get_data(as_text=True)
    assert 'value="open"' not in edit.get_data(as_text=True)
    forged = client.post(f"/settings/partners/{relation_of(world.a, world.b).id}/edit",
                         data={"status": "open"})
    assert forged.status_code == 409 and BLOCKED_MESSAGE in forged.get_data(as_text=True)
    assert relation_of(world.a, world.b).blocked


def test_edit_dissolves_with_a_confirm_then_reopens(world, browser):
    relation = make_relation(world.a, world.b)
    product = make_product(world.a, partners=(world.b,))
    db.session.commit()
    client = browser("ownerA01")
    page = client.get(f"/settings/partners/{relation.id}/edit").get_data(as_text=True)
    assert 'value="dissolved"' in page and "data-confirm=" in page
    response = client.post(f"/settings/partners/{relation.id}/edit", data={"status": "dissolved"})
    assert response.status_code == 303
    assert relation_of(world.a, world.b).dissolved_by is DissolvedBy.ISSUER
    assert granted_ids(product.id) == set()
    listing = client.get("/settings/partners/").get_data(as_text=True)
    assert "解除關聯" in listing and "發行單位" in listing

    page = client.get(f"/settings/partners/{relation.id}/edit").get_data(as_text=True)
    assert 'value="open"' in page
    assert client.post(f"/settings/partners/{relation.id}/edit",
                       data={"status": "open"}).status_code == 303
    assert relation_of(world.a, world.b).status is RelationStatus.OPEN
    assert granted_ids(product.id) == set()
    assert client.post(f"/settings/partners/{relation.id}/edit",
                       data={"status": "bogus"}).status_code == 422


def test_list_filters_by_status_and_query(world, browser):
    make_relation(world.a, world.b)
    make_relation(world.a, world.c, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.ISSUER)
    db.session.commit()
    client = browser("ownerA01")
    html = table(client.get("/settings/partners/?status=dissolved").get_data(as_text=True),
                 "partner-relations")
    assert "丙商店" in html and "乙夥伴" not in html
    html = table(client.get("/settings/partners/?q=乙").get_data(as_text=True),
                 "partner-relations")
    assert "乙夥伴" in html and "丙商店" not in html


def test_history_page_shows_the_pair_only(world, browser):
    client = browser("ownerA01")
    client.post("/settings/partners/add", data={"store_ids": [world.b.id, world.c.id]})
    ab = relation_of(world.a, world.b)
    client.post(f"/settings/partners/{ab.id}/edit", data={"status": "dissolved"})
    html = table(client.get(f"/settings/partners/{ab.id}/history").get_data(as_text=True),
                 "relation-history")
    assert "新增可核銷商店" in html and "發行單位解除關聯" in html
    assert "關聯狀態：開啟 → 解除關聯" in html
    assert world.c.merchant_code not in html  # the A→C entry is another pair's
    ac = relation_of(world.a, world.c)
    other = table(client.get(f"/settings/partners/{ac.id}/history").get_data(as_text=True),
                  "relation-history")
    assert other.count("新增可核銷商店") == 1 and "發行單位解除關聯" not in other


def test_excel_export_of_the_current_query(world, browser):
    world.c.name = "=HYPERLINK(\"http://evil\")"
    make_relation(world.a, world.b)
    make_relation(world.a, world.c, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.ISSUER)
    db.session.commit()
    client = browser("viewA001")  # viewing is enough to export
    rows = xlsx_rows(client.get("/settings/partners/?format=xlsx"))
    assert rows[0] == ("商店代號", "商店名稱", "關聯狀態", "解除方", "封鎖", "最後異動時間")
    body = sorted(rows[1:])
    assert [r[:5] for r in body] == [
        (world.b.merchant_code, "乙夥伴", "開啟", None, "否"),
        (world.c.merchant_code, "'=HYPERLINK(\"http://evil\")", "解除關聯", "發行單位", "否"),
    ]
    rows = xlsx_rows(client.get("/settings/partners/?format=xlsx&status=open"))
    assert [r[0] for r in rows[1:]] == [world.b.merchant_code]
    empty = xlsx_rows(browser("ownerB01").get("/settings/partners/?format=xlsx"))
    assert empty == [rows[0]]

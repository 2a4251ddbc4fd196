"""7-3 A 商品管理 pages: add (pickup / gift, image), validation, edit before and after issuance,
copy, bulk list / delist, history, Excel, the parent store's read-only view, permissions."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from werkzeug.datastructures import FileStorage

from app import clock, history
from app.auth.permissions import Function, Level
from app.db import db
from app.products.models import BranchRole, ProductKind
from app.products.services import LOCKED_MESSAGE, PARTNER_NOT_OPEN, REDEEM_BRANCH_NOT_OWN
from app.stores.models import RelationStatus
from app.uploads.models import UploadPurpose
from app.uploads.services import path_of, save_image
from tests.factories import (
    login,
    make_account,
    make_branch,
    make_product,
    make_relation,
    make_store,
    make_sub,
)
from tests.products.helpers import TODAY, entries, freeze_today, png, product_form, product_named, reload


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    """A store with its main account logged in, two branches and one open partner store."""
    freeze_today()
    store = make_store("好吃餐廳")
    owner = make_account(store, username="owner01")
    branches = [make_branch(store, "A01", "台北店"), make_branch(store, "A02", "台中店")]
    partner = make_store("合作夥伴")
    make_relation(store, partner)
    db.session.commit()
    return store, owner, branches, partner


def _html(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


# 新增商品 -----------------------------------------------------------------------------------

def test_creating_a_pickup_voucher_with_image_lists_it_and_records_history(client, shop, app):
    store, owner, (taipei, taichung), partner = shop
    login(client, owner.username)
    page = client.get("/products/new")
    assert page.status_code == 200
    assert "確認上架" in _html(page) and partner.label in _html(page) and "A01 台北店" in _html(page)

    data = product_form(partner_stores=[str(partner.id)], redeem_branches=[str(taipei.id)],
                        return_branches=[str(taichung.id)])
    data["image"] = (io.BytesIO(png()), "noodles.png", "image/png")
    response = client.post("/products/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, _html(response)[:2000]

    product = product_named("招牌牛肉麵兌換券")
    assert product.store_id == store.id and product.listed is True
    assert product.kind is ProductKind.PICKUP and product.face_value == 280
    assert product.escrow_end == TODAY + timedelta(days=365) and product.valid_until is None
    assert product.partner_store_ids == {partner.id}
    assert product.branch_ids(BranchRole.REDEEM) == {taipei.id}
    assert product.branch_ids(BranchRole.RETURN) == {taichung.id}
    assert product.image is not None and path_of(product.image).exists()
    assert client.get(f"/media/{product.image.token}").headers["Content-Type"] == "image/png"
    [created] = entries(product.id)
    assert created.action == "created" and created.actor_label == "owner01"
    assert created.changes["face_value"] == [None, 280]
    assert created.changes["partner_stores"] == [None, [partner.label]]
    assert created.changes["redeem_branches"] == [None, ["A01 台北店"]]

    listing = _html(client.get("/products/"))
    assert "招牌牛肉麵兌換券" in listing and "NT$280" in listing and "上架中" in listing


def test_creating_a_gift_voucher_keeps_only_its_validity_end(client, shop):
    _, owner, _, _ = shop
    login(client, owner.username)
    response = client.post("/products/new", data=product_form(
        kind="gift", name="生日小禮", face_value="1", valid_until=TODAY.isoformat(),
        escrow_end=(TODAY + timedelta(days=30)).isoformat()))
    assert response.status_code == 303
    product = product_named("生日小禮")
    assert product.kind is ProductKind.GIFT
    assert product.valid_until == TODAY and product.escrow_end is None  # the other date dropped
    assert product.partner_links == [] and product.branch_links == []  # empty: every branch


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "gift", "valid_until": "", "escrow_end": ""}, "贈品券請輸入使用期限"),
        ({"kind": "gift", "valid_until": (TODAY - timedelta(days=1)).isoformat()},
         "使用期限不可早於今日"),
        ({"escrow_end": (TODAY - timedelta(days=1)).isoformat()}, "價金保管迄日須晚於今日"),
        ({"escrow_end": TODAY.isoformat()}, "價金保管迄日須晚於今日"),  # after today
        ({"escrow_end": ""}, "提貨券請輸入價金保管迄日"),
        ({"face_value": "0"}, "面額須為 1 至 1,000,000 的整數"),
        ({"face_value": "1000001"}, "面額須為 1 至 1,000,000 的整數"),
        ({"name": ""}, "請輸入商品名稱"),
        ({"name": "名" * 101}, "商品名稱至多 100 字"),
        ({"usage_instructions": "說" * 2001}, "使用說明至多 2000 字"),
        ({"kind": ""}, "請選擇票券類型"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(client, shop, overrides,
                                                                   message):
    _, owner, _, _ = shop
    login(client, owner.username)
    response = client.post("/products/new", data=product_form(**overrides))
    assert response.status_code == 422
    assert message in _html(response)
    assert product_named(overrides.get("name", "招牌牛肉麵兌換券")) is None


def test_forged_partner_and_foreign_branch_ids_are_refused(client, shop):
    store, owner, _, partner = shop
    stranger = make_store("不相干商店")
    dissolved = make_store("已解除商店")
    make_relation(store, dissolved, status=RelationStatus.DISSOLVED)
    foreign_branch = make_branch(stranger, "X01", "別人的分店")
    db.session.commit()
    login(client, owner.username)
    for forged in (stranger.id, dissolved.id):
        response = client.post("/products/new",
                               data=product_form(partner_stores=[str(forged)]))
        assert response.status_code == 422
        assert PARTNER_NOT_OPEN in _html(response)
    response = client.post("/products/new",
                           data=product_form(redeem_branches=[str(foreign_branch.id)]))
    assert response.status_code == 422
    assert REDEEM_BRANCH_NOT_OWN in _html(response)
    response = client.post("/products/new",
                           data=product_form(return_branches=[str(foreign_branch.id)]))
    assert response.status_code == 422 and "所選的退貨分店不屬於貴商店" in _html(response)
    assert product_named("招牌牛肉麵兌換券") is None


def test_a_file_that_is_not_an_image_is_refused(client, shop):
    _, owner, _, _ = shop
    login(client, owner.username)
    data = product_form()
    data["image"] = (io.BytesIO(b"%PDF-1.4 not an image"), "menu.png", "image/png")
    response = client.post("/products/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "僅接受 PNG、JPG、GIF 或 WebP 圖片檔" in _html(response)
    assert product_named("招牌牛肉麵兌換券") is None


# 編輯商品 -----------------------------------------------------------------------------------

def test_before_issuance_everything_can_be_edited(client, shop):
    store, owner, (taipei, _), _ = shop
    product = make_product(store, "舊名稱", face_value=100)
    db.session.commit()
    login(client, owner.username)
    page = client.get(f"/products/{product.id}/edit")
    assert page.status_code == 200 and "更新商品" in _html(page) and "舊名稱" in _html(page)
    response = client.post(f"/products/{product.id}/edit", data=product_form(
        name="新名稱", face_value="150", kind="gift",
        valid_until=(TODAY + timedelta(days=10)).isoformat(),
        redeem_branches=[str(taipei.id)]))
    assert response.status_code == 303, _html(response)[:2000]
    product = reload(product.id)
    assert (product.name, product.face_value, product.kind) == ("新名稱", 150, ProductKind.GIFT)
    assert product.escrow_end is None and product.valid_until == TODAY + timedelta(days=10)
    assert product.branch_ids(BranchRole.REDEEM) == {taipei.id}
    updated = entries(product.id)[-1]
    assert updated.action == "updated"
    assert updated.changes["name"] == ["舊名稱", "新名稱"]
    assert updated.changes["face_value"] == [100, 150]
    assert updated.changes["kind"] == ["pickup", "gift"]
    assert updated.changes["redeem_branches"] == [[], ["A01 台北店"]]


def test_after_issuance_face_value_is_locked_but_the_lists_still_change(client, shop):
    store, owner, (taipei, taichung), partner = shop
    product = make_product(store, "已發行商品", face_value=500)
    product.first_issued_at = clock.now()
    db.session.commit()
    login(client, owner.username)

    page = _html(client.get(f"/products/{product.id}/edit"))
    assert "僅可編輯跨店核銷、核銷分店、退貨分店" in page
    assert 'name="face_value"' not in page  # frozen fields are shown as text

    escrow = product.escrow_end.isoformat()
    refused = client.post(f"/products/{product.id}/edit", data=product_form(
        name="已發行商品", face_value="600", escrow_end=escrow, description="",
        usage_instructions="", redeem_branches=[str(taipei.id)]))
    assert refused.status_code == 409
    assert LOCKED_MESSAGE in _html(refused)
    product = reload(product.id)
    assert product.face_value == 500 and product.branch_links == []  # nothing saved
    assert [e.action for e in entries(product.id)] == []

    for change in ({"name": "改名"}, {"escrow_end": (TODAY + timedelta(days=3)).isoformat()}):
        response = client.post(f"/products/{product.id}/edit", data=change)
        assert response.status_code == 409 and LOCKED_MESSAGE in _html(response)
    image = {"image": (io.BytesIO(png()), "new.png", "image/png")}
    response = client.post(f"/products/{product.id}/edit", data=image,
                           content_type="multipart/form-data")
    assert response.status_code == 409 and reload(product.id).image is None

    # Only the lists, as the page posts them: accepted.
    allowed = client.post(f"/products/{product.id}/edit", data={
        "partner_stores": [str(partner.id)], "redeem_branches": [str(taipei.id)],
        "return_branches": [str(taichung.id)]})
    assert allowed.status_code == 303, _html(allowed)[:2000]
    product = reload(product.id)
    assert product.face_value == 500 and product.name == "已發行商品"
    assert product.partner_store_ids == {partner.id}
    assert product.branch_ids(BranchRole.REDEEM) == {taipei.id}
    assert product.branch_ids(BranchRole.RETURN) == {taichung.id}
    [updated] = entries(product.id)
    assert set(updated.changes) == {"partner_stores", "redeem_branches", "return_branches"}


def test_saving_an_unchanged_product_writes_no_history(client, shop):
    store, owner, _, _ = shop
    product = make_product(store, "不變商品")
    db.session.commit()
    login(client, owner.username)
    response = client.post(f"/products/{product.id}/edit", data=product_form(
        name="不變商品", face_value="500", escrow_end=product.escrow_end.isoformat(),
        description="", usage_instructions=""), follow_redirects=True)
    assert "商品內容未變更" in _html(response)
    assert entries(product.id) == []


# 複製商品 -----------------------------------------------------------------------------------

def test_copy_prefills_the_form_and_saves_only_on_confirm(client, shop):
    store, owner, (taipei, _), partner = shop
    original = make_product(store, "原始商品", face_value=777, partners=[partner],
                            redeem=[taipei])
    original.usage_instructions = "限內用"
    original.image = save_image(store.id, FileStorage(io.BytesIO(png()), filename="a.png"),
                                UploadPurpose.PRODUCT)
    db.session.commit()
    login(client, owner.username)
    page = client.get(f"/products/new?copy={original.id}")
    html = _html(page)
    assert page.status_code == 200 and "複製商品" in html
    assert 'value="原始商品"' in html and 'value="777"' in html and "限內用" in html
    assert f'name="partner_stores" id="partner_stores-{partner.id}" value="{partner.id}" checked' in html
    assert f'value="{original.id}"' in html  # copy_of
    assert product_named("原始商品").id == original.id  # nothing saved by opening the page

    response = client.post("/products/new", data=product_form(
        name="原始商品（第二檔）", face_value="777", copy_of=str(original.id),
        partner_stores=[str(partner.id)], redeem_branches=[str(taipei.id)]))
    assert response.status_code == 303
    copy = product_named("原始商品（第二檔）")
    assert copy.id != original.id and copy.listed
    assert copy.partner_store_ids == {partner.id}
    assert copy.image_upload_id == original.image_upload_id  # the image comes along
    [created] = entries(copy.id)
    assert created.changes["copied_from"] == [None, f"#{original.id} 原始商品"]
    assert "複製自商品" in created.reason


# 整批上架 / 整批下架、歷程 -------------------------------------------------------------------

def test_bulk_delist_and_relist_with_history_and_entry_view(client, shop):
    store, owner, _, _ = shop
    first, second = make_product(store, "商品甲"), make_product(store, "商品乙")
    db.session.commit()
    login(client, owner.username)
    response = client.post("/products/listing", data={
        "action": "delist", "ids": [str(first.id), str(second.id)]}, follow_redirects=True)
    assert "已下架 2 項商品" in _html(response)
    assert not reload(first.id).listed and not reload(second.id).listed
    client.post("/products/listing", data={"action": "list", "ids": [str(first.id)]})
    assert reload(first.id).listed and not reload(second.id).listed
    assert [e.action for e in entries(first.id)] == ["delisted", "listed"]
    assert [e.action for e in entries(second.id)] == ["delisted"]

    history_page = client.get(f"/products/{first.id}/history")
    html = _html(history_page)
    assert history_page.status_code == 200
    assert "下架" in html and "上架" in html and "查看修改紀錄" in html
    delisted = entries(first.id)[0]
    detail = client.get(f"/products/{first.id}/history/{delisted.id}")
    html = _html(detail)
    assert detail.status_code == 200
    assert "上架狀態" in html and "修改前" in html
    assert html.index("上架</span>") < html.index("下架</span>")  # before → after
    # An entry of another product is not reachable through this one.
    assert client.get(f"/products/{second.id}/history/{delisted.id}").status_code == 404


def test_history_entry_shows_before_and_after_of_an_edit(client, shop):
    store, owner, (taipei, _), _ = shop
    product = make_product(store, "看歷程", face_value=300)
    db.session.commit()
    login(client, owner.username)
    client.post(f"/products/{product.id}/edit", data=product_form(
        name="看歷程", face_value="350", escrow_end=product.escrow_end.isoformat(),
        description="", usage_instructions="", redeem_branches=[str(taipei.id)]))
    updated = entries(product.id)[-1]
    html = _html(client.get(f"/products/{product.id}/history/{updated.id}"))
    assert "修改" in html
    assert "NT$300" in html and "NT$350" in html
    assert "核銷分店" in html and "A01 台北店" in html


def test_bulk_listing_without_a_selection_changes_nothing(client, shop):
    store, owner, _, _ = shop
    product = make_product(store)
    db.session.commit()
    login(client, owner.username)
    response = client.post("/products/listing", data={"action": "delist"},
                           follow_redirects=True)
    assert "請勾選商品" in _html(response)
    assert reload(product.id).listed
    assert client.post("/products/listing", data={"action": "delist", "ids": ["x"]}
                       ).status_code == 404


def test_bulk_listing_needs_the_csrf_token(client, shop):
    store, owner, _, _ = shop
    product = make_product(store)
    db.session.commit()
    login(client, owner.username)
    response = client.post("/products/listing", data={"action": "delist",
                                                      "ids": [str(product.id)]}, csrf=False)
    assert response.status_code == 400
    assert reload(product.id).listed


# 查詢商品、下載Excel -------------------------------------------------------------------------

def test_list_filters_by_name_kind_status_and_created_date(client, shop):
    store, owner, _, _ = shop
    clock.freeze(clock.day_start(TODAY - timedelta(days=40)) + timedelta(hours=9))
    make_product(store, "舊的提貨券")
    clock.freeze(clock.day_start(TODAY) + timedelta(hours=9))
    make_product(store, "新的贈品券", kind=ProductKind.GIFT)
    make_product(store, "下架的提貨券", listed=False)
    db.session.commit()
    login(client, owner.username)

    def names(query: str) -> set[str]:
        html = _html(client.get(f"/products/{query}"))
        return {n for n in ("舊的提貨券", "新的贈品券", "下架的提貨券") if n in html}

    assert names("") == {"舊的提貨券", "新的贈品券", "下架的提貨券"}
    assert names("?q=提貨") == {"舊的提貨券", "下架的提貨券"}
    assert names("?kind=gift") == {"新的贈品券"}
    assert names("?listed=delisted") == {"下架的提貨券"}
    assert names("?listed=listed&kind=pickup") == {"舊的提貨券"}
    since = (TODAY - timedelta(days=7)).isoformat()
    assert names(f"?start={since}&end={TODAY.isoformat()}") == {"新的贈品券", "下架的提貨券"}
    too_long = client.get(f"/products/?start=2024-01-01&end={TODAY.isoformat()}")
    assert too_long.status_code == 422 and "查詢區間不可超過十二個月" in _html(too_long)
    assert "查無商品" in _html(client.get("/products/?q=不存在"))


def test_excel_export_of_the_current_query_is_guarded(client, shop):
    store, owner, (taipei, _), partner = shop
    make_product(store, "=HYPERLINK(\"http://x\")", partners=[partner], redeem=[taipei])
    make_product(store, "一般贈品", kind=ProductKind.GIFT, face_value=50)
    make_product(store, "另一個商品")
    db.session.commit()
    login(client, owner.username)
    response = client.get("/products/?format=xlsx&q=H")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("商品編號", "商店代號", "商店名稱", "商品名稱", "票券類型", "面額")
    assert len(rows) == 2  # the query: only the product whose name contains H
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["商品名稱"] == "'=HYPERLINK(\"http://x\")"
    assert row["面額"] == 500 and row["票券類型"] == "提貨券"
    assert row["跨店核銷"] == partner.label and row["核銷分店"] == "A01 台北店"
    assert row["退貨分店"] == "全部分店"
    every = load_workbook(io.BytesIO(client.get("/products/?format=xlsx").data)).active
    all_rows = list(every.iter_rows(values_only=True))
    assert len(all_rows) == 4
    for values in all_rows:
        for value in values:
            if isinstance(value, str):
                assert not value.startswith(("=", "+", "-", "@")), value


# 母商店、權限、他店 ---------------------------------------------------------------------------

def test_parent_sees_childrens_products_read_only(client, ctx):
    freeze_today()
    parent = make_store("總公司")
    child = make_store("子公司", parent=parent)
    owner = make_account(parent, username="parent01")
    own = make_product(parent, "母商店商品")
    theirs = make_product(child, "子商店商品")
    db.session.commit()
    login(client, owner.username)

    html = _html(client.get("/products/"))
    assert "母商店商品" in html and "子商店商品" in html
    assert 'data-col="store"' in html and child.label in html  # the 商店 column
    assert f'href="/products/{own.id}/edit"' in html
    assert f'href="/products/{theirs.id}/edit"' not in html  # no action buttons
    assert f'name="ids" value="{own.id}"' in html
    assert f'name="ids" value="{theirs.id}"' not in html  # no checkbox
    assert f'href="/products/{theirs.id}/history"' in html  # but its history can be read
    assert client.get(f"/products/{theirs.id}/history").status_code == 200
    book = load_workbook(io.BytesIO(client.get("/products/?format=xlsx").data)).active
    assert {r[3] for r in list(book.iter_rows(values_only=True))[1:]} == {"母商店商品", "子商店商品"}

    assert client.get(f"/products/{theirs.id}/edit").status_code == 404
    assert client.post(f"/products/{theirs.id}/edit",
                       data=product_form(name="偷改")).status_code == 404
    assert client.get(f"/products/new?copy={theirs.id}").status_code == 404
    for action in ("delist", "list"):
        response = client.post("/products/listing", data={
            "action": action, "ids": [str(own.id), str(theirs.id)]})
        assert response.status_code == 404
    theirs = reload(theirs.id)
    assert theirs.name == "子商店商品" and theirs.listed
    assert reload(own.id).listed  # the whole request was refused
    assert entries(theirs.id) == []

    # Paginated over both stores' products.
    client.application.config["PAGE_SIZE"] = 1
    html = _html(client.get("/products/"))
    assert "第 1 / 2 頁（共 2 筆）" in html

    # Switched into the child, the parent acts for it.
    client.post("/switch-store", data={"store_id": str(child.id)})
    assert client.get(f"/products/{theirs.id}/edit").status_code == 200


def test_view_only_sub_account_sees_the_list_but_cannot_change(client, shop):
    store, _, _, _ = shop
    product = make_product(store, "只能看")
    viewer = make_sub(store, username="viewer01", grants={Function.PRODUCTS: Level.VIEW})
    db.session.commit()
    login(client, viewer.username)
    html = _html(client.get("/products/"))
    assert "只能看" in html
    assert "新增商品" not in html and "整批下架" not in html and "複製商品" not in html
    assert client.get(f"/products/{product.id}/history").status_code == 200
    assert client.get("/products/new").status_code == 403
    assert client.post("/products/new", data=product_form()).status_code == 403
    assert client.get(f"/products/{product.id}/edit").status_code == 403
    assert client.post("/products/listing", data={"action": "delist",
                                                  "ids": [str(product.id)]}).status_code == 403
    assert reload(product.id).listed and product_named("招牌牛肉麵兌換券") is None


def test_sub_account_without_the_function_gets_403(client, shop):
    store, _, _, _ = shop
    clerk = make_sub(store, username="clerk01", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    login(client, clerk.username)
    assert client.get("/products/").status_code == 403


def test_another_stores_product_is_not_found(client, shop):
    _, owner, _, _ = shop
    other = make_store("別家")
    foreign = make_product(other, "別家的商品")
    db.session.commit()
    login(client, owner.username)
    assert "別家的商品" not in _html(client.get("/products/"))
    assert client.get(f"/products/{foreign.id}/edit").status_code == 404
    assert client.get(f"/products/{foreign.id}/history").status_code == 404
    assert client.post(f"/products/{foreign.id}/edit",
                       data=product_form(name="偷改")).status_code == 404
    their_entry = history.record(foreign, "created")
    db.session.commit()
    assert client.get(f"/products/{foreign.id}/history/{their_entry.id}").status_code == 404
    assert client.get(f"/products/new?copy={foreign.id}").status_code == 404
    assert client.post("/products/listing", data={"action": "delist",
                                                  "ids": [str(foreign.id)]}).status_code == 404
    foreign = reload(foreign.id)
    assert foreign.listed and foreign.name == "別家的商品"

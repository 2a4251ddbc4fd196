"""Browser: the demo issuer creates a branch, binds a sub-account, creates a pickup voucher
limited to that branch and granted to a partner store, delists and relists it, and sees each
change in the product history."""

from datetime import date

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_issuer_sets_up_a_branch_limited_pickup_voucher(live_server, page):
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation dialogs
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")

    # 操作設定管理 › 票券分店管理: a new branch
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="操作設定管理").click()
    page.get_by_role("link", name="票券分店管理").click()
    page.get_by_role("link", name="新增分店").click()
    page.get_by_label("分店編號").fill("B100")
    page.get_by_label("分店名稱").fill("信義門市")
    page.get_by_role("button", name="確認新增").click()
    expect(page.get_by_role("cell", name="信義門市")).to_be_visible()

    # 綁定子帳號: bind clerk2 to it
    page.get_by_role("link", name="綁定子帳號").first.click()
    page.get_by_role("link", name="綁定子帳號").last.click()
    page.get_by_label("選擇分店").select_option(label="B100 信義門市")
    page.get_by_label("clerk2").check()
    page.get_by_role("button", name="確認綁定").click()
    row = page.get_by_role("row").filter(has_text="clerk2")
    expect(row.get_by_text("信義門市")).to_be_visible()

    # 商品管理: a pickup voucher redeemable and returnable only at B100, granted to the partner
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="商品管理").click()
    page.get_by_role("link", name="新增商品").click()
    page.get_by_role("radio", name="提貨券").check()
    page.get_by_label("商品名稱").fill("信義限定禮盒券")
    page.get_by_label("面額").fill("1200")
    page.get_by_label("價金保管迄日（提貨券）").fill(f"{date.today().year + 1}-12-31")
    page.get_by_test_id("partner_stores").get_by_label("示範可核銷商店", exact=False).check()
    page.get_by_test_id("redeem_branches").get_by_label("B100 信義門市").check()
    page.get_by_test_id("return_branches").get_by_label("B100 信義門市").check()
    page.get_by_role("button", name="確認上架").click()

    row = page.get_by_test_id("product-row").filter(has_text="信義限定禮盒券")
    expect(row.get_by_text("上架中")).to_be_visible()
    expect(row.get_by_text("信義門市").first).to_be_visible()

    # 整批下架, then 整批上架
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="整批下架").click()
    row = page.get_by_test_id("product-row").filter(has_text="信義限定禮盒券")
    expect(row.get_by_text("已下架")).to_be_visible()
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="整批上架").click()
    row = page.get_by_test_id("product-row").filter(has_text="信義限定禮盒券")
    expect(row.get_by_text("上架中")).to_be_visible()

    # 歷程: created, delisted and relisted, with the lists it was created with
    row.get_by_role("link", name="歷程").click()
    history = page.locator("main")
    for action in ("新增", "下架", "上架"):
        expect(history.get_by_text(action, exact=True).first).to_be_visible()
    created = page.get_by_role("row").filter(has_text="新增")
    assert "跨店核銷" in created.inner_text() and "核銷分店" in created.inner_text()
    created.get_by_role("link", name="查看修改紀錄").click()
    change = page.locator("main").inner_text()
    assert "示範可核銷商店" in change and "信義門市" in change and "NT$1,200" in change

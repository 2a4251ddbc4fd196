"""5-1 錯誤代碼查詢: every code the pages and the API give, gathered from the code, searchable."""

from __future__ import annotations

from app.auth.permissions import BRANCH_DISABLED
from app.db import db
from app.merchant import errorcodes
from app.tickets import lifecycle
from tests.factories import login, make_account, make_store, make_sub


def test_the_list_is_built_from_the_code(app, ctx):
    codes = {(e.code, e.message) for e in errorcodes.all_codes()}
    # named refusals of the rules
    assert (lifecycle.ALREADY_REDEEMED.code, lifecycle.ALREADY_REDEEMED.message) in codes
    assert (BRANCH_DISABLED.code, BRANCH_DISABLED.message) in codes
    # HTTP answers
    assert ("rate_limited", "操作太頻繁，請稍後再試") in codes
    by_code = {e.code: e for e in errorcodes.all_codes()}
    # raised with code=…, the message read from its constant, the status from the class
    from app.tickets.services import UNKNOWN_CODE
    assert by_code["unknown_code"].message == UNKNOWN_CODE
    assert by_code["unknown_code"].status == 404
    assert "malformed_code" not in by_code  # a malformed code is answered as an unknown one
    assert "idempotency_key_reused" in by_code  # the API's
    assert all(e.message for e in errorcodes.all_codes())
    # every module-level Refusal of the app is listed
    import sys

    from app.refusal import Refusal
    named = {(v.code, v.message) for name, m in list(sys.modules.items()) if name.startswith("app.")
             for v in vars(m).values() if isinstance(v, Refusal)}
    assert named and named <= codes


def test_the_page_lists_and_searches(ctx, client):
    store = make_store()
    make_account(store, username="owner51")
    make_sub(store, "clerk051")  # any merchant account may read it
    db.session.commit()
    login(client, "clerk051")
    page = client.get("/vendor/error-codes").get_data(as_text=True)
    assert "錯誤代碼查詢" in page and "AlreadyRedeemed" in page and "rate_limited" in page
    total = page.count('data-testid="error-code-row"')
    assert total == len(errorcodes.all_codes())

    found = client.get("/vendor/error-codes", query_string={"q": "alreadyredeemed"})
    html = found.get_data(as_text=True)
    assert "此票券已核銷" in html and html.count('data-testid="error-code-row"') < total
    by_words = client.get("/vendor/error-codes", query_string={"q": "已超過使用期限"})
    assert "Expired" in by_words.get_data(as_text=True)
    none = client.get("/vendor/error-codes", query_string={"q": "zzz-no-such"})
    assert "查無符合的錯誤代碼" in none.get_data(as_text=True)


def test_the_menu_has_the_entry(ctx, client):
    make_account(make_store(), username="owner52")
    db.session.commit()
    login(client, "owner52")
    html = client.get("/home").get_data(as_text=True)
    assert "錯誤代碼查詢" in html and "/vendor/error-codes" in html

"""Browser, under the Content-Security-Policy: the behaviours that were inline scripts still work
from files (select all on the branch bindings page, the question before saving a branch as
disabled), and no page logs a policy violation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_moved_scripts_work_under_the_policy(live_server, page):
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")

    page.goto(f"{live_server}/settings/branches/bindings")
    boxes = page.locator("#unbind-form input[name=account_ids]")
    assert boxes.count() >= 1
    page.get_by_label("全選", exact=True).check()
    assert boxes.evaluate_all("bs => bs.every(b => b.checked)")
    page.get_by_label("全選", exact=True).uncheck()
    assert boxes.evaluate_all("bs => bs.every(b => !b.checked)")

    page.goto(f"{live_server}/settings/branches/new")
    page.get_by_label("分店編號").fill("Z901")
    page.get_by_label("分店名稱").fill("測試停用店")
    page.get_by_label("分店狀態").select_option("disabled")
    questions: list[str] = []

    def answer(dialog) -> None:  # noqa: ANN001
        questions.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.locator("#branch-save").click()
    page.wait_for_function("() => true")
    assert questions and questions[0].endswith("確定要停用嗎？")
    assert page.url.endswith("/settings/branches/new")  # dismissed: nothing saved
    assert refused == []

"""In a browser: the operator finds a refund the bank rejected (the demo's 退貨中 installment
order), presses 【重新送出】, re-runs today's sync, and sees the entry acknowledged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.escrow.models import BankInstruction, InstructionStatus
from demodata.stores import DEMO_PASSWORD
from tests.escrow.conftest import bank, simulator  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_operator_resends_a_rejected_refund(app, live_server, page, bank):  # noqa: ANN001, F811
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("operator")
    page.get_by_label("密碼").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/**")

    page.goto(f"{live_server}/operator/escrow/instructions?status=rejected")
    row = page.get_by_test_id("instructions").locator("tr[data-status=rejected]").filter(
        has=page.get_by_test_id("resend")).first
    instruction_id = int(row.get_attribute("data-instruction-id") or 0)
    serial = row.locator("code").first.inner_text()
    row.get_by_test_id("resend").click()  # the confirm dialog is accepted
    page.get_by_text(f"已重新送出 {serial} 的交易").wait_for()

    page.goto(f"{live_server}/operator/escrow/")
    page.get_by_test_id("rerun-form").get_by_role("button", name="重新執行").click()
    page.get_by_text("已重新執行").wait_for(timeout=30_000)

    page.goto(f"{live_server}/operator/escrow/instructions?serial={serial}")
    rows = page.get_by_test_id("instructions").locator("tr[data-instruction-id]")
    assert rows.first.get_attribute("data-status") == "acknowledged"  # the newest, resent
    assert "已退貨" in rows.first.inner_text()
    with app.app_context():
        old = db.session.get(BankInstruction, instruction_id)
        newer = db.session.scalars(select(BankInstruction).where(
            BankInstruction.period_id == old.period_id, BankInstruction.kind == old.kind,
            BankInstruction.id > old.id)).all()
        assert old.status is InstructionStatus.REJECTED
        assert [i.status for i in newer] == [InstructionStatus.ACKNOWLEDGED]

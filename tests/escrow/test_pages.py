"""The operator's 價金保管同步 pages: runs, their entries and the bank's answers, rejected
entries across runs, and the forced re-run."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.escrow.jobs import run_sync
from app.escrow.models import BankSyncRun, SyncRunStatus
from app.tickets import services
from app.tickets.status import TicketStatus as S
from tests.escrow.helpers import at, day, instructions, reload
from tests.factories import login, make_account, make_operator
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue


@pytest.fixture
def rejected_night(ctx, bank):
    """7/2: one release acknowledged, one rejected by the bank."""
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, _ = ready_store()
    ok, refused = issue(owner, store, pickup, quantity=2)
    at(2026, 6, 30, 1, 0)
    run_sync(day(6, 30))
    at(2026, 7, 1, 10, 0)
    services.redeem(owner, store, ok)
    services.redeem(owner, store, refused)
    db.session.commit()
    bank.control(reject_serials=[refused.serial])
    at(2026, 7, 2, 1, 0)
    run = run_sync(day(7, 2))
    make_operator("op0001")
    db.session.commit()
    at(2026, 7, 2, 9, 0)
    return run, ok, refused, store, bank, owner, pickup


def test_the_runs_page_lists_each_run_with_its_counts(client, rejected_night):
    run, *_ = rejected_night
    login(client, "op0001")
    page = client.get("/operator/escrow/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-run-id="{run.id}"' in html and "2026/07/02" in html and "2026/06/30" in html
    assert "拒絕 1" in html and "完成" in html and "排程" in html
    assert 'data-testid="rejected-alert"' in html and "有 1 筆交易遭銀行拒絕" in html
    assert "價金保管同步" in html  # the menu entry


def test_a_run_shows_its_entries_and_the_banks_reason(client, rejected_night):
    run, ok, refused, store, *_ = rejected_night
    login(client, "op0001")
    html = client.get(f"/operator/escrow/runs/{run.id}").get_data(as_text=True)
    assert refused.serial in html and ok.serial in html
    assert f"銀行拒絕此票券（{refused.serial}）" in html
    assert "核銷中" in html  # the rejected one is still redeeming, visibly
    assert store.merchant_code in html and "NT$150" in html
    assert instructions(ok)[-1].bank_ref in html


def test_rejected_entries_across_runs(client, rejected_night):
    run, ok, refused, *_ = rejected_night
    login(client, "op0001")
    html = client.get("/operator/escrow/instructions?status=rejected").get_data(as_text=True)
    assert "銀行拒絕的交易" in html
    assert refused.serial in html and ok.serial not in html
    assert html.count('data-status="rejected"') == 1
    by_serial = client.get(f"/operator/escrow/instructions?serial={ok.serial}").get_data(as_text=True)
    assert by_serial.count("data-instruction-id=") == 2  # its deposit and its release
    assert client.get("/operator/escrow/instructions?status=bogus&kind=nope").status_code == 200


def test_a_forced_re_run_from_the_page(client, rejected_night):
    run, ok, refused, store, bank, owner, pickup = rejected_night
    [new] = issue(owner, store, pickup)  # its deposit is due on 7/3
    bank.control(fail=True)
    at(2026, 7, 3, 1, 0)
    failed = run_sync(day(7, 3))
    assert failed.status is SyncRunStatus.FAILED
    login(client, "op0001")
    assert "503" in client.get("/operator/escrow/").get_data(as_text=True)
    bank.control(fail=False)
    response = client.post("/operator/escrow/rerun", data={"day": "2026-07-03"})
    assert response.status_code == 303
    db.session.expire_all()
    rerun = db.session.scalar(select(BankSyncRun).order_by(BankSyncRun.id.desc()))
    assert response.headers["Location"].endswith(f"/operator/escrow/runs/{rerun.id}")
    assert (rerun.business_day, rerun.trigger, rerun.status) == (day(7, 3), "manual", SyncRunStatus.DONE)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已重新執行 2026/07/03 的價金保管同步" in page and "手動重新執行" in page
    assert reload(refused).status is S.REDEEMING  # a re-run never finalises what the bank refused
    assert [(i.kind.value, i.status.value) for i in instructions(new)] == [("deposit", "acknowledged")]


def test_the_re_run_form_confirms_and_refuses_bad_days(client, rejected_night):
    login(client, "op0001")
    html = client.get("/operator/escrow/").get_data(as_text=True)
    assert 'data-confirm="確定重新執行' in html and 'name="csrf_token"' in html
    runs_before = db.session.scalar(select(BankSyncRun.id).order_by(BankSyncRun.id.desc()))
    for bad in ("2026-07-05", "not-a-date", ""):
        response = client.post("/operator/escrow/rerun", data={"day": bad}, follow_redirects=True)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert any(m in text for m in ("不可選擇未來的日期", "日期格式不正確", "請選擇要重新執行的營業日"))
    assert client.post("/operator/escrow/rerun", data={"day": "2026-07-02"}, csrf=False).status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(BankSyncRun.id).order_by(BankSyncRun.id.desc())) == runs_before


def test_only_operators_see_the_escrow_pages(client, rejected_night):
    run, _, _, store, *_ = rejected_night
    assert client.get("/operator/escrow/").status_code in (302, 303)  # to the login page
    make_account(store, username="merchant9")
    db.session.commit()
    login(client, "merchant9")
    for url in ("/operator/escrow/", f"/operator/escrow/runs/{run.id}", "/operator/escrow/instructions"):
        assert client.get(url).status_code == 403
    assert client.post("/operator/escrow/rerun", data={"day": "2026-07-02"}).status_code == 403


def test_an_unknown_run_is_404(client, rejected_night):
    login(client, "op0001")
    assert client.get("/operator/escrow/runs/99999").status_code == 404

"""The 【重新送出】 buttons on the operator's 銀行交易 page: one entry, or every filtered rejected
entry still waiting; operator only, CSRF, flash messages."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.escrow.models import BankInstruction, InstructionStatus
from app.tickets.status import TicketStatus as S
from tests.escrow.helpers import history, instructions, reload
from tests.escrow.test_pages import rejected_night  # noqa: F401 — the fixture
from tests.factories import login, make_account

REJECTED = "/operator/escrow/instructions?status=rejected"


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(BankInstruction)) or 0


def test_resend_one_then_the_re_run_sends_it(client, rejected_night):  # noqa: F811
    run, ok, refused, store, bank, *_ = rejected_night
    login(client, "op0001")
    html = client.get(REJECTED).get_data(as_text=True)
    rejected = instructions(refused)[-1]
    action = f"/operator/escrow/instructions/{rejected.id}/resend"
    assert html.count('data-testid="resend"') == 1 and f'action="{action}"' in html
    assert 'data-confirm="確定重新送出' in html and 'name="csrf_token"' in html
    assert 'data-testid="resend-all"' in html

    bank.control(reject_serials=[])
    response = client.post(action, data={"status": "rejected"})
    assert response.status_code == 303 and response.headers["Location"].endswith(REJECTED)
    page = client.get(REJECTED).get_data(as_text=True)
    assert f"已重新送出 {refused.serial} 的交易" in page
    assert 'data-testid="resend"' not in page  # queued: no button on the old rejection
    assert instructions(refused)[-1].status is InstructionStatus.PENDING
    [note] = history(refused, "bank_resend")
    assert "op0001" in note.actor_label or note.actor_id is not None

    again = client.post(action, follow_redirects=True).get_data(as_text=True)
    assert "已重新送出過" in again and len(instructions(refused)) == 3

    response = client.post("/operator/escrow/rerun", data={"day": "2026-07-02"})
    assert response.status_code == 303
    assert reload(refused).status is S.REDEEMED
    assert instructions(refused)[-1].status is InstructionStatus.ACKNOWLEDGED
    runs_page = client.get("/operator/escrow/").get_data(as_text=True)
    assert 'data-testid="rejected-alert"' not in runs_page


def test_resend_all_filtered(client, rejected_night):  # noqa: F811
    run, ok, refused, store, bank, owner, pickup = rejected_night
    login(client, "op0001")
    before = _count()
    response = client.post("/operator/escrow/instructions/resend",
                           data={"status": "rejected", "kind": "release"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "已重新送出 1 筆銀行拒絕的交易" in text
    assert _count() == before + 1
    nothing = client.post("/operator/escrow/instructions/resend", data={"status": "rejected"},
                          follow_redirects=True).get_data(as_text=True)
    assert "沒有可重新送出的銀行拒絕交易" in nothing and _count() == before + 1


def test_refusals_are_flashed_and_change_nothing(client, rejected_night):  # noqa: F811
    run, ok, refused, *_ = rejected_night
    login(client, "op0001")
    before = _count()
    acknowledged = instructions(ok)[-1]
    text = client.post(f"/operator/escrow/instructions/{acknowledged.id}/resend",
                       follow_redirects=True).get_data(as_text=True)
    assert "只有銀行拒絕的交易可以重新送出" in text and _count() == before
    assert client.post("/operator/escrow/instructions/99999/resend").status_code == 404
    rejected = instructions(refused)[-1]
    assert client.post(f"/operator/escrow/instructions/{rejected.id}/resend",
                       csrf=False).status_code == 400
    assert _count() == before


def test_only_operators_resend(client, rejected_night):  # noqa: F811
    run, ok, refused, store, *_ = rejected_night
    rejected = instructions(refused)[-1]
    url = f"/operator/escrow/instructions/{rejected.id}/resend"
    before = _count()
    assert client.post(url).status_code in (302, 303)  # to the login page
    make_account(store, username="merchant9")
    db.session.commit()
    login(client, "merchant9")
    assert client.post(url).status_code == 403
    assert client.post("/operator/escrow/instructions/resend", data={"status": "rejected"}).status_code == 403
    assert _count() == before and reload(refused).status is S.REDEEMING

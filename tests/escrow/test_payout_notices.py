"""收款通知: the nightly sync's last step mails the finance contacts of each store with the setting
on and money paid out that day, once per store and day, through the outbox after the commit (a
real SMTP server on loopback receives them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.db import db
from app.escrow import payouts
from app.escrow.jobs import run_sync
from app.escrow.models import PayoutNotice, SyncRunStatus
from app.notifications.models import Message, MessageStatus
from app.notifications.services import KIND_LABELS
from app.tickets import services
from tests.escrow.helpers import at, day
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.notifications.conftest import SETTINGS, use_smtp
from tests.notifications.smtp_server import SmtpTestServer
from tests.tickets.helpers import issue


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpTestServer]:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with SmtpTestServer() as server:
        yield server


def _notices(server: SmtpTestServer) -> list:
    return [m for m in server.messages if "收款通知" in m.message["Subject"]]


def _redeemed_store(username: str, *, notice: bool, tickets: int):  # noqa: ANN202
    store, owner, pickup, _ = ready_store(username)
    store.finance_emails = f"fin@{username}.example;boss@{username}.example"
    store.finance_name = "陳帳務"
    store.payout_notice = notice
    db.session.commit()
    at(2026, 7, 1, 9, 0)
    for ticket in issue(owner, store, pickup, quantity=tickets):
        services.redeem(owner, store, ticket)
    db.session.commit()
    return store


def test_the_finance_contacts_get_the_days_payout_once_and_only_with_the_setting_on(
        app, ctx, bank, smtp_server, client):
    use_smtp(app, smtp_server, PUBLIC_BASE_URL="https://ectix.example")
    at(2026, 6, 29, 9, 0)
    on = _redeemed_store("payon01", notice=True, tickets=2)
    off = _redeemed_store("payoff01", notice=False, tickets=1)

    at(2026, 7, 2, 1, 0)
    assert run_sync(day(7, 2)).status is SyncRunStatus.DONE
    got = _notices(smtp_server)
    assert sorted(m.rcpt_tos[0] for m in got) == ["boss@payon01.example", "fin@payon01.example"]
    mail = got[0]
    assert mail.message["Subject"] == "【ECTicket】2026/07/02 收款通知"
    text = mail.text
    assert f"{on.name}（商店代號 {on.merchant_code}）帳務聯絡人 陳帳務 您好" in text
    assert "核銷撥付：NT$300" in text and "撥付廠商合計：NT$300" in text
    assert "撥款入帳" not in text  # pickup vouchers have no later payout
    link = "https://ectix.example/billing/payouts?start=2026-07-02&end=2026-07-02"
    assert link in text
    messages = db.session.scalars(select(Message).where(Message.kind == payouts.NOTICE_KIND)).all()
    assert {m.status for m in messages} == {MessageStatus.SENT} and {m.store_id for m in messages} == {on.id}
    [notice] = db.session.scalars(select(PayoutNotice)).all()
    assert (notice.store_id, notice.day, notice.to_merchant, notice.payout) == (
        on.id, date(2026, 7, 2), 300, 0)

    # the same night again (the operator's forced re-run, a retried job): nothing twice
    at(2026, 7, 2, 9, 0)
    assert run_sync(day(7, 2), trigger="manual", force=True).status is SyncRunStatus.DONE
    assert payouts.queue_notices(date(2026, 7, 2)) == []
    db.session.commit()
    assert len(_notices(smtp_server)) == 2
    # the next night paid nothing: no mail
    at(2026, 7, 3, 1, 0)
    run_sync(day(7, 3))
    assert len(_notices(smtp_server)) == 2
    assert off.payout_notice is False and KIND_LABELS[payouts.NOTICE_KIND] == "收款通知"

    # the link opens that day's 撥款對帳報表 for the store's account
    login(client, "payon01")
    split = urlsplit(link)
    page = client.get(f"{split.path}?{split.query}")
    assert page.status_code == 200
    assert 'data-day="2026-07-02"' in page.get_data(as_text=True)


def test_a_rolled_back_notice_step_sends_nothing(app, ctx, bank, smtp_server):
    use_smtp(app, smtp_server)
    at(2026, 6, 29, 9, 0)
    _redeemed_store("payon02", notice=True, tickets=1)
    at(2026, 7, 2, 1, 0)
    run_sync(day(7, 2))
    sent = len(_notices(smtp_server))
    db.session.execute(PayoutNotice.__table__.delete())
    queued = payouts.queue_notices(date(2026, 7, 2))
    db.session.rollback()  # the step's transaction lost: its messages are dropped with it
    assert sent == 2 and len(queued) == 2
    assert len(_notices(smtp_server)) == 2
    assert db.session.scalar(select(PayoutNotice)) is not None


def test_an_installment_payout_is_in_its_own_line(ctx):
    store = ready_store("payinst1")[0]
    paid = payouts.PayoutDay(date(2026, 8, 1), release=0, escrow_expired=0, handling_fee=40,
                             refund=500, payout=1200)
    text = payouts.body_for(store, paid)
    assert paid.paid and paid.to_merchant == 40
    assert "退貨手續費：NT$40" in text and "撥付廠商合計：NT$40" in text and "撥款入帳：NT$1,200" in text
    assert "核銷撥付" not in text and "退款" not in text  # nothing released; refunds are not the store's
    assert "帳務聯絡人您好" in text  # no name set: the role only
    assert not payouts.PayoutDay(date(2026, 8, 1), refund=500).paid  # a refund alone pays nothing

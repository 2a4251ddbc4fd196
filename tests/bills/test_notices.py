"""The bill-day notice: the monthly job e-mails each store's finance contacts once per bill, in
the bills' transaction, through the real outbox and a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.billing.services import record_charge
from app.bills import jobs, monthly, notices
from app.bills.models import Bill, Payment
from app.db import db
from app.notifications.models import Message, MessageStatus
from app.notifications.services import KIND_LABELS
from tests.factories import make_store
from tests.notifications.conftest import SETTINGS, use_smtp
from tests.notifications.smtp_server import SmtpTestServer

ACCOUNT = {"bank": "台灣銀行（004）", "branch": "內湖分行", "name": "綠界科技股份有限公司",
           "number": "123-456-789012"}
ACCOUNT_LINE = "台灣銀行（004） 內湖分行 戶名 綠界科技股份有限公司 帳號 123-456-789012"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpTestServer]:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with SmtpTestServer() as server:
        yield server


def _store(emails: str):  # noqa: ANN202
    store = make_store()
    store.finance_emails = emails
    db.session.add(FeeRate(store_id=store.id, kind=FeeKind.SERIAL, effective_from=date(2026, 1, 1),
                           amount=2))
    db.session.flush()
    return store


def _run(day: date) -> int:
    clock.freeze(clock.taipei_datetime(day.year, day.month, day.day, 3, 0))
    return jobs.issue_bills(clock.now().isoformat())


def _by_address(server: SmtpTestServer) -> dict[str, list]:
    found: dict[str, list] = {}
    for received in server.messages:
        found.setdefault(received.rcpt_tos[0], []).append(received)
    return found


def test_each_finance_contact_gets_the_bill_once(app, ctx, smtp_server):
    use_smtp(app, smtp_server, BILLING_REMITTANCE_ACCOUNT=ACCOUNT)
    store = _store("finance@a.example; boss@a.example")
    record_charge(store.id, FeeKind.SERIAL, 100, day=date(2026, 10, 5), reference="batch:1")
    record_charge(store.id, FeeKind.SERIAL, 21, day=date(2026, 10, 20), reference="batch:2")
    db.session.commit()
    assert _run(date(2026, 11, 1)) == 1
    got = _by_address(smtp_server)
    assert sorted(got) == ["boss@a.example", "finance@a.example"]
    mail = got["finance@a.example"][0]
    assert mail.message["Subject"] == "【ECTicket】2026 年 10 月帳單通知"
    text = mail.text
    assert "帳單月份：2026/10" in text
    assert "本期帳單金額：NT$242" in text
    assert "應繳費用：NT$242" in text
    assert "繳費狀態：未繳費" in text
    assert f"匯款帳號：{ACCOUNT_LINE}" in text
    messages = db.session.scalars(select(Message).where(Message.kind == notices.KIND)).all()
    assert {m.status for m in messages} == {MessageStatus.SENT}
    assert {m.store_id for m in messages} == {store.id}
    # the job again (a re-run, a second worker): no bill, no mail
    assert _run(date(2026, 11, 1)) == 0
    assert len(smtp_server.messages) == 2
    assert KIND_LABELS[notices.KIND] == "帳單通知"


def test_the_amount_due_counts_earlier_unpaid_bills_and_payments(app, ctx, smtp_server):
    use_smtp(app, smtp_server, BILLING_REMITTANCE_ACCOUNT=ACCOUNT)
    owing = _store("owing@b.example")
    paid = _store("paid@c.example")
    for store in (owing, paid):
        record_charge(store.id, FeeKind.SERIAL, 50, day=date(2026, 9, 10))  # 100
    db.session.commit()
    assert _run(date(2026, 10, 1)) == 2
    db.session.add(Payment(store_id=paid.id, amount=100 + 30, paid_on=date(2026, 10, 15)))
    for store in (owing, paid):
        record_charge(store.id, FeeKind.SERIAL, 15, day=date(2026, 10, 10))  # 30
    db.session.commit()
    smtp_server.messages.clear()
    assert _run(date(2026, 11, 1)) == 2
    got = _by_address(smtp_server)
    owing_text, paid_text = got["owing@b.example"][0].text, got["paid@c.example"][0].text
    assert "本期帳單金額：NT$30" in owing_text and "應繳費用：NT$130" in owing_text
    assert "繳費狀態：未繳費" in owing_text and "匯款帳號" in owing_text
    assert "應繳費用：NT$0" in paid_text and "繳費狀態：已繳費" in paid_text
    assert "匯款帳號" not in paid_text  # nothing is due


def test_without_a_remittance_setting_the_account_is_left_out(app, ctx, smtp_server):
    use_smtp(app, smtp_server, BILLING_REMITTANCE_ACCOUNT=None)
    store = _store("finance@d.example")
    record_charge(store.id, FeeKind.SERIAL, 5, day=date(2026, 10, 5))
    db.session.commit()
    assert _run(date(2026, 11, 1)) == 1
    [mail] = smtp_server.messages
    assert "應繳費用：NT$10" in mail.text and "匯款帳號" not in mail.text


def test_a_store_without_a_finance_contact_shows_a_failed_message(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    store = _store("")
    record_charge(store.id, FeeKind.SERIAL, 5, day=date(2026, 10, 5))
    db.session.commit()
    assert _run(date(2026, 11, 1)) == 1
    assert smtp_server.messages == []
    [message] = db.session.scalars(select(Message).where(Message.store_id == store.id)).all()
    assert (message.kind, message.status) == (notices.KIND, MessageStatus.FAILED)
    assert message.error == "未提供收件者電子郵件地址"


def test_a_rolled_back_bill_run_sends_nothing(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    store = _store("finance@e.example")
    record_charge(store.id, FeeKind.SERIAL, 5, day=date(2026, 10, 5))
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 1, 3, 0))
    notices.queue_bill_notices(monthly.bill_month(date(2026, 10, 1)))
    db.session.rollback()
    db.session.commit()
    assert smtp_server.messages == []
    assert db.session.scalar(select(Bill.id)) is None

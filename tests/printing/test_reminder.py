"""票券多次列印提醒 at 21:00: the query agrees with the pure rule on the window's boundaries
(20:59:59 / 21:00:00 / 21:00:01 on a frozen clock), the job e-mails each store's finance
contacts exactly the tickets printed more than once, nothing when there are none, and never
twice for the same window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, jobs, schedule
from app.db import db
from app.notifications.models import Message, MessageStatus
from app.printing import queries, reminders, rules, services
from app.printing.jobs import send_multi_print_reminders
from app.printing.models import PrintedTicket
from tests.issuance.helpers import ready_store
from tests.printing.helpers import paper_tickets

END = clock.taipei_datetime(2026, 11, 22, 21)  # today's 21:00 Taipei
START = END - timedelta(days=1)
S = timedelta(seconds=1)


@pytest.fixture
def shop(ctx):
    store, owner, pickup, gift = ready_store()
    store.finance_emails = "finance@shop.example; boss@shop.example"
    db.session.commit()
    return store, owner, pickup


def _print_at(owner, store, tickets, at) -> None:  # noqa: ANN001
    clock.freeze(at)
    services.print_tickets(owner, store, [t.id for t in tickets])
    db.session.commit()


def _reminders() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.kind == reminders.KIND)
                                   .order_by(Message.id)))


@pytest.fixture
def prints(shop):
    """Tickets printed around the window's edges, through the real print service:

    a: 21:00:00 yesterday (previous window) and 10:00 today -> once in the window
    b: 20:59:59 and 21:00:00 today -> twice
    c: 21:00:00 and 21:00:01 today -> once (the second is tomorrow's)
    d: three times today -> three
    e: printed once only (and 5 times last week) -> not listed
    """
    store, owner, pickup = shop
    a, b, c, d, e = paper_tickets(owner, store, pickup, 5)
    for n in range(5):
        _print_at(owner, store, [e], START - timedelta(days=7, hours=n))
    _print_at(owner, store, [a], START)
    _print_at(owner, store, [a, d], START + timedelta(hours=13))
    _print_at(owner, store, [d, e], START + timedelta(hours=15))
    _print_at(owner, store, [b, d], END - S)
    _print_at(owner, store, [b, c], END)
    _print_at(owner, store, [c], END + S)
    return store, owner, {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_the_query_finds_exactly_what_the_rule_says(prints):
    store, owner, t = prints
    window = rules.reminder_window(END)
    found = queries.multi_printed(window)
    assert found == {store.id: {t["b"].id: [END - S, END],
                                t["d"].id: [START + timedelta(hours=13), START + timedelta(hours=15), END - S]}}
    every_print = [(p.ticket_id, p.printed_at) for p in db.session.scalars(select(PrintedTicket))]
    assert found[store.id] == rules.printed_more_than_once(every_print, window)
    # the next window sees c once (21:00:01) only
    assert queries.multi_printed(rules.reminder_window(END + timedelta(days=1))) == {}


def test_the_job_mails_the_finance_contacts_the_repeated_tickets(prints):
    store, owner, t = prints
    clock.freeze(END + timedelta(minutes=1))
    assert send_multi_print_reminders(END.isoformat()) == 1
    mails = _reminders()
    assert [m.to_address for m in mails] == ["finance@shop.example", "boss@shop.example"]
    mail = mails[0]
    assert mail.store_id == store.id and mail.status is MessageStatus.RECORDED
    assert "2026/11/22 21:00" in mail.subject and "多次列印提醒" in mail.subject
    body = mail.body
    assert t["b"].serial in body and t["d"].serial in body
    for other in ("a", "c", "e"):
        assert t[other].serial not in body
    line_b = next(line for line in body.splitlines() if t["b"].serial in line)
    assert "列印 2 次" in line_b and "2026/11/22 20:59:59" in line_b and "2026/11/22 21:00:00" in line_b
    assert "列印 3 次" in next(line for line in body.splitlines() if t["d"].serial in line)
    assert "咖啡券" in line_b  # the product
    assert "2026/11/21 21:00:00 至 2026/11/22 21:00:00" in body


def test_the_job_never_sends_twice_for_the_same_window(prints):
    store, owner, t = prints
    clock.freeze(END + timedelta(minutes=1))
    send_multi_print_reminders(END.isoformat())
    assert send_multi_print_reminders(END.isoformat()) == 0
    clock.freeze(END + timedelta(hours=2))  # a manual run later the same evening
    assert send_multi_print_reminders(clock.now().isoformat()) == 0
    assert len(_reminders()) == 2  # the two addresses of the first run


def test_no_mail_when_nothing_was_printed_twice(shop):
    store, owner, pickup = shop
    a, b = paper_tickets(owner, store, pickup, 2)
    _print_at(owner, store, [a], END - S)
    _print_at(owner, store, [b], END - S)
    clock.freeze(END + timedelta(minutes=1))
    assert send_multi_print_reminders(END.isoformat()) == 0
    assert _reminders() == []


def test_each_store_hears_only_of_its_own_tickets(prints):
    store, owner, t = prints
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    other.finance_emails = ""
    db.session.commit()
    [x] = paper_tickets(other_owner, other, other_pickup, 1)
    _print_at(other_owner, other, [x], END - S)
    _print_at(other_owner, other, [x], END)
    clock.freeze(END + timedelta(minutes=1))
    assert send_multi_print_reminders(END.isoformat()) == 2
    by_store = {}
    for m in _reminders():
        by_store.setdefault(m.store_id, []).append(m)
    assert x.serial not in by_store[store.id][0].body
    [failed] = by_store[other.id]  # no finance contact: visible in the outbox, not silent
    assert failed.status is MessageStatus.FAILED and x.serial in failed.body
    assert t["b"].serial not in failed.body
    assert send_multi_print_reminders(END.isoformat()) == 0  # the failed one counts as sent


def test_it_runs_daily_at_21_taipei_from_the_schedule(prints):
    store, owner, t = prints
    rec = schedule.by_name("multi_print_reminder")
    assert rec.cron == "0 21 * * *"
    assert jobs.latest_slot(rec.cron, END + timedelta(hours=1)) == END
    assert jobs.latest_slot(rec.cron, END - S) == END - timedelta(days=1)
    clock.freeze(END + timedelta(minutes=3))
    run = jobs.run_now("multi_print_reminder")
    assert run.status == "done", run.error
    assert {m.to_address for m in _reminders()} == {"finance@shop.example", "boss@shop.example"}

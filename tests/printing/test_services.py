"""Printing use cases on a real database: merchant print (records, counts, history, refusals),
test print, the operator's platform print (once only, billed once), the kiosk print (once, and
what it blocks in 已發行訂單管理)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app import clock, history
from app.auth.permissions import Function, Level
from app.billing.models import Charge, FeeKind, FeeRate
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.orders import rules as order_rules
from app.orders import services as orders
from app.printing import services
from app.printing.models import PrintedTicket, PrintKind, PrintRun
from app.tickets.models import Order, Ticket
from tests.factories import make_operator, make_sub
from tests.issuance.helpers import ready_store
from tests.printing.helpers import CVS, ELECTRONIC, PLATFORM, paper_tickets, printed_rows, runs


@pytest.fixture
def shop(ctx):
    store, owner, pickup, gift = ready_store()
    return store, owner, pickup


def _ticket(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _print_charges() -> list[Charge]:
    return list(db.session.scalars(select(Charge).where(Charge.kind == FeeKind.PAPER_PRINT)))


# Merchant print -----------------------------------------------------------------------------

def test_a_print_records_the_run_and_each_ticket_and_sets_them_printed(shop):
    store, owner, pickup = shop
    a, b, c = paper_tickets(owner, store, pickup, 3)
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 14, 5))
    job = services.print_tickets(owner, store, [c.id, a.id])
    db.session.commit()
    assert [t.id for t in job.tickets] == [a.id, c.id]  # page order: as issued
    [run] = runs()
    assert (run.kind, run.store_id, run.account_id, run.actor_label, run.ticket_count) == (
        PrintKind.MERCHANT, store.id, owner.id, owner.username, 2)
    assert run.created_at == clock.now()
    assert sorted((p.ticket_id, p.run_id, p.printed_at) for p in printed_rows()) == [
        (a.id, run.id, clock.now()), (c.id, run.id, clock.now())]
    assert (_ticket(a.id).print_count, _ticket(a.id).printed_at) == (1, clock.now())
    assert (_ticket(b.id).print_count, _ticket(b.id).printed_at) == (0, None)


def test_a_reprint_counts_again_and_keeps_the_first_print_time(shop):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    first = clock.taipei_datetime(2026, 11, 22, 9)
    clock.freeze(first)
    services.print_tickets(owner, store, [t.id])
    db.session.commit()
    clock.freeze(first + timedelta(hours=3))
    job = services.print_tickets(owner, store, [t.id])
    db.session.commit()
    assert job.tickets[0].print_count == 2  # the loaded row is kept in step with the database
    ticket = _ticket(t.id)
    assert (ticket.print_count, ticket.printed_at) == (2, first)
    assert [p.printed_at for p in printed_rows(t.id)] == [first, first + timedelta(hours=3)]
    entries = [e for e in history.entries_for(ticket) if e.action == "printed"]
    assert len(entries) == 2
    assert {e.actor_label for e in entries} == {owner.username}
    reasons = sorted(e.reason for e in entries)
    assert "廠商列印（第 1 次列印" in reasons[0] and "廠商列印（第 2 次列印" in reasons[1]
    assert history.action_label("printed") == "列印"


def test_test_print_is_a_run_without_tickets(shop):
    store, owner, pickup = shop
    run = services.record_test_print(owner, store)
    db.session.commit()
    assert (run.kind, run.ticket_count, run.store_id) == (PrintKind.TEST, 0, store.id)
    assert printed_rows() == []


@pytest.mark.parametrize("ids", [[], [10**12]])
def test_nothing_or_unknown_is_refused(shop, ids):
    store, owner, pickup = shop
    with pytest.raises((InvalidInput, NotFound)):
        services.print_tickets(owner, store, ids)
    db.session.rollback()
    assert runs() == []


def test_more_than_1000_is_refused(shop):
    store, owner, pickup = shop
    with pytest.raises(InvalidInput, match="最多列印 1000 張"):
        services.print_tickets(owner, store, list(range(1, 1002)))


@pytest.mark.parametrize("method", [ELECTRONIC, CVS, PLATFORM])
def test_other_delivery_methods_are_not_merchant_printed(shop, method):
    store, owner, pickup = shop
    [mine] = paper_tickets(owner, store, pickup, 1)
    [other] = paper_tickets(owner, store, pickup, 1, method=method)
    with pytest.raises(NotFound):
        services.print_tickets(owner, store, [mine.id, other.id])
    db.session.rollback()
    assert runs() == [] and _ticket(mine.id).print_count == 0 and _ticket(other.id).print_count == 0


def test_another_stores_ticket_refuses_the_whole_print(shop):
    store, owner, pickup = shop
    other_store, other_owner, other_pickup, _ = ready_store("issuer02")
    [mine] = paper_tickets(owner, store, pickup, 1)
    [theirs] = paper_tickets(other_owner, other_store, other_pickup, 1)
    with pytest.raises(NotFound):
        services.print_tickets(owner, store, [mine.id, theirs.id])
    db.session.rollback()
    assert runs() == [] and _ticket(theirs.id).print_count == 0


def test_printing_needs_the_modify_right(shop):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    viewer = make_sub(store, grants={Function.PAPER_PRINTING: Level.VIEW})
    printer = make_sub(store, grants={Function.PAPER_PRINTING: Level.MODIFY})
    db.session.commit()
    with pytest.raises(Forbidden):
        services.print_tickets(viewer, store, [t.id])
    with pytest.raises(Forbidden):
        services.record_test_print(viewer, store)
    job = services.print_tickets(printer, store, [t.id])
    assert job.run.account_id == printer.id


def test_pdf_of_a_print_is_made_from_the_tickets(shop):
    store, owner, pickup = shop
    tickets = paper_tickets(owner, store, pickup, 2)
    job = services.print_tickets(owner, store, [t.id for t in tickets])
    data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


# Platform print -----------------------------------------------------------------------------

def _platform_batch(owner, store, product, quantity=3):  # noqa: ANN001, ANN202
    tickets = paper_tickets(owner, store, product, quantity, method=PLATFORM)
    return tickets[0].batch_id, tickets


def test_marking_a_platform_batch_printed_sets_tickets_and_bills_once(shop):
    store, owner, pickup = shop
    db.session.add(FeeRate(store_id=store.id, kind=FeeKind.PAPER_PRINT,
                           effective_from=date(2020, 1, 1), amount=3))
    batch_id, tickets = _platform_batch(owner, store, pickup, 3)
    operator = make_operator()
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 16))
    outcome = services.mark_platform_printed(operator, batch_id)
    db.session.commit()
    assert outcome.run is not None and outcome.batch.printed_at == clock.now()
    [run] = runs()
    assert (run.kind, run.batch_id, run.ticket_count, run.store_id, run.account_id) == (
        PrintKind.PLATFORM, batch_id, 3, store.id, operator.id)
    for t in tickets:
        assert (_ticket(t.id).print_count, _ticket(t.id).printed_at) == (1, clock.now())
    [charge] = _print_charges()
    assert (charge.store_id, charge.quantity, charge.unit_amount, charge.amount, charge.day) == (
        store.id, 3, 3, 9, date(2026, 11, 22))
    assert charge.reference == f"print_run:{run.id}"

    clock.move(timedelta(minutes=5))
    again = services.mark_platform_printed(operator, batch_id)
    db.session.commit()
    assert again.run is None
    assert again.batch.printed_at == clock.taipei_datetime(2026, 11, 22, 16)
    assert len(runs()) == 1 and len(_print_charges()) == 1 and _count(PrintedTicket) == 3
    assert all(_ticket(t.id).print_count == 1 for t in tickets)


def test_only_platform_print_batches_and_only_operators(shop):
    store, owner, pickup = shop
    [paper] = paper_tickets(owner, store, pickup, 1)  # merchant print
    batch_id, _ = _platform_batch(owner, store, pickup, 1)
    operator = make_operator()
    db.session.commit()
    with pytest.raises(NotFound):
        services.mark_platform_printed(operator, paper.batch_id)
    with pytest.raises(NotFound):
        services.mark_platform_printed(operator, 10**9)
    with pytest.raises(Forbidden):
        services.mark_platform_printed(owner, batch_id)
    db.session.rollback()
    assert runs() == [] and _print_charges() == []


def test_the_print_file_has_every_ticket_of_the_batch(shop):
    store, owner, pickup = shop
    batch_id, tickets = _platform_batch(owner, store, pickup, 3)
    batch = services.platform_batch(batch_id)
    assert [t.id for t in services.batch_tickets(batch)] == sorted(t.id for t in tickets)
    assert services.batch_pdf(batch).startswith(b"%PDF-")


# Kiosk ----------------------------------------------------------------------------------------

def _cvs_order(owner, store, product, quantity=2) -> Order:  # noqa: ANN001
    tickets = paper_tickets(owner, store, product, quantity, method=CVS)
    return db.session.get(Order, tickets[0].order_id)


def test_kiosk_print_marks_the_order_printed_once(shop):
    store, owner, pickup = shop
    order = _cvs_order(owner, store, pickup)
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 19))
    job = services.kiosk_print(order.pickup_code)
    db.session.commit()
    assert (job.run.kind, job.run.account_id, job.run.actor_label, job.run.ticket_count) == (
        PrintKind.KIOSK, None, services.KIOSK_LABEL, 2)
    for t in job.tickets:
        assert (_ticket(t.id).printed_at, _ticket(t.id).print_count) == (clock.now(), 1)
        [entry] = [e for e in history.entries_for(_ticket(t.id)) if e.action == "printed"]
        assert entry.actor_label == services.KIOSK_LABEL and "超商列印" in entry.reason
    with pytest.raises(DomainError) as refused:
        services.kiosk_print(order.pickup_code)
    assert refused.value.message == services.ALREADY_PRINTED_AT_KIOSK
    db.session.rollback()
    assert len(runs()) == 1


def test_after_the_kiosk_print_purchaser_change_and_resend_are_refused(shop):
    store, owner, pickup = shop
    order = _cvs_order(owner, store, pickup)
    # before printing both are allowed (the order has a mobile, so a re-send can go out)
    assert orders.resend_notice(owner, store, order.id).order.id == order.id
    db.session.commit()
    services.kiosk_print(order.pickup_code)
    db.session.commit()
    with pytest.raises(DomainError) as change:
        orders.change_purchaser(owner, store, order.id, name="新購買人", mobile="0987654321",
                                email="new@example.com")
    assert change.value.message == order_rules.PRINTED_NO_CHANGE
    db.session.rollback()
    with pytest.raises(DomainError) as resend:
        orders.resend_notice(owner, store, order.id)
    assert resend.value.message == order_rules.PRINTED_NO_RESEND


@pytest.mark.parametrize("code", ["", "abc", "012345678901", "123456789012"])
def test_unknown_or_malformed_pickup_codes_are_invalid(shop, code):
    with pytest.raises(NotFound, match="取票代碼無效"):
        services.kiosk_order(code)
    with pytest.raises(NotFound, match="取票代碼無效"):
        services.kiosk_print(code)


def test_a_pickup_code_only_finds_convenience_store_orders(shop):
    store, owner, pickup = shop
    [paper] = paper_tickets(owner, store, pickup, 1)
    order = db.session.get(Order, paper.order_id)
    order.pickup_code = "555555555555"  # even if a non-kiosk order somehow carried one
    db.session.commit()
    with pytest.raises(NotFound):
        services.kiosk_order("555555555555")


def test_sample_face_carries_no_real_code(shop):
    from app.tickets.codes import is_well_formed, normalise_code

    store, owner, pickup = shop
    face = services.sample_face(store)
    assert face.issuer_name == store.name and not face.usable
    assert not is_well_formed(normalise_code(face.code))
    assert db.session.scalar(select(Ticket.id).where(Ticket.code.matches(face.code))) is None
    assert _count(PrintRun) == 0

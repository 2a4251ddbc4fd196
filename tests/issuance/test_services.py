"""Issuing a batch: all-or-nothing, once per import number, at most 1000 tickets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.billing.models import Charge, FeeKind
from app.db import db
from app.errors import DomainError
from app.issuance import jobs as issuance_jobs
from app.issuance import services
from app.issuance.models import Batch, BatchStatus
from app.products.models import Product, ProductKind
from app.stores.models import DeliveryMethod
from app.tickets import codes
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus
from tests.issuance.helpers import ready_store, rows

ELECTRONIC = DeliveryMethod.IMMEDIATE


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _issue(owner, store, batch_rows, import_no="IMP001", method=ELECTRONIC,
           kind=ProductKind.PICKUP) -> Batch:
    batch = services.prepare_batch(owner, store, import_no=import_no, method=method, kind=kind,
                                   rows=batch_rows)
    db.session.commit()
    services.confirm_batch(owner, store, batch)
    db.session.commit()  # the job runs (inline in tests) after this commit
    db.session.expire_all()
    return db.session.get(Batch, batch.id)


def test_a_1000_ticket_batch_issues_in_one_go(ctx):
    store, owner, pickup, _ = ready_store()
    batch = _issue(owner, store, rows(pickup, count=10, quantity=100))
    assert batch.status is BatchStatus.SUCCEEDED and batch.ticket_count == 1000
    tickets = db.session.scalars(select(Ticket)).all()
    assert len(tickets) == 1000
    assert len({t.serial for t in tickets}) == 1000 and all(len(t.serial) == 16 for t in tickets)
    assert len({t.code for t in tickets}) == 1000
    assert all(codes.is_well_formed(t.code) for t in tickets)
    assert {t.status for t in tickets} == {TicketStatus.UNUSED}
    assert {t.face_value for t in tickets} == {150} and {t.expires_on for t in tickets} == {pickup.escrow_end}
    orders = db.session.scalars(select(Order)).all()
    assert len(orders) == 10 and all(o.amount == 15000 and o.ticket_count == 100 for o in orders)
    assert all(o.link_token and len(o.link_token) == 32 for o in orders)
    assert db.session.get(Product, pickup.id).first_issued_at is not None
    charge = db.session.scalar(select(Charge))
    assert (charge.kind, charge.quantity) == (FeeKind.SERIAL, 1000)


def test_1001_tickets_are_refused_and_nothing_is_issued(ctx):
    store, owner, pickup, _ = ready_store()
    batch = services.prepare_batch(owner, store, import_no="BIG", method=ELECTRONIC,
                                   kind=ProductKind.PICKUP,
                                   rows=rows(pickup, count=2, quantity=500) + rows(pickup, prefix="X"))
    db.session.commit()
    assert "每次發行上限為 1000 張" in batch.error
    with pytest.raises(DomainError, match="發行資料有錯誤"):
        services.confirm_batch(owner, store, batch)
    db.session.rollback()
    assert _count(Ticket) == 0


def test_the_same_import_number_never_issues_twice(ctx):
    store, owner, pickup, _ = ready_store()
    _issue(owner, store, rows(pickup, count=2))
    assert _count(Ticket) == 2
    with pytest.raises(DomainError, match="此匯入單號已使用"):
        services.prepare_batch(owner, store, import_no="IMP001", method=ELECTRONIC,
                               kind=ProductKind.PICKUP, rows=rows(pickup, prefix="N"))
    db.session.rollback()
    assert _count(Ticket) == 2 and _count(Batch) == 1


def test_a_preview_can_be_replaced_by_a_corrected_upload(ctx):
    store, owner, pickup, _ = ready_store()
    bad = rows(pickup)
    bad[0]["手機"] = "12345"
    first = services.prepare_batch(owner, store, import_no="FIX1", method=ELECTRONIC,
                                   kind=ProductKind.PICKUP, rows=bad)
    db.session.commit()
    assert first.error_count == 1
    second = services.prepare_batch(owner, store, import_no="FIX1", method=ELECTRONIC,
                                    kind=ProductKind.PICKUP, rows=rows(pickup))
    db.session.commit()
    assert second.id == first.id and second.error_count == 0 and _count(Batch) == 1


def test_a_confirmed_twice_batch_issues_once(ctx):
    store, owner, pickup, _ = ready_store()
    batch = services.prepare_batch(owner, store, import_no="TWICE", method=ELECTRONIC,
                                   kind=ProductKind.PICKUP, rows=rows(pickup, count=3))
    db.session.commit()
    assert services.confirm_batch(owner, store, batch) is services.Confirmation.QUEUED
    db.session.commit()
    assert services.confirm_batch(owner, store, batch) is services.Confirmation.ALREADY_CONFIRMED
    db.session.commit()
    issuance_jobs.issue_batch(batch.id)  # a duplicate job does nothing either
    assert _count(Ticket) == 3


def test_a_job_failing_half_way_leaves_no_tickets(ctx, monkeypatch):
    store, owner, pickup, _ = ready_store()
    real_insert = services.insert_tickets

    def insert_then_crash(*args, **kwargs):
        real_insert(*args, **kwargs)
        assert _count(Ticket) == 4  # half-way: the tickets exist inside the transaction
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "insert_tickets", insert_then_crash)
    batch = _issue(owner, store, rows(pickup, count=4))
    assert batch.status is BatchStatus.FAILED
    assert "發行未完成" in batch.error
    assert _count(Ticket) == 0 and _count(Order) == 0 and _count(Charge) == 0
    assert db.session.get(Product, pickup.id).first_issued_at is None


def test_a_product_delisted_after_confirming_fails_the_batch_cleanly(ctx, monkeypatch):
    store, owner, pickup, _ = ready_store()
    batch = services.prepare_batch(owner, store, import_no="DEL", method=ELECTRONIC,
                                   kind=ProductKind.PICKUP, rows=rows(pickup))
    db.session.commit()
    monkeypatch.setattr(services.jobs, "enqueue", lambda *a, **k: None)  # hold the job
    services.confirm_batch(owner, store, batch)
    db.session.get(Product, pickup.id).listed = False
    db.session.commit()
    issuance_jobs.issue_batch(batch.id)
    db.session.expire_all()
    batch = db.session.get(Batch, batch.id)
    assert batch.status is BatchStatus.FAILED and "下架" in batch.error
    assert _count(Ticket) == 0


def test_issuance_is_refused_until_settings_are_complete(ctx):
    from tests.factories import make_account, make_store

    store = make_store()
    owner = make_account(store, username="noset01")
    db.session.commit()
    with pytest.raises(DomainError, match="基本設定"):
        services.prepare_batch(owner, store, import_no="X", method=ELECTRONIC, kind=None, rows=[])


def test_methods_not_in_the_contract_are_refused(ctx):
    store, owner, pickup, _ = ready_store(methods=[DeliveryMethod.IMMEDIATE])
    with pytest.raises(DomainError, match="合約未開通"):
        services.prepare_batch(owner, store, import_no="X", method=DeliveryMethod.IBON,
                               kind=None, rows=rows(pickup))


def test_deferred_tickets_carry_their_start_date(ctx):
    from datetime import timedelta

    from app import clock

    store, owner, pickup, _ = ready_store()
    batch_rows = rows(pickup)
    start = clock.business_day() + timedelta(days=10)
    batch_rows[0]["使用起始日"] = start.strftime("%Y/%m/%d")
    _issue(owner, store, batch_rows, method=DeliveryMethod.DEFERRED)
    assert db.session.scalar(select(Ticket.valid_from)) == start


def test_paper_and_cvs_orders_get_the_right_identifiers(ctx):
    store, owner, pickup, _ = ready_store()
    _issue(owner, store, rows(pickup, prefix="P"), import_no="PAPER", method=DeliveryMethod.MERCHANT_PRINT)
    _issue(owner, store, rows(pickup, prefix="C"), import_no="CVS", method=DeliveryMethod.IBON)
    paper = db.session.scalar(select(Order).where(Order.merchant_order_no == "P0000"))
    cvs = db.session.scalar(select(Order).where(Order.merchant_order_no == "C0000"))
    assert paper.link_token is None and paper.pickup_code is None
    assert cvs.pickup_code and len(cvs.pickup_code) == 12 and cvs.link_token is None

"""The benchmark data loader (demodata/loadgen.py): counts, spread, valid identifiers, coherent
timestamps and statuses, and tenancy, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app import clock
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.issuance.models import Batch
from app.printing.models import PrintedTicket, PrintRun
from app.products.models import Product, ProductPartner, ProductSales
from app.return_applications.models import ReturnApplication
from app.stores.models import Branch, DeliveryMethod, DeliveryType, PartnerRelation, RelationStatus, Store
from app.tickets import codes, sales
from app.tickets import services as ticket_services
from app.tickets.models import Order, Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus
from app.transfers.models import Transfer, TransferItem, TransferItemState, TransferStatus
from demodata.cli import demo_data
from demodata.loadgen import IMPORT_PREFIX, WINDOW_DAYS, AlreadyLoaded, CodeMaker, load_tickets

S = TicketStatus
N = 2000
GROUP_OF = {status: group for group, members in STATUS_GROUPS.items() for status in members}


def test_code_maker_makes_well_formed_distinct_codes():
    make = CodeMaker(random.Random(7))
    made = [make() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    assert all(codes.is_well_formed(code) for code in made)
    assert all(code[-1] == codes.check_character(code[:-1]) for code in made[:500])
    # every character position takes many values: the 75 bits are all used
    assert all(len({code[i] for code in made}) == 32 for i in range(codes.CODE_BODY))


def _loaded() -> tuple[list[Ticket], dict[int, Batch]]:
    batches = {b.id: b for b in db.session.scalars(
        select(Batch).where(Batch.import_no.like(f"{IMPORT_PREFIX}%")))}
    tickets = list(db.session.scalars(select(Ticket).where(Ticket.batch_id.in_(batches))))
    return tickets, batches


def check_loaded(n: int) -> None:
    """Everything the loader promises, read back through the models."""
    now = clock.now()
    today = clock.business_day()
    tickets, batches = _loaded()
    assert len(tickets) == n
    orders = {o.id: o for o in db.session.scalars(
        select(Order).where(Order.batch_id.in_(batches)))}
    products = {p.id: p for p in db.session.scalars(select(Product))}
    stores = {s.id: s for s in db.session.scalars(select(Store))}
    branches = {b.id: b for b in db.session.scalars(select(Branch))}
    accounts = {a.id: a for a in db.session.scalars(select(Account))}
    issuer = next(s for s in stores.values() if s.merchant_code == "3002607")

    # 商品銷量 counters: the loaded tickets (and the demo's) are counted, exactly
    held = {(r.product_id, r.sold_count, r.sold_amount)
            for r in db.session.scalars(select(ProductSales)) if r.sold_count}
    assert held == {(p, n, amount) for p, _, _, n, amount in db.session.execute(sales.counted())}
    assert sum(n for _, n, _ in held) > n / 2

    # counts: orders of 1–4 tickets whose totals match, batches of at most 1000
    per_order = Counter(t.order_id for t in tickets)
    assert set(per_order) == set(orders)
    assert set(per_order.values()) <= {1, 2, 3, 4} and len(set(per_order.values())) > 1
    face = Counter()
    for t in tickets:
        face[t.order_id] += t.face_value
    for order in orders.values():
        assert order.ticket_count == per_order[order.id] and order.amount == face[order.id]
    per_batch = Counter(t.batch_id for t in tickets)
    assert all(batches[b].ticket_count == c <= 1000 for b, c in per_batch.items())
    for batch in batches.values():  # issued by an account of the store allowed to, at its branch
        creator = accounts[batch.created_by_id]
        assert creator.store_id == batch.store_id and creator.branch_id == batch.created_branch_id
        assert creator.may(Function.ISSUANCE, Level.MODIFY)
    assert any(b.created_branch_id for b in batches.values())

    # spread: every status group, several stores and branches, the issuer the biggest, all methods
    groups = Counter(GROUP_OF[t.status] for t in tickets)
    assert set(groups) == set(StatusGroup)
    assert groups[StatusGroup.UNUSED] + groups[StatusGroup.REDEEMED] > 0.8 * n
    by_store = Counter(t.store_id for t in tickets)
    assert len(by_store) >= 5
    assert 0.5 * n < by_store[issuer.id] < 0.7 * n
    installment = next(s for s in stores.values() if s.merchant_code == "3002611")
    assert installment.id not in by_store  # it issues installment orders, not these tickets
    assert len({t.redeemed_branch_id for t in tickets if t.redeemed_branch_id}) >= 6
    assert {t.delivery_method for t in tickets} == set(DeliveryMethod)
    assert {t.kind.value for t in tickets} == {"pickup", "gift"}
    window_start = clock.day_start(today - timedelta(days=WINDOW_DAYS))
    assert all(window_start <= t.issued_at <= now for t in tickets)
    days = {clock.business_day(t.issued_at) for t in tickets}
    assert len(days) >= 20 and max(days) - min(days) > timedelta(days=WINDOW_DAYS // 2)

    # identifiers: unique, well formed, serials dated on the Taipei issue day
    assert len({t.serial for t in tickets}) == n and len({t.code for t in tickets}) == n
    assert all(codes.is_well_formed(t.code) for t in tickets)
    assert all(len(t.serial) == 16 and t.serial[5:13] == f"{clock.business_day(t.issued_at):%Y%m%d}"
               for t in tickets)
    assert len({o.order_no for o in orders.values()}) == len(orders)

    cross = 0
    for t in tickets:
        product, order, batch = products[t.product_id], orders[t.order_id], batches[t.batch_id]
        # tenancy: the ticket, its product, order and batch belong to one store
        assert t.store_id == product.store_id == order.store_id == batch.store_id
        assert t.kind == product.kind and t.face_value == product.face_value
        assert t.expires_on == product.end_date and t.delivery_method == order.delivery_method
        assert t.issued_at == order.created_at and t.issued_at < clock.day_end(t.expires_on)
        assert t.status_changed_at >= t.issued_at
        group = GROUP_OF[t.status]
        # redeemed: after issuance, before now, by a unit of the redeeming store
        assert (t.redeemed_at is not None) == (group is StatusGroup.REDEEMED)
        if t.redeemed_at is not None:
            assert t.issued_at < t.redeemed_at <= now
            redeemer = accounts[t.redeemed_by_id]
            assert redeemer.store_id == t.redeemed_store_id
            assert redeemer.branch_id == t.redeemed_branch_id
            assert redeemer.may(Function.REDEEM, Level.MODIFY)
            if t.redeemed_branch_id:
                assert branches[t.redeemed_branch_id].store_id == t.redeemed_store_id
                assert branches[t.redeemed_branch_id].enabled
            if t.redeemed_store_id != t.store_id:
                cross += 1
                assert db.session.scalar(select(ProductPartner.id).where(
                    ProductPartner.product_id == t.product_id,
                    ProductPartner.partner_store_id == t.redeemed_store_id))
                assert db.session.scalar(select(PartnerRelation.status).where(
                    PartnerRelation.store_id == t.store_id,
                    PartnerRelation.partner_store_id == t.redeemed_store_id)) is RelationStatus.OPEN
            if t.valid_from is not None:
                assert t.redeemed_at >= clock.day_start(t.valid_from)
        # returned: only by the issuer itself, by accounts allowed to
        assert (t.returned_at is not None) == (group is StatusGroup.RETURNED)
        if t.returned_at is not None:
            assert t.issued_at < t.returned_at <= now and t.return_reason
            returner = accounts[t.returned_by_id]
            assert returner.store_id == t.store_id and returner.branch_id == t.returned_branch_id
            assert returner.may(Function.RETURN, Level.MODIFY)
            if t.returned_branch_id:
                assert branches[t.returned_branch_id].store_id == t.store_id
        # statuses agree with the clock and the product's end date
        event = t.redeemed_at or t.returned_at
        ended = clock.business_day(now) > t.expires_on
        if t.status in (S.USED, S.RETURN_PENDING):
            assert clock.business_day(event) >= today - timedelta(days=1)
        if t.status in (S.UNUSED_ESCROW_EXPIRED, S.EXPIRED):
            assert ended and t.kind.value == ("pickup" if t.status is S.UNUSED_ESCROW_EXPIRED else "gift")
        if t.status is S.UNUSED:
            assert not ended
        if t.status in (S.USED_AFTER_EXPIRY, S.RETURNED_ESCROW_EXPIRED):
            assert clock.business_day(event) > t.expires_on
        if t.status in (S.REDEEMED, S.RETURNED, S.REDEEMING, S.RETURNING) and t.kind.value == "pickup":
            assert clock.business_day(event) <= t.expires_on
        if t.return_fee is not None:
            assert t.status in (S.RETURN_PENDING, S.RETURNING, S.RETURNED) and 0 < t.return_fee < t.face_value
        assert t.current_status is t.status
    assert 0.005 * n <= cross <= 0.05 * n

    # transfers: tickets of the transfer's order, given after issuance and before any use
    ticket_by_id = {t.id: t for t in tickets}
    transfers = list(db.session.scalars(select(Transfer).where(Transfer.order_id.in_(orders))))
    assert transfers
    for transfer in transfers:
        items = list(db.session.scalars(select(TransferItem).where(TransferItem.transfer_id == transfer.id)))
        assert len(items) == transfer.ticket_count > 0
        order = orders[transfer.order_id]
        assert transfer.store_id == order.store_id and transfer.giver_name == order.purchaser_name
        for item in items:
            t = ticket_by_id[item.ticket_id]
            assert t.order_id == transfer.order_id and item.store_id == t.store_id
            assert t.issued_at < transfer.created_at <= (t.redeemed_at or now)
            if transfer.status is TransferStatus.ACTIVE:
                assert item.state is TransferItemState.GIVEN and t.transfer_id == transfer.id
                assert t.holder_name == transfer.recipient_name and t.transferred_at == transfer.created_at
            else:
                assert item.state is TransferItemState.CANCELLED and t.transfer_id is None
                assert transfer.created_at < transfer.cancelled_at <= now
                assert t.holder_name == order.purchaser_name
    given = [t for t in tickets if t.transfer_id is not None]
    assert given and all(t.kind.value == "pickup" and t.delivery_method.delivery_type is DeliveryType.ELECTRONIC
                         for t in given)

    # return applications, print runs and history: few, and pointing at the right rows
    applications = list(db.session.scalars(select(ReturnApplication).where(
        ReturnApplication.ticket_id.in_(ticket_by_id))))
    assert len(applications) < 0.05 * n
    for application in applications:
        t = ticket_by_id[application.ticket_id]
        assert application.store_id == t.store_id and application.order_id == t.order_id
        assert application.created_at >= t.issued_at
        if application.status.value == "returned":
            assert GROUP_OF[t.status] is StatusGroup.RETURNED and application.handled_at == t.returned_at
    printed = Counter(p.ticket_id for p in db.session.scalars(
        select(PrintedTicket).where(PrintedTicket.ticket_id.in_(ticket_by_id))))
    for t in tickets:
        assert t.print_count == printed.get(t.id, 0) and (t.printed_at is None) == (t.print_count == 0)
        if t.print_count:
            assert t.delivery_method.delivery_type is DeliveryType.PAPER and t.printed_at >= t.issued_at
    for run in db.session.scalars(select(PrintRun).where(PrintRun.batch_id.in_(batches))):
        assert batches[run.batch_id].store_id == run.store_id
    history = list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id.in_(ticket_by_id))))
    assert len(history) < 0.05 * n
    for entry in history:
        t = ticket_by_id[entry.subject_id]
        assert entry.store_id == t.store_id
        assert entry.at == (t.redeemed_at if entry.action == "redeemed" else t.returned_at)
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.subject_type == "batches", HistoryEntry.subject_id.in_(batches))) == len(batches)


def _redeem_one_loaded_ticket() -> None:
    """The loaded rows work with the real services: an issuer redeems an unused loaded ticket
    found by its code, and the next ids follow the loaded ones."""
    issuer = db.session.scalar(select(Store).where(Store.merchant_code == "3002607"))
    owner = db.session.scalar(select(Account).where(Account.username == "issuer"))
    ticket = db.session.scalar(select(Ticket).where(
        Ticket.store_id == issuer.id, Ticket.status == S.UNUSED, Ticket.valid_from.is_(None),
        Ticket.batch_id.in_(select(Batch.id).where(Batch.import_no.like(f"{IMPORT_PREFIX}%"))))
        .limit(1))
    found = ticket_services.find_by_code(issuer, ticket.code)
    ticket_services.redeem(owner, issuer, found)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status is S.USED
    last = db.session.scalar(select(func.max(HistoryEntry.id)))
    note = HistoryEntry(store_id=issuer.id, actor_label="test", subject_type="tickets",
                        subject_id=ticket.id, action="note")
    db.session.add(note)
    db.session.commit()
    assert note.id > last
    if db.engine.dialect.name == "postgresql":  # every table's sequence moved past the loaded ids
        for model in (Order, Transfer, Ticket):
            next_id = db.session.scalar(text(
                f"SELECT nextval(pg_get_serial_sequence('{model.__tablename__}', 'id'))"))
            assert next_id > db.session.scalar(select(func.max(model.id)))


def test_load_on_sqlite(app, ctx):
    lines: list[str] = []
    summary = load_tickets(N, seed=20261122, echo=lines.append)
    assert summary.tickets == N and summary.statuses and sum(summary.statuses.values()) == N
    assert any("batches planned" in line for line in lines)
    check_loaded(N)
    with pytest.raises(AlreadyLoaded):
        load_tickets(10, seed=1, echo=lines.append)
    _redeem_one_loaded_ticket()


def test_demo_data_command_loads_tickets_once(app, ctx):
    runner = app.test_cli_runner()
    first = runner.invoke(demo_data, ["--tickets", "300", "--seed", "5"])
    assert first.exit_code == 0, first.output
    assert "issuer" in first.output and "Loaded 300 tickets" in first.output
    again = runner.invoke(demo_data, ["--tickets", "300"])
    assert again.exit_code != 0 and "already holds bulk load data" in again.output
    db.session.expire_all()
    assert len(_loaded()[0]) == 300


def _schema(name: str) -> set[tuple]:
    return set(db.session.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) "
        "UNION SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :n"),
        {"t": name, "n": name}).all())


@pytest.mark.postgres
def test_load_on_postgresql(pg_app, tmp_path):
    pg_app.config["ESCROW_SIMULATOR_STATE"] = str(tmp_path / "bank.json")
    with pg_app.app_context():
        before = {t: _schema(t) for t in ("tickets", "orders")}
        summary = load_tickets(N, seed=20261122, echo=lambda line: None)
        assert summary.tickets == N
        # the constraints and indexes dropped for the load are all back, and valid
        assert {t: _schema(t) for t in ("tickets", "orders")} == before
        assert not db.session.scalar(text(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated "
            "AND conrelid IN (CAST('tickets' AS regclass), CAST('orders' AS regclass))"))
        assert db.session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'tickets'")) > N / 2
        check_loaded(N)
        with pytest.raises(AlreadyLoaded):
            load_tickets(10, seed=1, echo=lambda line: None)
        _redeem_one_loaded_ticket()
        db.session.remove()

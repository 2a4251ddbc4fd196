"""商品銷量 counters (app.tickets.sales): which moves change them, and that after any mix of
issuances, redemptions, returns, cancellations and the expiry job they equal a count of the
tickets themselves, including under concurrent returns on PostgreSQL."""

from __future__ import annotations

import importlib.util
import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.db import db
from app.errors import DomainError
from app.products.models import ProductKind, ProductSales
from app.stores.models import Store
from app.tickets import lifecycle, sales, services
from app.tickets.jobs import expire_tickets
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime
ROOT = Path(__file__).resolve().parents[2]


def counters(store_id: int) -> dict[int, tuple[int, int]]:
    """{product id: (sold, amount)} as the counters hold them (products at zero left out)."""
    return {row.product_id: (row.sold_count, row.sold_amount) for row in db.session.scalars(
        select(ProductSales).where(ProductSales.store_id == store_id)
        .execution_options(unscoped=True)) if row.sold_count or row.sold_amount}


def counted(store_id: int) -> dict[int, tuple[int, int]]:
    """The same, counted from the tickets."""
    return {product_id: (n, amount) for product_id, _, _, n, amount
            in db.session.execute(sales.counted([store_id]))}


# Which moves count -------------------------------------------------------------------------

CROSSING = {  # every transition that takes a ticket out of, or back into, the sold figures
    (S.UNUSED, S.RETURN_PENDING): -1, (S.UNUSED_ESCROW_EXPIRED, S.RETURNED_ESCROW_EXPIRED): -1,
    (S.UNUSED, S.RETURNED_ESCROW_EXPIRED): -1,
    (S.RETURN_PENDING, S.UNUSED): +1, (S.RETURNED_ESCROW_EXPIRED, S.UNUSED_ESCROW_EXPIRED): +1,
}


@pytest.mark.parametrize(("seen", "to"), sorted(lifecycle.TRANSITIONS, key=lambda m: (m[0].value, m[1].value)))
def test_only_returns_and_cancelled_returns_move_the_counters(seen, to):
    assert sales.delta(seen, to) == CROSSING.get((seen, to), 0)


def test_the_bulk_jobs_never_cross_the_returned_edge():
    """The expiry job and the bank's acknowledgements write statuses in bulk, past
    app.tickets.services: none of their moves may change a counter."""
    bulk = {(S.UNUSED, S.UNUSED_ESCROW_EXPIRED), (S.UNUSED, S.EXPIRED),  # expiry
            (S.USED, S.REDEEMING), (S.REDEEMING, S.REDEEMED), (S.USED, S.REDEEMED),  # bank, gifts
            (S.RETURN_PENDING, S.RETURNING), (S.RETURNING, S.RETURNED), (S.RETURN_PENDING, S.RETURNED)}
    assert bulk <= lifecycle.TRANSITIONS
    assert [move for move in bulk if sales.delta(*move)] == []


def test_the_migration_counts_the_same_statuses_as_the_code():
    path = ROOT / "migrations" / "versions" / "9c2744075e41_product_sales_counters.py"
    spec = importlib.util.spec_from_file_location("product_sales_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.NOT_SOLD) == {s.value for s in sales.NOT_SOLD}


# Against the tickets ------------------------------------------------------------------------

def test_issuance_adds_one_row_per_product_with_its_face_values(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store()
    issue(owner, store, pickup, 3)
    issue(owner, store, gift, 2)
    issue(owner, store, pickup, 1)
    assert counters(store.id) == {pickup.id: (4, 600), gift.id: (2, 160)}
    kinds = dict(db.session.execute(select(ProductSales.product_id, ProductSales.kind)).all())
    assert kinds == {pickup.id: ProductKind.PICKUP, gift.id: ProductKind.GIFT}


def test_a_return_counts_out_and_its_cancellation_counts_back_in(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store()
    first, second = issue(owner, store, pickup, 2)
    services.return_ticket(owner, store, first, reason="不要了")
    db.session.commit()
    assert counters(store.id) == {pickup.id: (1, 150)}
    services.redeem(owner, store, second)
    db.session.commit()
    assert counters(store.id) == {pickup.id: (1, 150)}  # a redemption is still a sale
    services.cancel_return(owner, store, first, reason="退錯了")
    db.session.commit()
    assert counters(store.id) == counted(store.id) == {pickup.id: (2, 300)}


def test_a_refused_return_changes_nothing(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    services.return_ticket(owner, store, ticket, reason="一")
    db.session.commit()
    with pytest.raises(DomainError):
        services.return_ticket(owner, store, ticket, reason="二")
    db.session.rollback()
    assert counters(store.id) == {}
    assert db.session.get(ProductSales, pickup.id).sold_count == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counters_equal_the_tickets_after_any_mix_of_changes(ctx, seed):
    rng = random.Random(seed)
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store()
    pickup.escrow_end = clock.business_day() + timedelta(days=4)
    gift.valid_until = clock.business_day() + timedelta(days=3)
    db.session.commit()
    tickets = issue(owner, store, pickup, 6) + issue(owner, store, gift, 5)
    ids = [t.id for t in tickets]
    actions = [services.redeem, services.return_ticket, services.cancel_return,
               services.cancel_redemption]
    changed = 0
    for step in range(60):
        if step % 10 == 9:  # time passes: the ends of escrow and validity come and go
            clock.freeze(clock.now() + timedelta(hours=rng.choice((5, 13, 26))))
            expire_tickets(clock.now().isoformat())
        if step % 15 == 14:
            product = rng.choice((pickup, gift))
            if clock.business_day() <= product.end_date:  # no issuing past the end date
                issue(owner, store, product, rng.randint(1, 3))
        ticket = db.session.get(Ticket, rng.choice(ids))
        action = rng.choice(actions)
        kwargs = {} if action is services.redeem else {"reason": "測試"}
        try:
            action(owner, store, ticket, **kwargs)
            db.session.commit()
            changed += 1
        except DomainError:
            db.session.rollback()
        assert counters(store.id) == counted(store.id), (step, action.__name__)
    assert changed >= 10  # the walk did move tickets, not just collect refusals


def test_recount_rebuilds_what_issuance_and_returns_wrote(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store()
    tickets = issue(owner, store, pickup, 4) + issue(owner, store, gift, 2)
    services.return_ticket(owner, store, tickets[0], reason="退")
    db.session.commit()
    before = counters(store.id)
    db.session.execute(ProductSales.__table__.update().values(sold_count=99, sold_amount=99))
    sales.recount([store.id])
    db.session.commit()
    assert counters(store.id) == before == {pickup.id: (3, 450), gift.id: (2, 160)}


@pytest.mark.postgres
def test_concurrent_returns_of_one_product_each_count(pg_app):
    clerks = 8
    with pg_app.app_context():
        clock.freeze(T(2026, 7, 1, 9, 0))
        store, owner, pickup, _ = ready_store()
        ids = [t.id for t in issue(owner, store, pickup, clerks + 2)]
        store_id, owner_id, product_id = store.id, owner.id, pickup.id
        db.session.remove()

    def clerk(ticket_id: int, ready: Ready) -> None:
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        ticket = db.session.get(Ticket, ticket_id)
        ready()
        services.return_ticket(account, store, ticket, reason="同時退貨")

    assert run_at_once(pg_app, clerk, ids[:clerks]) == [None] * clerks  # none refused
    with pg_app.app_context():
        assert counters(store_id) == counted(store_id) == {product_id: (2, 300)}
        db.session.remove()

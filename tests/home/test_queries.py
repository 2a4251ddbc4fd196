"""The dashboard's figures against the hand-built store of tests/home/helpers.py (SQLite; the
same checks run on PostgreSQL in test_postgres.py)."""

from __future__ import annotations

from datetime import date, timedelta

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.home import queries
from app.home.rules import Figure, OrderFigure
from app.products.models import ProductKind
from tests.factories import make_account, make_product, make_store
from tests.home import helpers as h
from tests.home.helpers import scope_of
from tests.settings.helpers import mark_complete
from tests.tickets.helpers import issue


def test_every_figure_of_the_hand_built_store(world):
    totals = queries.status_totals(scope_of((world.store_id,)), h.TODAY)
    assert (totals.redeemed, totals.returned) == (h.REDEEMED, h.RETURNED)
    h.check_world_figures(world)  # and every other figure, field by field


def test_another_stores_tickets_are_never_counted(world):
    other = scope_of((world.other_store_id,))
    totals = queries.status_totals(other, h.TODAY)
    assert totals.redeemed.count == 1 and totals.returned.count == 1 and totals.unused.count == 7
    assert [p.name for p in queries.top_products(other)[ProductKind.PICKUP]] == ["別家熱銷券"]
    # and the store's own figures are those of its tickets alone (checked in full above)
    assert queries.status_totals(scope_of((world.store_id,)), h.TODAY).redeemed == h.REDEEMED


def test_an_order_just_after_midnight_taipei_belongs_to_that_taipei_day(world):
    [(day, figure)] = queries.orders_by_day(scope_of((world.store_id,)), date(2026, 11, 1),
                                            date(2026, 11, 1))
    assert day == date(2026, 11, 1) and figure == h.ORDERS_LAST_30_DAYS[date(2026, 11, 1)]
    # issued at 00:30 Taipei = 10/31 16:30 UTC: nothing on 10/31
    assert queries.orders_by_day(scope_of((world.store_id,)), date(2026, 10, 31),
                                 date(2026, 10, 31))[0][1] == OrderFigure()


def test_the_window_moves_with_the_clock(world):
    # ten days later b1's redemption (09/01) has left the window; the rest stays
    later = h.TODAY + timedelta(days=10)
    clock.freeze(h.NOW + timedelta(days=10))
    totals = queries.status_totals(scope_of((world.store_id,)), later)
    assert totals.since == date(2026, 9, 3)
    assert totals.redeemed == Figure(h.REDEEMED.count - 1, h.REDEEMED.amount - 200)
    assert totals.unused == h.UNUSED and totals.returned == h.RETURNED


def test_a_parent_sums_its_stores(world):
    both = queries.status_totals(scope_of((world.store_id, world.other_store_id)), h.TODAY)
    one = queries.status_totals(scope_of((world.other_store_id,)), h.TODAY)
    assert both.redeemed.count == h.REDEEMED.count + one.redeemed.count
    assert both.unused.amount == h.UNUSED.amount + one.unused.amount
    names = [p.name for p in queries.top_products(
        scope_of((world.store_id, world.other_store_id)))[ProductKind.PICKUP]]
    assert names == ["別家熱銷券", "咖啡券", "早餐券", "短期提貨券"]


def test_top_five_only_ranked_by_tickets_sold_then_face_value(ctx):
    clock.freeze(h.NOW)
    store = make_store()
    owner = make_account(store)
    mark_complete(store)
    products = [make_product(store, f"商品{i}", kind=ProductKind.GIFT, face_value=10 * (i + 1))
                for i in range(7)]
    db.session.commit()
    for product, quantity in zip(products, (1, 3, 2, 3, 5, 1, 4), strict=True):
        issue(owner, store, product, quantity)
    top = queries.top_products(scope_of((store.id,)))
    assert [(p.name, p.sold.count, p.sold.amount) for p in top[ProductKind.GIFT]] == [
        ("商品4", 5, 250), ("商品6", 4, 280), ("商品3", 3, 120), ("商品1", 3, 60), ("商品2", 2, 60)]
    assert top[ProductKind.PICKUP] == []


def test_a_new_store_has_zeros(ctx):
    clock.freeze(h.NOW)
    store = make_store()
    db.session.commit()
    scope = scope_of((store.id,))
    totals = queries.status_totals(scope, h.TODAY)
    assert totals.redeemed.count == totals.returned.amount == totals.unused.count == 0
    assert all(f == OrderFigure() for _, f in queries.orders_by_day(scope, date(2026, 11, 1), h.TODAY))
    assert queries.top_products(scope) == {ProductKind.PICKUP: [], ProductKind.GIFT: []}
    assert not queries.has_tickets(scope)


def test_fees_in_force_today_by_mode(ctx):
    clock.freeze(h.NOW)
    store = make_store()
    db.session.add_all([
        FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2025, 1, 1), amount=10),
        FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2026, 6, 1), amount=0,
                percent_bp=150),
        FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2027, 1, 1), amount=99),
        FeeRate(store_id=store.id, kind=FeeKind.SMS, effective_from=date(2025, 1, 1), amount=1),
    ])
    db.session.commit()
    fees = dict(queries.fees_in_force(store.id, "redeem_after_use", h.TODAY))
    assert list(fees) == [FeeKind.RETURN, FeeKind.SMS, FeeKind.PAPER_PRINT, FeeKind.SERIAL]
    assert fees[FeeKind.RETURN].percent_bp == 150 and fees[FeeKind.SMS].amount == 1
    assert fees[FeeKind.PAPER_PRINT] is None and fees[FeeKind.SERIAL] is None
    assert [k for k, _ in queries.fees_in_force(store.id, "installment", h.TODAY)] == [
        FeeKind.RETURN, FeeKind.SERIAL]
    assert queries.fees_in_force(store.id, None, h.TODAY) == []

"""The report's queries on a real database: every order's money and periods by group summed by
SQL, the state, refund state and 履約保障到期日 read from the aggregates (and agreeing with the
model's own rule), each filter of both tabs, the store's own rows only; the unissued list."""

from __future__ import annotations

from datetime import date

import pytest

from app.db import db
from app.installments import queries
from app.installments.queries import OrderFilter, OrderState, PeriodDate, PeriodFilter, UnissuedFilter
from app.installments.status import PeriodGroup, guarantee_end_text
from app.installments.status import PeriodStatus as P
from tests.factories import make_installment_order, make_installment_store, make_unissued_order
from tests.installments.factories import (
    GUARANTEE_ENDS,
    LAST_30_DAYS,
    ORDER_FIGURES,
    ORDER_STATES,
    REFUND_STATES,
    T,
    World,
    build_world,
)

OCT_23, NOV_21 = date(2026, 10, 23), date(2026, 11, 21)


@pytest.fixture
def world(ctx) -> World:  # noqa: ANN001
    built = build_world()
    db.session.commit()
    return built


def names(world: World, ids) -> list[str]:  # noqa: ANN001
    by_id = {o.id: name for name, o in world.orders.items()}
    return [by_id[i] for i in ids]


def order_names(world: World, **values) -> list[str]:  # noqa: ANN003
    rows = db.session.execute(queries.order_rows(OrderFilter(store_id=world.store.id, **values)))
    return names(world, [r.InstallmentOrder.id for r in rows])


def figures(row) -> tuple[int, ...]:  # noqa: ANN001
    return (row.returned_amount, row.returned_periods, row.redeemed_amount, row.redeemed_periods,
            row.unused_amount, row.unused_periods)


def order_row_facts(world: World) -> dict[str, object]:
    """What the report's query says of every order, by name: its place in the list, figures,
    state, refund state and guarantee end, and each state filter's orders (SQLite and
    PostgreSQL alike)."""
    rows = db.session.execute(queries.order_rows(OrderFilter(store_id=world.store.id))).all()
    facts: dict[str, object] = {"listed": names(world, [r.InstallmentOrder.id for r in rows])}
    for row in rows:
        order = row.InstallmentOrder
        facts[names(world, [order.id])[0]] = (
            figures(row),
            queries.state_of(order.period_count, row.done_periods, row.returned_periods,
                             row.pending_periods).label,
            guarantee_end_text(row.done_periods, order.period_count, row.last_expected),
            queries.refund_state(row.returned_periods, row.pending_periods, row.refunded_periods))
    for state in (OrderState.ACTIVE, OrderState.COMPLETED, OrderState.RETURN_PENDING,
                  OrderState.RETURNED):
        facts[state.value] = order_names(world, state=state)
    return facts


def expected_order_facts() -> dict[str, object]:
    listed = [*LAST_30_DAYS[:4], "o2", "old"]
    return {"listed": listed,
            **{name: (ORDER_FIGURES[name], ORDER_STATES[name], GUARANTEE_ENDS[name],
                      REFUND_STATES.get(name, "")) for name in listed},
            OrderState.ACTIVE.value: ["o5", "o1"], OrderState.COMPLETED.value: ["o2", "old"],
            OrderState.RETURN_PENDING.value: ["o3"], OrderState.RETURNED.value: ["o4"]}


def test_every_order_with_its_money_by_group(world):
    assert order_row_facts(world) == expected_order_facts()


def test_the_guarantee_end_from_aggregates_is_the_models_own_rule(world):
    for name, order in world.orders.items():
        if name != "other":
            assert order.guarantee_end_label == GUARANTEE_ENDS[name], name


@pytest.mark.parametrize(("values", "expected"), [
    ({"start": OCT_23, "end": NOV_21}, LAST_30_DAYS),
    ({"start": date(2026, 11, 10), "end": date(2026, 11, 15)}, ["o5", "o4"]),
    ({"start": date(2026, 7, 1), "end": date(2026, 7, 1)}, ["old"]),
    ({"merchant_order_no": "MO-A"}, ["o1"]),  # the other store's MO-A is not ours
    ({"merchant_order_no": "MO"}, []),  # exact
    ({"purchaser_name": "大文"}, ["o5"]),
    ({"purchaser_mobile": "0922"}, ["o5"]),
    ({"purchaser_name": "%"}, []),  # a wildcard is a character
    ({"start": OCT_23, "end": NOV_21, "state": OrderState.ACTIVE}, ["o5", "o1"]),
])
def test_order_filters(world, values, expected):
    assert order_names(world, **values) == expected


def test_the_order_number_filter_and_one_orders_figures(world):
    o4 = world.orders["o4"]
    assert order_names(world, order_no=o4.order_no) == ["o4"]
    assert figures(queries.order_figures(o4)) == ORDER_FIGURES["o4"]
    assert [p.number for p in queries.order_periods(o4)] == [1, 2, 3]
    assert [p.return_fee for p in queries.order_periods(o4)] == [None, 50, 50]


def period_keys(world: World, **values) -> list[tuple[str, int]]:  # noqa: ANN003
    rows = db.session.execute(queries.period_rows(PeriodFilter(store_id=world.store.id, **values)))
    return [(names(world, [r.InstallmentPeriod.order_id])[0], r.InstallmentPeriod.number)
            for r in rows]


@pytest.mark.parametrize(("values", "expected"), [
    ({"start": date(2026, 11, 15), "end": NOV_21},
     [("o3", 1), ("o3", 2), ("o3", 3), ("o5", 1), ("o5", 2), ("o5", 3)]),
    ({"date_type": PeriodDate.EXPECTED, "start": date(2026, 11, 5), "end": date(2026, 11, 15)},
     [("o1", 1), ("o2", 2), ("o4", 1), ("o2", 3)]),
    ({"statuses": PeriodGroup.RETURNED.members},
     [("o3", 1), ("o3", 2), ("o3", 3), ("o4", 2), ("o4", 3)]),
    ({"statuses": (P.REDEEMING, P.RETURNING)}, [("o5", 1), ("o4", 3)]),
    ({"merchant_order_no": "MO-A"}, [("o1", 1), ("o1", 2), ("o1", 3)]),
])
def test_period_filters(world, values, expected):
    assert period_keys(world, **values) == expected


def test_a_period_row_carries_its_orders_return(world):
    o4 = world.orders["o4"]
    [row] = db.session.execute(queries.period_rows(PeriodFilter(
        store_id=world.store.id, serial=o4.periods[2].serial))).all()
    assert (row.InstallmentPeriod.status, row.InstallmentPeriod.return_fee) == (P.RETURNING, 50)
    assert (row.order_no, row.merchant_order_no, row.period_count) == (o4.order_no, "MO-D", 3)
    assert (row.order_returned_at, row.return_reason) == (T(2026, 11, 15, 12), "課程取消")
    assert period_keys(world, serial=world.orders["other"].periods[0].serial) == []


@pytest.mark.parametrize(("args", "expected"), [
    ((3, 0, 0, 0), OrderState.ACTIVE), ((3, 2, 0, 0), OrderState.ACTIVE),
    ((3, 3, 0, 0), OrderState.COMPLETED), ((3, 1, 2, 2), OrderState.RETURN_PENDING),
    ((3, 1, 2, 0), OrderState.RETURNED), ((3, 0, 3, 0), OrderState.RETURNED),
])
def test_the_order_state_table(args, expected):
    assert queries.state_of(*args) is expected


@pytest.mark.parametrize(("args", "expected"), [
    ((0, 0, 0), ""), ((2, 2, 0), "待退貨"), ((2, 0, 1), "退款中"), ((2, 0, 2), "已退款"),
])
def test_the_refund_state_table(args, expected):
    assert queries.refund_state(*args) == expected


def test_unissued_orders_paid_and_not_issued_of_the_store(ctx):
    store, other = make_installment_store(), make_installment_store()
    paid = make_unissued_order(store, merchant_order_no="U1", paid_at=T(2026, 11, 20, 9))
    make_unissued_order(store, merchant_order_no="U0", paid_at=T(2026, 8, 1, 9))
    done = make_unissued_order(store, merchant_order_no="U2", paid_at=T(2026, 11, 20, 10))
    make_unissued_order(other, merchant_order_no="U1", paid_at=T(2026, 11, 20, 9))
    done.issued_order_id = make_installment_order(store, 300).id
    db.session.commit()

    def listed(**values) -> list[str]:  # noqa: ANN003
        stmt = queries.unissued_orders(UnissuedFilter(store_id=store.id, **values))
        return [u.merchant_order_no for u in db.session.scalars(stmt)]

    assert listed(start=date(2026, 11, 1), end=NOV_21) == ["U1"]
    assert listed() == ["U1", "U0"]
    assert listed(merchant_order_no="U1") == ["U1"] and paid.id

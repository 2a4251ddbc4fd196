"""The report on PostgreSQL: the aggregates grouped by order (every order's money by group, its
state as HAVING), the period filters, and the pages and Excel through the client."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from app import clock
from app.db import db
from app.installments.status import PeriodStatus as P
from tests.factories import login, make_account
from tests.installments.factories import LAST_30_DAYS, NOW, build_world
from tests.installments.test_report_queries import expected_order_facts, order_row_facts, period_keys

pytestmark = pytest.mark.postgres


def test_the_report_on_postgresql(pg_app):
    with pg_app.app_context():
        try:
            world = build_world()
            make_account(world.store, username="pginst01")
            db.session.commit()
            assert order_row_facts(world) == expected_order_facts()
            assert period_keys(world, statuses=(P.REDEEMING, P.RETURNING)) == [("o5", 1), ("o4", 3)]
            ids = {name: o.id for name, o in world.orders.items()}
        finally:
            clock.unfreeze()
            db.session.remove()
    client = pg_app.test_client()
    clock.freeze(NOW)
    login(client, "pginst01")
    html = client.get("/installments/reports").get_data(as_text=True)
    by_id = {str(v): k for k, v in ids.items()}
    assert [by_id[i] for i in re.findall(r'data-testid="order-row" data-order-id="(\d+)"', html)] == LAST_30_DAYS
    html = client.get("/installments/reports?state=returned").get_data(as_text=True)
    assert re.findall(r'data-testid="order-row" data-order-id="(\d+)"', html) == [str(ids["o4"])]
    response = client.get("/installments/reports?format=xlsx&merchant_order_no=MO-D")
    rows = list(load_workbook(io.BytesIO(response.data), read_only=True).active.iter_rows(values_only=True))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["退貨金額"], line["核銷金額"], line["訂單狀態"], line["退款狀態"]) == (666, 334, "已退貨", "退款中")
    html = client.get(f"/installments/orders/{ids['o3']}/fee-split").get_data(as_text=True)
    assert re.findall(r'data-share="(\d+)"', html) == ["30", "30", "30"]

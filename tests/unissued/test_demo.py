"""The demo issuer (`make run`) has ticket orders paid by card waiting in 未發行訂單管理: two
issuable, one past its issuing day, made by the real checkout; loading twice adds none."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.db import db
from app.issuance.template import read_issuance_rows
from app.unissued.models import TicketOrder
from demodata.stores import load_demo
from tests.factories import login


def test_the_demo_issuer_has_unissued_ticket_orders(app, ctx, client) -> None:  # noqa: ANN001
    load_demo()
    db.session.commit()
    rows = db.session.scalars(select(TicketOrder).order_by(TicketOrder.merchant_order_no)).all()
    assert [(r.merchant_order_no, r.holder_name) for r in rows] == [
        ("DEMOTICKET0001", "張雅婷"), ("DEMOTICKET0002", "陳志明"), ("DEMOTICKET0003", "吳佩珊")]
    load_demo()  # idempotent
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(TicketOrder)) == 3
    login(client, "issuer", "Demo1234")
    page = client.get("/unissued-orders/").get_data(as_text=True)
    states = dict(re.findall(r'data-order-no="(DEMOTICKET\d+)".*?data-testid="status">([^<]+)<',
                             page, re.S))
    assert states == {"DEMOTICKET0001": "可發行", "DEMOTICKET0002": "可發行", "DEMOTICKET0003": "逾期未發行"}
    issuable = client.post("/unissued-orders/export", data={"order_id": [rows[1].id]})
    assert issuable.status_code == 200
    lines = read_issuance_rows(issuable.data)  # both lines name demo products: 商品編號 filled
    assert [(r["數量"], r["廠商訂單編號"]) for r in lines] == [(1, "DEMOTICKET0002"), (1, "DEMOTICKET0002")]
    assert all(isinstance(r["商品編號"], int) for r in lines)

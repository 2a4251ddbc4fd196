"""信用卡付款紀錄 on PostgreSQL: the Excel streams the query (a server-side cursor, the card
transaction and notice joined in) with the filter and only the store's own orders."""

from __future__ import annotations

from app.db import db
from tests.checkout.test_orders_list import _listed, _rows, _sheet
from tests.factories import login, make_checkout_order, make_checkout_store


def test_the_list_and_its_excel_on_postgresql(pg_app) -> None:  # noqa: ANN001
    with pg_app.app_context():
        _rows()
        other = make_checkout_order(make_checkout_store(), paid=True)
        other.merchant_trade_no = "OTHER1"
        db.session.commit()
        db.session.remove()
    client = pg_app.test_client()
    login(client, "shop01")
    assert _listed(client.get("/vendor/integration/orders")) == ["PAID1", "PAID2", "WAIT1",
                                                                  "FAIL1"]
    values = _sheet(client.get("/vendor/integration/orders?status=paid&format=xlsx"))
    header = values[0]
    assert [v[header.index("特店訂單編號")] for v in values[1:]] == ["PAID1", "PAID2"]
    assert [v[header.index("信用卡卡號")] for v in values[1:]] == ["431195******2222"] * 2
    assert [v[header.index("付款結果通知")] for v in values[1:]] == ["通知成功", "通知失敗"]
    foreign = _sheet(client.get("/vendor/integration/orders?format=xlsx&order_no=OTHER1"))
    assert foreign == [header]

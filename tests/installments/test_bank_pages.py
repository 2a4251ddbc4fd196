"""The operator's bank pages list installment periods' instructions beside tickets'."""

from __future__ import annotations

from datetime import date

from app.db import db
from app.escrow.jobs import run_sync
from app.stores.models import RedemptionMode
from tests.escrow.helpers import at
from tests.factories import login, make_installment_order, make_operator, make_store


def test_period_instructions_show_their_serials_and_can_be_found_by_serial(app, client, bank):  # noqa: ANN001
    with app.app_context():
        at(2026, 7, 1, 9, 0)
        store = make_store(mode=RedemptionMode.INSTALLMENT)
        order = make_installment_order(store, total=900, periods=3, first_date=date(2026, 8, 1))
        serials = [p.serial for p in order.periods]
        operator = make_operator().username
        db.session.commit()
        at(2026, 7, 2, 1, 0)
        run_sync(date(2026, 7, 2))
    login(client, operator)
    page = client.get("/operator/escrow/instructions").get_data(as_text=True)
    assert all(s in page for s in serials) and "未使用" in page
    found = client.get("/operator/escrow/instructions", query_string={"serial": serials[1]})
    text = found.get_data(as_text=True)
    assert serials[1] in text and serials[0] not in text

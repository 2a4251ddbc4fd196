"""An installment-mode store's card orders (8-2 未發行訂單): the payment page asks for the
cardholder; a paid order waits in 8-2 with the cardholder and the masked card; it is not a
ticket order (7-2 stays empty)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.ecpay import keys
from app.installments.models import UnissuedOrder
from app.unissued.models import TicketOrder
from tests.factories import STAGE_KEYS, aio_form, make_installment_store

CARD = {"card_number": "4311-9522-2222-2222", "expiry": "12/30", "cvv": "222", "plan": "once"}
HOLDER = {"holder_name": "陳小華", "holder_mobile": "0922333444", "holder_email": "hua@example.com"}


def test_a_paid_installment_store_order_waits_in_8_2(ctx, client) -> None:  # noqa: ANN001
    store = make_installment_store()
    keys.install_pair(store.id, STAGE_KEYS)
    db.session.commit()
    started = client.post("/Cashier/AioCheckOut/V5", data=aio_form(store, trade_no="COURSE1",
                                                                   amount="3600"), csrf=False)
    pay_url = started.headers["Location"]
    assert 'name="holder_name"' in client.get(pay_url).get_data(as_text=True)
    assert client.post(pay_url, data=CARD).status_code == 422  # the cardholder is needed
    assert client.post(pay_url, data=CARD | HOLDER).status_code == 303
    row = db.session.scalar(select(UnissuedOrder))
    assert (row.merchant_order_no, row.total_amount, row.cardholder_name, row.purchaser_mobile,
            row.card_first6, row.card_last4) == ("COURSE1", 3600, "陳小華", "0922333444",
                                                 "431195", "2222")
    assert db.session.scalar(select(func.count()).select_from(TicketOrder)) == 0

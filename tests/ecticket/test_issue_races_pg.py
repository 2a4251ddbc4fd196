"""PostgreSQL: the same Issue sent twice at once makes one batch and both callers get the same
answer; two different Issues of one order number at once: one is received, the other is 3002."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import clock
from app.db import db
from app.ecticket.models import IssueCall
from app.issuance.models import Batch
from app.tickets.models import Ticket
from tests.concurrency import Ready, run_at_once
from tests.ecticket.client import Client, flask_poster
from tests.unissued.helpers import ticket_store

pytestmark = pytest.mark.postgres
ROUNDS = 3


def _data(number: str, product_id: int, amount: int) -> dict:
    return {"MerchantTradeNo": number, "IssueType": "3", "IsImmediate": "1", "Operator": "pos",
            "CustomerName": "王小明", "CustomerEmail": "a@b.com",
            "TicketInfo": [{"ItemNo": str(product_id), "TicketAmount": amount}]}


def _count(model, store_id: int) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model)
                             .where(model.store_id == store_id))


@pytest.mark.parametrize("same", [True, False])
def test_two_issues_of_one_order_number_at_once(pg_app, same) -> None:  # noqa: ANN001
    for round_ in range(ROUNDS):
        with pg_app.app_context():
            store, _, pickup, _ = ticket_store(f"race{int(same)}{round_}")
            merchant, store_id, product_id = store.merchant_code, store.id, pickup.id
            db.session.remove()

        def act(amount: int, ready: Ready, merchant: str = merchant,
                product_id: int = product_id) -> dict:
            api = Client(merchant, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs",
                         flask_poster(pg_app.test_client()),
                         clock=lambda: clock.now().timestamp())
            ready()
            return api.call("Issue", _data("RACE1", product_id, amount))

        answers = run_at_once(pg_app, act, [2, 2] if same else [2, 3])
        codes = sorted(a["RtnCode"] for a in answers)
        with pg_app.app_context():
            if same:
                assert codes == [1, 1] and answers[0] == answers[1]
            else:
                assert codes == [1, 3002]
            won = next(a for a in answers if a["RtnCode"] == 1)
            assert _count(Batch, store_id) == 1 and _count(IssueCall, store_id) == 1
            assert _count(Ticket, store_id) == len(won["TicketData"]) * won["TicketData"][0][
                "TicketAmount"]
            db.session.remove()

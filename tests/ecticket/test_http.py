"""Over real HTTP, against the demo data as `make run` serves it: a JavaScript client (the RYT
gateway's encodeURIComponent, spec vector C7) whose CheckMacValue differs from the PHP one —
the Data carries space, `'`, `(` and `)` — signs with the demo store's published ECTicket stage
pair, and is accepted end to end: it redeems a ticket and cancels the redemption with C7's
reason, reads the answers and their MACs, and the history keeps the reason as sent."""

from __future__ import annotations

import json
from urllib.parse import unquote

from sqlalchemy import select

from app.db import db
from app.ecpay import keys
from app.history import HistoryEntry
from app.stores.models import Store
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from tests.ecticket.client import Client, check_mac_value, decrypt_text, http_poster
from tests.factories import make_order, make_product

DEMO = "3002607"  # the demo issuer, with ECPay's published ECTicket stage pair (docs)
STAGE = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")
C7_REASON = "customer changed mind (it's ok)"  # vector C7's CancelReason


def test_a_js_client_whose_mac_differs_from_php_is_accepted_over_http(ctx, live_server) -> None:  # noqa: ANN001
    store = db.session.scalar(select(Store).where(Store.merchant_code == DEMO))
    ticket = make_order(store, product=make_product(store, "咖啡兌換券", face_value=150)).tickets[0]
    code, ticket_id = ticket.code, ticket.id
    db.session.commit()
    api = Client(DEMO, STAGE.hash_key, STAGE.hash_iv, http_poster(live_server), style="js")

    redeemed = api.call("WriteOff", {"WriteOffNo": code, "Action": "1", "Operator": "cashier02"})
    assert (redeemed["RtnCode"], redeemed["UseStatus"]) == (1, 2)
    cancel = {"WriteOffNo": code, "Action": "2", "CancelReason": C7_REASON, "Operator": "cashier02"}
    cancelled = api.call("WriteOff", cancel)
    assert (cancelled["RtnCode"], cancelled["UseStatus"]) == (1, 1), cancelled

    sent = api.sent[-1]
    plaintext = unquote(decrypt_text(sent["Data"], STAGE.hash_key, STAGE.hash_iv))
    assert json.loads(plaintext) == {"MerchantID": DEMO, **cancel}
    assert sent["CheckMacValue"] == check_mac_value(plaintext, *STAGE, "js")
    assert sent["CheckMacValue"] != check_mac_value(plaintext, *STAGE, "php")  # C7's point

    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).status is TicketStatus.UNUSED
    last = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket_id)
        .order_by(HistoryEntry.id.desc()).execution_options(unscoped=True)).first()
    assert (last.action, last.reason, last.actor_label) == (
        "redemption_cancelled", C7_REASON, "ECTicket API:cashier02")

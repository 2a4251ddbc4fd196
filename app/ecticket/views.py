"""The ECTicket API's routes: `POST /api/Ticket/<call>` and `POST /api/issuance/{issue,Refund}`.
No session, no CSRF token: the envelope under the store's keys is the proof. Once a route
matched the answer is HTTP 200 JSON (ECPay's clients throw on anything else): TransCode for the
envelope, RtnCode inside the encrypted Data for the result. One exception: a call whose
success is a file (OrderDetail) answers the file itself (`Result.csv`, streamed); its
refusals are envelopes like any other."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from flask import Blueprint, Response, abort, request, stream_with_context

from app.db import db
from app.ecpay import json_api, wire
from app.ecticket import catalog, issue, items, orders, protocol, reports, tickets
from app.ecticket.calls import Call, Handler
from app.extensions import csrf
from app.spreadsheets import content_disposition

bp = Blueprint("ecticket", __name__)
log = logging.getLogger(__name__)

# The calls, by the name in the path (/api/Ticket/<name>).
HANDLERS: dict[str, Handler] = {
    "QueryItemInfo": items.query_item_info,
    "Issue": issue.issue,
    "QueryIssueResult": issue.query_issue_result,
    "WriteOff": tickets.write_off,
    "Refund": tickets.refund,
    "QueryTicketStatus": tickets.query_ticket_status,
    "QueryOrderInfo": orders.query_order_info,
    "QueryRefundInfo": orders.query_refund_info,
    "QueryPrintData": orders.query_print_data,
    "BatchQueryItemInfo": catalog.batch_query_item_info,
    "EscrowDay": catalog.escrow_day,
    "OrderDetail": reports.order_detail,
}
# ECPay serves two calls under a second prefix too (價金保管 /api/issuance); the merchant's
# contract, not the path, decides what they do.
ISSUANCE_ALIASES = {"issue": "Issue", "Refund": "Refund"}


def handler_for(prefix: str, name: str) -> Handler | None:
    if prefix == "issuance":
        name = ISSUANCE_ALIASES.get(name, "")
    return HANDLERS.get(name)


def _file(pieces: Iterable[str], filename: str, name: str) -> Response:
    """A file answer: the pieces read (and encoded) as the body is sent. Its queries run then,
    in a fresh read-only transaction; a failure midway ends the file short (logged)."""
    def body(pieces: Iterable[str]) -> Iterator[bytes]:
        try:
            for piece in pieces:
                yield piece.encode("utf-8")
        except Exception:  # noqa: BLE001 - the status line is sent: end the file, log why
            log.exception("ECTicket %s file failed", name)
        finally:
            db.session.rollback()

    return Response(stream_with_context(body(pieces)), 200, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(filename)})


def _answer(prefix: str, name: str) -> Response:
    handler = handler_for(prefix, name) or abort(404)
    raw = wire.read_body(json_api.MAX_BODY)
    try:
        if raw is None:  # longer than MAX_BODY (or unreadable): not a JSON object we read
            db.session.rollback()
            return wire.answer(json_api.refused(protocol.ECTICKET, "", "", json_api.BAD_FORMAT))
        opened = json_api.open_request(protocol.ECTICKET, raw, request.remote_addr or "")
        if isinstance(opened, json_api.Refused):
            db.session.rollback()
            return wire.answer(opened.body)
        try:
            result = handler(Call(opened, request.remote_addr or ""))
        except protocol.Refused as refused:
            db.session.rollback()
            return wire.answer(json_api.answer(protocol.ECTICKET, opened, protocol.failed(refused)))
        if result.csv is not None:
            db.session.rollback()
            return _file(result.csv, result.filename, name)
        body = json_api.answer(protocol.ECTICKET, opened, result.data)
        if result.changed:
            db.session.commit()
        else:
            db.session.rollback()
        return wire.answer(body)
    except Exception:  # noqa: BLE001 - the protocol answers 10099, never a 500 page
        log.exception("ECTicket %s/%s failed", prefix, name)
        db.session.rollback()
        return wire.answer(json_api.refused(protocol.ECTICKET, "", "", json_api.SYSTEM_ERROR))


@bp.post("/api/Ticket/<name>")
@csrf.exempt
@wire.json_body
def ticket_call(name: str) -> Response:
    return _answer("Ticket", name)


@bp.post("/api/issuance/<name>")
@csrf.exempt
@wire.json_body
def issuance_call(name: str) -> Response:
    return _answer("issuance", name)

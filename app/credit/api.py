"""The card back-office API for merchants' servers: `POST /1.0.0/Credit/DoAction`
(app.credit.doaction). No session and no CSRF token: the AES envelope under the store's keys is
the proof. Always HTTP 200 with a JSON body once the route matched (ECPay's clients throw on
anything else); the result is in TransCode and, inside Data, RtnCode.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from app.credit import doaction
from app.db import db
from app.ecpay import json_api, wire
from app.extensions import csrf

bp = Blueprint("credit_api", __name__, url_prefix="/1.0.0/Credit")
log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


@bp.post("/DoAction")
@csrf.exempt
@wire.json_body
def do_action() -> Response:
    raw = wire.read_body(MAX_BODY)
    if raw is None:  # longer than MAX_BODY (or unreadable): not a JSON object we read
        db.session.rollback()
        return wire.answer(doaction.refusal(json_api.BAD_FORMAT))
    try:
        answer = doaction.handle(raw, request.remote_addr or "")
    except Exception:  # noqa: BLE001 - the protocol answers 10099, never a 500 page
        log.exception("DoAction failed")
        db.session.rollback()
        return wire.answer(doaction.refusal(json_api.SYSTEM_ERROR))
    if answer.changed:
        db.session.commit()
    else:
        db.session.rollback()
    return wire.answer(answer.body)

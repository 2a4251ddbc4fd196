"""The SMS gateway's status callback: `POST /notifications/sms/status` (app.notifications.receipts
says what it carries and how it is signed).

No session and no CSRF token: the signature under SMS_STATUS_SECRET is the proof. Without the
setting the route answers 404, as if it did not exist. Answers, all JSON:
200 {"result": "updated" | "unchanged"}; 400 a body that is not a callback; 401 a missing,
wrong or stale signature; 404 no SMS has this id; 409 more than one has it; 413 a body over
16 KiB. A gateway retries what is not 2xx; a 4xx other than 404 will not get better.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from app import clock
from app.db import db
from app.errors import json_error
from app.extensions import csrf
from app.notifications import receipts
from app.notifications.transports import sms_settings

bp = Blueprint("delivery_receipts", __name__)
log = logging.getLogger(__name__)


@bp.post("/notifications/sms/status")
@csrf.exempt
def sms_status():
    secret = sms_settings(current_app).status_secret
    if not secret:
        return json_error(404, "not_found", "找不到此頁面或資料")
    if (request.content_length or 0) > receipts.MAX_BODY:
        return json_error(413, "too_large", "body too large")
    body = request.stream.read(receipts.MAX_BODY + 1)
    if len(body) > receipts.MAX_BODY:
        return json_error(413, "too_large", "body too large")
    if not receipts.verified(secret, request.headers.get(receipts.TIMESTAMP_HEADER, ""), body,
                             request.headers.get(receipts.SIGNATURE_HEADER, ""),
                             now=int(clock.now().timestamp())):
        log.warning("sms status callback refused: bad or stale signature")
        return json_error(401, "bad_signature", "signature missing, wrong or stale")
    try:
        callback = receipts.parse_callback(body)
    except receipts.BadCallback as bad:
        return json_error(400, "bad_request", bad.message)
    applied = receipts.apply_callback(callback)
    if applied is receipts.Applied.UNKNOWN:
        db.session.rollback()
        return json_error(404, "unknown_message", "no SMS has this id")
    if applied is receipts.Applied.AMBIGUOUS:
        db.session.rollback()
        return json_error(409, "ambiguous", "more than one SMS has this id")
    db.session.commit()
    log.info("sms status callback for %s (%s): %s", callback.provider_ref, callback.status,
             applied.value)
    return jsonify({"result": applied.value}), 200

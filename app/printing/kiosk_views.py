"""The convenience-store kiosk page (超商 ibon 取票): what a store kiosk prints from, reached with
the order's 12-digit pickup code (取票代碼), no login.

GET /cvs/<pickup code> shows the order's tickets as the paper ticket shows them (QR code as
inline SVG); 列印 (POST) produces the PDF and marks the tickets printed, after which the
purchaser can no longer be changed nor the notice re-sent. The page of a printed order shows
the tickets without their codes, and a second print is refused: the pickup code served once.

The code is a credential: failed look-ups (malformed or unknown codes) are counted per IP and
refused past the limit (429); every failure gets the same 「取票代碼無效」 page with 404, so a
guess learns nothing. Responses are never cached and send no referrer.
"""

from __future__ import annotations

import io

from flask import Blueprint, Response, render_template, request, send_file

from app import ratelimit
from app.errors import NotFound
from app.issuance.presentation import faces_for
from app.printing import qr, services
from app.web import committed

bp = Blueprint("cvs", __name__, url_prefix="/cvs")

PICKUP_CODE_PER_IP = ratelimit.Rule("pickup-code-ip", "20/10 minutes",
                                    "取票代碼錯誤次數過多，請 10 分鐘後再試")


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _ip() -> str:
    return request.remote_addr or ""


def _invalid(message: str = services.INVALID_PICKUP_CODE, status: int = 404):  # noqa: ANN202
    return render_template("cvs/invalid.html", message=message), status


def _guarded(pickup_code: str):  # noqa: ANN202
    """The order of the code, or a response refusing it (rate limit, invalid code)."""
    try:
        ratelimit.check(PICKUP_CODE_PER_IP, _ip())
    except ratelimit.TooManyAttempts as refused:
        response = Response(*_invalid(refused.message, refused.status))
        response.headers["Retry-After"] = str(int(PICKUP_CODE_PER_IP.item.get_expiry()))
        return None, response
    try:
        return services.kiosk_order(pickup_code), None
    except NotFound:
        ratelimit.count_failure(PICKUP_CODE_PER_IP, _ip())
        return None, Response(*_invalid())


@bp.get("/<pickup_code>")
def page(pickup_code: str):
    order, refused = _guarded(pickup_code)
    if refused is not None:
        return refused
    tickets = services.order_tickets(order)
    printed = any(t.printed_at is not None for t in tickets)
    faces = faces_for(tickets)
    qrs = {} if printed else {f.ticket_id: qr.svg(f.code, label=f"核銷代碼 {f.code_display}")
                              for f in faces}
    return render_template("cvs/page.html", order=order, faces=faces, printed=printed, qrs=qrs,
                           logos=services.logos(faces),
                           printed_at=min((t.printed_at for t in tickets if t.printed_at),
                                          default=None),
                           pickup_code=pickup_code)


@bp.post("/<pickup_code>/print")
def print_order(pickup_code: str):
    order, refused = _guarded(pickup_code)
    if refused is not None:
        return refused
    try:
        with committed() as outcome:
            job = services.kiosk_print(pickup_code)
            data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
    except NotFound:  # the code no longer opens an order: the kiosk's one answer for it
        return _invalid()
    if outcome.refused:
        return _invalid(outcome.error, outcome.status)
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"ibon-{order.order_no}.pdf", max_age=0)

"""全站搜尋 (/search?q=): the header's search box answers here.

Any merchant account of the acting store may search; orders are listed only to accounts that may
open 已發行訂單. Like the counter lookup, a search that finds nothing counts one failure for
the account and one for the IP, and over the limit the box is refused (429) before looking
anything up, so the box cannot be used to try codes.
"""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_login import current_user

from app import ratelimit
from app.auth.access import may, merchant_required
from app.auth.permissions import Function
from app.htmx import render
from app.search import queries
from app.tickets import actions
from app.tickets.codes import display_code

bp = Blueprint("search", __name__, url_prefix="/search")

TOO_MANY = "查詢無結果的次數過多，請 10 分鐘後再試"
PER_ACCOUNT = ratelimit.Rule("search-account", "20/10 minutes", TOO_MANY)
PER_IP = ratelimit.Rule("search-ip", "60/10 minutes", TOO_MANY)
NOTHING = "查無符合的票券或訂單，請確認輸入的序號、核銷代碼、訂單編號或手機號碼"
MAX_LENGTH = 64


@bp.get("")
@merchant_required
def index():
    q = (request.args.get("q") or "").strip()[:MAX_LENGTH]
    context = {"q": q, "found": None, "error": None, "display_code": display_code,
               "status_of": actions.effective_status,
               "may_orders": may(Function.ISSUED_ORDERS)}
    if not q:
        return render("search/index.html", **context)
    ip = request.remote_addr or ""
    try:
        ratelimit.check(PER_ACCOUNT, current_user.id)
        ratelimit.check(PER_IP, ip)
    except ratelimit.TooManyAttempts as err:
        context["error"] = err.message
        return render("search/index.html", **context), err.status
    found = queries.search(g.store, q, with_orders=context["may_orders"])
    context["found"] = found
    if found.empty:
        ratelimit.count_failure(PER_ACCOUNT, current_user.id)
        ratelimit.count_failure(PER_IP, ip)
        context["error"] = NOTHING
        return render("search/index.html", **context), 404
    return render("search/index.html", **context)

"""三、廠商專區: news (最新消息), store profile, login history, contract and fees."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app import history
from app.auth import login_notices
from app.auth.access import merchant_required, requires
from app.auth.permissions import Function, Level
from app.billing import rates
from app.columns import Column, xlsx_response
from app.daterange import parse_range
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.merchant import errorcodes, queries, services
from app.merchant.forms import ContactsForm, LoginNoticesForm
from app.merchant.rules import login_result_label
from app.news.models import NewsItem, published
from app.pagination import paginate
from app.stores.models import Contract, DeliveryType
from app.web import committed

bp = Blueprint("merchant", __name__, url_prefix="/vendor")


@bp.route("/news")
@merchant_required
def news():
    page = paginate(published(), per_page=20)
    return render("merchant/news.html", page=page)


@bp.route("/news/<int:news_id>")
@merchant_required
def news_item(news_id: int):
    item = db.first_or_404(published().where(NewsItem.id == news_id))
    return render("merchant/news_item.html", item=item)


@bp.route("/contract")
@requires(Function.VENDOR_PROFILE)
def contract():
    contracts = db.session.scalars(
        select(Contract).where(Contract.store_id == g.store.id)
        .order_by(Contract.start_date.desc(), Contract.id.desc())
    ).all()
    current = g.store.current_contract
    return render("merchant/contract.html", contracts=contracts, current=current,
                  DeliveryType=DeliveryType, rates=rates.rates_of(g.store.id),
                  rate_text=rates.rate_text, basis_label=rates.basis_label,
                  mode=current.redemption_mode if current else None)


# 3-2 廠商基本資料 -----------------------------------------------------------------------------

HISTORY_SHOWN = 50


def _render_profile(form: ContactsForm, status: int = 200):
    store = g.store
    entries = [e for e in history.entries_for(store) if e.action == "contacts_updated"]
    return render("merchant/profile.html", store=store, form=form,
                  contacts=services.contacts_of(store),
                  entries=entries[:HISTORY_SHOWN]), status


@bp.get("/profile")
@requires(Function.VENDOR_PROFILE)
def profile():
    return _render_profile(ContactsForm(data=services.contacts_of(g.store)))


@bp.post("/profile")
@requires(Function.VENDOR_PROFILE, Level.MODIFY)
def update_contacts():
    form = ContactsForm()
    if not form.validate_on_submit():
        return _render_profile(form, 422)
    with committed(form, refusals=InvalidInput) as outcome:
        changed = services.update_contacts(
            current_user, g.store, finance_emails=form.finance_emails.data,
            sales_emails=form.sales_emails.data, technical_emails=form.technical_emails.data,
        )
    if outcome.refused:
        flash(outcome.refusal.message, "danger")  # the summary, above the fields' own messages
        return _render_profile(form, 422)
    flash("聯絡人資訊已修改" if changed else "聯絡人資訊未變更", "success" if changed else "info")
    return redirect_to(url_for("merchant.profile"))


# 3-5 登入歷程 -----------------------------------------------------------------------------

LOGIN_COLUMNS = (  # the page and its Excel: rows of LoginEvent
    Column("at", "時間", lambda e: e.at, "datetime"),
    Column("username", "帳號", lambda e: e.username),
    Column("ip", "IP", lambda e: e.ip),
    Column("user_agent", "瀏覽器", lambda e: e.user_agent, width=60),
    Column("result", "結果", lambda e: login_result_label(e.success, e.reason)),
)
RESULT_FILTERS = {"": "全部", "success": "成功", "failure": "失敗"}


def _may_set_notices() -> bool:
    return current_user.is_main and g.store.id == current_user.store_id


def _notice_context(form: LoginNoticesForm | None = None) -> dict:
    settings = login_notices.settings_for(g.store.id)
    return {
        "notice_form": form or LoginNoticesForm(obj=settings),
        "notice_settings": settings,
        "may_set_notices": _may_set_notices(),
        "notice_entries": history.entries_for(settings)[:HISTORY_SHOWN] if settings.id else [],
        "contacts": services.contacts_of(g.store),
    }


@bp.get("/login-history")
@requires(Function.LOGIN_HISTORY)
def login_history():
    return _login_history_page()


@bp.post("/login-history/notices")
@requires(Function.LOGIN_HISTORY)
def update_login_notices():
    if not _may_set_notices():
        abort(403)
    form = LoginNoticesForm()
    if form.validate_on_submit():
        with committed(form, refusals=InvalidInput) as outcome:
            changed = login_notices.update_settings(current_user, g.store, **form.settings())
        if outcome.saved:
            flash("登入通知設定已儲存" if changed else "登入通知設定未變更",
                  "success" if changed else "info")
            return redirect_to(url_for("merchant.login_history") + "#login-notices")
        outcome.error_on_form()
    return _login_history_page(form, 422)


def _login_history_page(notice_form: LoginNoticesForm | None = None, status: int = 200):
    notices = _notice_context(notice_form)
    args = request.args
    result = args.get("result", "") if args.get("result", "") in RESULT_FILTERS else ""
    try:
        start, end = parse_range(args.get("start"), args.get("end"), default_days=30)
    except InvalidInput as err:
        return render("merchant/login_history.html", error=err.message, page=None,
                      start=args.get("start", ""), end=args.get("end", ""), result=result,
                      results=RESULT_FILTERS, columns=LOGIN_COLUMNS, **notices), status
    stmt = queries.login_events(g.store.id, start, end, result=result)
    if args.get("format") == "xlsx":
        return xlsx_response(f"登入歷程_{g.store.merchant_code}_{start:%Y%m%d}-{end:%Y%m%d}.xlsx",
                             LOGIN_COLUMNS, db.session.scalars(stmt), sheet_title="登入歷程")
    page = paginate(stmt, per_page=50, max_per_page=200)
    return render("merchant/login_history.html", error=None, page=page, start=start.isoformat(),
                  end=end.isoformat(), result=result, results=RESULT_FILTERS,
                  columns=LOGIN_COLUMNS, **notices), status


# 5-1 錯誤代碼查詢 ---------------------------------------------------------------------------

@bp.get("/error-codes")
@merchant_required
def error_codes():
    query = request.args.get("q", "").strip()[:100]
    return render("merchant/error_codes.html", query=query, codes=errorcodes.search(query),
                  total=len(errorcodes.all_codes()))

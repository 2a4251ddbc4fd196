"""三、廠商專區: news (最新消息), store profile, documents (文件下載區), login history, contract
and fees."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app, flash, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app import history, spreadsheets
from app.auth import login_notices
from app.auth.access import may, merchant_required, requires, store_mode
from app.auth.permissions import Function, Level
from app.billing import rates
from app.columns import Column, xlsx_response
from app.daterange import parse_range
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.merchant import errorcodes, manual, queries, services
from app.merchant.forms import PHONE_HINT, LoginNoticesForm, ProfileForm
from app.merchant.rules import CONTACT_ROLES, login_result_label
from app.news.models import NewsItem, published
from app.pagination import paginate
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import Contract, DeliveryType, RedemptionMode
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
PROFILE_ACTIONS = ("contacts_updated", "payout_notice_updated")


def _render_profile(form: ProfileForm, status: int = 200):
    store = g.store
    entries = [e for e in history.entries_for(store) if e.action in PROFILE_ACTIONS]
    return render("merchant/profile.html", store=store, form=form,
                  contacts=services.contacts_of(store), roles=CONTACT_ROLES,
                  phone_hint=PHONE_HINT, entries=entries[:HISTORY_SHOWN]), status


@bp.get("/profile")
@requires(Function.VENDOR_PROFILE)
def profile():
    data = services.contacts_of(g.store) | {"payout_notice": "on" if g.store.payout_notice else "off"}
    return _render_profile(ProfileForm(data=data))


@bp.post("/profile")
@requires(Function.VENDOR_PROFILE, Level.MODIFY)
def update_contacts():
    form = ProfileForm()
    if not form.validate_on_submit():
        return _render_profile(form, 422)
    with committed(form, refusals=InvalidInput) as outcome:
        changed = services.update_profile(current_user, g.store, form.contacts(),
                                          payout_notice=form.notice_on)
    if outcome.refused:
        flash(outcome.refusal.message, "danger")  # the summary, above the fields' own messages
        return _render_profile(form, 422)
    flash("廠商基本資料已修改" if changed else "廠商基本資料未變更", "success" if changed else "info")
    return redirect_to(url_for("merchant.profile"))


# 3-4 廠商文件下載區 ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Download:
    label: str
    description: str
    url: str
    kind: str  # what opens: 網頁, Excel, Markdown, JSON
    testid: str


def _downloads() -> list[Download]:
    """What this account may download here: the store's issuance templates (by its redemption
    mode and the account's rights), the manual, and the API reference."""
    found = []
    mode = store_mode()
    if mode == RedemptionMode.REDEEM_AFTER_USE.value and may(Function.ISSUANCE):
        found += [
            Download("票券發行上傳範本", "7-3 B 票券發行的 Excel 範本（空白）。",
                     url_for("issuance.template"), "Excel", "issuance-template"),
            Download("票券發行上傳範本（含我的商品）", "已填入貴商店上架中商品的商品編號。",
                     url_for("issuance.my_template"), "Excel", "issuance-my-template"),
        ]
    if mode == RedemptionMode.INSTALLMENT.value and may(Function.INSTALLMENT_REPORTS):
        found.append(Download("分期核銷訂單上傳範本", "八、分期核銷：訂單批次發行的 Excel 範本。",
                              url_for("installments.issue_template"), "Excel", "installment-template"))
    found += [
        Download("操作手冊（網頁，可列印）", "ECTicket 發行管理平台的操作說明，可用瀏覽器列印或另存 PDF。",
                 url_for("merchant.manual"), "網頁", "manual"),
        Download("操作手冊（Markdown 檔）", "同一份操作手冊的文字檔。", url_for("merchant.manual_markdown"),
                 "Markdown", "manual-md"),
        Download("API 規格（OpenAPI）",
                 "/api/v1 的介面規格（OpenAPI 3，JSON）；API 金鑰請至「五、系統開發管理 › API 金鑰」申請。",
                 url_for("api.openapi"), "JSON", "openapi"),
    ]
    return found


def _manual() -> tuple[manual.Chapter, ...]:
    try:
        return manual.chapters(current_app.root_path)
    except FileNotFoundError:
        abort(404, "操作手冊目前無法提供，請聯繫平台客服")


@bp.get("/documents")
@merchant_required
def documents():
    return render("merchant/documents.html", downloads=_downloads())


@bp.get("/documents/manual", endpoint="manual")
@merchant_required
def manual_page():
    return render("merchant/manual.html", chapters=_manual())


@bp.get("/documents/manual.md")
@merchant_required
def manual_markdown():
    response = Response(manual.as_markdown(_manual()), mimetype="text/markdown")
    response.headers["Content-Disposition"] = spreadsheets.content_disposition(manual.FILENAME)
    return response


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
@offers_saved_filters("start", "end", "result")
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

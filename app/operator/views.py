"""The platform operator console (平台管理): merchants and contracts (with an installment store's
refund-URL domains and refund notices), news, scheduled jobs.

Operators have no store scope, so their queries see every store; every route here is
`operator_required`, and rows under a store are loaded through that store.
"""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from app import clock, history, jobs
from app.auth import services as auth_services
from app.auth.access import operator_required
from app.auth.models import Account
from app.billing import rates
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.installments import notices as refund_notices
from app.installments import settings as installment_settings
from app.installments.models import InstallmentOrder, NoticeStatus, RefundNotice
from app.news.models import NewsItem
from app.operator import (
    billing_views,  # noqa: F401 - the billing pages, on this blueprint
    credit_views,  # noqa: F401 - 逾期未關帳信用卡交易, on this blueprint
    overview,  # noqa: F401 - 平台總覽, on this blueprint
    services,
)
from app.operator.blueprint import bp, of_store_or_404
from app.operator.forms import (
    ContractForm,
    NewsForm,
    NewStoreForm,
    RateForm,
    RefundDomainForm,
    StoreForm,
)
from app.pagination import paginate
from app.schedule import SCHEDULE, by_name
from app.stores.models import Contract, DeliveryMethod, DeliveryType, Store
from app.web import committed, saved

PER_PAGE = 20
RECENT_RUNS = 50


def _parent_choices(store: Store | None = None) -> list[SelectChoice]:
    """Stores that may be a parent: top-level ones, other than the store itself."""
    stmt = select(Store).where(Store.parent_id.is_(None)).order_by(Store.merchant_code)
    if store is not None:
        stmt = stmt.where(Store.id != store.id)
    return [SelectChoice(0, "（無）")] + [SelectChoice(s.id, s.label)
                                        for s in db.session.scalars(stmt)]


def _store_or_404(store_id: int) -> Store:
    return db.get_or_404(Store, store_id)


# Stores and contracts ----------------------------------------------------------------------

@bp.route("/stores")
@operator_required
def stores():
    q = request.args.get("q", "").strip()[:100]
    stmt = (select(Store).options(selectinload(Store.contracts), selectinload(Store.parent))
            .order_by(Store.merchant_code))
    if q:
        stmt = stmt.where(or_(Store.merchant_code.icontains(q, autoescape=True),
                              Store.name.icontains(q, autoescape=True)))
    page = paginate(stmt, per_page=PER_PAGE)
    ids = [s.id for s in page.items]
    counts = dict(db.session.execute(
        select(Account.store_id, func.count(Account.id))
        .where(Account.store_id.in_(ids), Account.deleted_at.is_(None))
        .group_by(Account.store_id)
    ).all()) if ids else {}
    return render("operator/stores.html", page=page, q=q, counts=counts)


@bp.route("/stores/new", methods=["GET", "POST"])
@operator_required
def new_store():
    form = NewStoreForm()
    form.parent_id.choices = _parent_choices()
    made = saved(form, lambda: services.create_store(
        current_user, form.store_fields(), form.contract_terms(),
        username=form.username.data, password=form.password.data),
        done=lambda store: f"已新增商店 {store.label}，管理者帳號 {form.username.data.strip()}",
        to=lambda store: url_for("operator.store_detail", store_id=store.id), refusals=InvalidInput)
    if made:
        return made
    status = 422 if form.errors else 200
    return render("operator/new_store.html", form=form, DeliveryType=DeliveryType,
                  DeliveryMethod=DeliveryMethod), status


def _store_page(store: Store, form: StoreForm | None = None, rate_form: RateForm | None = None,
                status: int = 200):  # noqa: ANN202
    if form is None:
        form = StoreForm(obj=store, formdata=None)
        form.parent_id.data = store.parent_id or 0
        form.parent_id.choices = _parent_choices(store)
    accounts = db.session.scalars(
        select(Account).where(Account.store_id == store.id).order_by(Account.kind, Account.id)
    ).all()
    contracts = db.session.scalars(
        select(Contract).where(Contract.store_id == store.id)
        .order_by(Contract.start_date.desc(), Contract.id.desc())
    ).all()
    current = store.current_contract
    return render(
        "operator/store_detail.html", store=store, form=form, accounts=accounts,
        contracts=contracts, current=current,
        contract_history={c.id: history.entries_for(c) for c in contracts},
        store_history=history.entries_for(store), DeliveryType=DeliveryType,
        refund_domains=installment_settings.allowed_domains(store.id),
        refund_domain_history=installment_settings.domain_history(store.id),
        refund_url=installment_settings.refund_url_for(store.id), domain_form=RefundDomainForm(),
        rates=rates.rates_of(store.id), rate_form=rate_form or RateForm(prefix="rate", formdata=None),
        rate_history=rates.rate_history(store.id), rate_text=rates.rate_text,
        basis_label=rates.basis_label, mode=current.redemption_mode if current else None,
        today=clock.business_day(),
    ), status


@bp.route("/stores/<int:store_id>", methods=["GET", "POST"])
@operator_required
def store_detail(store_id: int):
    store = _store_or_404(store_id)
    form = StoreForm(obj=store) if request.method == "GET" else StoreForm()
    if request.method == "GET":
        form.parent_id.data = store.parent_id or 0
    form.parent_id.choices = _parent_choices(store)
    if done := saved(form, lambda: services.update_store(current_user, store, form.store_fields()),
                     done="商店資料已更新", to=url_for("operator.store_detail", store_id=store.id),
                     refusals=InvalidInput):
        return done
    return _store_page(store, form, status=422 if form.errors else 200)


@bp.post("/stores/<int:store_id>/accounts/<int:account_id>/sign-out")
@operator_required
def sign_out_everywhere(store_id: int, account_id: int):
    """登出所有裝置: every login session of one of the store's accounts ends at once."""
    store = _store_or_404(store_id)
    account = db.session.scalar(select(Account).where(Account.id == account_id,
                                                      Account.store_id == store.id))
    if account is None:
        abort(404)
    with committed() as outcome:
        auth_services.sign_out_everywhere(current_user, account)
    if outcome.saved:
        flash(f"已將帳號 {account.username} 登出所有裝置", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("operator.store_detail", store_id=store.id) + "#accounts")


# Fee rates (費率) ------------------------------------------------------------------------------

def _to_rates(store: Store) -> str:
    return url_for("operator.store_detail", store_id=store.id) + "#rates"


@bp.post("/stores/<int:store_id>/rates")
@operator_required
def add_rate(store_id: int):
    store = _store_or_404(store_id)
    form = RateForm(prefix="rate")
    if done := saved(form, lambda: rates.add_rate(
            current_user, store, kind=form.kind.data or "", effective_from=form.effective_from.data,
            amount=form.amount.data, percent=form.percent.data),
            done=lambda rate: f"已新增{rate.kind.label}費率：{rates.rate_text(rate)}，"
                              f"自 {rate.effective_from:%Y/%m/%d} 起生效",
            to=_to_rates(store), refusals=InvalidInput, refusal_on_form=True):
        return done
    return _store_page(store, rate_form=form, status=422)


@bp.post("/stores/<int:store_id>/rates/<int:rate_id>/delete")
@operator_required
def delete_rate(store_id: int, rate_id: int):
    store = _store_or_404(store_id)
    with committed() as outcome:
        rate = rates.delete_rate(current_user, store, rate_id)
    if outcome.saved:
        flash(f"已刪除{rate.kind.label}自 {rate.effective_from:%Y/%m/%d} 起的費率", "success")
        return redirect_to(_to_rates(store))
    outcome.flash_error()
    return _store_page(store, status=outcome.status)


def _contract_page(store: Store, form: ContractForm, contract: Contract | None, status: int):
    return render("operator/contract_form.html", store=store, form=form, contract=contract,
                  DeliveryType=DeliveryType, DeliveryMethod=DeliveryMethod,
                  entries=history.entries_for(contract) if contract else []), status


@bp.route("/stores/<int:store_id>/contracts/new", methods=["GET", "POST"])
@operator_required
def new_contract(store_id: int):
    store = _store_or_404(store_id)
    form = ContractForm()
    if done := saved(form, lambda: services.add_contract(current_user, store, form.contract_terms()),
                     done="已新增合約", to=url_for("operator.store_detail", store_id=store.id),
                     refusals=InvalidInput):
        return done
    return _contract_page(store, form, None, 422 if form.errors else 200)


@bp.route("/stores/<int:store_id>/contracts/<int:contract_id>", methods=["GET", "POST"])
@operator_required
def edit_contract(store_id: int, contract_id: int):
    store = _store_or_404(store_id)
    contract = of_store_or_404(Contract, store, contract_id)
    if request.method == "GET":
        form = ContractForm(obj=contract)
        form.redemption_mode.data = contract.redemption_mode.value
    else:
        form = ContractForm()
    if done := saved(form, lambda: services.update_contract(current_user, contract,
                                                            form.contract_terms()),
                     done="合約已更新", to=url_for("operator.store_detail", store_id=store.id),
                     refusals=InvalidInput):
        return done
    return _contract_page(store, form, contract, 422 if form.errors else 200)


# News ----------------------------------------------------------------------------------------

@bp.route("/news")
@operator_required
def news():
    page = paginate(select(NewsItem).order_by(NewsItem.published_at.desc(),
                                                  NewsItem.id.desc()),
                       per_page=PER_PAGE)
    return render("operator/news.html", page=page, now=clock.now())


@bp.route("/news/new", methods=["GET", "POST"])
@operator_required
def new_news():
    form = NewsForm()
    if done := saved(form, lambda: services.publish_news(current_user, form.news_fields()),
                     done=lambda item: "消息已排程發佈" if item.published_at > clock.now() else "消息已發佈",
                     to=url_for("operator.news"), refusals=InvalidInput):
        return done
    return render("operator/news_form.html", form=form, item=None), (422 if form.errors else 200)


@bp.route("/news/<int:news_id>", methods=["GET", "POST"])
@operator_required
def edit_news(news_id: int):
    item = db.get_or_404(NewsItem, news_id)
    if request.method == "GET":
        form = NewsForm(obj=item)
        form.load(item.published_at)
    else:
        form = NewsForm()
    if done := saved(form, lambda: services.update_news(current_user, item, form.news_fields()),
                     done="消息已更新", to=url_for("operator.news"), refusals=InvalidInput):
        return done
    return render("operator/news_form.html", form=form, item=item,
                  entries=history.entries_for(item)), (422 if form.errors else 200)


@bp.route("/news/<int:news_id>/delete", methods=["POST"])
@operator_required
def delete_news(news_id: int):
    item = db.get_or_404(NewsItem, news_id)
    title = item.title
    services.delete_news(current_user, item)
    db.session.commit()
    flash(f"已刪除消息「{title}」", "success")
    return redirect_to(url_for("operator.news"))


# Scheduled jobs ------------------------------------------------------------------------------

@bp.route("/jobs")
@operator_required
def scheduled_runs():
    runs = db.session.scalars(
        select(jobs.ScheduledRun).order_by(jobs.ScheduledRun.created_at.desc(),
                                           jobs.ScheduledRun.id.desc()).limit(RECENT_RUNS)
    ).all()
    return render("operator/jobs.html", schedule=SCHEDULE, runs=runs)


@bp.route("/jobs/<name>/run", methods=["POST"])
@operator_required
def run_job(name: str):
    try:
        by_name(name)
    except KeyError:
        abort(404)
    # run_now commits its own run record and the job's work, as a job would.
    run = jobs.run_now(name, requested_by=current_user.id)
    if run.status == "done":
        flash(f"排程作業 {name} 已執行完成", "success")
    else:
        flash(f"排程作業 {name} 執行失敗：{run.error or run.status}", "danger")
    return redirect_to(url_for("operator.scheduled_runs"))


# Installments: refund-URL domains (URL Domain 防火牆) and refund notices -----------------------

def _to_domains(store: Store) -> str:
    return url_for("operator.store_detail", store_id=store.id) + "#refund-domains"


@bp.post("/stores/<int:store_id>/refund-domains")
@operator_required
def allow_refund_domain(store_id: int):
    store = _store_or_404(store_id)
    form = RefundDomainForm()
    if not form.validate_on_submit():
        flash(next(iter(form.host.errors), "請輸入網域"), "danger")
        return redirect_to(_to_domains(store))
    with committed(form) as outcome:
        domain = installment_settings.allow_domain(current_user, store, form.host.data or "")
    if outcome.saved:
        flash(f"已開通網域 {domain.host}", "success")
    else:
        flash(next(iter(form.host.errors), outcome.error or ""), "danger")
    return redirect_to(_to_domains(store))


@bp.post("/stores/<int:store_id>/refund-domains/<int:domain_id>/revoke")
@operator_required
def revoke_refund_domain(store_id: int, domain_id: int):
    store = _store_or_404(store_id)
    with committed() as outcome:
        host = installment_settings.revoke_domain(current_user, store, domain_id)
    if outcome.saved:
        flash(f"已撤銷網域 {host}；已發行訂單的通知網址不受影響", "success")
    else:
        outcome.flash_error()
    return redirect_to(_to_domains(store))


@bp.get("/stores/<int:store_id>/refund-notices")
@operator_required
def refund_notices_list(store_id: int):
    store = _store_or_404(store_id)
    wanted = request.args.get("status", "")
    stmt = (select(RefundNotice).where(RefundNotice.store_id == store.id)
            .order_by(RefundNotice.created_at.desc(), RefundNotice.id.desc()))
    if wanted in {s.value for s in NoticeStatus}:
        stmt = stmt.where(RefundNotice.status == NoticeStatus(wanted))
    page = paginate(stmt, per_page=PER_PAGE)
    ids = [n.order_id for n in page.items]
    orders = {o.id: o for o in db.session.scalars(
        select(InstallmentOrder).where(InstallmentOrder.id.in_(ids)))} if ids else {}
    return render("operator/refund_notices.html", store=store, page=page, wanted=wanted,
                  orders=orders, NoticeStatus=NoticeStatus)


@bp.get("/stores/<int:store_id>/refund-notices/<int:notice_id>")
@operator_required
def refund_notice_detail(store_id: int, notice_id: int):
    store = _store_or_404(store_id)
    notice = of_store_or_404(RefundNotice, store, notice_id)
    order = db.session.get(InstallmentOrder, notice.order_id)
    return render("operator/refund_notice.html", store=store, notice=notice, order=order,
                  attempts=refund_notices.attempts_of(notice), entries=history.entries_for(notice),
                  NoticeStatus=NoticeStatus)


@bp.post("/stores/<int:store_id>/refund-notices/<int:notice_id>/resend")
@operator_required
def resend_refund_notice(store_id: int, notice_id: int):
    store = _store_or_404(store_id)
    notice = of_store_or_404(RefundNotice, store, notice_id)
    with committed() as outcome:
        refund_notices.request_resend(current_user, notice)
    if outcome.saved:
        flash("已排入重新發送，結果請見下方發送紀錄", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("operator.refund_notice_detail", store_id=store.id,
                               notice_id=notice_id))

"""7-3 A 商品管理: the product list (query, Excel, bulk list / delist), new / copy / edit, and
each product's history.

A parent store sees its children's products in the list (read-only, with a 商店 column); every
write loads the product with `get_owned_or_404` (the acting store only), so a child's product
answers 404 until the parent switches into the child.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import SelectChoice

from app import history, listing
from app.auth.access import acting_account as _actor
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.columns import Column
from app.daterange import parse_range
from app.db import db
from app.errors import InvalidInput
from app.history import HistoryEntry
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.products import queries, services
from app.products.forms import BulkListingForm, ProductForm
from app.products.models import BranchRole, Product, ProductKind
from app.products.queries import ProductFilter
from app.stores.models import Store
from app.tenancy import get_owned_or_404
from app.web import committed

bp = Blueprint("products", __name__, url_prefix="/products")

KIND_FILTERS = {"": "全部", **{k.value: k.label for k in ProductKind}}
LISTED_FILTERS = {"": "全部", "listed": "上架中", "delisted": "已下架"}
RANGE_MONTHS = 12  # the seed suggests at most a year per query
ALL_BRANCHES = "全部分店"
NO_PARTNERS = "未開放"


def _list_labels(product: Product) -> dict[str, str]:
    def branches(role: BranchRole) -> str:
        names = sorted(link.branch.label for link in product.branch_links if link.role is role)
        return "、".join(names) or ALL_BRANCHES

    partners = sorted(link.partner.label for link in product.partner_links)
    return {"partners": "、".join(partners) or NO_PARTNERS,
            "redeem": branches(BranchRole.REDEEM), "return": branches(BranchRole.RETURN)}


def columns(stores: dict[int, Store], *, show_store: bool) -> tuple[Column, ...]:
    """The list and its Excel (rows: products). The store is in the Excel always, on the page
    only for a parent reading its children."""
    def store(p: Product) -> Store | None:
        return stores.get(p.store_id)

    return (
        Column("id", "商品編號", lambda p: p.id, "number"),  # what the issuance file asks for
        Column("store", "商店代號", lambda p: store(p).merchant_code if store(p) else "",
               excel_only=not show_store, shown=lambda p: store(p).label if store(p) else ""),
        Column("store_name", "商店名稱", lambda p: store(p).name if store(p) else "",
               excel_only=True),
        Column("name", "商品名稱", lambda p: p.name),
        Column("kind", "票券類型", lambda p: p.kind.label),
        Column("face_value", "面額", lambda p: p.face_value, "money"),
        Column("escrow_end", "價金保管迄日", lambda p: p.escrow_end, "date"),
        Column("valid_until", "使用期限", lambda p: p.valid_until, "date"),
        Column("listed", "上架狀態", lambda p: "上架" if p.listed else "下架"),
        Column("issued", "發行紀錄", lambda p: "已發行" if p.has_issued else "未發行"),
        Column("partners", "跨店核銷", lambda p: _list_labels(p)["partners"], width=30),
        Column("redeem_branches", "核銷分店", lambda p: _list_labels(p)["redeem"], width=30),
        Column("return_branches", "退貨分店", lambda p: _list_labels(p)["return"], width=30),
        Column("description", "商品描述", lambda p: p.description, excel_only=True, width=40),
        Column("usage_instructions", "使用說明", lambda p: p.usage_instructions,
               excel_only=True, width=40),
        Column("created_at", "建立時間", lambda p: p.created_at, "datetime"),
        Column("updated_at", "最後修改時間", lambda p: p.updated_at, "datetime", excel_only=True),
    )


# 查詢商品 ------------------------------------------------------------------------------------

@bp.get("/")
@requires(Function.PRODUCTS)
def index():
    args = request.args
    q = args.get("q", "").strip()[:100]
    kind = args.get("kind", "") if args.get("kind", "") in KIND_FILTERS else ""
    listed = args.get("listed", "") if args.get("listed", "") in LISTED_FILTERS else ""
    start_s, end_s = args.get("start", "").strip(), args.get("end", "").strip()
    shown = {"q": q, "kind": kind, "listed": listed, "start": start_s, "end": end_s}
    readable = listing.reads_children()
    context = {"filters": shown, "kinds": KIND_FILTERS, "listed_filters": LISTED_FILTERS,
               "columns": columns(listing.stores_shown(), show_store=readable),
               "show_store": readable, "may_modify": may(Function.PRODUCTS, Level.MODIFY),
               "bulk": BulkListingForm()}
    start = end = None
    if start_s or end_s:  # no dates: every product (the catalogue is small and paginated)
        try:
            start, end = parse_range(start_s, end_s, default_days=365, max_months=RANGE_MONTHS)
        except InvalidInput as err:
            return render("products/index.html", error=err.message, page=None, **context), 422
        shown.update(start=start.isoformat(), end=end.isoformat())
    flt = ProductFilter(name=q, kind=ProductKind(kind) if kind else None,
                        listed={"listed": True, "delisted": False}.get(listed),
                        start=start, end=end)
    stmt = queries.products(flt, readable=readable)
    if listing.excel_asked():
        return listing.excel("商品管理", context["columns"], db.session.scalars(stmt))
    page = paginate(stmt)
    return render("products/index.html", error=None, page=page, **context)


# 新增商品 / 複製商品 / 編輯商品 --------------------------------------------------------------

def _offer_choices(form: ProductForm, store_id: int) -> None:
    form.partner_stores.choices = [SelectChoice(s.id, s.label)
                                   for s in queries.open_partner_stores(store_id)]
    branches = [SelectChoice(b.id, b.label + ("" if b.enabled else "（停用）"))
                for b in queries.store_branches(store_id)]
    form.redeem_branches.choices = branches
    form.return_branches.choices = list(branches)


def _page(form: ProductForm, *, product: Product | None = None,
          source: Product | None = None, status: int = 200):  # noqa: ANN202
    return render("products/form.html", form=form, product=product, source=source,
                  labels=services.FIELD_LABELS), status


@bp.route("/new", methods=["GET", "POST"])
@requires(Function.PRODUCTS, Level.MODIFY)
def new():
    form = ProductForm()
    _offer_choices(form, g.store.id)
    copy_id = request.args.get("copy") if request.method == "GET" else form.copy_of.data
    source = get_owned_or_404(Product, copy_id) if copy_id else None
    if not form.is_submitted():
        if source is not None:  # 複製商品: the original's values, saved only on 【確認上架】
            form.fill(services.input_of(source))
            form.copy_of.data = str(source.id)
        return _page(form, source=source)
    if form.validate():
        with committed(form, refusals=InvalidInput) as outcome:
            product = services.create_product(_actor(), g.store, form.product_input(),
                                              image=form.image.data, copy_from=source)
        if outcome.saved:
            flash(f"已上架商品「{product.name}」", "success")
            return redirect_to(url_for("products.index"))
        outcome.error_on_form()
    return _page(form, source=source, status=422)


def _edit_formdata(product: Product) -> CombinedMultiDict | None:
    """Once a product has been issued its page shows the frozen fields as text and posts only
    the three lists; the frozen fields keep their values unless a request names them."""
    if not product.has_issued:
        return None
    now = services.input_of(product)
    merged = MultiDict({
        "kind": now.kind.value if now.kind else "",
        "name": now.name,
        "face_value": str(now.face_value),
        "escrow_end": now.escrow_end.isoformat() if now.escrow_end else "",
        "valid_until": now.valid_until.isoformat() if now.valid_until else "",
        "description": now.description,
        "usage_instructions": now.usage_instructions,
    })
    for key in request.form:
        merged.setlist(key, request.form.getlist(key))
    return CombinedMultiDict([request.files, merged])


@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@requires(Function.PRODUCTS, Level.MODIFY)
def edit(product_id: int):
    product = get_owned_or_404(Product, product_id, for_update=request.method == "POST")
    if request.method == "GET":
        form = ProductForm(formdata=None)
        form.fill(services.input_of(product))
        _offer_choices(form, g.store.id)
        return _page(form, product=product)
    formdata = _edit_formdata(product)
    form = ProductForm(formdata=formdata) if formdata is not None else ProductForm()
    _offer_choices(form, g.store.id)
    status = 422
    if form.validate():
        # a frozen field of an issued product is refused too: nothing is saved
        with committed(form) as outcome:
            changed = services.update_product(_actor(), product, form.product_input(),
                                              image=form.image.data,
                                              remove_image=bool(form.remove_image.data))
        if outcome.saved:
            flash(f"已更新商品「{product.name}」" if changed else "商品內容未變更",
                  "success" if changed else "info")
            return redirect_to(url_for("products.index"))
        outcome.error_on_form()
        status = outcome.status
    return _page(form, product=product, status=status)


# 整批上架 / 整批下架 -------------------------------------------------------------------------

def _back_url() -> str:
    back = request.form.get("back", "")
    if back.startswith("/products/") and not back.startswith("//") and "\\" not in back:
        return back
    return url_for("products.index")


@bp.post("/listing")
@requires(Function.PRODUCTS, Level.MODIFY)
def bulk_listing():
    form = BulkListingForm()
    valid = form.validate_on_submit()
    if form.ids.errors:
        abort(404)  # not an id at all
    if not valid or not form.ids.data:
        flash(services.NONE_SELECTED if not form.ids.data else "請選擇上架或下架", "warning")
        return redirect_to(_back_url())
    for product_id in form.ids.data:
        get_owned_or_404(Product, product_id)  # a child's or another store's product: 404
    listed = form.action.data == "list"
    changed = services.set_listed(_actor(), g.store, form.ids.data, listed)
    db.session.commit()
    word = "上架" if listed else "下架"
    unchanged = len(set(form.ids.data)) - len(changed)
    message = f"已{word} {len(changed)} 項商品"
    if unchanged:
        message += f"（{unchanged} 項原已{word}）"
    flash(message, "success")
    return redirect_to(_back_url())


# 歷程 ---------------------------------------------------------------------------------------

@bp.get("/<int:product_id>/history", endpoint="history")
@requires(Function.PRODUCTS)
def history_list(product_id: int):
    product = get_owned_or_404(Product, product_id, readable=True)
    return render("products/history.html", product=product,
                  entries=history.entries_for(product, readable=True),
                  labels=services.FIELD_LABELS, stores=listing.stores_shown())


@bp.get("/<int:product_id>/history/<int:entry_id>")
@requires(Function.PRODUCTS)
def history_entry(product_id: int, entry_id: int):
    product = get_owned_or_404(Product, product_id, readable=True)
    entry = db.session.scalar(
        select(HistoryEntry).where(HistoryEntry.id == entry_id,
                                   HistoryEntry.subject_type == Product.__tablename__,
                                   HistoryEntry.subject_id == product.id)
        .execution_options(readable=True))
    if entry is None:
        abort(404)
    keys = [k for k in services.FIELD_LABELS if k in entry.changes]
    keys += sorted(k for k in entry.changes if k not in services.FIELD_LABELS)
    rows = [(key, services.FIELD_LABELS.get(key, key), entry.changes[key][0],
             entry.changes[key][1]) for key in keys]
    return render("products/history_entry.html", product=product, entry=entry, rows=rows,
                  show=services.history_value)

"""7-3 A 商品管理 use cases: create, edit, (de)list products; their history and JSON form.

Every function takes the acting account, checks the rules, changes rows, writes history in
the same transaction and flushes; the view (or API route) commits.

Rules (docs/issuance.md): a pickup voucher (提貨券) needs an escrow end date after today, a gift
voucher (贈品券) a validity end of today or later; the face value is a whole number of NTD from
1 to 1,000,000; the partner stores are a subset of the store's open cross-store relations and
the redeem / return branches subsets of its branches (empty: every branch). Once a ticket has
been issued (`first_issued_at`), only the three lists may change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app import clock, history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.products import queries
from app.products.models import BranchRole, Product, ProductBranch, ProductKind, ProductPartner
from app.stores.models import Store
from app.uploads.models import UploadPurpose
from app.uploads.services import save_image

NAME_MAX = 100
TEXT_MAX = 2000
FACE_VALUE_MAX = 1_000_000

LOCKED_MESSAGE = "商品已有發行紀錄，為保障消費者權益，僅可編輯跨店核銷、核銷分店、退貨分店"
NO_RIGHT = "您沒有修改商品管理的權限"
FACE_VALUE_RULE = f"面額須為 1 至 {FACE_VALUE_MAX:,} 的整數"
PARTNER_NOT_OPEN = "所選的跨店核銷商店不在貴商店的可核銷商店名單中"
REDEEM_BRANCH_NOT_OWN = "所選的核銷分店不屬於貴商店"
RETURN_BRANCH_NOT_OWN = "所選的退貨分店不屬於貴商店"
NONE_SELECTED = "請勾選商品"

# What a history entry's keys mean (the snapshot's keys, plus the two non-snapshot ones).
FIELD_LABELS = {
    "name": "商品名稱",
    "kind": "票券類型",
    "face_value": "面額",
    "escrow_end": "價金保管迄日",
    "valid_until": "使用期限",
    "description": "商品描述",
    "usage_instructions": "使用說明",
    "image": "商品圖片",
    "partner_stores": "跨店核銷",
    "redeem_branches": "核銷分店",
    "return_branches": "退貨分店",
    "listed": "上架狀態",
    "copied_from": "複製來源",
}

# The fields frozen by the first issuance (everything except the three lists).
LOCKED_FIELDS = ("name", "kind", "face_value", "escrow_end", "valid_until", "description",
                 "usage_instructions", "image")


@dataclass
class ProductInput:
    """What a merchant types for a product (the form, or the API body merged onto the product)."""

    name: str = ""
    kind: ProductKind | None = None
    face_value: int | None = None
    description: str = ""
    usage_instructions: str = ""
    escrow_end: date | None = None
    valid_until: date | None = None
    partner_store_ids: list[int] = field(default_factory=list)
    redeem_branch_ids: list[int] = field(default_factory=list)
    return_branch_ids: list[int] = field(default_factory=list)


def input_of(product: Product) -> ProductInput:
    """A product's current values, as an input (to pre-fill a form or to merge a PATCH onto)."""
    return ProductInput(
        name=product.name, kind=product.kind, face_value=product.face_value,
        description=product.description, usage_instructions=product.usage_instructions,
        escrow_end=product.escrow_end, valid_until=product.valid_until,
        partner_store_ids=sorted(product.partner_store_ids),
        redeem_branch_ids=sorted(product.branch_ids(BranchRole.REDEEM)),
        return_branch_ids=sorted(product.branch_ids(BranchRole.RETURN)),
    )


def _require_modify(actor: Account) -> None:
    access.check(actor, None, Function.PRODUCTS, no_right=NO_RIGHT)


def _unique(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def _clean(data: ProductInput) -> ProductInput:
    """Trimmed text, unique sorted ids, and only the end date of the product's kind."""
    kind = data.kind
    return replace(
        data,
        name=(data.name or "").strip(),
        description=(data.description or "").strip(),
        usage_instructions=(data.usage_instructions or "").strip(),
        escrow_end=data.escrow_end if kind is ProductKind.PICKUP else None,
        valid_until=data.valid_until if kind is ProductKind.GIFT else None,
        partner_store_ids=_unique(data.partner_store_ids),
        redeem_branch_ids=_unique(data.redeem_branch_ids),
        return_branch_ids=_unique(data.return_branch_ids),
    )


def _problems(store_id: int, data: ProductInput, current: ProductInput | None) -> dict[str, str]:
    """Field name → message for everything wrong with a (cleaned) input.

    Dates are held to "after today" only when they are new or changed, and list members only
    when newly added, so a product saved earlier can always have its lists edited.
    """
    problems: dict[str, str] = {}
    if not data.name:
        problems["name"] = "請輸入商品名稱"
    elif len(data.name) > NAME_MAX:
        problems["name"] = f"商品名稱至多 {NAME_MAX} 字"
    if data.kind is None:
        problems["kind"] = "請選擇票券類型"
    if data.face_value is None:
        problems["face_value"] = "請輸入面額"
    elif (isinstance(data.face_value, bool) or not isinstance(data.face_value, int)
          or not 1 <= data.face_value <= FACE_VALUE_MAX):
        problems["face_value"] = FACE_VALUE_RULE
    if len(data.description) > TEXT_MAX:
        problems["description"] = f"商品描述至多 {TEXT_MAX} 字"
    if len(data.usage_instructions) > TEXT_MAX:
        problems["usage_instructions"] = f"使用說明至多 {TEXT_MAX} 字"

    today = clock.business_day()
    if data.kind is ProductKind.PICKUP:
        unchanged = current is not None and current.escrow_end == data.escrow_end
        if data.escrow_end is None:
            problems["escrow_end"] = "提貨券請輸入價金保管迄日"
        elif not unchanged and data.escrow_end <= today:
            problems["escrow_end"] = "價金保管迄日須晚於今日"
    elif data.kind is ProductKind.GIFT:
        unchanged = current is not None and current.valid_until == data.valid_until
        if data.valid_until is None:
            problems["valid_until"] = "贈品券請輸入使用期限"
        elif not unchanged and data.valid_until < today:
            problems["valid_until"] = "使用期限不可早於今日"

    had = current or ProductInput()
    if set(data.partner_store_ids) - set(had.partner_store_ids):
        open_ids = {s.id for s in queries.open_partner_stores(store_id)}
        if set(data.partner_store_ids) - set(had.partner_store_ids) - open_ids:
            problems["partner_stores"] = PARTNER_NOT_OPEN
    added_redeem = set(data.redeem_branch_ids) - set(had.redeem_branch_ids)
    added_return = set(data.return_branch_ids) - set(had.return_branch_ids)
    if added_redeem or added_return:
        own = {b.id for b in queries.store_branches(store_id)}
        if added_redeem - own:
            problems["redeem_branches"] = REDEEM_BRANCH_NOT_OWN
        if added_return - own:
            problems["return_branches"] = RETURN_BRANCH_NOT_OWN
    return problems


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)


def _save_image(store_id: int, image: FileStorage) -> Any:
    try:
        return save_image(store_id, image, UploadPurpose.PRODUCT)
    except InvalidInput as err:
        raise InvalidInput(err.message, fields={"image": err.message}) from None


def _has_file(image: FileStorage | None) -> bool:
    return image is not None and bool(image.filename)


def _sync_lists(product: Product, data: ProductInput) -> None:
    wanted_partners = set(data.partner_store_ids)
    for link in list(product.partner_links):
        if link.partner_store_id not in wanted_partners:
            product.partner_links.remove(link)
    for store_id in sorted(wanted_partners - product.partner_store_ids):
        product.partner_links.append(ProductPartner(partner_store_id=store_id))
    for role, ids in ((BranchRole.REDEEM, data.redeem_branch_ids),
                      (BranchRole.RETURN, data.return_branch_ids)):
        wanted = set(ids)
        for link in list(product.branch_links):
            if link.role is role and link.branch_id not in wanted:
                product.branch_links.remove(link)
        for branch_id in sorted(wanted - product.branch_ids(role)):
            product.branch_links.append(ProductBranch(branch_id=branch_id, role=role))


def _set_fields(product: Product, data: ProductInput) -> None:
    product.name = data.name
    product.kind = data.kind  # type: ignore[assignment]
    product.face_value = data.face_value  # type: ignore[assignment]
    product.description = data.description
    product.usage_instructions = data.usage_instructions
    product.escrow_end = data.escrow_end
    product.valid_until = data.valid_until


def product_snapshot(product: Product) -> dict[str, Any]:
    """The product as its history sees it: plain values, the lists as sorted labels."""
    db.session.flush()
    return {
        "name": product.name,
        "kind": product.kind.value,
        "face_value": product.face_value,
        "escrow_end": product.escrow_end.isoformat() if product.escrow_end else None,
        "valid_until": product.valid_until.isoformat() if product.valid_until else None,
        "description": product.description,
        "usage_instructions": product.usage_instructions,
        "image": product.image.token if product.image else None,
        "partner_stores": sorted(link.partner.label for link in product.partner_links),
        "redeem_branches": sorted(link.branch.label for link in product.branch_links
                                  if link.role is BranchRole.REDEEM),
        "return_branches": sorted(link.branch.label for link in product.branch_links
                                  if link.role is BranchRole.RETURN),
    }


def _locked_changes(product: Product, data: ProductInput, *, new_image: bool) -> list[str]:
    """The frozen fields an edit would change."""
    now = input_of(product)
    changed = [name for name in ("name", "kind", "face_value", "escrow_end", "valid_until",
                                 "description", "usage_instructions")
               if getattr(now, name) != getattr(data, name)]
    if new_image:
        changed.append("image")
    return changed


# Use cases ---------------------------------------------------------------------------------

def create_product(actor: Account, store: Store, data: ProductInput, *,
                   image: FileStorage | None = None,
                   copy_from: Product | None = None) -> Product:
    """Add a product to `store`, listed (【確認上架】). With `copy_from` (複製商品) the new
    product keeps the original's image unless another is uploaded, and its history says so."""
    _require_modify(actor)
    if copy_from is not None and copy_from.store_id != store.id:
        raise NotFound("找不到要複製的商品")
    data = _clean(data)
    _refuse(_problems(store.id, data, None))
    product = Product(store_id=store.id, listed=True)
    _set_fields(product, data)
    if _has_file(image):
        product.image = _save_image(store.id, image)  # type: ignore[arg-type]
    elif copy_from is not None:
        product.image = copy_from.image
    db.session.add(product)
    _sync_lists(product, data)
    db.session.flush()
    snapshot = {k: v for k, v in product_snapshot(product).items() if v not in (None, "", [])}
    changes = history.diff({}, snapshot)
    reason = ""
    if copy_from is not None:
        changes["copied_from"] = [None, f"#{copy_from.id} {copy_from.name}"]
        reason = f"複製自商品 #{copy_from.id}「{copy_from.name}」"
    history.record(product, "created", changes=changes, reason=reason)
    return product


def update_product(actor: Account, product: Product, data: ProductInput, *,
                   image: FileStorage | None = None, remove_image: bool = False) -> bool:
    """Edit a product (更新商品). After the first issuance only the partner list and the two
    branch lists may change; any other change is refused and nothing is saved.

    Returns whether anything changed (the change is written to the product's history).
    """
    _require_modify(actor)
    data = _clean(data)
    new_image = _has_file(image) or (remove_image and product.image_upload_id is not None)
    if product.has_issued and _locked_changes(product, data, new_image=new_image):
        raise DomainError(LOCKED_MESSAGE, code="product_issued")
    _refuse(_problems(product.store_id, data, input_of(product)))
    before = product_snapshot(product)
    _set_fields(product, data)
    if _has_file(image):
        product.image = _save_image(product.store_id, image)  # type: ignore[arg-type]
    elif remove_image:
        product.image = None
    _sync_lists(product, data)
    db.session.flush()
    changes = history.diff(before, product_snapshot(product))
    if not changes:
        return False
    product.updated_at = clock.now()
    db.session.flush()
    history.record(product, "updated", changes=changes)
    return True


def set_listed(actor: Account, store: Store, ids: Iterable[int], listed: bool) -> list[Product]:
    """List (整批上架) or delist (整批下架) products of `store`; only listed products can be
    issued. Returns the products whose state changed; each change is in its history."""
    _require_modify(actor)
    wanted = _unique(ids)
    if not wanted:
        raise InvalidInput(NONE_SELECTED)
    rows = db.session.scalars(
        select(Product).where(Product.id.in_(wanted), Product.store_id == store.id)
        .order_by(Product.id).with_for_update()
    ).all()
    if len(rows) != len(wanted):
        raise NotFound("找不到所選的商品")
    changed = []
    for product in rows:
        if product.listed is listed:
            continue
        product.listed = listed
        product.updated_at = clock.now()
        history.record(product, "listed" if listed else "delisted",
                       changes={"listed": [not listed, listed]})
        changed.append(product)
    db.session.flush()
    return changed


def history_value(key: str, value: Any) -> str:
    """A history value as a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if key == "kind":
        try:
            return ProductKind(value).label
        except ValueError:
            return str(value)
    if key == "listed":
        return "上架" if value else "下架"
    if key == "face_value" and isinstance(value, int):
        return f"NT${value:,}"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)

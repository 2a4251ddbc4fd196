"""Product calls: QueryItemInfo (one product by its ItemNo, the 商品編號 of the upload template,
as text)."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.ecticket import protocol
from app.ecticket.calls import Call
from app.ecticket.protocol import Refused, Result
from app.products.models import Product, ProductKind

TICKET_TYPE = {ProductKind.PICKUP: "1", ProductKind.GIFT: "2"}  # 提貨券 / 贈品券
ITEM_NO_SIZE = 8


def item_no(product: Product) -> str:
    return str(product.id)


def product_of(call: Call, number: str) -> Product:
    """The store's product of ItemNo `number` (Refused 3003 when there is none)."""
    product = None
    if number.isascii() and number.isdigit() and len(number) <= ITEM_NO_SIZE:
        product = db.session.scalar(select(Product).where(Product.store_id == call.store.id,
                                                          Product.id == int(number)))
    if product is None:
        raise Refused(protocol.NOT_FOUND, f"Item not found: {number}")
    return product


def item_info(product: Product) -> dict:
    info = {"ItemNo": item_no(product), "ItemName": product.name,
            "TicketType": TICKET_TYPE[product.kind], "TicketPrice": product.face_value,
            "ItemStatus": "1" if product.listed else "2"}
    if product.kind is ProductKind.PICKUP:
        info["EscrowExpiredDate"] = f"{product.escrow_end:%Y%m%d}" if product.escrow_end else ""
    else:
        info["ExpireDate"] = f"{product.valid_until:%Y%m%d}" if product.valid_until else ""
    return info


def query_item_info(call: Call) -> Result:
    number = protocol.text(call.fields, "ItemNo", ITEM_NO_SIZE, required=True)
    return Result(protocol.ok(**item_info(product_of(call, number))))

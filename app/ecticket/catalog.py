"""Product calls beyond QueryItemInfo: BatchQueryItemInfo (the store's products, a page at a
time) and EscrowDay (how many escrow days a product, or the contract, still has)."""

from __future__ import annotations

from sqlalchemy import func, select

from app import clock
from app.db import db
from app.ecticket import protocol
from app.ecticket.calls import Call
from app.ecticket.items import ITEM_NO_SIZE, item_info, product_of
from app.ecticket.protocol import Result
from app.products.models import Product, ProductKind

PAGE_SIZE = 100  # products per BatchQueryItemInfo page [I]
ITEM_STATUS = {"1": True, "2": False}  # 上架 / 下架


def batch_query_item_info(call: Call) -> Result:
    """`ItemStatus` "1" listed · "2" delisted · absent both; `PageNum` from 1 (absent: 1).
    A page past the last one answers an empty ItemList."""
    status = protocol.code(call.fields, "ItemStatus", tuple(ITEM_STATUS))
    page = protocol.integer(call.fields, "PageNum", low=1) or 1
    where = [Product.store_id == call.store.id]
    if status:
        where.append(Product.listed.is_(ITEM_STATUS[status]))
    total = db.session.scalar(select(func.count()).select_from(Product).where(*where)) or 0
    products = db.session.scalars(select(Product).where(*where).order_by(Product.id)
                                  .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return Result(protocol.ok(TotalCount=total, PageNum=page,
                              ItemList=[item_info(p) for p in products]))


def escrow_day(call: Call) -> Result:
    """The escrow days left, counted from today (Taipei) to the end date [I]: a pickup product's
    escrow end (a gift product has no escrow: 0); without ItemNo, the end of the store's current
    contract (the longest a product's escrow may run there) [I]. Never negative."""
    number = protocol.text(call.fields, "ItemNo", ITEM_NO_SIZE)
    if number:
        product = product_of(call, number)
        end = product.escrow_end if product.kind is ProductKind.PICKUP else None
    else:
        contract = call.store.current_contract
        end = contract.end_date if contract is not None else None
    days = max((end - clock.business_day()).days, 0) if end is not None else 0
    return Result(protocol.ok(EscrowDay=days))

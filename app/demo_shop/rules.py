"""The sample shop's pure rules: its items, its order numbers and the AioCheckOut form it signs."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app import clock

LABEL = "範例商店（示範用，非真實交易）"
# ECPay's published stage test pair of merchant 3002607 (public, for testing only): the pair the
# demo data gives the store `issuer`.
STAGE_HASH_KEY = "pwFHCqoQZGmho4w6"
STAGE_HASH_IV = "EkRm7iFT261dpevs"
STAGE_MERCHANT_ID = "3002607"
# The names and face values of the demo issuer's listed products (`flask demo-data`).
DEFAULT_ITEMS = (("咖啡兌換券", 150), ("台北門市限定蛋糕券", 680), ("甜點招待券", 80))
MAX_QUANTITY = 5
TRADE_DESC = "ectix 範例商店訂單"
TRADE_NO_PREFIX = "DEMO"
BUYER_NAME_MAX = 20
BUYER_EMAIL_MAX = 50  # CustomField2 holds at most 50 characters
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Item:
    name: str
    price: int


def items_of(config_value: Iterable) -> tuple[Item, ...]:
    """DEMO_SHOP_ITEMS, a list of (name, price): the items; ValueError when malformed (the
    server then refuses to start)."""
    items = []
    for entry in config_value:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ValueError(f"DEMO_SHOP_ITEMS: each item is (name, price), not {entry!r}")
        name, price = entry
        if not isinstance(name, str) or not name.strip() or "#" in name:
            raise ValueError(f"DEMO_SHOP_ITEMS: a name must be text without '#': {name!r}")
        if isinstance(price, bool) or not isinstance(price, int) or not 1 <= price <= 100_000:
            raise ValueError(f"DEMO_SHOP_ITEMS: the price of {name} must be 1–100000 NTD")
        items.append(Item(name.strip(), price))
    if not items:
        raise ValueError("DEMO_SHOP_ITEMS: at least one item")
    return tuple(items)


def item_name(item: Item, quantity: int) -> str:
    """ItemName, exactly `{product name} x {qty}` (the unissued-orders export reads it back)."""
    return f"{item.name} x {quantity}"


def trade_no(at: datetime, digits: int | None = None) -> str:
    """MerchantTradeNo: DEMO, the time (Taipei) as yyMMddHHmmss and 4 random digits (20)."""
    suffix = secrets.randbelow(10_000) if digits is None else digits
    return f"{TRADE_NO_PREFIX}{clock.taipei(at):%y%m%d%H%M%S}{suffix:04d}"


def trade_date(at: datetime) -> str:
    """MerchantTradeDate: yyyy/MM/dd HH:mm:ss, Taipei time."""
    return f"{clock.taipei(at):%Y/%m/%d %H:%M:%S}"


def email_problem(value: str) -> str | None:
    if not EMAIL.fullmatch(value):
        return "請輸入有效的電子信箱"
    return None


def checkout_fields(*, merchant_id: str, at: datetime, item: Item, quantity: int,
                    return_url: str, result_url: str, buyer_name: str, buyer_email: str,
                    number: str | None = None) -> dict[str, str]:
    """The AioCheckOut V5 form before its CheckMacValue: one card payment of price × quantity."""
    return {
        "MerchantID": merchant_id,
        "MerchantTradeNo": number or trade_no(at),
        "MerchantTradeDate": trade_date(at),
        "PaymentType": "aio",
        "TotalAmount": str(item.price * quantity),
        "TradeDesc": TRADE_DESC,
        "ItemName": item_name(item, quantity),
        "ReturnURL": return_url,
        "OrderResultURL": result_url,
        "ChoosePayment": "Credit",
        "EncryptType": "1",
        "CustomField1": buyer_name,
        "CustomField2": buyer_email,
    }


def succeeded(fields: dict[str, str]) -> bool:
    """A verified result says the payment succeeded (RtnCode 1)."""
    return fields.get("RtnCode") == "1"

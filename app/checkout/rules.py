"""The AioCheckOut rules that need no database: the request's fields (ECPay's AioCheckOut V5 field table), the
error codes and texts, our TradeNo, the installment offers, the card fee and the result fields.

Order of checks (the whole request is refused at the first failure, nothing stored):
MerchantID (10000101) → CheckMacValue (10200073) → required fields and formats (10000100) →
values (10000102, 10200050) → MerchantTradeNo not used before (10200047). The first two and the
last need the database (app.checkout.services); `format_error` and `value_error` are here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from app import clock
from app.notifications.services import email_problem
from app.phones import normalise_mobile

# Errors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutError:
    code: str
    message: str  # as ECPay words it (English), shown with the code
    detail: str = ""  # what we add in Traditional Chinese

    @property
    def text(self) -> str:
        return f"{self.code} {self.message}"


def merchant_unknown() -> CheckoutError:
    return CheckoutError("10000101", "Merchant unknown or service off",
                         "特店編號（MerchantID）不存在或尚未開通信用卡收款服務")


def mac_error() -> CheckoutError:
    return CheckoutError("10200073", "CheckMacValue Error", "檢查碼（CheckMacValue）驗證錯誤")


def invalid_parameter(name: str) -> CheckoutError:
    return CheckoutError("10000100", f"Invalid parameter: {name}", f"參數 {name} 格式錯誤或未填")


def unsupported_value(name: str) -> CheckoutError:
    return CheckoutError("10000102", f"Unsupported value: {name}", f"參數 {name} 的值不支援")


def amount_out_of_range() -> CheckoutError:
    return CheckoutError("10200050", "TotalAmount out of range",
                         f"交易金額超過上限 NT${MAX_AMOUNT:,}")


def trade_no_reused() -> CheckoutError:
    return CheckoutError("10200047", "MerchantTradeNo reused", "特店訂單編號（MerchantTradeNo）重複")


# The request's fields --------------------------------------------------------------------------

MAX_AMOUNT = 1_000_000  # [our decision] the per-transaction ceiling until contracts carry one
REQUIRED = ("MerchantID", "MerchantTradeNo", "MerchantTradeDate", "PaymentType", "TotalAmount",
            "TradeDesc", "ItemName", "ReturnURL", "ChoosePayment", "CheckMacValue", "EncryptType")
MAX_LENGTH = {
    "MerchantID": 10, "MerchantTradeNo": 20, "MerchantTradeDate": 20, "PaymentType": 20,
    "TradeDesc": 200, "ReturnURL": 200, "ChoosePayment": 20, "StoreID": 10,
    "ClientBackURL": 200, "OrderResultURL": 200, "ItemURL": 200, "Remark": 100,
    "CustomField1": 50, "CustomField2": 50, "CustomField3": 50, "CustomField4": 50,
    "PlatformID": 10, "NeedExtraPaidInfo": 1, "Language": 3, "CreditInstallment": 20,
    "MerchantMemberID": 30, "IgnorePayment": 100, "ChooseSubPayment": 20,
}
ITEM_NAME_MAX = 400  # longer is truncated, not refused
URL_FIELDS = ("ReturnURL", "ClientBackURL", "OrderResultURL", "ItemURL")
LANGUAGES = ("", "ENG", "KOR", "JPN", "CHI")
INSTALLMENT_VALUES = ("3", "6", "12", "18", "24", "30N")
PERIODIC_FIELDS = ("PeriodAmount", "PeriodType", "Frequency", "ExecTimes")

_TRADE_NO = re.compile(r"[A-Za-z0-9]{1,20}")
_AMOUNT = re.compile(r"[1-9][0-9]*")
_ALNUM = re.compile(r"[A-Za-z0-9]*")
_MERCHANT_ID = re.compile(r"[0-9]{7,10}")


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def parse_trade_date(value: str) -> datetime | None:
    if not re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", value):
        return None
    try:
        return datetime.strptime(value, "%Y/%m/%d %H:%M:%S")
    except ValueError:
        return None


def format_error(fields: dict[str, str]) -> CheckoutError | None:
    """Required fields present and every field of the right shape (10000100), or None."""
    for name in REQUIRED:
        if not fields.get(name, ""):
            return invalid_parameter(name)
    for name, limit in MAX_LENGTH.items():
        if len(fields.get(name, "")) > limit:
            return invalid_parameter(name)
    if not _MERCHANT_ID.fullmatch(fields["MerchantID"]):
        return invalid_parameter("MerchantID")
    if not _TRADE_NO.fullmatch(fields["MerchantTradeNo"]):
        return invalid_parameter("MerchantTradeNo")
    if parse_trade_date(fields["MerchantTradeDate"]) is None:
        return invalid_parameter("MerchantTradeDate")
    if not _AMOUNT.fullmatch(fields["TotalAmount"]):
        return invalid_parameter("TotalAmount")
    if not fields["EncryptType"].isascii() or not fields["EncryptType"].isdigit():
        return invalid_parameter("EncryptType")
    if not _ALNUM.fullmatch(fields.get("StoreID", "")):
        return invalid_parameter("StoreID")
    for name in URL_FIELDS:
        value = fields.get(name, "")
        if (value or name == "ReturnURL") and not is_http_url(value):
            return invalid_parameter(name)
    return None


def value_error(fields: dict[str, str]) -> CheckoutError | None:
    """Values we support (10000102) and the amount's ceiling (10200050), or None."""
    if fields["PaymentType"] != "aio":
        return unsupported_value("PaymentType")
    if fields["ChoosePayment"] not in ("Credit", "ALL"):
        return unsupported_value("ChoosePayment")
    if fields["EncryptType"] != "1":
        return unsupported_value("EncryptType")
    if fields.get("NeedExtraPaidInfo", "") not in ("", "Y", "N"):
        return unsupported_value("NeedExtraPaidInfo")
    if fields.get("Language", "") not in LANGUAGES:
        return unsupported_value("Language")
    if fields.get("CreditInstallment", "") and credit_installments(
            fields["CreditInstallment"]) is None:
        return unsupported_value("CreditInstallment")
    if fields.get("InvoiceMark", "") not in ("", "N"):
        return unsupported_value("InvoiceMark")
    for name in PERIODIC_FIELDS:
        if fields.get(name, ""):
            return unsupported_value(name)
    if fields.get("PlatformID", "") not in ("", fields["MerchantID"]):
        return unsupported_value("PlatformID")
    if len(fields["TotalAmount"]) > len(str(MAX_AMOUNT)) or int(fields["TotalAmount"]) > MAX_AMOUNT:
        return amount_out_of_range()
    return None


def credit_installments(value: str) -> list[str] | None:
    """The merchant-paid periods asked for (`3,6,12`), or None when a value is not one of
    INSTALLMENT_VALUES."""
    parts = [p.strip() for p in value.split(",")]
    if not all(p in INSTALLMENT_VALUES for p in parts):
        return None
    return list(dict.fromkeys(parts))


# Ticket orders and installments ------------------------------------------------------------------

CONSUMER_INSTALLMENT_MIN = 1000
CONSUMER_INSTALLMENT_PERIODS = (6, 12, 24, 30)


def is_ticket_order(issuance_active: bool, *, installment_mode: bool = False) -> bool:
    """Whether an order is a ticket order: every checkout of a redeem-after-use store whose
    contract has the ECTicket issuance service on (ECT發行服務) is one. Ticket orders are paid in
    one go and wait to be issued once paid (未發行訂單管理). An installment-mode store's paid
    orders wait in its own 8-2 未發行訂單 instead."""
    return issuance_active and not installment_mode


def asks_holder(*, ticket_order: bool, installment_mode: bool) -> bool:
    """Whether the payment page asks for the cardholder (name, mobile, e-mail): the orders that
    wait to be issued, whose tickets or periods go to that person."""
    return ticket_order or installment_mode


def merchant_installments(requested: str, *, ticket_order: bool) -> list[str]:
    """The merchant-paid periods offered: those asked for, none for a ticket order (one-time
    payment only, as ECPay falls back)."""
    if ticket_order or not requested:
        return []
    return credit_installments(requested) or []


def consumer_installments(amount: int, *, ticket_order: bool) -> tuple[int, ...]:
    """自費分期 offered: 6, 12, 24 or 30 periods from NT$1,000, never for a ticket order."""
    if ticket_order or amount < CONSUMER_INSTALLMENT_MIN:
        return ()
    return CONSUMER_INSTALLMENT_PERIODS


def period_amounts(amount: int, periods: int) -> tuple[int, int]:
    """(first period, each later period): the remainder goes on the first (1733/6 → 293, 288)."""
    if periods <= 1:
        return amount, 0
    each = amount // periods
    return amount - each * (periods - 1), each


# Numbers and the result's fields ------------------------------------------------------------------

CARD_FEE_PER_MILLE = 25  # [our decision] 2.5 % until contracts carry a card rate


def charge_fee(amount: int) -> int:
    """PaymentTypeChargeFee: the card fee, rounded half up to a whole NTD."""
    return (amount * CARD_FEE_PER_MILLE * 2 + 1000) // 2000


def new_trade_no(at: datetime) -> str:
    """TradeNo: the trade time (Taipei) as yyMMddHHmmss and 4 random digits."""
    return clock.taipei(at).strftime("%y%m%d%H%M%S") + f"{secrets.randbelow(10000):04d}"


def ecpay_time(at: datetime) -> str:
    return clock.taipei(at).strftime("%Y/%m/%d %H:%M:%S")


SUCCESS_MESSAGE = "交易成功"
# [our decision] A failed payment's RtnCode (the protocol only says ≠ 1; merchants test
# RtnCode == 1) and the RtnMsg when no decline reason was kept.
FAILED_CODE = "10100248"
FAILED_MESSAGE = "交易失敗"
PAYMENT_TYPE = "Credit_CreditCard"
EXTRA_EMPTY = ("AlipayID", "AlipayTradeNo", "ATMAccBank", "ATMAccNo", "ExecTimes", "Frequency",
               "PayFrom", "PaymentNo", "PeriodAmount", "PeriodType", "TenpayTradeNo",
               "TotalSuccessAmount", "TotalSuccessTimes", "WebATMAccBank", "WebATMAccNo",
               "WebATMBankName")


@dataclass(frozen=True)
class Paid:
    """What a result notice says of a payment."""

    merchant_id: str
    merchant_trade_no: str
    store_code: str
    custom_fields: tuple[str, str, str, str]
    trade_no: str
    amount: int
    trade_date: datetime
    payment_date: datetime
    charge_fee: int
    card_first6: str
    card_last4: str
    auth_code: str
    auth_serial: str
    eci: str
    periods: int  # merchant-paid installment periods, 0 for one-time


def result_fields(paid: Paid, *, extra: bool, rtn_code: str = "1",
                  rtn_msg: str = SUCCESS_MESSAGE) -> dict[str, str]:
    """The ReturnURL / OrderResultURL fields before the CheckMacValue; `extra` adds exactly the
    NeedExtraPaidInfo=Y set."""
    fields = {
        "CustomField1": paid.custom_fields[0], "CustomField2": paid.custom_fields[1],
        "CustomField3": paid.custom_fields[2], "CustomField4": paid.custom_fields[3],
        "MerchantID": paid.merchant_id, "MerchantTradeNo": paid.merchant_trade_no,
        "PaymentDate": ecpay_time(paid.payment_date), "PaymentType": PAYMENT_TYPE,
        "PaymentTypeChargeFee": str(paid.charge_fee), "RtnCode": rtn_code, "RtnMsg": rtn_msg,
        "SimulatePaid": "0", "StoreID": paid.store_code, "TradeAmt": str(paid.amount),
        "TradeDate": ecpay_time(paid.trade_date), "TradeNo": paid.trade_no,
    }
    if extra:
        first, each = period_amounts(paid.amount, paid.periods)
        fields |= {name: "" for name in EXTRA_EMPTY}
        fields |= {
            "amount": str(paid.amount), "auth_code": paid.auth_code, "card4no": paid.card_last4,
            "card6no": paid.card_first6, "eci": paid.eci, "gwsr": paid.auth_serial,
            "process_date": ecpay_time(paid.payment_date), "red_dan": "0", "red_de_amt": "0",
            "red_ok_amt": "0", "red_yet": "0", "stage": str(paid.periods),
            "stast": str(first if paid.periods else 0), "staed": str(each if paid.periods else 0),
        }
    return fields


def masked_card(first6: str, last4: str) -> str:
    """A card number as the back office may show it: 431195******2222."""
    if not first6 and not last4:
        return ""
    return f"{first6}******{last4}"


# The cardholder of a ticket order ------------------------------------------------------------

HOLDER_NAME_MAX = 50
HOLDER_EMAIL_MAX = 100


@dataclass(frozen=True)
class Holder:
    """Whom a ticket order's tickets go to: the 未發行訂單 issuance file is made from it."""

    name: str = ""
    mobile: str = ""
    email: str = ""


def read_holder(name: str, mobile: str, email: str) -> tuple[Holder | None, dict[str, str]]:
    """The cardholder fields of a ticket order's payment page: name and a Taiwanese mobile
    required, e-mail optional. (Holder, {}) or (None, {field: problem})."""
    problems: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        problems["holder_name"] = "請輸入持卡人姓名"
    elif len(name) > HOLDER_NAME_MAX:
        problems["holder_name"] = f"持卡人姓名最多 {HOLDER_NAME_MAX} 字"
    normal = normalise_mobile((mobile or "").strip()[:30])
    if normal is None:
        problems["holder_mobile"] = "請輸入正確的手機號碼（09 開頭共 10 碼）"
    email = (email or "").strip()
    if email and (len(email) > HOLDER_EMAIL_MAX or email_problem(email)):
        problems["holder_email"] = "電子郵件格式錯誤"
    if problems:
        return None, problems
    return Holder(name, normal or "", email), {}

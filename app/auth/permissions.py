"""The back-office functions (功能節點) a sub-account can be granted, and who may do what.

Pure: no Flask, no database. Each function has `view` (查詢) and `modify` (修改); the main
account (管理者) holds every function of its contract's redemption mode.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from app.refusal import Refusal


class Level(enum.Enum):
    VIEW = "view"  # 查詢
    MODIFY = "modify"  # 修改


class Mode(enum.Enum):
    ANY = "any"
    REDEEM_AFTER_USE = "redeem_after_use"
    INSTALLMENT = "installment"


@dataclass(frozen=True)
class FunctionInfo:
    label: str
    section: str
    mode: Mode
    has_modify: bool = True


class Function(enum.Enum):
    # 三 廠商專區 / 六 帳單報表
    VENDOR_PROFILE = "vendor_profile"
    LOGIN_HISTORY = "login_history"
    BILLING = "billing"
    # 五 系統開發管理
    SYSTEM_INTEGRATION = "system_integration"
    # 信用卡收單
    CREDIT_REJECT_LIST = "credit_reject_list"
    # 七 使用後核銷
    OPERATION_SETTINGS = "operation_settings"
    UNISSUED_ORDERS = "unissued_orders"
    PRODUCTS = "products"
    ISSUANCE = "issuance"
    ISSUED_ORDERS = "issued_orders"
    PAPER_PRINTING = "paper_printing"
    REDEEM = "redeem"
    CANCEL_REDEMPTION = "cancel_redemption"
    RETURN = "return"
    CANCEL_RETURN = "cancel_return"
    REPORT_CIRCULATION = "report_circulation"
    REPORT_TICKETS = "report_tickets"
    TRANSFER_RECORDS = "transfer_records"
    SMS_LOG = "sms_log"
    REPORT_CROSS_STORE = "report_cross_store"
    REPORT_BRANCH = "report_branch"
    # 八 分期核銷
    INSTALLMENT_SETTINGS = "installment_settings"
    INSTALLMENT_UNISSUED = "installment_unissued"
    INSTALLMENT_ORDER_RETURN = "installment_order_return"
    INSTALLMENT_ORDER_CANCEL_RETURN = "installment_order_cancel_return"
    INSTALLMENT_REPORTS = "installment_reports"
    # 九 信用卡收單
    CREDIT_TRANSACTIONS = "credit_transactions"

    @property
    def info(self) -> FunctionInfo:
        return FUNCTIONS[self]

    @property
    def label(self) -> str:
        return FUNCTIONS[self].label


_V = "三、廠商專區"
_D = "五、系統開發管理"
_B = "六、帳單報表"
_R = "七、使用後核銷"
_I = "八、分期核銷"
_C = "九、信用卡收單"

FUNCTIONS: dict[Function, FunctionInfo] = {
    Function.VENDOR_PROFILE: FunctionInfo("廠商基本資料", _V, Mode.ANY),
    Function.LOGIN_HISTORY: FunctionInfo("登入歷程", _V, Mode.ANY, has_modify=False),
    Function.BILLING: FunctionInfo("帳單報表", _B, Mode.ANY, has_modify=False),
    # 查詢: the MerchantID, the key pair's dates, the checkout orders and their notices;
    # 修改: a new HashKey/HashIV (shown once), the allowed IPs, re-sending a notice.
    Function.SYSTEM_INTEGRATION: FunctionInfo("系統介接設定", _D, Mode.ANY),
    # 查詢: the reject lists and their Excel; 修改: add (one, from a transaction, xlsx), switch, delete.
    Function.CREDIT_REJECT_LIST: FunctionInfo("拒絕名單", _C, Mode.ANY),
    Function.OPERATION_SETTINGS: FunctionInfo("操作設定管理", _R, Mode.REDEEM_AFTER_USE),
    Function.UNISSUED_ORDERS: FunctionInfo("未發行訂單管理", _R, Mode.REDEEM_AFTER_USE),
    Function.PRODUCTS: FunctionInfo("商品管理", _R, Mode.REDEEM_AFTER_USE),
    Function.ISSUANCE: FunctionInfo("票券發行", _R, Mode.REDEEM_AFTER_USE),
    Function.ISSUED_ORDERS: FunctionInfo("已發行訂單管理", _R, Mode.REDEEM_AFTER_USE),
    Function.PAPER_PRINTING: FunctionInfo("紙本票券列印", _R, Mode.REDEEM_AFTER_USE),
    Function.REDEEM: FunctionInfo("票券核銷", _R, Mode.REDEEM_AFTER_USE),
    Function.CANCEL_REDEMPTION: FunctionInfo("取消核銷", _R, Mode.REDEEM_AFTER_USE),
    Function.RETURN: FunctionInfo("票券退貨", _R, Mode.REDEEM_AFTER_USE),
    Function.CANCEL_RETURN: FunctionInfo("取消退貨", _R, Mode.REDEEM_AFTER_USE),
    Function.REPORT_CIRCULATION: FunctionInfo("流通報表", _R, Mode.REDEEM_AFTER_USE, False),
    Function.REPORT_TICKETS: FunctionInfo("票券報表", _R, Mode.REDEEM_AFTER_USE),
    Function.TRANSFER_RECORDS: FunctionInfo("電子票券轉贈紀錄", _R, Mode.REDEEM_AFTER_USE),
    Function.SMS_LOG: FunctionInfo("簡訊發送紀錄", _R, Mode.REDEEM_AFTER_USE, False),
    Function.REPORT_CROSS_STORE: FunctionInfo("跨店核銷報表", _R, Mode.REDEEM_AFTER_USE, False),
    Function.REPORT_BRANCH: FunctionInfo("分店報表", _R, Mode.REDEEM_AFTER_USE, False),
    Function.INSTALLMENT_SETTINGS: FunctionInfo("操作設定管理", _I, Mode.INSTALLMENT),
    Function.INSTALLMENT_UNISSUED: FunctionInfo("未發行訂單", _I, Mode.INSTALLMENT, False),
    # The seed gates these two actions with 查詢 on their own node.
    Function.INSTALLMENT_ORDER_RETURN: FunctionInfo("訂單退貨", _I, Mode.INSTALLMENT, False),
    Function.INSTALLMENT_ORDER_CANCEL_RETURN: FunctionInfo(
        "訂單取消退貨", _I, Mode.INSTALLMENT, False
    ),
    Function.INSTALLMENT_REPORTS: FunctionInfo("分期核銷訂單報表", _I, Mode.INSTALLMENT),
    # 查詢: the card transactions, their lists and history; 修改: close, cancel a close,
    # abandon, the batch close and the note (備註).
    Function.CREDIT_TRANSACTIONS: FunctionInfo("信用卡收單", _C, Mode.ANY),
}


@cache
def _existing(mode: str | None) -> tuple[Function, ...]:
    return tuple(f for f, i in FUNCTIONS.items() if i.mode is Mode.ANY or i.mode.value == mode)


def functions_for(mode: str | None) -> list[Function]:
    """The functions that exist for a store whose contract has this redemption mode."""
    return list(_existing(mode))


def exists_for(function: Function, mode: str | None) -> bool:
    """Whether `function` exists for a store of this mode (asked on every permission check)."""
    return function in _existing(mode)


def grant_allows(granted: Level | None, wanted: Level) -> bool:
    """A granted level allows a wanted one: modify implies view."""
    if granted is None:
        return False
    return granted is Level.MODIFY or wanted is Level.VIEW


def normalise_grants(pairs: dict[Function, Level], mode: str | None) -> dict[Function, Level]:
    """Drop grants for functions the mode lacks and `modify` on view-only functions."""
    allowed = set(functions_for(mode))
    out: dict[Function, Level] = {}
    for fn, level in pairs.items():
        if fn not in allowed:
            continue
        if level is Level.MODIFY and not fn.info.has_modify:
            level = Level.VIEW
        out[fn] = level
    return out


# A clerk of a disabled branch (停用分店) may only view: every modify right is suspended until
# the branch is enabled again. Account.may applies it; this is what the clerk is told.
BRANCH_DISABLED = Refusal("BranchDisabled", "您所屬的分店已停用，僅可查詢報表，無法進行票券操作")

"""The left menu of the issuer platform, numbered as the ECTicket issuer platform numbers it, declared once.

An entry shows only if its page exists (later features register theirs) and the account may
use it; the same checks guard the routes on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g
from flask_login import current_user

from app.auth.access import may, store_mode
from app.auth.permissions import Function


@dataclass(frozen=True)
class Entry:
    label: str
    endpoint: str
    function: Function | None = None  # None: any merchant account
    main_only: bool = False
    mode: str | None = None  # only for stores in this redemption mode
    badge: str = ""  # a pending-work count shown next to it (app.home.pending keys)


@dataclass(frozen=True)
class Section:
    label: str
    entries: tuple[Entry, ...]


R, INST = "redeem_after_use", "installment"

MERCHANT_MENU: tuple[Section, ...] = (
    Section("三、廠商專區", (
        Entry("最新消息", "merchant.news"),
        Entry("廠商基本資料", "merchant.profile", Function.VENDOR_PROFILE),
        Entry("廠商文件下載區", "merchant.documents"),
        Entry("登入歷程", "merchant.login_history", Function.LOGIN_HISTORY),
        Entry("合約及費率", "merchant.contract", Function.VENDOR_PROFILE),
    )),
    Section("四、後台帳號管理", (
        Entry("後台子帳號", "accounts.list_sub_accounts", main_only=True),
        Entry("密碼設定", "accounts.password"),
        Entry("雙因子驗證", "twofactor.index"),
        Entry("登入 IP 設定", "accounts.login_ips", main_only=True),
    )),
    Section("五、系統開發管理", (
        Entry("錯誤代碼查詢", "merchant.error_codes"),
        Entry("API 金鑰", "accounts.api_tokens"),
        Entry("系統介接設定", "checkout.integration", Function.SYSTEM_INTEGRATION),
    )),
    Section("六、帳單報表", (
        Entry("應繳費用", "billing.due", Function.BILLING),
        Entry("帳單報表", "billing.bills", Function.BILLING),
        Entry("退貨作業費報表", "billing.return_fees", Function.BILLING),
        Entry("撥款對帳報表", "billing.payouts", Function.BILLING),
    )),
    Section("七、使用後核銷", (
        Entry("操作設定管理", "settings.index", Function.OPERATION_SETTINGS, mode=R),
        Entry("未發行訂單管理", "unissued.index", Function.UNISSUED_ORDERS, mode=R,
              badge="unissued"),
        Entry("商品管理", "products.index", Function.PRODUCTS, mode=R),
        Entry("票券發行", "issuance.index", Function.ISSUANCE, mode=R, badge="failed_batches"),
        Entry("已發行訂單管理", "orders.index", Function.ISSUED_ORDERS, mode=R),
        Entry("紙本票券列印", "printing.index", Function.PAPER_PRINTING, mode=R),
        Entry("票券核銷", "counter.redeem", Function.REDEEM, mode=R),
        Entry("取消核銷", "counter.cancel_redemption", Function.CANCEL_REDEMPTION, mode=R),
        Entry("票券退貨", "counter.return_ticket", Function.RETURN, mode=R),
        Entry("電子票券退貨申請", "return_applications.index", Function.RETURN, mode=R,
              badge="applications"),
        Entry("取消退貨", "counter.cancel_return", Function.CANCEL_RETURN, mode=R),
        Entry("離線核銷衝突", "counter.offline_conflicts", Function.REDEEM, mode=R),
        Entry("流通報表", "reports.circulation", Function.REPORT_CIRCULATION, mode=R),
        Entry("票券報表", "reports.tickets", Function.REPORT_TICKETS, mode=R),
        Entry("電子票券轉贈紀錄", "transfers.index", Function.TRANSFER_RECORDS, mode=R),
        Entry("簡訊發送紀錄", "sms.index", Function.SMS_LOG, mode=R),
        Entry("跨店核銷報表", "reports.cross_store", Function.REPORT_CROSS_STORE, mode=R),
        Entry("分店報表", "reports.branch", Function.REPORT_BRANCH, mode=R),
    )),
    Section("八、分期核銷", (
        Entry("操作設定管理", "installments.settings", Function.INSTALLMENT_SETTINGS, mode=INST),
        Entry("未發行訂單", "installments.unissued", Function.INSTALLMENT_UNISSUED, mode=INST,
              badge="unissued"),
        Entry("訂單退貨", "installments.order_return", Function.INSTALLMENT_ORDER_RETURN, mode=INST),
        Entry("訂單取消退貨", "installments.order_cancel_return",
              Function.INSTALLMENT_ORDER_CANCEL_RETURN, mode=INST),
        Entry("分期核銷訂單報表", "installments.reports", Function.INSTALLMENT_REPORTS, mode=INST),
    )),
    Section("九、信用卡收單", (
        Entry("交易明細查詢", "credit.transactions", Function.CREDIT_TRANSACTIONS),
        Entry("要關帳列表", "credit.close_requested", Function.CREDIT_TRANSACTIONS),
        Entry("已關帳列表", "credit.closed", Function.CREDIT_TRANSACTIONS),
        Entry("關帳失敗列表", "credit.close_failed", Function.CREDIT_TRANSACTIONS),
        Entry("拒絕名單", "credit_reject.index", Function.CREDIT_REJECT_LIST),
    )),
)

OPERATOR_MENU: tuple[Section, ...] = (
    Section("平台管理", (
        Entry("平台總覽", "operator.overview"),
        Entry("商店與合約", "operator.stores"),
        Entry("帳單與繳費", "operator.bills_overview"),
        Entry("最新消息", "operator.news"),
        Entry("跨店關聯封鎖", "partners_admin.index"),
        Entry("訊息寄件匣", "notifications.outbox"),
        Entry("價金保管同步", "escrow.runs"),
        Entry("排程作業", "operator.scheduled_runs"),
        Entry("平台列印作業", "platform_print.index"),
        Entry("雙因子驗證", "twofactor.index"),
    )),
)


def _visible(entry: Entry, mode: str | None, exists: Callable[[str], bool]) -> bool:
    if not exists(entry.endpoint):
        return False
    if entry.mode is not None and entry.mode != mode:
        return False
    if entry.main_only and not (current_user.is_main
                                and g.get("store") is not None
                                and g.store.id == current_user.store_id):
        return False
    if entry.function is not None and not may(entry.function):
        return False
    return True


def menu_for_current_user() -> list[tuple[str, list[Entry]]]:
    if not current_user.is_authenticated:
        return []

    def exists(endpoint: str) -> bool:
        return endpoint in current_app.view_functions

    if current_user.is_operator:
        sections = OPERATOR_MENU
        mode = None
    else:
        sections = MERCHANT_MENU
        mode = store_mode()
    out = []
    for section in sections:
        entries = [e for e in section.entries if _visible(e, mode, exists)]
        if entries:
            out.append((section.label, entries))
    return out

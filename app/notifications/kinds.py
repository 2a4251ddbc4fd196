"""What each kind of message is called, for the outbox, the SMS log and the order history."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.notifications.models import Channel

# What each kind of message is, for the outbox and the SMS log. Later features add theirs.
KIND_LABELS: Mapping[str, str] = MappingProxyType({
    "issuance_notice": "發行通知",
    "pickup_code": "取貨碼通知",
    "purchaser_changed": "變更購買人通知",
    "purchaser_replaced": "原購買人異動通知",
    "resend": "補發通知",
    "unissued_reminder": "未發行訂單提醒",
    "card_expiry_notice": "信用卡授權即將逾期通知",
    "print_reminder": "多次列印提醒",
    "return_application": "退貨申請通知",
    "return_application_declined": "退貨申請結果通知",
    "transfer_notice": "轉贈通知",
    "transfer_cancelled": "取消轉贈通知",
    "wallet_code": "電子票券驗證碼",
    "bill_notice": "帳單通知",
    "payout_notice": "收款通知",
    "password_reset": "重設密碼通知",
    "two_factor_code": "雙因子驗證碼",
    "login_failures": "登入失敗通知",
    "login_new_device": "新裝置登入通知",
    "test": "測試訊息",
})

CHANNEL_NAMES: Mapping[Channel, str] = MappingProxyType({Channel.EMAIL: "Email",
                                                          Channel.SMS: "簡訊"})


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)

"""The one audit trail (歷程): who did what to which row, from where, and what changed.

Every service that changes something calls `record()` in the same transaction as the change.
The actor (account, store, branch, IP) comes from the current request, or is the system when a
job runs; services never pass it around by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from flask import g, has_app_context, has_request_context, request
from sqlalchemy import CTE, ForeignKey, Index, String, Text, bindparam, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db
from app.tenancy import StoreScoped


@dataclass(frozen=True)
class Actor:
    account_id: int | None
    label: str
    store_id: int | None
    branch_id: int | None
    ip: str

    @classmethod
    def system(cls, label: str = "系統") -> Actor:
        return cls(None, label, None, None, "")


def set_actor(actor: Actor | None) -> None:
    g.actor = actor


def current_actor() -> Actor:
    if has_app_context() and (actor := g.get("actor")) is not None:
        return actor
    ip = (request.remote_addr or "") if has_request_context() else ""
    return Actor(None, "系統", None, None, ip)


class HistoryEntry(StoreScoped, db.Model):
    __tablename__ = "history"
    __table_args__ = (
        Index("ix_history_subject", "subject_type", "subject_id", "at"),
        Index("ix_history_store_id_at", "store_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))  # the subject's store
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor_label: Mapped[str] = mapped_column(String(60))
    actor_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    actor_branch_id: Mapped[int | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict] = mapped_column(default=dict)  # {field: [old, new]}
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")


# What each history action is called on history pages, in one fixed table: a feature that adds
# an action adds its words here (a test checks every action the code records has a label).
ACTION_LABELS: Mapping[str, str] = MappingProxyType({
    # accounts, settings, contracts
    "created": "新增", "updated": "修改", "deleted": "刪除", "password_changed": "變更密碼",
    "password_reset": "密碼重設", "password_reset_by_email": "忘記密碼重設",
    "grants_changed": "編輯權限", "remark_changed": "編輯備註",
    "signed_out_everywhere": "登出所有裝置",
    "revoked": "撤銷", "contract_created": "新增合約", "contract_updated": "修改合約",
    "contacts_updated": "修改聯絡人", "payout_notice_updated": "修改收付款通知設定",
    "basic_settings_updated": "修改基本設定",
    "ticket_page_updated": "修改票券頁面資訊",
    "offline_settings_updated": "修改櫃台離線核銷設定",
    # login protections
    "two_factor_enabled": "啟用雙因子驗證", "two_factor_removed": "解除雙因子驗證",
    "recovery_codes_regenerated": "重新產生復原碼", "login_ips_changed": "修改登入 IP 設定",
    "login_notices_updated": "修改登入通知設定",
    # branches and binding
    "branch_bound": "綁定分店", "branch_rebound": "重設分店", "branch_unbound": "解除綁定分店",
    "sub_account_bound": "綁定子帳號", "sub_account_unbound": "解除綁定子帳號",
    # partner stores
    "relation_added": "新增可核銷商店", "relation_reopened": "重新開啟關聯",
    "relation_dissolved": "發行單位解除關聯", "relation_dissolved_by_partner": "可核銷商店解除關聯",
    "relation_unblocked": "解除封鎖", "partner_revoked": "移除跨店核銷商店",
    # products
    "listed": "上架", "delisted": "下架",
    # issuance and orders
    "previewed": "上傳預覽", "confirmed": "確認發行", "issued": "發行", "issue_failed": "發行失敗",
    "order_nos_taken": "廠商訂單編號已被使用", "requeued": "重新排入發行",
    "purchaser_changed": "變更購買人", "notice_resent": "補發通知", "holder_changed": "變更持票人",
    "notice_delivered": "通知已送達", "notice_failed": "通知發送失敗",
    # tickets
    "redeemed": "核銷", "redemption_cancelled": "取消核銷", "returned": "退貨",
    "return_cancelled": "取消退貨", "expired": "逾期", "note": "新增備註", "printed": "列印",
    "offline_redemption_conflict": "離線核銷衝突", "offline_conflict_handled": "處理離線核銷衝突",
    "sent_to_bank": "上傳銀行", "bank_acknowledged": "銀行完成", "finalised": "結案",
    "bank_rejected": "銀行拒絕", "bank_resend": "重新送出銀行",
    # billing
    "payment_recorded": "登錄繳費", "adjustment_recorded": "登錄帳單調整",
    "rate_added": "新增費率", "rate_deleted": "刪除費率",
    # installment orders
    "period_redeeming": "自動核銷", "period_returned": "序號退貨",
    "period_return_cancelled": "序號取消退貨", "order_returned": "訂單退貨",
    "order_return_cancelled": "訂單取消退貨", "order_refunded": "退款完成",
    # transfers and return applications
    "transferred": "轉贈", "transfer_created": "轉贈", "transfer_cancelled": "取消轉贈",
    "transfer_cancelled_by_return": "退貨同步取消轉贈", "transfer_link_resent": "重新發送轉贈通知",
    "return_applied": "申請退貨", "return_application_declined": "不予退貨",
    # installments: settings, allowed domains, refund notices
    "refund_url_updated": "修改退款結果主動通知 URL",
    "refund_url_cleared": "網域撤銷，清除退款結果主動通知 URL",
    "refund_secret_regenerated": "重新產生通知簽章金鑰",
    "refund_domain_allowed": "開通 URL Domain", "refund_domain_revoked": "撤銷 URL Domain",
    "refund_notice_resent": "重新發送退款通知",
    # saved filters of report pages
    "saved_filter_added": "儲存篩選條件", "saved_filter_deleted": "刪除篩選條件",
    # checkout (系統介接設定, AioCheckOut)
    "ecpay_keys_rotated": "產生新的 HashKey／HashIV", "ecpay_allowed_ips_updated": "修改允許 IP",
    "ecpay_auto_close_updated": "修改每日自動關帳",
    "checkout_paid": "信用卡付款成功", "checkout_declined": "信用卡付款失敗",
    "checkout_failed": "訂單付款失敗（不再受理付款）", "checkout_notice_resent": "重新發送付款結果通知",
    "ecticket_notice_resent": "重新發送 ECTicket 通知",
    "ticket_order_paid": "票券訂單付款完成", "ticket_order_issued": "票券訂單已發行",
    "ticket_order_abandoned": "票券訂單放棄授權", "ticket_order_cancelled": "票券訂單逾期取消授權",
    "card_close": "要關帳", "card_cancel_close": "取消關帳", "card_abandon": "放棄授權",
    "card_refund": "退刷", "card_refund_settled": "退刷已結算", "card_auto_close": "自動關帳",
    "card_closed": "已關帳", "card_close_failed": "關帳失敗",
    "reject_card_added": "加入拒絕交易卡號", "reject_ip_added": "加入拒絕交易 IP",
    "reject_entry_switched": "啟用／停用拒絕名單", "reject_entry_deleted": "刪除拒絕名單",
    # ECTicket API (Issue)
    "ecticket_issue_received": "ECTicket API 發行受理", "ecticket_issue_retried": "ECTicket API 重新發行",
})


# What a changed field is called on history pages, in one fixed table.
FIELD_LABELS: Mapping[str, str] = MappingProxyType({
    "allowed_ips": "允許 IP", "note": "備註", "auto_close": "每日自動關帳",
    "name": "名稱", "username": "帳號", "remark": "備註", "grants": "權限", "status": "狀態",
    "finance_emails": "帳務聯絡人", "sales_emails": "業務聯絡人", "technical_emails": "技術聯絡人",
    "finance_name": "帳務聯絡人姓名", "finance_phone": "帳務聯絡人電話", "sales_name": "業務聯絡人姓名",
    "sales_phone": "業務聯絡人電話", "technical_name": "技術聯絡人姓名",
    "technical_phone": "技術聯絡人電話", "payout_notice": "收款通知",
    "sms_on": "簡訊發送", "online_return_application": "電子票券申請退貨",
    "offline_enabled": "櫃台離線核銷", "handled_at": "處理時間", "handled_by_id": "處理人員",
    "cs_phone": "客服電話", "cs_email": "客服 Email", "line_url": "LINE", "facebook_url": "Facebook",
    "instagram_url": "Instagram", "rights_statement": "權益說明", "logo_upload_id": "Logo",
    "banner_upload_id": "橫幅圖片", "basic_completed_at": "基本設定完成時間",
    "ticket_page_completed_at": "票券頁面資訊完成時間", "face_value": "面額", "kind": "票券類型",
    "description": "商品描述", "usage_instructions": "使用說明", "escrow_end": "價金保管迄日",
    "valid_until": "使用期限", "listed": "上架", "partner_stores": "跨店核銷商店",
    "redeem_branches": "核銷分店", "return_branches": "退貨分店", "image_upload_id": "商品圖片",
    "image": "商品圖片", "copied_from": "複製來源",
    "code": "代號", "enabled": "啟用", "branch": "分店", "tickets": "張數", "orders": "訂單數",
    "rows": "資料列數", "errors": "錯誤列數",
    "purchaser_name": "購買人姓名", "purchaser_mobile": "購買人手機", "purchaser_email": "購買人 Email",
    "holder_name": "持票人姓名", "holder_mobile": "持票人手機", "holder_email": "持票人 Email",
    "returned_at": "退貨時間", "returned_by_id": "退貨操作人員", "return_fee": "退貨手續費",
    "return_reason": "退貨原因", "amount": "金額",
    "refund_notify_url": "退款結果主動通知 URL", "host": "網域",
    # installment contracts and orders
    "escrow_type": "價金保管類型", "installment_period_count": "核銷設定：期數",
    "installment_period_days": "核銷設定：每期天數", "periods": "期數",
    # fee rates
    "fee_kind": "費用項目", "effective_from": "生效日", "rate": "費率",
    # login protections
    "two_factor": "雙因子驗證", "login_ips": "登入 IP", "require_two_factor": "要求雙因子驗證",
    "notify_failures": "登入失敗通知", "failure_threshold": "連續失敗次數",
    "notify_new_device": "新裝置登入通知", "to_finance": "通知帳務聯絡人",
    "to_sales": "通知業務聯絡人", "to_technical": "通知技術聯絡人",
})


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def action_label(action: str) -> str:
    """The Traditional Chinese name of a history action (ACTION_LABELS)."""
    return ACTION_LABELS.get(action, action)


def _plain(value: Any) -> Any:
    """JSON-safe form of a changed value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | str | float | bool):
        return value.value  # enums
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose values differ, as {field: [old, new]}."""
    return {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in sorted(set(before) | set(after))
        if _plain(before.get(key)) != _plain(after.get(key))
    }


def record(subject: Any, action: str, *, store_id: int | None = None,
           changes: dict[str, list[Any]] | None = None, from_status: str | None = None,
           to_status: str | None = None, reason: str = "") -> HistoryEntry:
    """Add one history entry for `subject` (an ORM object with an id) to the session."""
    actor = current_actor()
    if store_id is None:
        store_id = getattr(subject, "store_id", None)
    if subject.id is None:
        db.session.flush()
    entry = HistoryEntry(
        at=clock.now(),
        store_id=store_id,
        actor_id=actor.account_id,
        actor_label=actor.label,
        actor_store_id=actor.store_id,
        actor_branch_id=actor.branch_id,
        ip=actor.ip,
        subject_type=type(subject).__tablename__,
        subject_id=subject.id,
        action=action,
        changes=changes or {},
        from_status=from_status,
        to_status=to_status,
        reason=reason,
    )
    db.session.add(entry)
    return entry


def change(subject: Any, action: str, after: dict[str, Any], *, store_id: int | None = None) -> bool:
    """Set `after`'s fields on `subject` and record what changed as one `action` entry, in the
    same transaction; False (nothing written) when every field already had its value."""
    changes = diff({name: getattr(subject, name) for name in after}, after)
    if not changes:
        return False
    for name, value in after.items():
        setattr(subject, name, value)
    db.session.flush()
    record(subject, action, store_id=store_id, changes=changes)
    return True


def _shared_values(actor: Actor, subject_type: str, action: str, *, from_status: str | None,
                   to_status: str | None, reason: str) -> dict[str, Any]:
    """The columns every entry of one write shares (all but the subject and its store)."""
    return {"at": clock.now(), "actor_id": actor.account_id, "actor_label": actor.label[:60],
            "actor_store_id": actor.store_id, "actor_branch_id": actor.branch_id, "ip": actor.ip,
            "subject_type": subject_type, "action": action, "changes": {},
            "from_status": from_status, "to_status": to_status, "reason": reason}


def record_many(subject_type: str, action: str, rows: Iterable[Mapping[str, Any]], *,
                actor: Actor | None = None, from_status: str | None = None,
                to_status: str | None = None, reason: str = "") -> int:
    """Add one history entry per row in one multi-row INSERT, for work on many rows at once
    (issuing a batch, printing, the expiry job, the bank sync). Each row names `subject_id` and
    `store_id` and may override `reason`, `from_status`, `to_status` and `changes`; the actor is
    the current one unless given. The number of entries written."""
    shared = _shared_values(actor or current_actor(), subject_type, action,
                            from_status=from_status, to_status=to_status, reason=reason)
    values = [{
        **shared, "store_id": row["store_id"], "subject_id": row["subject_id"],
        "changes": row.get("changes") or {},
        "from_status": row.get("from_status", from_status),
        "to_status": row.get("to_status", to_status), "reason": row.get("reason", reason),
    } for row in rows]
    if values:
        db.session.execute(insert(HistoryEntry), values)
    return len(values)


_SHARED = ("at", "actor_id", "actor_label", "actor_store_id", "actor_branch_id", "ip",
           "subject_type", "action", "changes", "from_status", "to_status", "reason")


def recorded_with(change: CTE) -> CTE:
    """The history of a change made by a data-modifying CTE (`UPDATE … RETURNING id, store_id`)
    as a CTE of its own: one entry per row it changed, written by the same statement
    (PostgreSQL), so a change and its history cost one round trip. Built once; the values are
    bound at execution from `recorded_params` (`record_many`'s values)."""
    columns = HistoryEntry.__table__.c
    rows = select(*(bindparam(f"history_{name}", type_=columns[name].type) for name in _SHARED),
                  change.c.store_id, change.c.id)
    return (insert(HistoryEntry).from_select([*_SHARED, "store_id", "subject_id"], rows)
            .cte(f"{change.name}_history"))


def recorded_params(subject_type: str, action: str, *, from_status: str | None = None,
                    to_status: str | None = None, reason: str = "") -> dict[str, Any]:
    """The parameters of a `recorded_with` statement: this entry's values, the current actor."""
    shared = _shared_values(current_actor(), subject_type, action, from_status=from_status,
                            to_status=to_status, reason=reason)
    return {f"history_{name}": shared[name] for name in _SHARED}


def entries_for(subject: Any, **options: Any) -> list[HistoryEntry]:
    stmt = (
        select(HistoryEntry)
        .where(HistoryEntry.subject_type == type(subject).__tablename__,
               HistoryEntry.subject_id == subject.id)
        .order_by(HistoryEntry.at.desc(), HistoryEntry.id.desc())
    )
    return list(db.session.scalars(stmt.execution_options(**options)))

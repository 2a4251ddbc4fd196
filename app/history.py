"""The one audit trail (歷程): who did what to which row, from where, and what changed.

Every service that changes something calls `record()` in the same transaction as the change.
The actor (account, store, branch, IP) comes from the current request, or is the system when a
job runs; services never pass it around by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import g, has_app_context, has_request_context, request
from sqlalchemy import ForeignKey, Index, String, Text, select
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


ACTION_LABELS = {
    "created": "新增",
    "updated": "修改",
    "deleted": "刪除",
    "password_changed": "變更密碼",
    "password_reset": "密碼重設",
    "grants_changed": "編輯權限",
    "remark_changed": "編輯備註",
    "revoked": "撤銷",
    "contract_created": "新增合約",
    "contract_updated": "修改合約",
    "note": "新增備註",
}


# What a changed field is called on history pages; features add theirs with FIELD_LABELS.update.
FIELD_LABELS = {
    "name": "名稱", "username": "帳號", "remark": "備註", "grants": "權限", "status": "狀態",
    "finance_emails": "帳務聯絡人", "sales_emails": "業務聯絡人", "technical_emails": "技術聯絡人",
    "sms_on": "簡訊發送", "online_return_application": "電子票券申請退貨",
    "cs_phone": "客服電話", "cs_email": "客服 Email", "line_url": "LINE", "facebook_url": "Facebook",
    "instagram_url": "Instagram", "rights_statement": "權益說明", "logo_upload_id": "Logo",
    "banner_upload_id": "橫幅圖片", "basic_completed_at": "基本設定完成時間",
    "ticket_page_completed_at": "票券頁面資訊完成時間", "face_value": "面額", "kind": "票券類型",
    "description": "商品描述", "usage_instructions": "使用說明", "escrow_end": "價金保管迄日",
    "valid_until": "使用期限", "listed": "上架", "partner_stores": "跨店核銷商店",
    "redeem_branches": "核銷分店", "return_branches": "退貨分店", "image_upload_id": "商品圖片",
    "code": "代號", "enabled": "啟用", "branch": "分店", "tickets": "張數", "orders": "訂單數",
    "rows": "資料列數", "errors": "錯誤列數",
}


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def action_label(action: str) -> str:
    """The Traditional Chinese name of a history action; features add theirs to ACTION_LABELS."""
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


def entries_for(subject: Any, **options: Any) -> list[HistoryEntry]:
    stmt = (
        select(HistoryEntry)
        .where(HistoryEntry.subject_type == type(subject).__tablename__,
               HistoryEntry.subject_id == subject.id)
        .order_by(HistoryEntry.at.desc(), HistoryEntry.id.desc())
    )
    return list(db.session.scalars(stmt.execution_options(**options)))

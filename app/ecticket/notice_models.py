"""ECTicket 通知紀錄: the notices the platform POSTs to a merchant's server about its tickets
(app.ecticket.notices), and each attempt."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db, enum_type
from app.notifications.models import NoticeAttemptColumns, NoticeColumns
from app.tenancy import StoreScoped
from app.tickets.models import BigId


class TicketNoticeKind(enum.Enum):
    REFUND = "refund"  # 退款通知 → the order's RefundNotifyURL
    USE_STATUS = "use_status"  # 使用狀態通知 → the order's UseStatusNotifyURL

    @property
    def label(self) -> str:
        return {"refund": "退款通知", "use_status": "使用狀態通知"}[self.value]


class TicketNotice(NoticeColumns, StoreScoped, db.Model):
    """One notice about one ticket, sent until the merchant acknowledges it. `payload` is the
    inner Data (fixed at creation); the envelope around it is sealed when each try is sent,
    under the store's current ECTicket pair."""

    __tablename__ = "ecticket_notices"
    __table_args__ = (
        Index("ix_ecticket_notices_due", "status", "next_attempt_at"),
        Index("ix_ecticket_notices_store_id_created_at", "store_id", "created_at"),
        Index("ix_ecticket_notices_ticket_id", "ticket_id"),
    )
    notice_url_size = 200
    notice_status_name = "ecticket_notice_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"))
    kind: Mapped[TicketNoticeKind] = mapped_column(
        enum_type(TicketNoticeKind, "ecticket_notice_kind"))
    use_status: Mapped[int] = mapped_column(SmallInteger, default=0)  # 1–4; 3 for a refund
    ticket_no: Mapped[str] = mapped_column(String(16))  # the ticket's serial (TicketNo)


class TicketNoticeAttempt(NoticeAttemptColumns, db.Model):
    """One POST of an ECTicket notice and what came back."""

    __tablename__ = "ecticket_notice_attempts"
    notice_table = "ecticket_notices"
    attempt_error_size = 300

    id: Mapped[int] = mapped_column(primary_key=True)

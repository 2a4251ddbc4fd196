"""Every e-mail and SMS the platform sends (or records in the outbox), with its outcome."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app import clock, credentials
from app.db import db, enum_type
from app.tenancy import StoreScoped


class Channel(enum.Enum):
    EMAIL = "email"
    SMS = "sms"


class MessageStatus(enum.Enum):
    """Where a message is; app.notifications.rules holds the moves between these."""

    QUEUED = "queued"  # 待發送
    SENT = "sent"  # 已發送 (handed to the SMTP server or the SMS gateway)
    RECORDED = "recorded"  # 已記錄 (no transport configured: kept in the outbox only)
    DELIVERED = "delivered"  # 已送達 (the gateway's receipt, or the mail server's success DSN)
    FAILED = "failed"  # 發送失敗 (after the retries; or not delivered: a receipt or a bounce)

    @property
    def label(self) -> str:
        return {"queued": "待發送", "sent": "已發送", "recorded": "已記錄（未設定寄送服務）",
                "delivered": "已送達", "failed": "發送失敗"}[self.value]

    @property
    def colour(self) -> str:
        """The Bootstrap colour of its badge (the outbox and the SMS log)."""
        return {"queued": "secondary", "sent": "primary", "recorded": "info",
                "delivered": "success", "failed": "danger"}[self.value]


class Message(StoreScoped, db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_store_id_channel_created_at", "store_id", "channel", "created_at"),
        Index("ix_messages_order_id", "order_id"),
        # a delivery receipt (the SMS gateway's callback, a bounce) finds its message by the
        # provider's reference, never by our id
        Index("ix_messages_provider_ref", "provider_ref"),
        # the daily settlement counts one day's billable SMS across stores
        Index("ix_messages_billable_sent_at", "sent_at",
              postgresql_where=text("billable"), sqlite_where=text("billable")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "message_channel"))
    kind: Mapped[str] = mapped_column(String(40))  # issuance_notice, purchaser_changed, resend, ...
    to_address: Mapped[str] = mapped_column(String(200))  # e-mail address or mobile number
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    status: Mapped[MessageStatus] = mapped_column(
        enum_type(MessageStatus, "message_status"), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    provider_ref: Mapped[str] = mapped_column(String(100), default="")
    billable: Mapped[bool] = mapped_column(default=False)  # SMS are billed per message
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]  # when the gateway or the mail server reported it
    failed_at: Mapped[datetime | None]  # when it became FAILED (the reason is in `error`)

    # A link or code in `body` is a sealed marker (app/credentials.py `conceal`): the stored row
    # carries nothing usable without the server key.
    @property
    def revealed_body(self) -> str:
        """The body as sent: every credential opened (the transports, and nothing else)."""
        return credentials.reveal_text(self.body)

    @property
    def shown_body(self) -> str:
        """The body as the screens show it: every credential masked."""
        return credentials.masked_text(self.body)


# Notices posted to a merchant's server (app.notifications.outgoing): the status every kind of
# notice row shares.
class NoticeStatus(enum.Enum):
    PENDING = "pending"  # to be sent (again) at next_attempt_at
    SENDING = "sending"  # a worker holds it (lease)
    SUCCEEDED = "succeeded"  # the merchant answered 1|OK
    GAVE_UP = "gave_up"  # every automatic try failed; it may still be re-sent

    @property
    def label(self) -> str:
        return {"pending": "待通知", "sending": "通知中", "succeeded": "通知成功",
                "gave_up": "通知失敗"}[self.value]


class NoticeColumns:
    """The columns every notice row shares (a declarative mixin; app.notifications.outgoing
    reads and writes them). A kind names its URL size and its status column's enum name, as
    its table was first created with."""

    notice_url_size: ClassVar[int] = 500
    notice_status_name: ClassVar[str] = "notice_status"

    @declared_attr
    def url(cls) -> Mapped[str]:  # noqa: N805 - declared_attr takes the class
        return mapped_column(String(cls.notice_url_size))

    payload: Mapped[dict] = mapped_column(default=dict)  # what is sent, fixed at creation

    @declared_attr
    def status(cls) -> Mapped[NoticeStatus]:  # noqa: N805
        return mapped_column(enum_type(NoticeStatus, cls.notice_status_name),
                             default=NoticeStatus.PENDING)

    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=clock.now)
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    succeeded_at: Mapped[datetime | None] = mapped_column()


class NoticeAttemptColumns:
    """The columns of every notice's attempt log: one POST and what came back. A kind names its
    notice table and the type of its error column."""

    notice_table: ClassVar[str]
    attempt_error_size: ClassVar[int | None] = None  # None: Text

    @declared_attr
    def notice_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(ForeignKey(f"{cls.notice_table}.id"), index=True)

    at: Mapped[datetime] = mapped_column(default=clock.now)
    trigger: Mapped[str] = mapped_column(String(10), default="auto")  # auto / manual
    http_status: Mapped[int | None] = mapped_column()
    body_excerpt: Mapped[str] = mapped_column(String(200), default="")

    @declared_attr
    def error(cls) -> Mapped[str]:  # noqa: N805
        size = cls.attempt_error_size
        return mapped_column(Text if size is None else String(size), default="")

    succeeded: Mapped[bool] = mapped_column(default=False)

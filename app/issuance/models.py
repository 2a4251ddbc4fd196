"""Issuance batches (7-3 B 票券發行): an uploaded or API batch, issued all-or-nothing."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.stores.models import DeliveryMethod
from app.tenancy import StoreScoped


class BatchStatus(enum.Enum):
    PREVIEW = "preview"  # 預覽中: uploaded and checked, not confirmed (a re-upload replaces it)
    QUEUED = "queued"  # 排隊中
    ISSUING = "issuing"  # 發行中
    SUCCEEDED = "succeeded"  # 發行成功
    FAILED = "failed"  # 發行失敗

    @property
    def label(self) -> str:
        return {"preview": "預覽中", "queued": "排隊中", "issuing": "發行中", "succeeded": "發行成功",
                "failed": "發行失敗"}[self.value]


class Batch(StoreScoped, db.Model):
    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("store_id", "import_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    import_no: Mapped[str] = mapped_column(String(30))  # 匯入單號, unique per store
    delivery_method: Mapped[DeliveryMethod] = mapped_column(
        enum_type(DeliveryMethod, "delivery_method"))
    source: Mapped[str] = mapped_column(String(10), default="upload")  # upload / api
    status: Mapped[BatchStatus] = mapped_column(
        enum_type(BatchStatus, "batch_status"), default=BatchStatus.PREVIEW)
    kind: Mapped[str] = mapped_column(String(10), default="")  # ProductKind value chosen on the page
    rows: Mapped[list] = mapped_column(default=list)  # the checked rows, each with its "errors"
    error_count: Mapped[int] = mapped_column(default=0)  # rows with errors (confirm needs 0)
    ticket_count: Mapped[int] = mapped_column(default=0)
    issued_count: Mapped[int] = mapped_column(default=0)  # progress while issuing
    error: Mapped[str] = mapped_column(Text, default="")
    platform_id: Mapped[str | None] = mapped_column(String(20))
    rights_statement: Mapped[str] = mapped_column(Text, default="")  # copied at issuance
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The issuing job's claims so far, and until when the current one holds the batch (queued or
    # issuing): a lease run out means its job died, and the sweeper queues it again or fails it.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    lease_until: Mapped[datetime | None]
    # Platform print (綠界列印): when the operator marked the batch's print run done.
    printed_at: Mapped[datetime | None]
    # ECTicket Issue's RefundNotifyURL / UseStatusNotifyURL: where the notices of its tickets go
    # (app.ecticket.notices); "" none.
    refund_notify_url: Mapped[str] = mapped_column(String(200), default="", server_default="")
    use_status_notify_url: Mapped[str] = mapped_column(String(200), default="", server_default="")

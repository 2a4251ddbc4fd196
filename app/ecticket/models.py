"""What the ECTicket API keeps: each accepted Issue call (`IssueCall`), so that the same call
sent again is answered with the first answer, a different call with the same order number is
refused, QueryIssueResult can find the call's batch, and the notices find the URLs the call
gave."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db
from app.tenancy import StoreScoped

PICKUP = "pickup"  # MerchantTradeNo: 提貨券 order
GIFT = "gift"  # FreeTradeNo: 贈品券 order


class IssueCall(StoreScoped, db.Model):
    """One accepted Issue (`/api/Ticket/Issue` ≡ `/api/issuance/issue`) of a store's order
    number (MerchantTradeNo or FreeTradeNo: one namespace per store, as the orders'). Its ECT
    order number (TicketTradeNo) is chosen when the call is accepted and the issuing job gives
    it to the order. A call whose batch failed may be sent again (a new batch, same number)."""

    __tablename__ = "ecticket_issue_calls"
    __table_args__ = (UniqueConstraint("store_id", "merchant_order_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # PICKUP | GIFT: which field named the order
    merchant_order_no: Mapped[str] = mapped_column(String(25))  # MerchantTradeNo | FreeTradeNo
    ticket_trade_no: Mapped[str] = mapped_column(String(24), unique=True)  # ECT訂單編號
    payment_provider: Mapped[str] = mapped_column(String(1))  # "1" ECPay card · "2" other
    data_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the call's normalised Data
    answer: Mapped[dict]  # the RtnCode 1 Data answered (replayed to an identical call)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    attempts: Mapped[int] = mapped_column(default=1)  # calls that made a batch (a retry after failure)
    operator: Mapped[str] = mapped_column(String(10), default="")
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))  # StoreID
    refund_notify_url: Mapped[str] = mapped_column(String(200), default="")
    use_status_notify_url: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

"""A transfer (轉贈): some unused pickup vouchers of one order given to a recipient.

The recipient gets a link of their own (`link_token`); while a ticket is given away, the ticket
points at the transfer (`Ticket.transfer_id`) and its holder fields name the recipient. The issuer
may cancel a transfer (every still-unused ticket goes back to the purchaser and the link stops
working); a return of a transferred ticket takes that ticket out of its transfer.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock, credentials
from app.credentials import Credential
from app.db import db, enum_type
from app.tenancy import StoreScoped
from app.tickets import codes


class TransferStatus(enum.Enum):
    ACTIVE = "active"  # 轉贈中
    CANCELLED = "cancelled"  # 已取消轉贈 (by the issuer, or every ticket returned)

    @property
    def label(self) -> str:
        return {"active": "轉贈中", "cancelled": "已取消"}[self.value]


class TransferItemState(enum.Enum):
    GIVEN = "given"  # with the recipient
    CANCELLED = "cancelled"  # back with the purchaser: the issuer cancelled the transfer
    RETURNED = "returned"  # taken out of the transfer by a return (退貨同步取消轉贈)
    KEPT = "kept"  # the transfer was cancelled after the recipient used it: stays as it is

    @property
    def label(self) -> str:
        return {"given": "已轉贈", "cancelled": "已取消轉贈", "returned": "退貨取消轉贈",
                "kept": "已使用（未取回）"}[self.value]


class Transfer(StoreScoped, db.Model):
    __tablename__ = "transfers"
    __table_args__ = (
        Index("ix_transfers_store_id_created_at", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))  # the issuer
    transfer_no: Mapped[str] = mapped_column(String(24), unique=True)  # 轉贈編號
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    giver_name: Mapped[str] = mapped_column(String(50), default="")
    giver_mobile: Mapped[str] = mapped_column(String(20), default="")
    giver_email: Mapped[str] = mapped_column(String(200), default="")
    recipient_name: Mapped[str] = mapped_column(String(50))
    recipient_mobile: Mapped[str] = mapped_column(String(20), default="")
    recipient_email: Mapped[str] = mapped_column(String(200), default="")
    # the recipient's link: not stored (app/credentials.py), derived from the key and the salt
    secret_salt: Mapped[str] = mapped_column(String(32), default=credentials.new_salt)
    secret_version: Mapped[int] = mapped_column(SmallInteger, default=credentials.current_version)
    link_token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    link_token_sealed: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[TransferStatus] = mapped_column(
        enum_type(TransferStatus, "transfer_status"), default=TransferStatus.ACTIVE)
    ticket_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    items: Mapped[list[TransferItem]] = relationship(order_by="TransferItem.id",
                                                     back_populates="transfer")

    link_token = Credential("transfer-link", lambda row, key: codes.derive_link_token(
        key, "transfer", row.secret_salt))

    def new_link(self) -> None:
        """A link derived under the current key (a new transfer)."""
        credentials.fresh_salt(self)
        Transfer.link_token.renew(self)


class TransferItem(StoreScoped, db.Model):
    """One ticket of a transfer, and what became of it."""

    __tablename__ = "transfer_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    state: Mapped[TransferItemState] = mapped_column(
        enum_type(TransferItemState, "transfer_item_state"), default=TransferItemState.GIVEN)
    ended_at: Mapped[datetime | None]

    transfer: Mapped[Transfer] = relationship(back_populates="items")

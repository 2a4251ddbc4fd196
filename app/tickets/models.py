"""Tickets (票券) and the orders (ECT訂單) that hold them: one purchaser's tickets from one merchant
order of a batch (one or more rows, rule e in app/issuance/rules.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app import clock, credentials
from app.credentials import Credential
from app.db import db, enum_type
from app.products.models import Product, ProductKind
from app.stores.models import DeliveryMethod
from app.tenancy import StoreScoped
from app.tickets import codes, lifecycle
from app.tickets.status import TicketStatus

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only


class Ticket(StoreScoped, db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_store_id_issued_at", "store_id", "issued_at"),
        Index("ix_tickets_store_id_status", "store_id", "status"),
        Index("ix_tickets_product_id", "product_id"),
        Index("ix_tickets_order_id", "order_id"),
        Index("ix_tickets_batch_id", "batch_id"),
        Index("ix_tickets_redeemed_store_id_redeemed_at", "redeemed_store_id", "redeemed_at"),
        Index("ix_tickets_holder_mobile", "holder_mobile"),
        # Reports and the home dashboard (issue 7), measured on 1M tickets: by redemption or
        # return date per store (index-only for the dashboard's sums), per branch, by holder.
        Index("ix_tickets_store_id_redeemed_at", "store_id", "redeemed_at",
              postgresql_include=["status", "face_value", "redeemed_branch_id"],
              postgresql_where=text("redeemed_at IS NOT NULL"),
              sqlite_where=text("redeemed_at IS NOT NULL")),
        Index("ix_tickets_store_id_returned_at", "store_id", "returned_at",
              postgresql_include=["status", "face_value", "returned_branch_id"],
              postgresql_where=text("returned_at IS NOT NULL"),
              sqlite_where=text("returned_at IS NOT NULL")),
        # the daily return-fee settlement: one day's returns across stores
        Index("ix_tickets_returned_at", "returned_at",
              postgresql_where=text("returned_at IS NOT NULL"),
              sqlite_where=text("returned_at IS NOT NULL")),
        Index("ix_tickets_redeemed_branch_id_redeemed_at", "redeemed_branch_id", "redeemed_at",
              postgresql_where=text("redeemed_branch_id IS NOT NULL"),
              sqlite_where=text("redeemed_branch_id IS NOT NULL")),
        Index("ix_tickets_returned_branch_id_returned_at", "returned_branch_id", "returned_at",
              postgresql_where=text("returned_branch_id IS NOT NULL"),
              sqlite_where=text("returned_branch_id IS NOT NULL")),
        Index("ix_tickets_store_id_holder_name", "store_id", "holder_name"),
        Index("ix_tickets_store_id_holder_email", "store_id", "holder_email"),
        Index("ix_tickets_cross_store_redeemed_at", "redeemed_store_id", "redeemed_at",
              postgresql_where=text("store_id <> redeemed_store_id"),
              sqlite_where=text("store_id <> redeemed_store_id")),
        # An OR, not IN: PostgreSQL deparses an IN-list predicate differently once recreated
        # from its own definition (the loader drops and recreates indexes); the planner still
        # matches `status IN (...)` queries against it.
        Index("ix_tickets_unused_store_id_issued_at", "store_id", "issued_at",
              postgresql_include=["status", "kind", "expires_on", "face_value"],
              postgresql_where=text("status = 'unused' OR status = 'unused_escrow_expired'"),
              sqlite_where=text("status = 'unused' OR status = 'unused_escrow_expired'")),
        Index("ix_tickets_store_id_product_id_status", "store_id", "product_id", "status",
              postgresql_include=["face_value"]),
        CheckConstraint("face_value > 0", name="face_value_positive"),
        # the merchant's return handling fee: none, or between 0 and the face value
        CheckConstraint("return_fee IS NULL OR (return_fee >= 0 AND return_fee <= face_value)",
                        name="return_fee_range"),
        CheckConstraint("print_count >= 0", name="print_count_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))  # the issuer
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    serial: Mapped[str] = mapped_column(String(16), unique=True)  # 票券序號
    # 核銷代碼: not stored (app/credentials.py); derived from the key, the serial and the salt
    secret_salt: Mapped[str] = mapped_column(String(32))
    secret_version: Mapped[int] = mapped_column(SmallInteger)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    code_sealed: Mapped[str | None] = mapped_column(String(80))  # a migrated or given code
    kind: Mapped[ProductKind] = mapped_column(enum_type(ProductKind, "ticket_kind"))
    face_value: Mapped[int]
    delivery_method: Mapped[DeliveryMethod] = mapped_column(
        enum_type(DeliveryMethod, "delivery_method"))
    status: Mapped[TicketStatus] = mapped_column(
        enum_type(TicketStatus, "ticket_status"), default=TicketStatus.UNUSED)
    status_changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    valid_from: Mapped[date | None]  # deferred (非即期) electronic tickets: usable from this day
    expires_on: Mapped[date]  # escrow end (pickup) or validity end (gift), copied from the product
    holder_name: Mapped[str] = mapped_column(String(50), default="")
    holder_mobile: Mapped[str] = mapped_column(String(20), default="")
    holder_email: Mapped[str] = mapped_column(String(200), default="")
    platform_id: Mapped[str | None] = mapped_column(String(20))  # PlatformID of an API issuer
    redeemed_at: Mapped[datetime | None]
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    redeemed_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    redeemed_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    returned_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    return_fee: Mapped[int | None]  # 退貨手續費, the merchant's
    return_reason: Mapped[str] = mapped_column(Text, default="")
    # Set while the ticket is given to someone else (轉贈), cleared when the transfer is
    # cancelled; a transferred ticket's purchaser can no longer be changed.
    transferred_at: Mapped[datetime | None]
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))  # while given away
    printed_at: Mapped[datetime | None]  # first print (paper) or kiosk print (convenience store)
    print_count: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship()

    code = Credential("code", lambda row, key: codes.derive_redemption_code(
        key, row.serial, row.secret_salt))

    @staticmethod
    def new_secret_values(serial: str) -> dict:
        """The credential columns of a new ticket (bulk inserts): its code is derived."""
        version, salt = credentials.current_version(), credentials.new_salt()
        key = credentials.key(version)
        code = codes.derive_redemption_code(key, serial, salt)
        return {"secret_salt": salt, "secret_version": version,
                "code_digest": credentials.digest(key, "code", code), "code_sealed": None}

    @property
    def current_status(self) -> TicketStatus:
        """The status as of now, which every screen and API shows: an unused ticket past its
        end date is already expired, before the daily job writes it."""
        if self.status is not TicketStatus.UNUSED:
            return self.status
        return lifecycle.effective_status(lifecycle.Facts.of(self), clock.now())

    @property
    def status_label(self) -> str:
        return self.current_status.label


class Order(StoreScoped, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "merchant_order_no"),
        CheckConstraint("ticket_count >= 0", name="ticket_count_not_negative"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_orders_store_id_created_at", "store_id", "created_at"),
        Index("ix_orders_purchaser_mobile", "purchaser_mobile"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    order_no: Mapped[str] = mapped_column(String(24), unique=True)  # ECT訂單編號
    merchant_order_no: Mapped[str] = mapped_column(String(25))  # 廠商訂單編號
    delivery_method: Mapped[DeliveryMethod] = mapped_column(
        enum_type(DeliveryMethod, "delivery_method"))
    purchaser_name: Mapped[str] = mapped_column(String(50), default="")
    purchaser_mobile: Mapped[str] = mapped_column(String(20), default="")
    purchaser_email: Mapped[str] = mapped_column(String(200), default="")
    # The e-ticket link's token and the 超商取票代碼: not stored (app/credentials.py).
    secret_salt: Mapped[str] = mapped_column(String(32), default=credentials.new_salt)
    secret_version: Mapped[int] = mapped_column(SmallInteger, default=credentials.current_version)
    link_token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_token_sealed: Mapped[str | None] = mapped_column(String(160))
    pickup_code_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    pickup_code_sealed: Mapped[str | None] = mapped_column(String(80))
    platform_id: Mapped[str | None] = mapped_column(String(20))
    ticket_count: Mapped[int] = mapped_column(default=0)
    amount: Mapped[int] = mapped_column(default=0)  # the tickets' face values, summed
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    tickets: Mapped[list[Ticket]] = relationship(order_by="Ticket.id")

    link_token = Credential("link", lambda row, key: codes.derive_link_token(
        key, "order", row.secret_salt))
    pickup_code = Credential("pickup", lambda row, key: codes.derive_pickup_code(
        key, row.secret_salt))

    @staticmethod
    def new_secret_values(*, link: bool, pickup: bool) -> dict:
        """The credential columns of a new order (bulk inserts): its link or pickup code is
        derived."""
        version, salt = credentials.current_version(), credentials.new_salt()
        key = credentials.key(version)
        return {"secret_salt": salt, "secret_version": version,
                "link_token_digest": credentials.digest(
                    key, "link", codes.derive_link_token(key, "order", salt)) if link else None,
                "pickup_code_digest": credentials.digest(
                    key, "pickup", codes.derive_pickup_code(key, salt)) if pickup else None,
                "link_token_sealed": None, "pickup_code_sealed": None}

    def renew_credentials(self) -> None:
        """New values for the order's link and pickup code (whichever it has): the old ones
        find nothing any more."""
        had_link, had_pickup = self.link_token_digest, self.pickup_code_digest
        credentials.fresh_salt(self)
        for attribute, had in ((Order.link_token, had_link), (Order.pickup_code, had_pickup)):
            if had:
                attribute.renew(self)


# The ticket's order number, deferred: a query that undefers it (`undefer(Ticket.order_no)`)
# brings it in the ticket's own statement, so an answer showing it needs no second query.
Ticket.order_no = column_property(
    select(Order.order_no).where(Order.id == Ticket.order_id).scalar_subquery(), deferred=True)


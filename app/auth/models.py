"""Accounts (operator, merchant main account, sub-accounts), their grants, logins and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.permissions import Function, Level, exists_for, grant_allows
from app.db import db, enum_type
from app.stores.models import Branch, Store
from app.tenancy import StoreScoped


class AccountKind(enum.Enum):
    OPERATOR = "operator"  # platform staff (綠界/業務)
    MAIN = "main"  # 母帳號 / 管理者
    SUB = "sub"  # 子帳號

    @property
    def label(self) -> str:
        return {"operator": "平台管理員", "main": "管理者", "sub": "子帳號"}[self.value]


class Account(StoreScoped, db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'operator' AND store_id IS NULL) OR (kind <> 'operator' AND store_id IS NOT NULL)",
            name="store_matches_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    kind: Mapped[AccountKind] = mapped_column(enum_type(AccountKind, "account_kind"))
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    remark: Mapped[str] = mapped_column(String(20), default="")
    # A sub-account bound to a branch acts for it; unbound accounts act for the head office.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    # Bumped on password change or deletion: sessions carrying an older epoch are logged out.
    session_epoch: Mapped[int] = mapped_column(default=0)
    # The login sessions ended one by one (a logout in one browser): [session id, ended at (epoch
    # seconds)] pairs, kept as long as a session can live. Read with the row every request loads.
    ended_sessions: Mapped[list] = mapped_column(JSON, default=list)
    # 登入後台 IP設定: `;`-separated addresses or CIDR ranges a login may come from ("" = any).
    login_ips: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    deleted_at: Mapped[datetime | None]

    store: Mapped[Store | None] = relationship()
    branch: Mapped[Branch | None] = relationship()
    grants: Mapped[list[AccountGrant]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )

    # Flask-Login protocol -------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.deleted_at is None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    # Rights ------------------------------------------------------------------------------
    @property
    def is_operator(self) -> bool:
        return self.kind is AccountKind.OPERATOR

    @property
    def is_main(self) -> bool:
        return self.kind is AccountKind.MAIN

    def grant_for(self, function: Function) -> Level | None:
        for grant in self.grants:
            if grant.function == function.value:
                return grant.level
        return None

    @property
    def branch_disabled(self) -> bool:
        """Bound to a branch that is disabled (停用): the account may only view."""
        return self.branch is not None and not self.branch.enabled

    def may(self, function: Function, level: Level = Level.VIEW, *,
            mode: str | None = None) -> bool:
        """Whether this account holds `function` at `level` (store's mode checked by caller).
        A clerk of a disabled branch holds no modify right at all (BRANCH_DISABLED)."""
        if self.is_operator or not self.is_active:
            return False
        if level is Level.MODIFY and self.branch_disabled:
            return False
        if mode is not None and not exists_for(function, mode):
            return False
        if self.is_main:
            return True
        return grant_allows(self.grant_for(function), level)


class AccountGrant(db.Model):
    """One function granted to a sub-account, at view (查詢) or modify (修改) level."""

    __tablename__ = "account_grants"
    __table_args__ = (UniqueConstraint("account_id", "function"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    function: Mapped[str] = mapped_column(String(40))
    level: Mapped[Level] = mapped_column(enum_type(Level, "grant_level"))

    account: Mapped[Account] = relationship(back_populates="grants")


class LoginEvent(db.Model):
    """登入歷程: every login attempt, with the username as typed, IP and user agent."""

    __tablename__ = "login_events"
    __table_args__ = (
        Index("ix_login_events_username_at", "username", "at"),
        Index("ix_login_events_account_id_at", "account_id", "at"),
        Index("ix_login_events_store_id_at", "store_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    username: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    success: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(20), default="")  # bad_password, locked, ...


class ApiToken(StoreScoped, db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(50), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class PasswordResetToken(db.Model):
    """忘記密碼: a single-use link e-mailed to reset an account's password.

    Only the token's SHA-256 is stored; it expires `expires_at` and is spent by `used_at`.
    """

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")

    account: Mapped[Account] = relationship()

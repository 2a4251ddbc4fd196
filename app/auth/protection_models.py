"""Back-office login protections: the second factor (雙因子驗證), its recovery codes, e-mailed
codes, and a store's login notices (3-5 登入歷程: 登入失敗及不同裝置瀏覽器登入通知)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock, credentials
from app.auth.twofactor_rules import DEFAULT_FAILURE_THRESHOLD
from app.db import db
from app.tenancy import StoreScoped

METHOD_LABELS = {"totp": "驗證應用程式（APP）", "email": "電子信箱驗證碼"}


class TwoFactor(db.Model):
    """An account's second factor. `enabled_at` is None while it is being set up (the secret
    shown, no code confirmed yet). `secret` is the TOTP key (empty for the e-mail method);
    `last_step` the last TOTP time step accepted, so a code is never accepted twice."""

    __tablename__ = "two_factors"
    __table_args__ = (CheckConstraint("method IN ('totp', 'email')", name="method_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            unique=True)
    method: Mapped[str] = mapped_column(String(10))
    # the TOTP key, sealed (app.credentials.seal_secret) so a dump of the table logs nobody in
    sealed_secret: Mapped[str] = mapped_column("secret", String(200), default="")
    last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    enabled_at: Mapped[datetime | None]

    @property
    def enabled(self) -> bool:
        return self.enabled_at is not None

    @property
    def secret(self) -> str:
        if not self.sealed_secret:
            return ""
        return credentials.open_secret(f"totp:{self.account_id}", self.sealed_secret)

    @secret.setter
    def secret(self, plain: str) -> None:
        self.sealed_secret = (credentials.seal_secret(f"totp:{self.account_id}", plain)
                              if plain else "")

    @property
    def method_label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)


class RecoveryCode(db.Model):
    """One single-use recovery code (復原碼), kept as a keyed hash only."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    used_at: Mapped[datetime | None]


class EmailCode(db.Model):
    """A code e-mailed for one purpose (login, setup, remove, recovery): single-use, expires,
    a limited number of wrong tries. Kept as a keyed hash only."""

    __tablename__ = "email_codes"
    __table_args__ = (
        Index("ix_email_codes_account_id_purpose", "account_id", "purpose"),
        CheckConstraint("purpose IN ('login', 'setup', 'remove', 'recovery')",
                        name="purpose_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(10))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)


class LoginNoticeSettings(StoreScoped, db.Model):
    """3-5 登入通知: which login events of a store's accounts are mailed, and to whom."""

    __tablename__ = "login_notice_settings"
    __table_args__ = (
        UniqueConstraint("store_id"),
        CheckConstraint("failure_threshold BETWEEN 1 AND 10", name="threshold_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notify_failures: Mapped[bool] = mapped_column(default=False)
    failure_threshold: Mapped[int] = mapped_column(default=DEFAULT_FAILURE_THRESHOLD)
    notify_new_device: Mapped[bool] = mapped_column(default=False)
    to_finance: Mapped[bool] = mapped_column(default=False)
    to_sales: Mapped[bool] = mapped_column(default=False)
    to_technical: Mapped[bool] = mapped_column(default=True)

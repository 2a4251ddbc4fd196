"""Uploaded images (logos, banners, product pictures): checked by content, re-encoded, stored
outside the code tree and served under an unguessable token."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


class UploadPurpose(enum.Enum):
    LOGO = "logo"
    BANNER = "banner"
    PRODUCT = "product"


class Upload(StoreScoped, db.Model):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the public name of the file
    purpose: Mapped[UploadPurpose] = mapped_column(enum_type(UploadPurpose, "upload_purpose"))
    content_type: Mapped[str] = mapped_column(String(30))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

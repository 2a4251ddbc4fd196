"""Small helpers for the account tests."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import Account
from app.db import db

SUB_PASSWORD = "staff1234"


def account_named(username: str) -> Account | None:
    db.session.expire_all()  # the requests ran in their own sessions
    return db.session.scalar(select(Account).where(Account.username == username))


def new_sub_form(username: str = "staff01", password: str = SUB_PASSWORD, *,
                 confirm: str | None = None, remark: str = "", view: tuple[str, ...] = (),
                 modify: tuple[str, ...] = ()) -> dict:
    return {"username": username, "password": password,
            "confirm": password if confirm is None else confirm, "remark": remark,
            "grant_view": list(view), "grant_modify": list(modify)}

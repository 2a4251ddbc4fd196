"""Who is calling, without a query: the account a request acts as (a bearer token's, a logged-in
session's), with what every request reads of it, kept a few seconds in this process.

Redemption is the hottest path (a scan at the counter, a POS call), and each request used to
begin with the same SELECT of the account, its branch, its store and the store's contracts.
The graph is loaded once in a session of its own, kept detached, and copied into each
request's session with `merge(load=False)` (no SQL); relationships it does not hold (a
sub-account's grants) still load in the request as before.

What that costs: a change made by another process (a token revoked, an account deleted or
signed out everywhere, a branch disabled) takes effect within SECONDS. A change made in this
process takes effect at once: any flushed update or delete of an account, a token, a store,
its contracts or a branch empties the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, has_app_context
from flask.ctx import _AppCtxGlobals
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.auth.models import Account, ApiToken
from app.auth.permissions import Level
from app.db import db
from app.stores.models import Branch, Contract, Store

SECONDS = 5.0

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry:
    value: Any  # a detached object graph, only read
    until: float  # time.monotonic()


def _entries() -> dict[Hashable, _Entry]:
    return current_app.extensions.setdefault("ectix.request_cache", {})


def get(key: Hashable, load: Callable[[], T | None]) -> T | None:
    """The cached value of `key`, or `load()`'s (kept SECONDS unless None)."""
    entries = _entries()
    found = entries.get(key)
    if found is None or found.until <= time.monotonic():
        value = load()
        if value is None:
            entries.pop(key, None)
            return None
        found = _Entry(value, time.monotonic() + SECONDS)
        entries[key] = found
    return found.value


def load_detached(read: Callable[[Session], T | None]) -> T | None:
    """`read(session)` in a session of its own, on its own connection: what it returns outlives
    the session (detached, every loaded attribute kept), and what it changed is committed there
    (a token's last use), so the request's transaction never writes or expires for it."""
    with Session(db.engine, expire_on_commit=False) as session:
        found = read(session)
        if session.dirty:
            session.commit()
        session.expunge_all()
    return found


class CachedPrincipal:
    """Who a request acts as, read straight from the cached (detached) account: a bearer
    token's, and a logged-in session's on the few routes that only read who acts (the
    counter's press, `app.web.PRINCIPAL_ENDPOINTS`). What those requests read of it (ids,
    kind, branch, the rights of a main account) costs no copy into the request's session.
    Anything else (a sub-account's grants, the account a service writes into a row) is read
    from the ORM account, copied into the request's session on first use (`account`). The
    cached objects are shared between requests and only ever read."""

    __slots__ = ("_account", "cached")

    # Read from the cached account: columns and properties that read nothing but its loaded
    # columns and its branch (loaded with it).
    _CACHED = frozenset({"id", "username", "kind", "store_id", "branch_id", "session_epoch",
                         "deleted_at", "is_active", "is_authenticated", "is_operator", "is_main",
                         "branch_disabled", "get_id", "branch"})

    def __init__(self, cached: Account) -> None:
        self.cached = cached
        self._account: Account | None = None

    @property
    def account(self) -> Account:
        """The ORM account in the request's session (copied once, without SQL)."""
        if self._account is None:
            self._account = db.session.merge(self.cached, load=False)
        return self._account

    @property
    def is_anonymous(self) -> bool:
        return False

    def may(self, function: Any, level: Level = Level.VIEW, *, mode: str | None = None) -> bool:
        """`Account.may`: a main account's or an operator's answer reads no grant (the cached
        account), a sub-account's reads its grants (the ORM account)."""
        cached = self.cached
        if cached.is_main or cached.is_operator or not cached.is_active:
            return cached.may(function, level, mode=mode)
        return self.account.may(function, level, mode=mode)

    def __getattr__(self, name: str) -> Any:
        if name in CachedPrincipal._CACHED:
            return getattr(self.cached, name)
        return getattr(self.account, name)


def readable_account(user: Any) -> Any:
    """The account to read a flag of (a principal's cached one, never put into a row)."""
    return user.cached if isinstance(user, CachedPrincipal) else user


def principal_account(user: Any) -> Any:
    """The ORM account behind a user (a principal's, copied into the request's session, or the
    account itself)."""
    return user.account if isinstance(user, CachedPrincipal) else user


class RequestGlobals(_AppCtxGlobals):
    """Flask's `g`, whose `store` may be given as a loader (`defer_store`): a bearer token's
    request copies its acting store into the session only if something reads `g.store`."""

    def defer_store(self, load: Callable[[], Any]) -> None:
        self.__dict__.pop("store", None)
        self.__dict__["_store_loader"] = load

    def _load_store(self) -> Any:
        store = self.__dict__.pop("_store_loader")()
        self.__dict__["store"] = store
        return store

    def __getattr__(self, name: str) -> Any:
        if name == "store" and "_store_loader" in self.__dict__:
            return self._load_store()
        return super().__getattr__(name)

    def get(self, name: str, default: Any = None) -> Any:
        if name == "store" and "store" not in self.__dict__ and "_store_loader" in self.__dict__:
            return self._load_store()
        return super().get(name, default)

    def __contains__(self, item: str) -> bool:
        return super().__contains__(item) or (item == "store" and "_store_loader" in self.__dict__)


def clear() -> None:
    if has_app_context():
        _entries().clear()


def _changed(mapper: Any, connection: Any, target: Any) -> None:  # noqa: ARG001
    clear()


for _model in (Account, ApiToken, Store, Contract, Branch):
    event.listen(_model, "after_update", _changed)
    event.listen(_model, "after_delete", _changed)

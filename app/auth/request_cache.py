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
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.auth.models import Account, ApiToken
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


def clear() -> None:
    if has_app_context():
        _entries().clear()


def _changed(mapper: Any, connection: Any, target: Any) -> None:  # noqa: ARG001
    clear()


for _model in (Account, ApiToken, Store, Contract, Branch):
    event.listen(_model, "after_update", _changed)
    event.listen(_model, "after_delete", _changed)

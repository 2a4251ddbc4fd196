"""Rate limits for guessable lookups (redemption codes, e-ticket links, wallet confirmations).

Two tools:

- `check` / `count_failure`: the `limits` library (moving windows) on Redis when REDIS_URL is
  set, so every process shares the counts, else in this process's memory. Only failures are
  counted, so a clerk who scans valid codes all day is never slowed down; someone trying codes
  is. Checking and counting are two steps: concurrent requests may all pass the check.
- `take` / `give_back` / `clear`: an atomic attempt counter for secrets worth racing for (a
  password, a mobile's last four). `take` counts the attempt and says whether it is within the
  limit in one step (Redis INCR with an expiry when Redis is configured, else an
  INSERT … ON CONFLICT DO UPDATE … RETURNING on the `attempt_counters` row, committed at once
  on its own connection), so 40 concurrent wrong answers evaluate at most the limit. Windows
  are fixed (aligned on the app clock), so a lock always ends with its window, whatever an
  attacker keeps sending: a bounded lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis import Redis
from sqlalchemy import String, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db
from app.errors import DomainError


class TooManyAttempts(DomainError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Rule:
    name: str
    limit: str  # e.g. "20/10 minutes"
    message: str

    @cached_property
    def item(self) -> RateLimitItem:
        return parse(self.limit)  # parsed once: every code lookup checks two rules


UNKNOWN_CODE_PER_ACCOUNT = Rule("code-account", "20/10 minutes",
                                "查詢錯誤的核銷代碼次數過多，請 10 分鐘後再試")
UNKNOWN_CODE_PER_IP = Rule("code-ip", "60/10 minutes", "查詢錯誤的核銷代碼次數過多，請 10 分鐘後再試")


def _limiter() -> MovingWindowRateLimiter:
    ext = current_app.extensions.get("ectix-ratelimit")
    if ext is None:
        url = current_app.config.get("RATELIMIT_STORAGE_URL") or current_app.config.get("REDIS_URL")
        storage = storage_from_string(url) if url else MemoryStorage()
        ext = current_app.extensions["ectix-ratelimit"] = MovingWindowRateLimiter(storage)
    return ext


def check(rule: Rule, *identifiers: object) -> None:
    """Refuse (429) while the failures counted under `identifiers` are over the limit."""
    if not _limiter().test(rule.item, rule.name, *map(str, identifiers)):
        raise TooManyAttempts(rule.message)


def count_failure(rule: Rule, *identifiers: object) -> None:
    _limiter().hit(rule.item, rule.name, *map(str, identifiers))


def reset(app: Flask) -> None:
    """Forget every `limits` count and the Redis client (tests)."""
    app.extensions.pop("ectix-ratelimit", None)
    app.extensions.pop("ectix-attempts", None)


# Atomic attempt counters -------------------------------------------------------------------

class AttemptCounter(db.Model):
    """One fixed window's count of attempts under one key (only without Redis)."""

    __tablename__ = "attempt_counters"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class Limit:
    """At most `amount` attempts per fixed window of `seconds`, counted under `name`."""

    name: str
    amount: int
    seconds: int


@dataclass(frozen=True)
class Taken:
    count: int  # this attempt's number in its window
    allowed: bool  # within the limit: evaluate it
    retry_at: datetime  # when the window (and any lock) ends


def window(at: datetime, seconds: int) -> tuple[int, datetime]:
    """The fixed window `at` falls in: its number and its end (pure)."""
    index = int(at.timestamp()) // seconds
    start = datetime.fromtimestamp(index * seconds, tz=at.tzinfo)
    return index, start + timedelta(seconds=seconds)


def _key(limit: Limit, identifiers: tuple[object, ...], index: int) -> str:
    digest = hashlib.sha256("\x1f".join(map(str, identifiers)).encode()).hexdigest()[:32]
    return f"{limit.name[:40]}:{digest}:{index}"


_INCR = ("local n = redis.call('INCR', KEYS[1]) "
         "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n")


def _redis() -> Redis | None:
    url = current_app.config.get("RATELIMIT_STORAGE_URL") or current_app.config.get("REDIS_URL")
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = current_app.extensions.get("ectix-attempts")
    if client is None:
        client = current_app.extensions["ectix-attempts"] = Redis.from_url(url)
    return client


def take(limit: Limit, *identifiers: object) -> Taken:
    """Count one attempt under `identifiers` and say, atomically, whether it is within the limit.
    Not within: do not evaluate it (refuse)."""
    now = clock.now()
    index, ends = window(now, limit.seconds)
    key = _key(limit, identifiers, index)
    client = _redis()
    if client is not None:
        count = int(client.eval(_INCR, 1, key, limit.seconds + 60))
    else:
        count = _db_increment(key, ends)
    return Taken(count, count <= limit.amount, ends)


def _db_increment(key: str, expires_at: datetime) -> int:
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    table = AttemptCounter.__table__
    stmt = insert(table).values(key=key, count=1, expires_at=expires_at)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.key],
                                      set_={"count": table.c.count + 1}).returning(table.c.count)
    with db.engine.begin() as conn:  # its own transaction, committed now: no lock held on
        return int(conn.execute(stmt).scalar_one())


def give_back(limit: Limit, *identifiers: object) -> None:
    """Uncount one attempt (it succeeded, and successes should not count)."""
    key = _key(limit, identifiers, window(clock.now(), limit.seconds)[0])
    client = _redis()
    if client is not None:
        client.eval("if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 "
                    "then return redis.call('DECR', KEYS[1]) end return 0", 1, key)
        return
    table = AttemptCounter.__table__
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.key == key, table.c.count > 0)
                     .values(count=table.c.count - 1))


def clear(limit: Limit, *identifiers: object) -> None:
    """Forget the current window's attempts under `identifiers`."""
    key = _key(limit, identifiers, window(clock.now(), limit.seconds)[0])
    client = _redis()
    if client is not None:
        client.delete(key)
        return
    with db.engine.begin() as conn:
        conn.execute(delete(AttemptCounter.__table__).where(AttemptCounter.__table__.c.key == key))


Counters = Sequence[tuple[Limit, tuple[object, ...]]]


def take_each(counters: Counters) -> Taken | None:
    """Take each counter in order (most specific first); the first refusal, the later counters
    untouched; None when the attempt may be evaluated."""
    for limit, identifiers in counters:
        taken = take(limit, *identifiers)
        if not taken.allowed:
            return taken
    return None


def succeeded(counters: Counters) -> None:
    """An evaluated attempt was right: the first (most specific) counter is cleared, the others
    get their attempt back, so a success never counts against anyone."""
    first, *others = counters
    clear(first[0], *first[1])
    for limit, identifiers in others:
        give_back(limit, *identifiers)


def prune_counters() -> int:
    """Delete the database counters whose window has ended (a recurring job)."""
    result = db.session.execute(delete(AttemptCounter).where(AttemptCounter.expires_at <= clock.now()))
    return result.rowcount or 0

"""Rate limits for guessable lookups (redemption codes, e-ticket links, wallet confirmations).

Uses the `limits` library (moving windows) on Redis when REDIS_URL is set, so every process
shares the counts, else in this process's memory. Only failures are counted, so a clerk who
scans valid codes all day is never slowed down; someone trying codes is.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import DomainError


class TooManyAttempts(DomainError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Rule:
    name: str
    limit: str  # e.g. "20/10 minutes"
    message: str

    @property
    def item(self) -> RateLimitItem:
        return parse(self.limit)


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
    """Forget every count (tests)."""
    app.extensions.pop("ectix-ratelimit", None)

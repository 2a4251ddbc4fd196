"""8-1 操作設定管理 (發行前置設定): the store's refund-notification URL (退款結果主動通知 URL),
the key its notices are signed with, and the domains the operator opened for the URL (URL
Domain 防火牆).

- The URL is optional (empty clears it); it must be https://, at most 500 characters, carry no
  credentials, and its host (lower-cased, port ignored) must be one the operator allowed for
  this store. A change is not retroactive: the URL in force when an order is issued is copied
  onto the order (`refund_url_for`) and its refund notice goes there.
- The signing key (`notify_secret`) is made with the store's settings row and can be made anew
  by the merchant; notices are signed with the key of the moment they are sent.
- Allowing and revoking domains is the operator's; revoking changes no order already issued.

The checks at the top are pure; the use cases below flush, never commit.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from urllib.parse import urlsplit

from sqlalchemy import select, update

from app import clock, history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function
from app.db import db, insert_ignoring_conflict
from app.errors import Forbidden, InvalidInput, NotFound
from app.history import HistoryEntry
from app.installments.models import AllowedDomain, InstallmentSettings
from app.stores.models import Store

URL_MAX = 500
HOST_MAX = 253

NO_RIGHT = "您沒有修改操作設定的權限"
OPERATOR_ONLY = "僅平台管理員可執行此操作"
URL_NOT_HTTPS = "網址須為 https:// 開頭"
URL_TOO_LONG = f"網址長度不可超過 {URL_MAX} 字元"
URL_CREDENTIALS = "網址不可包含帳號或密碼"
URL_MALFORMED = "網址格式不正確"
URL_DOMAIN_CLOSED = "此網址的網域尚未開通，請先聯繫所屬業務申請開通 URL Domain 防火牆"
HOST_MISSING = "請輸入網域"
HOST_TOO_LONG = f"網域長度不可超過 {HOST_MAX} 字元"
HOST_NOT_ASCII = "網域僅可使用英文字母、數字、連字號（-）與點（.）；中文網域請先轉為 xn-- 開頭的編碼"
HOST_IS_ADDRESS = "請輸入網域名稱，不可為 IP 位址"
HOST_MALFORMED = "網域格式不正確（例如 api.example.com.tw）"
HOST_TAKEN = "此網域已開通"
DOMAIN_GONE = "找不到此網域（可能已撤銷）"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SECRET_BYTES = 32  # 64 hex characters


# Pure checks ----------------------------------------------------------------------------------

def url_problem(url: str) -> str | None:
    """What is wrong with a refund-notification URL's form, or None (the domain is asked
    separately, of the store's allowed hosts). The empty URL is fine: it clears the setting."""
    url = url.strip()
    if not url:
        return None
    if len(url) > URL_MAX:
        return URL_TOO_LONG
    if not url.lower().startswith("https://"):
        return URL_NOT_HTTPS
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return URL_MALFORMED
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        return URL_MALFORMED
    if "@" in parts.netloc:
        return URL_CREDENTIALS
    if not parts.hostname:
        return URL_MALFORMED
    return None


def host_of(url: str) -> str:
    """The host of a URL as domains are stored: lower case, no port, no trailing dot."""
    return (urlsplit(url.strip()).hostname or "").rstrip(".").lower()


def normalise_host(raw: str) -> str:
    """A domain as the operator typed it, as stored: trimmed, lower case, no trailing dot."""
    return raw.strip().rstrip(".").lower()


def host_problem(host: str) -> str | None:
    """What is wrong with a normalised domain (`normalise_host`), or None: a DNS name of at
    least two labels, ASCII only (an internationalised name in its xn-- form), not an address."""
    if not host:
        return HOST_MISSING
    if len(host) > HOST_MAX:
        return HOST_TOO_LONG
    if not host.isascii():
        return HOST_NOT_ASCII
    try:
        ipaddress.ip_address(host.strip("[]"))
        return HOST_IS_ADDRESS
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return HOST_MALFORMED
    if labels[-1].isdigit():
        return HOST_MALFORMED
    return None


def new_secret() -> str:
    return secrets.token_hex(_SECRET_BYTES)


# Reading ----------------------------------------------------------------------------------------

def _existing(store_id: int) -> InstallmentSettings | None:
    """The store's settings row if one was ever saved; filtered by the store explicitly, so the
    answer is the same in a merchant request, an operator request or a job."""
    return db.session.scalar(
        select(InstallmentSettings).where(InstallmentSettings.store_id == store_id)
        .execution_options(unscoped=True))


def settings_or_blank(store_id: int) -> InstallmentSettings:
    """The saved settings, or blank ones not added to the session (a GET writes nothing)."""
    return _existing(store_id) or InstallmentSettings(store_id=store_id, refund_notify_url="",
                                                      notify_secret="")


def settings_for(store_id: int) -> InstallmentSettings:
    """The store's settings, created with a signing key the first time. Safe when two
    transactions ask at once (a merchant's first save, the notice job): one row, one key."""
    found = _existing(store_id)
    if found is None:
        insert_ignoring_conflict(InstallmentSettings, store_id=store_id, refund_notify_url="",
                                 notify_secret=new_secret(), updated_at=clock.now())
        found = _existing(store_id)
    elif not found.notify_secret:
        db.session.execute(
            update(InstallmentSettings)
            .where(InstallmentSettings.id == found.id, InstallmentSettings.notify_secret == "")
            .values(notify_secret=new_secret())
            .execution_options(unscoped=True, synchronize_session=False))
        db.session.refresh(found)
    assert found is not None
    return found


def refund_url_for(store_id: int) -> str:
    """The refund-notification URL in force now: what issuing copies onto a new order."""
    found = _existing(store_id)
    return found.refund_notify_url if found is not None else ""


def notice_secret_for(store_id: int) -> str:
    """The key a refund notice of this store is signed with now (made if the store has none)."""
    return settings_for(store_id).notify_secret


def allowed_domains(store_id: int) -> list[AllowedDomain]:
    return list(db.session.scalars(
        select(AllowedDomain).where(AllowedDomain.store_id == store_id)
        .order_by(AllowedDomain.host).execution_options(unscoped=True)))


def domain_allowed(store_id: int, host: str) -> bool:
    return db.session.scalar(
        select(AllowedDomain.id).where(AllowedDomain.store_id == store_id,
                                       AllowedDomain.host == host)
        .execution_options(unscoped=True)) is not None


def domain_history(store_id: int, limit: int = 200) -> list[HistoryEntry]:
    """Every domain allowed or revoked for the store, newest first (revoked rows are gone, their
    history stays)."""
    return list(db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.subject_type == AllowedDomain.__tablename__,
                                   HistoryEntry.store_id == store_id)
        .order_by(HistoryEntry.at.desc(), HistoryEntry.id.desc()).limit(limit)
        .execution_options(unscoped=True)))


# The merchant's settings ------------------------------------------------------------------------

def _check_right(actor: Account, store: Store) -> None:
    access.check(actor, store, Function.INSTALLMENT_SETTINGS, no_right=NO_RIGHT)


def checked_url(store_id: int, url: str) -> str:
    """The URL as stored, or InvalidInput with the reason (under the form's `refund_notify_url`)."""
    url = url.strip()
    problem = url_problem(url)
    if problem is None and url and not domain_allowed(store_id, host_of(url)):
        problem = URL_DOMAIN_CLOSED
    if problem is not None:
        raise InvalidInput(problem, fields={"refund_notify_url": problem})
    return url


def update_refund_url(actor: Account, store: Store, url: str) -> bool:
    """【修改】 the refund-notification URL (empty clears it). Whether it changed; a change is
    one history entry on the settings (old → new). Orders already issued keep their URL."""
    _check_right(actor, store)
    url = checked_url(store.id, url)
    settings = settings_for(store.id)
    return history.change(settings, "refund_url_updated", {"refund_notify_url": url})


def regenerate_secret(actor: Account, store: Store) -> InstallmentSettings:
    """A new signing key; the old one stops at once (notices still to be sent or re-sent are
    signed with the new one). The history says when and who, never the key."""
    _check_right(actor, store)
    settings = settings_for(store.id)
    settings.notify_secret = new_secret()
    db.session.flush()
    history.record(settings, "refund_secret_regenerated")
    return settings


# The operator's domains (URL Domain 防火牆) ------------------------------------------------------

def _require_operator(actor: Account) -> None:
    if not actor.is_operator:
        raise Forbidden(OPERATOR_ONLY)


def allow_domain(actor: Account, store: Store, raw: str) -> AllowedDomain:
    """Open `raw` (a host name) for the store's refund-notification URL."""
    _require_operator(actor)
    host = normalise_host(raw)
    problem = host_problem(host)
    if problem is None and domain_allowed(store.id, host):
        problem = HOST_TAKEN
    if problem is not None:
        raise InvalidInput(problem, fields={"host": problem})
    domain = AllowedDomain(store_id=store.id, host=host, created_by_id=actor.id)
    db.session.add(domain)
    db.session.flush()
    history.record(domain, "refund_domain_allowed", changes={"host": [None, host]})
    return domain


def revoke_domain(actor: Account, store: Store, domain_id: int) -> str:
    """Close a domain again: a URL on it can no longer be saved, and the store's URL, if it is
    on that host, is cleared (with an entry in the settings' history), so orders issued from now
    on carry none. Orders already issued keep theirs and are still notified there. The host
    revoked."""
    _require_operator(actor)
    domain = db.session.scalar(
        select(AllowedDomain).where(AllowedDomain.id == domain_id,
                                    AllowedDomain.store_id == store.id)
        .execution_options(unscoped=True))
    if domain is None:
        raise NotFound(DOMAIN_GONE)
    host = domain.host
    history.record(domain, "refund_domain_revoked", changes={"host": [host, None]})
    db.session.delete(domain)
    db.session.flush()
    settings = _existing(store.id)
    if settings is not None and settings.refund_notify_url and \
            host_of(settings.refund_notify_url) == host:
        history.change(settings, "refund_url_cleared", {"refund_notify_url": ""})
    return host

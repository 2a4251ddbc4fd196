"""系統介接設定: each store's HashKey/HashIV pair, generated here, shown once, rotatable, and
kept sealed at rest; the allowed source IPs of server-to-server calls.

- A pair is 16 + 16 characters (letters and digits), the size AES-128 and every ECPay client
  expect. The protocols need the plain values to compute MACs, so they cannot be hashed: they
  are sealed (app.credentials.seal_secret: AES-GCM under the server's code key), the store
  bound in so that a sealed pair copied to another store does not open.
- Rotating retires the current pair: it keeps working for GRACE (24 h on the app clock) so a
  merchant can roll its servers over; `pairs_for` answers the current pair first, then the
  pairs retired less than GRACE ago.
- The history records every rotation (who, when), never a key.
- A pair has a purpose: "" the store's shared pair (card checkout, DoAction, QueryTradeInfo,
  and the ECTicket API while the store has no pair of its own for it), or TICKET, a pair for
  the ECTicket API only (ECPay gives its ECTicket merchants a separate pair). Each purpose
  rotates on its own; `ticket_pairs_for` answers the ECTicket pairs if the store has any live
  one, else the shared ones.

Use cases flush and never commit.
"""

from __future__ import annotations

import ipaddress
import secrets
import string
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import or_, select, update

from app import clock, credentials, history
from app.auth import access
from app.auth.permissions import Function
from app.db import db, insert_ignoring_conflict
from app.ecpay.models import IntegrationSettings, KeyPair
from app.errors import InvalidInput

GRACE = timedelta(hours=24)
KEY_LENGTH = 16
_ALPHABET = string.ascii_letters + string.digits
NO_RIGHT = "您沒有修改系統介接設定的權限"
MAX_IPS = 20
UNSCOPED = {"unscoped": True}
SHARED = ""
TICKET = "ticket"
PURPOSES = {SHARED: "共用金鑰", TICKET: "ECTicket 專用金鑰"}


class Pair(NamedTuple):
    hash_key: str
    hash_iv: str


def generate_pair() -> Pair:
    return Pair("".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH)),
                "".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH)))


# Sealing ------------------------------------------------------------------------------------------

def seal(pair: Pair, store_id: int) -> str:
    return credentials.seal_secret(f"ecpay-keys:{store_id}", f"{pair.hash_key}\n{pair.hash_iv}")


def unseal(sealed: str, store_id: int) -> Pair:
    key, iv = credentials.open_secret(f"ecpay-keys:{store_id}", sealed).split("\n")
    return Pair(key, iv)


# Reading --------------------------------------------------------------------------------------------

def _live(store_id: int, purpose: str = SHARED) -> list[KeyPair]:
    cutoff = clock.now() - GRACE
    return list(db.session.scalars(
        select(KeyPair).where(KeyPair.store_id == store_id, KeyPair.purpose == purpose,
                              or_(KeyPair.retired_at.is_(None), KeyPair.retired_at > cutoff))
        .order_by(KeyPair.retired_at.is_not(None), KeyPair.created_at.desc(), KeyPair.id.desc())
        .execution_options(**UNSCOPED)))


def pairs_for(store_id: int, purpose: str = SHARED) -> list[Pair]:
    """The pairs a request from this store may be signed with: the current one first."""
    return [unseal(row.sealed, store_id) for row in _live(store_id, purpose)]


def ticket_pairs_for(store_id: int) -> list[Pair]:
    """The pairs of the store's ECTicket calls and notices: its ECTicket pairs (current first)
    if it has any still working, else its shared pairs."""
    return pairs_for(store_id, TICKET) or pairs_for(store_id, SHARED)


def current_pair(store_id: int) -> Pair | None:
    pairs = pairs_for(store_id)
    return pairs[0] if pairs else None


def current_ticket_pair(store_id: int) -> Pair | None:
    pairs = ticket_pairs_for(store_id)
    return pairs[0] if pairs else None


def key_rows(store_id: int, purpose: str = SHARED) -> list[KeyPair]:
    """The current and still-working pairs' rows (dates only, for the page)."""
    return _live(store_id, purpose)


# Changing ---------------------------------------------------------------------------------------------

def install_pair(store_id: int, pair: Pair, purpose: str = SHARED) -> KeyPair:
    """Make `pair` the store's current one of `purpose`, retiring the current pair of that
    purpose (it keeps working for GRACE). No permission check: the callers are `rotate` and
    the demo data."""
    if len(pair.hash_key) != KEY_LENGTH or len(pair.hash_iv) != KEY_LENGTH \
            or not (pair.hash_key + pair.hash_iv).isascii():
        raise ValueError("HashKey and HashIV are 16 ASCII characters each")
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    now = clock.now()
    db.session.execute(
        update(KeyPair).where(KeyPair.store_id == store_id, KeyPair.purpose == purpose,
                              KeyPair.retired_at.is_(None))
        .values(retired_at=now).execution_options(synchronize_session=False, **UNSCOPED))
    row = KeyPair(store_id=store_id, purpose=purpose, sealed=seal(pair, store_id),
                  created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def rotate(actor, store, purpose: str = SHARED) -> Pair:  # noqa: ANN001 - an Account, a Store
    """A new pair of `purpose` for the store, returned in plain to be shown once; the old pair
    of that purpose keeps working for 24 hours."""
    access.check(actor, store, Function.SYSTEM_INTEGRATION, no_right=NO_RIGHT)
    if purpose not in PURPOSES:
        raise InvalidInput("金鑰用途不正確")
    pair = generate_pair()
    row = install_pair(store.id, pair, purpose)
    history.record(row, "ecpay_keys_rotated", store_id=store.id,
                   reason=f"{PURPOSES[purpose]}；舊金鑰於 24 小時後失效")
    return pair


# Allowed IPs -------------------------------------------------------------------------------------------

def parse_ips(text: str) -> list[str]:
    """The allowed-IP list as typed (one IP or CIDR range a line, or separated by commas or
    spaces), normalised; InvalidInput naming the first bad entry."""
    entries = [e for e in text.replace(",", " ").split() if e]
    if len(entries) > MAX_IPS:
        message = f"最多可設定 {MAX_IPS} 筆 IP"
        raise InvalidInput(message, fields={"allowed_ips": message})
    out: list[str] = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            message = f"「{entry[:50]}」不是有效的 IP 位址或網段"
            raise InvalidInput(message, fields={"allowed_ips": message}) from exc
        text_form = str(network.network_address) if network.num_addresses == 1 else str(network)
        if text_form not in out:
            out.append(text_form)
    return out


def ip_allowed(allowed: str, address: str) -> bool:
    """Whether `address` is in the list (an empty list allows any address)."""
    entries = allowed.split()
    if not entries:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(e, strict=False) for e in entries)


def settings_of(store_id: int) -> IntegrationSettings | None:
    return db.session.scalar(select(IntegrationSettings)
                             .where(IntegrationSettings.store_id == store_id)
                             .execution_options(**UNSCOPED))


def locked_settings(store_id: int) -> IntegrationSettings:
    """The store's settings row, made with its defaults when missing, locked until the end of
    the database transaction and read afresh under the lock."""
    insert_ignoring_conflict(IntegrationSettings, store_id=store_id, allowed_ips="",
                             updated_at=clock.now())
    return db.session.scalars(select(IntegrationSettings)
                              .where(IntegrationSettings.store_id == store_id)
                              .with_for_update()
                              .execution_options(populate_existing=True, **UNSCOPED)).one()


def allowed_ips_of(store_id: int) -> str:
    settings = settings_of(store_id)
    return settings.allowed_ips if settings else ""


def update_allowed_ips(actor, store, text: str) -> bool:  # noqa: ANN001
    """Save the allowed-IP list; whether it changed."""
    access.check(actor, store, Function.SYSTEM_INTEGRATION, no_right=NO_RIGHT)
    value = "\n".join(parse_ips(text))
    return history.change(locked_settings(store.id), "ecpay_allowed_ips_updated",
                          {"allowed_ips": value})


def auto_close_of(store_id: int) -> bool:
    """每日自動關帳: on by default (no settings row)."""
    settings = settings_of(store_id)
    return settings is None or settings.auto_close


def update_auto_close(actor, store, on: bool) -> bool:  # noqa: ANN001
    """Turn the store's daily auto-close (20:15 Taipei) on or off, its row locked; whether it
    changed. Off: the evening close leaves the store's authorised transactions for it to close
    (within 21 days), and its DoAction calls are not refused as busy 20:15–20:30."""
    access.check(actor, store, Function.SYSTEM_INTEGRATION, no_right=NO_RIGHT)
    settings = locked_settings(store.id)
    changed = history.change(settings, "ecpay_auto_close_updated", {"auto_close": bool(on)})
    if changed:
        settings.updated_at = clock.now()
    return changed

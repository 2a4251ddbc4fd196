"""The offline snapshot (離線核銷資料): what one counter — a store, the branch its clerk is bound
to (or the head office), that clerk — may redeem, signed, for the page to redeem from while the
network is down (pretixSCAN's offline mode).

What it holds, per redeemable ticket: a hash of its code → the ticket's id, status, product,
and its window (usable from, usable until). "Redeemable" is the counter's own rule: the
products this account at this branch may redeem (`products.access.redeem_refusal`, the check
`perform` makes: the branch enabled, the 票券核銷 right at modify, the product's redeem-branch
list, a partner store's grant while the relation is open), and their tickets the status
machine would let a clerk redeem now (unused, or unused past the escrow end; an expired gift
voucher is left out). Never a plain code, a serial, a holder or a mobile.

The code hash. The page computes it with WebCrypto from what the clerk typed, normalised as the
server does (`tickets.codes.normalise_code`): the first 48 bits of SHA-256(salt ‖ code), the
salt 16 random bytes new in every snapshot and signed with it. The trade-off:
- A code carries 75 random bits. Someone holding the snapshot can test guesses offline, and
  with one salt for all N entries each guess is tested against all of them at once: about
  2^75 / N guesses per code found (N = 100,000: about 2^58, weeks of one GPU) if the whole
  hash were kept. Keeping 48 bits changes what such a search finds: each entry is matched by
  about 2^27 well-formed codes, so a match is the real code once in 2^27 and the rest can only
  be told apart by trying them at a counter, where failed look-ups are limited per account.
- A slow hash (PBKDF2, scrypt) would make each guess cost more, but the server would pay that
  cost for every ticket of every snapshot every few minutes (100,000 PBKDF2 of 10,000 rounds:
  minutes of CPU per refresh), and salting per ticket would make the page hash a scan once per
  entry. Neither is affordable; a short hash of a long random code is.
- The cost of 48 bits: a well-formed code that is not in the snapshot matches an entry with a
  chance of N / 2^48 (3.6e-10 for N = 100,000), and two entries of one snapshot share a
  hash with a chance of about N² / 2^49 (2e-5): such entries are left out (looked up online).
- The salt changes with every snapshot, so two snapshots cannot be matched entry by entry to
  follow a ticket, and nothing can be computed before a snapshot is taken.

The signature. Ed25519 over the payload's exact bytes (the page verifies those bytes with
WebCrypto before parsing them and refuses a snapshot whose signature or age is wrong). The
private key: `OFFLINE_SIGNING_KEY` in the app's config or `ECTIX_OFFLINE_SIGNING_KEY` in the
environment (a base64 32-byte Ed25519 seed); without it a development or test app derives one
from SECRET_KEY, and a production app offers no offline mode (the snapshot answers 404). The
page holds the public half.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import clock, credentials
from app.auth.models import Account
from app.db import db
from app.products import access
from app.products.models import Product, ProductKind, ProductPartner
from app.stores.models import Store
from app.tickets import codes, lifecycle
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

VERSION = 1
HASH_NAME = "sha256-48"  # the first 48 bits (12 hex) of SHA-256(salt ‖ code)
HASH_HEX = 12
SALT_BYTES = 16
DEFAULT_MAX_AGE_HOURS = 24
DEFAULT_REFRESH_SECONDS = 300
DEFAULT_MAX_TICKETS = 50_000
CLOCK_SKEW = timedelta(minutes=5)  # a snapshot "from the future" by more than this is refused
REDEEMABLE = (TicketStatus.UNUSED, TicketStatus.UNUSED_ESCROW_EXPIRED)


class SnapshotRefused(Exception):
    """A snapshot that must not be redeemed from: its signature, its shape or its age."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "signature" | "age" | "malformed" | "scope"
        self.message = message


BAD_SIGNATURE = "離線核銷資料的簽章不符，無法離線核銷，請連線後重新下載"
TOO_OLD = "離線核銷資料已超過 {hours} 小時未更新，無法離線核銷，請連線後重新下載"
FROM_THE_FUTURE = "離線核銷資料的時間晚於本機時間，請確認裝置時間是否正確"
MALFORMED = "離線核銷資料格式不符，無法離線核銷，請連線後重新下載"
OTHER_COUNTER = "離線核銷資料不屬於此櫃台（商店、分店或帳號不同），請連線後重新下載"


# Settings ---------------------------------------------------------------------------------

def _setting(name: str, env: str, default: int) -> int:
    """A whole-number setting: the app's config, else the environment, else the default."""
    value = current_app.config.get(name)
    if value is None:
        raw = os.environ.get(env, "").strip()
        value = int(raw) if raw.isdigit() else default
    return max(int(value), 1)


def max_age() -> timedelta:
    """How old a snapshot may be and still be redeemed from (ECTIX_OFFLINE_MAX_AGE_HOURS)."""
    return timedelta(hours=_setting("OFFLINE_MAX_AGE_HOURS", "ECTIX_OFFLINE_MAX_AGE_HOURS",
                                    DEFAULT_MAX_AGE_HOURS))


def refresh_seconds() -> int:
    """How often an online counter fetches a fresh snapshot (ECTIX_OFFLINE_REFRESH_SECONDS)."""
    return _setting("OFFLINE_REFRESH_SECONDS", "ECTIX_OFFLINE_REFRESH_SECONDS",
                    DEFAULT_REFRESH_SECONDS)


def max_tickets() -> int:
    """The most tickets one snapshot holds (ECTIX_OFFLINE_MAX_TICKETS): a bigger counter gets
    its newest tickets and is told the rest are looked up online only."""
    return _setting("OFFLINE_MAX_TICKETS", "ECTIX_OFFLINE_MAX_TICKETS", DEFAULT_MAX_TICKETS)


# Keys -------------------------------------------------------------------------------------

def _seed() -> bytes | None:
    configured = (current_app.config.get("OFFLINE_SIGNING_KEY")
                  or os.environ.get("ECTIX_OFFLINE_SIGNING_KEY", "").strip())
    if configured:
        try:
            seed = base64.b64decode(configured, altchars=b"-_", validate=False)
        except (binascii.Error, ValueError):
            seed = b""
        if len(seed) != 32:
            raise RuntimeError("ECTIX_OFFLINE_SIGNING_KEY must be a base64 32-byte Ed25519 seed")
        return seed
    if credentials.is_production(current_app.config):
        return None
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"ectix offline snapshot key",
                    hashlib.sha256).digest()


@cache
def _key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey | None:
    """The snapshot signing key, or None where offline mode has no key (production unset)."""
    seed = _seed()
    return _key_from_seed(seed) if seed is not None else None


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as the page holds it: base64url of the 32 raw bytes."""
    return _b64(public_bytes(key))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# The hash ---------------------------------------------------------------------------------

def code_hash(salt: bytes, typed: str) -> str:
    """The snapshot's key for a code: what the page computes from a scan (module docstring)."""
    code = codes.normalise_code(typed)
    return hashlib.sha256(salt + code.encode("utf-8")).hexdigest()[:HASH_HEX]


# Building ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counter:
    """Whose snapshot: the acting store, the clerk, and the clerk's branch (None: head office)."""

    store: Store
    account: Account

    @property
    def branch_id(self) -> int | None:
        return access.unit_for(self.account, self.store).branch_id


def redeemable_products(counter: Counter) -> list[Product]:
    """The products whose tickets this counter may redeem: the store's own and those granted to
    it, each passed through the counter's own rule (`access.redeem_refusal`)."""
    store_id = counter.store.id
    granted = select(ProductPartner.product_id).where(ProductPartner.partner_store_id == store_id)
    found = db.session.scalars(
        select(Product).where((Product.store_id == store_id) | Product.id.in_(granted))
        .options(selectinload(Product.branch_links), selectinload(Product.partner_links))
        .order_by(Product.id).execution_options(unscoped=True)).all()
    return [p for p in found if access.redeem_refusal(counter.account, counter.store, p) is None]


def _window_end(kind: str, expires_on: Any) -> str | None:
    """Until when the page may redeem it: a gift voucher until 23:59:59 Taipei of its validity
    end; a pickup voucher has no end (past its escrow end it is redeemed 逾期兌回)."""
    if kind != ProductKind.GIFT.value:
        return None
    return _iso(clock.day_end(expires_on))


def _window_start(valid_from: Any) -> str | None:
    return _iso(clock.day_start(valid_from)) if valid_from is not None else None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(counter: Counter, *, now: datetime | None = None) -> dict[str, Any]:
    """The snapshot's payload (not yet signed): the counter, when, the salt, the products, and
    the code hash → [ticket id, status, product id, usable from, usable until] of each ticket."""
    now = now or clock.now()
    salt = secrets.token_bytes(SALT_BYTES)
    products = redeemable_products(counter)
    limit = max_tickets()
    rows = db.session.execute(
        select(Ticket.id, Ticket.serial, Ticket.secret_salt, Ticket.secret_version,
               Ticket.code_digest, Ticket.code_sealed, Ticket.status, Ticket.kind,
               Ticket.face_value, Ticket.expires_on, Ticket.valid_from, Ticket.product_id)
        .where(Ticket.product_id.in_([p.id for p in products]), Ticket.status.in_(REDEEMABLE))
        .order_by(Ticket.id.desc()).limit(limit + 1)
        .execution_options(unscoped=True)).all() if products else []
    partial = len(rows) > limit
    entries: dict[str, list[Any]] = {}
    shared: set[str] = set()
    for row in rows[:limit]:
        status = lifecycle.effective_status(lifecycle.Facts.of(row), now)
        if status not in REDEEMABLE:
            continue  # an expired gift voucher
        digest = code_hash(salt, Ticket.code.of(row))
        if digest in entries:
            shared.add(digest)
        kind = row.kind.value
        entries[digest] = [row.id, status.value, row.product_id, _window_start(row.valid_from),
                           _window_end(kind, row.expires_on)]
    for digest in shared:  # two tickets, one hash: neither is redeemed offline
        del entries[digest]
    return {
        "v": VERSION, "id": secrets.token_hex(8), "store": counter.store.id,
        "branch": counter.branch_id, "account": counter.account.id,
        "issued_at": _iso(now), "expires_at": _iso(now + max_age()),
        "hash": HASH_NAME, "salt": salt.hex(), "partial": partial, "count": len(entries),
        "products": {str(p.id): {"name": p.name, "kind": p.kind.value, "face_value": p.face_value}
                     for p in products},
        "tickets": entries,
    }


def sign(payload: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """The envelope the page keeps: the payload's exact text, its signature and the key's id."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return {"payload": text, "signature": _b64(key.sign(text.encode("utf-8"))),
            "key_id": key_id(key)}


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


# Verifying --------------------------------------------------------------------------------

def verify(envelope: Any, public: Ed25519PublicKey, *, now: datetime,
           age: timedelta) -> dict[str, Any]:
    """The payload of a snapshot that may be redeemed from, or SnapshotRefused: a signature that
    does not verify over the payload's exact bytes, a shape that is not a snapshot's, an age
    beyond `age` (or a time too far ahead of `now`). What the page checks, on the server."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str) \
            or not isinstance(envelope.get("signature"), str):
        raise SnapshotRefused("malformed", MALFORMED)
    try:
        signature = _unb64(envelope["signature"])
        public.verify(signature, envelope["payload"].encode("utf-8"))
    except (InvalidSignature, ValueError, binascii.Error):
        raise SnapshotRefused("signature", BAD_SIGNATURE) from None
    try:
        payload = json.loads(envelope["payload"])
        issued = datetime.fromisoformat(payload["issued_at"])
        expires = datetime.fromisoformat(payload["expires_at"])
    except (ValueError, KeyError, TypeError):
        raise SnapshotRefused("malformed", MALFORMED) from None
    if payload.get("v") != VERSION or issued.tzinfo is None or expires.tzinfo is None:
        raise SnapshotRefused("malformed", MALFORMED)
    if issued > now + CLOCK_SKEW:
        raise SnapshotRefused("age", FROM_THE_FUTURE)
    if now - issued > age or now > expires:
        raise SnapshotRefused("age", TOO_OLD.format(hours=_hours(age)))
    return payload


def _hours(age: timedelta) -> int:
    return max(int(age.total_seconds() // 3600), 1)


def public_key_of(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text))

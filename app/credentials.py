"""Secrets at rest: the server key ring and the keyed functions that keep credentials out of the
database (issue 17 item 5).

Redemption codes (核銷代碼), e-ticket links and convenience-store pickup codes (取票代碼) are not
stored. A row keeps a random salt, the version of the key it was made under and a keyed digest
(HMAC-SHA256) of each credential; the credential itself is derived again from the key and the
salt whenever a screen shows it or a notice sends it, and a typed or scanned value is found by
its digest (one probe of a unique index). Rows from before this change, and rows moved to a new
key by `flask secrets rotate`, keep their existing value *sealed*: XORed with a key stream of
the server key, useless without it. Outbox messages hold a credential only as a sealed marker
(`conceal`), opened when the message is sent and shown masked on the screens.

Keys: ECTIX_CODE_KEY is the current key (version ECTIX_CODE_KEY_VERSION, default 1); a retired
key stays readable as ECTIX_CODE_KEY_<version> until `flask secrets rotate` has moved its rows.
Without ECTIX_CODE_KEY a development or test app derives one from SECRET_KEY; a production app
(PostgreSQL, neither debug nor testing) refuses to start (docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app
from sqlalchemy import bindparam

SALT_HEX = 32  # 16 random bytes per row
MISSING_KEY = ("ECTIX_CODE_KEY is not set: a production server needs its own key for codes and "
               "links (docs/operations.md)")


def keys_from_environment(environ: dict[str, str], secret_key: str) -> tuple[int, dict[int, bytes]]:
    """(current version, {version: key}) from ECTIX_CODE_KEY[_VERSION|_<n>]; without
    ECTIX_CODE_KEY, version 1 derived from SECRET_KEY (development and tests only)."""
    version = int(environ.get("ECTIX_CODE_KEY_VERSION") or 1)
    ring = {int(name.rsplit("_", 1)[1]): value.encode()
            for name, value in environ.items()
            if re.fullmatch(r"ECTIX_CODE_KEY_\d+", name) and value}
    current = environ.get("ECTIX_CODE_KEY")
    if current:
        ring[version] = current.encode()
    else:
        ring[version] = hmac.new(secret_key.encode(), b"ectix code key",
                                 hashlib.sha256).hexdigest().encode()
    return version, ring


def is_production(config: dict) -> bool:
    uri = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    return (uri.startswith("postgresql") and not config.get("TESTING")
            and not config.get("DEBUG"))


def init_app(app: Flask) -> None:
    """Fill CODE_KEY_VERSION and CODE_KEYS unless the caller gave them; refuse a production app
    without its own key."""
    if app.config.get("CODE_KEYS"):
        return
    if not os.environ.get("ECTIX_CODE_KEY") and is_production(app.config):
        raise RuntimeError(MISSING_KEY)
    version, ring = keys_from_environment(dict(os.environ), app.config["SECRET_KEY"])
    app.config["CODE_KEY_VERSION"] = version
    app.config["CODE_KEYS"] = ring


def current_version() -> int:
    return current_app.config["CODE_KEY_VERSION"]


def key(version: int) -> bytes:
    try:
        return current_app.config["CODE_KEYS"][version]
    except KeyError:
        raise RuntimeError(f"code key version {version} is not configured "
                           f"(set ECTIX_CODE_KEY_{version}; docs/operations.md)") from None


def known_keys() -> Iterable[bytes]:
    return current_app.config["CODE_KEYS"].values()


def new_salt() -> str:
    return secrets.token_hex(SALT_HEX // 2)


# ---- pure keyed functions ----------------------------------------------------------------

def prf(key_bytes: bytes, label: str, size: int) -> bytes:
    """`size` pseudo-random bytes for `label` under the key (HMAC-SHA256 in counter mode)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hmac.new(key_bytes, f"{counter}:{label}".encode(), hashlib.sha256).digest()
        counter += 1
    return out[:size]


def digest(key_bytes: bytes, kind: str, value: str) -> str:
    """The stored, indexed stand-in of a credential: 64 hex characters."""
    return hmac.new(key_bytes, f"digest:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def digests(kind: str, value: str) -> list[str]:
    """The digest of a typed value under every configured key (one, unless a rotation is under
    way): the lookups probe the unique digest index with these."""
    return [digest(k, kind, value) for k in known_keys()]


def seal(key_bytes: bytes, label: str, plain: str) -> str:
    """An existing value kept in a row: XORed with the key stream of (key, label), hex."""
    data = plain.encode()
    stream = prf(key_bytes, f"seal:{label}", len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True)).hex()


def unseal(key_bytes: bytes, label: str, sealed: str) -> str:
    data = bytes.fromhex(sealed)
    stream = prf(key_bytes, f"seal:{label}", len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True)).decode()


# ---- secrets kept to be used again ---------------------------------------------------------
# A secret the platform must read back in plain (a store's HashKey/HashIV, a TOTP key) is kept
# encrypted and authenticated (AES-GCM) under a key derived from the current code key, its
# version in front so that a rotation leaves older ones readable; `label` binds it to its row.

def _aead(version: int) -> AESGCM:
    return AESGCM(prf(key(version), "aead", 32))


def seal_secret(label: str, plain: str) -> str:
    version = current_version()
    nonce = os.urandom(12)
    box = _aead(version).encrypt(nonce, plain.encode(), f"secret:{label}".encode())
    return f"v{version}:" + base64.urlsafe_b64encode(nonce + box).decode("ascii")


def open_secret(label: str, sealed: str) -> str:
    """The plain secret; RuntimeError when it does not open (another key, another row)."""
    version, _, body = sealed.partition(":")
    try:
        raw = base64.urlsafe_b64decode(body)
        plain = _aead(int(version.removeprefix("v"))).decrypt(raw[:12], raw[12:],
                                                              f"secret:{label}".encode())
    except (ValueError, InvalidTag) as exc:
        raise RuntimeError(f"a sealed secret ({label}) does not open under the code key") from exc
    return plain.decode()


# ---- outbox markers --------------------------------------------------------------------

_MARKER = re.compile(r"⟦s(\d+):([0-9a-f]{32}):([0-9a-f]*):([^⟧]*)⟧")


def conceal(value: str, masked: str) -> str:
    """A credential inside an outbox message: sealed under the current key with a fresh nonce,
    carrying the masked form the screens show. `reveal_text` opens it at send time."""
    version = current_version()
    nonce = new_salt()
    sealed = seal(key(version), f"outbox:{nonce}", value)
    return f"⟦s{version}:{nonce}:{sealed}:{masked.replace('⟧', '')}⟧"


def reveal_text(text: str) -> str:
    """The message as sent: every marker opened."""
    return _MARKER.sub(lambda m: unseal(key(int(m[1])), f"outbox:{m[2]}", m[3]), text or "")


def masked_text(text: str) -> str:
    """The message as the screens show it: every marker replaced by its masked form."""
    return _MARKER.sub(lambda m: m[4], text or "")


def mask(value: str, keep: int = 4) -> str:
    """All but the last `keep` characters as *."""
    shown = value[len(value) - keep:] if 0 < keep < len(value) else ("" if keep <= 0 else value)
    return "*" * (len(value) - len(shown)) + shown


# ---- the model attribute -----------------------------------------------------------------

class Credential:
    """A model attribute standing for a credential the row does not store.

    The row has `secret_salt`, `secret_version`, `<name>_digest` and `<name>_sealed` columns.
    Reading gives the plain value (the sealed one if the row has it, else derived from the key
    and the salt by `derive(row, key)`); None when the row has no such credential (no digest).
    Assigning keeps the given value sealed (tests, migrated rows); None removes it. In queries,
    `Model.attr.matches(typed)` is the digest probe; `Model.attr == x` is refused, so no query
    compares a stored plain value by mistake.
    """

    def __init__(self, kind: str, derive) -> None:  # noqa: ANN001
        self.kind = kind
        self.derive = derive

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.digest_attr = f"{name}_digest"
        self.sealed_attr = f"{name}_sealed"

    def __get__(self, row, owner=None):  # noqa: ANN001, ANN204
        if row is None:
            return self
        if getattr(row, self.digest_attr) is None:
            return None
        key_bytes = key(row.secret_version)
        if sealed := getattr(row, self.sealed_attr):
            return unseal(key_bytes, f"{self.kind}:{row.secret_salt}", sealed)
        return self.derive(row, key_bytes)

    def __set__(self, row, value: str | None) -> None:  # noqa: ANN001
        if value is None:
            setattr(row, self.digest_attr, None)
            setattr(row, self.sealed_attr, None)
            return
        if not row.secret_salt:
            row.secret_salt = new_salt()
        if row.secret_version is None:
            row.secret_version = current_version()
        key_bytes = key(row.secret_version)
        setattr(row, self.sealed_attr, seal(key_bytes, f"{self.kind}:{row.secret_salt}", value))
        setattr(row, self.digest_attr, digest(key_bytes, self.kind, value))

    def of(self, row):  # noqa: ANN001, ANN201
        """The value for anything with the row's attributes (a report row)."""
        return self.__get__(row)

    def __eq__(self, other: object) -> bool:
        raise TypeError(f"{self.kind} is not stored: use .matches(value)")

    __hash__ = object.__hash__

    def matches(self, value: str):  # noqa: ANN201
        """The query condition for a typed value: one probe of the digest's unique index."""
        column = getattr(self.owner, self.digest_attr)
        found = digests(self.kind, value)
        return column == found[0] if len(found) == 1 else column.in_(found)

    def matches_bound(self, name: str, count: int):  # noqa: ANN201
        """`matches` for a statement built once, for `count` configured keys: the digests are
        bound at execution (`bound_digests`) as `name_0` … `name_{count-1}`, so the statement's
        text never changes (an expanding IN would be rendered again at every execution)."""
        column = getattr(self.owner, self.digest_attr)
        return column.in_([bindparam(f"{name}_{n}", type_=column.type) for n in range(count)])

    def bound_digests(self, name: str, value: str) -> dict[str, str]:
        """The parameters of `matches_bound(name, len(result))` for a typed value."""
        return {f"{name}_{n}": found for n, found in enumerate(digests(self.kind, value))}

    def renew(self, row) -> None:  # noqa: ANN001
        """A fresh value derived under the current key (the row's other credentials of the same
        salt are renewed with it: call on each)."""
        setattr(row, self.sealed_attr, None)
        setattr(row, self.digest_attr, digest(key(row.secret_version), self.kind,
                                              self.derive(row, key(row.secret_version))))


def fresh_salt(row) -> None:  # noqa: ANN001
    """A new salt under the current key for a row whose credentials are about to be renewed."""
    row.secret_salt = new_salt()
    row.secret_version = current_version()


def move_to_current_key(row, attributes: Iterable[Credential]) -> bool:  # noqa: ANN001
    """Re-keep a row's credentials under the current key, their values unchanged (sealed under
    the new key): after this the retired key is no longer needed for the row. False when the row
    already uses the current key."""
    if row.secret_version == current_version():
        return False
    values = [(attribute, attribute.__get__(row)) for attribute in attributes]
    row.secret_version = current_version()
    for attribute, value in values:
        attribute.__set__(row, value)
    return True

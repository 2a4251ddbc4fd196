"""The AES envelope of ECPay's JSON APIs (the card back office `DoAction`, the ECTicket API) and
the ECTicket CheckMacValue. Pure: no Flask.

Data: JSON → URL-encoded (PHP `urlencode`) → AES-128-CBC (key = HashKey, IV = HashIV, PKCS7)
→ standard Base64. Decoding is lenient where clients differ (whitespace and missing `=` in the
Base64, `%xx` in either case, `+` as space) and strict elsewhere (padding, UTF-8, a JSON object).

What we send is serialised so that every client's URL encoding gives the same text: compact
ASCII-only JSON in which space `! ' ( ) * ~` are also escaped as `\\u00XX` inside strings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


class DecryptError(ValueError):
    """The Data could not be decoded (Base64, AES, padding, URL-decoding, UTF-8)."""


class NotJsonObject(ValueError):
    """The decrypted Data is not a JSON object."""


def php_urlencode(text: str) -> str:
    """PHP `urlencode`: letters, digits and `-_.` kept, space `+`, the rest `%XX` (upper hex)."""
    # Python's quote always keeps `~`; PHP escapes it.
    return quote(text, safe="-_.").replace("~", "%7E").replace("%20", "+")


def encode_uri_component(text: str) -> str:
    """JavaScript `encodeURIComponent`: also keeps `! ' ( ) * ~`, space is `%20`."""
    return quote(text, safe="-_.!~*'()")


def escape_data_string(text: str) -> str:
    """.NET `Uri.EscapeDataString` (RFC 3986 unreserved kept: `-_.~`), space `%20`."""
    return quote(text, safe="-_.~")


def _cipher(hash_key: str, hash_iv: str) -> Cipher:
    key, iv = hash_key.encode("ascii"), hash_iv.encode("ascii")
    if len(key) != BLOCK or len(iv) != BLOCK:
        raise ValueError("HashKey and HashIV must be 16 ASCII characters")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def encrypt_text(urlencoded: str, hash_key: str, hash_iv: str) -> str:
    """AES-CBC + PKCS7 + Base64 of an already URL-encoded ASCII text."""
    padder = padding.PKCS7(128).padder()
    plain = padder.update(urlencoded.encode("ascii")) + padder.finalize()
    enc = _cipher(hash_key, hash_iv).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _urldecode(text: str) -> bytes:
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise DecryptError("bad percent escape")
    raw = text.replace("+", " ").encode("ascii")
    return _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), raw.decode("ascii")).encode("latin-1")


def decrypt_text(data: str, hash_key: str, hash_iv: str) -> str:
    """Base64 → AES → PKCS7 → URL-decode → UTF-8; DecryptError on any failure."""
    compact = re.sub(r"\s+", "", data or "")
    compact += "=" * (-len(compact) % 4)
    try:
        blob = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("bad base64") from exc
    if not blob or len(blob) % BLOCK:
        raise DecryptError("length is not a multiple of 16")
    dec = _cipher(hash_key, hash_iv).decryptor()
    padded = dec.update(blob) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return _urldecode(plain.decode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise DecryptError(str(exc)) from exc


def decrypt_json(data: str, hash_key: str, hash_iv: str) -> tuple[dict[str, Any], str]:
    """The Data's JSON object and its plaintext (for the ECTicket MAC, never re-serialised)."""
    text = decrypt_text(data, hash_key, hash_iv)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise NotJsonObject("not JSON") from exc
    if not isinstance(value, dict):
        raise NotJsonObject("not a JSON object")
    return value, text


_ESCAPED = {c: f"\\u{ord(c):04x}" for c in " !'()*~"}


def serialise(value: Any) -> str:
    """Our JSON: compact, ASCII-only, with space `! ' ( ) * ~` escaped inside strings."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    out, in_string, escaped = [], False, False
    for ch in text:
        if in_string and not escaped and ch in _ESCAPED:
            out.append(_ESCAPED[ch])
            continue
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = in_string
        elif ch == '"':
            in_string = not in_string
        out.append(ch)
    return "".join(out)


def encrypt_json(value: Any, hash_key: str, hash_iv: str) -> tuple[str, str]:
    """(Data, plaintext) of a value we send."""
    text = serialise(value)
    return encrypt_text(php_urlencode(text), hash_key, hash_iv), text


# The ECTicket CheckMacValue: UPPER(SHA256(lower(URLENCODE(HashKey + plaintext + HashIV)))) ----

ENCODERS = {"php": php_urlencode, "uri_component": encode_uri_component,
            "escape_data_string": escape_data_string}


def ticket_check_mac_value(plaintext: str, hash_key: str, hash_iv: str,
                           encoding: str = "php") -> str:
    encoded = ENCODERS[encoding](hash_key + plaintext + hash_iv).lower()
    return hashlib.sha256(encoded.encode("ascii")).hexdigest().upper()


def verify_ticket_mac(plaintext: str, received: str, hash_key: str, hash_iv: str) -> bool:
    """Accepts the MAC of any of the three URL encodings clients use (constant-time compares)."""
    wanted = (received or "").upper()
    if not wanted.isascii():
        return False
    results = [hmac.compare_digest(ticket_check_mac_value(plaintext, hash_key, hash_iv, e), wanted)
               for e in ENCODERS]
    return any(results)

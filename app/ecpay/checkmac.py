"""The AioCheckOut CheckMacValue (檢查碼), exactly as ECPay computes it.

1. every field but CheckMacValue, empty values and unknown names kept;
2. sorted by the lower-cased name (ordinal, as PHP's strcasecmp: `_` sorts before letters);
3. `HashKey=<key>&name=value&…&HashIV=<iv>`;
4. URL-encoded the .NET way: per UTF-8 byte, letters, digits and `- _ . ! * ( )` kept, space to
   `+`, every other byte `%XX`; then the whole string lower-cased;
5. SHA256 (EncryptType 1; MD5 for the logistics and invoice APIs), hex, upper-cased.

Values are hashed exactly as form-decoded: no trimming, no second URL-decode. Pure: no Flask.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

FIELD = "CheckMacValue"
_KEPT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!*()")
_PYSDK_KEPT = _KEPT | {ord("~")}
_HASHES = {"sha256": hashlib.sha256, "md5": hashlib.md5}


def _encode(text: str, kept: frozenset[int]) -> str:
    out = []
    for byte in text.encode("utf-8"):
        if byte in kept:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def ecpay_urlencode(text: str) -> str:
    """ECPay's URL encoding (.NET HttpUtility.UrlEncode): space `+`, `-_.!*()` kept."""
    return _encode(text, _KEPT)


def mac_source(fields: Mapping[str, str], hash_key: str, hash_iv: str) -> str:
    """The string that is encoded and hashed (before encoding)."""
    items = sorted(((k, v) for k, v in fields.items() if k != FIELD), key=lambda kv: kv[0].lower())
    return "HashKey=" + hash_key + "".join(f"&{k}={v}" for k, v in items) + "&HashIV=" + hash_iv


def check_mac_value(fields: Mapping[str, str], hash_key: str, hash_iv: str,
                    method: str = "sha256") -> str:
    """The CheckMacValue of these fields (upper-case hex)."""
    encoded = ecpay_urlencode(mac_source(fields, hash_key, hash_iv)).lower()
    return _HASHES[method](encoded.encode("ascii")).hexdigest().upper()


def pysdk_check_mac_value(fields: Mapping[str, str], hash_key: str, hash_iv: str) -> str:
    """What ECPay's Python SDK sends: the same, except that `~` is left unencoded."""
    encoded = _encode(mac_source(fields, hash_key, hash_iv), _PYSDK_KEPT).lower()
    return hashlib.sha256(encoded.encode("ascii")).hexdigest().upper()


def verify(fields: Mapping[str, str], hash_key: str, hash_iv: str, *,
           accept_pysdk_tilde: bool = True) -> bool:
    """Whether the fields' CheckMacValue is right for this key pair (constant-time compare,
    letter case ignored). The Python SDK's variant is accepted only when a value holds `~`
    (where it differs) and `accept_pysdk_tilde` is on."""
    received = (fields.get(FIELD) or "").upper()
    if not received or not received.isascii():
        return False
    if hmac.compare_digest(check_mac_value(fields, hash_key, hash_iv), received):
        return True
    if accept_pysdk_tilde and any("~" in f"{k}{v}" for k, v in fields.items() if k != FIELD):
        return hmac.compare_digest(pysdk_check_mac_value(fields, hash_key, hash_iv), received)
    return False


def signed(fields: Mapping[str, str], hash_key: str, hash_iv: str) -> dict[str, str]:
    """The fields with their CheckMacValue added (what a notice or a posted result sends)."""
    out = {k: v for k, v in fields.items() if k != FIELD}
    out[FIELD] = check_mac_value(out, hash_key, hash_iv)
    return out

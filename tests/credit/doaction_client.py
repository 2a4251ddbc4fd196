"""A DoAction client written from the protocol alone (as a merchant would, like ECPay's PHP SDK):
PHP json_encode + urlencode, AES-128-CBC/PKCS7, Base64 — no server code. The published vectors
check it (test_doaction.py)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def php_urlencode(text: str) -> str:
    return quote_plus(text, safe="-_.").replace("~", "%7E")


def encrypt(value: dict[str, Any] | str, hash_key: str, hash_iv: str) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    padder = padding.PKCS7(128).padder()
    plain = padder.update(php_urlencode(text).encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(hash_key.encode()), modes.CBC(hash_iv.encode())).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def decrypt(data: str, hash_key: str, hash_iv: str) -> dict[str, Any]:
    dec = Cipher(algorithms.AES(hash_key.encode()), modes.CBC(hash_iv.encode())).decryptor()
    padded = dec.update(base64.b64decode(data)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(padded) + unpadder.finalize()
    return json.loads(unquote_plus(plain.decode("ascii")))


def request_body(merchant_id: str, data: dict[str, Any] | str, hash_key: str, hash_iv: str, *,
                 timestamp: int) -> dict[str, Any]:
    return {"MerchantID": merchant_id, "RqHeader": {"Timestamp": timestamp},
            "Data": encrypt(data, hash_key, hash_iv)}

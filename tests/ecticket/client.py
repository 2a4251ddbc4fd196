"""An ECTicket API client written from ECPay's protocol alone, as a merchant's system or a POS
would (no server code): Data = JSON → URL-encode → AES-128-CBC (key HashKey, IV HashIV, PKCS7)
→ Base64; CheckMacValue = UPPER(SHA256(lower(URLENCODE(HashKey + JSON + HashIV)))). It speaks
PHP style (json_encode escaping, urlencode: as ECPay's PHP SDK) or JavaScript style
(JSON.stringify, encodeURIComponent: as the RYT gateway), to a Flask test client or a URL."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def php_urlencode(text: str) -> str:
    return quote_plus(text, safe="-_.").replace("~", "%7E")


def encode_uri_component(text: str) -> str:
    return quote(text, safe="-_.!~*'()")


STYLES: dict[str, tuple[Callable[[Any], str], Callable[[str], str], Callable[[str], str]]] = {
    # (serialise, URL-encode, URL-decode)
    "php": (lambda v: json.dumps(v, separators=(",", ":")).replace("/", "\\/"), php_urlencode,
            unquote_plus),
    "js": (lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
           encode_uri_component, unquote),
}


def _aes(hash_key: str, hash_iv: str) -> Cipher:
    return Cipher(algorithms.AES(hash_key.encode()), modes.CBC(hash_iv.encode()))


def encrypt_text(urlencoded: str, hash_key: str, hash_iv: str) -> str:
    padder = padding.PKCS7(128).padder()
    plain = padder.update(urlencoded.encode("ascii")) + padder.finalize()
    enc = _aes(hash_key, hash_iv).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def decrypt_text(data: str, hash_key: str, hash_iv: str) -> str:
    dec = _aes(hash_key, hash_iv).decryptor()
    padded = dec.update(base64.b64decode(data)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("ascii")


def check_mac_value(plaintext: str, hash_key: str, hash_iv: str, style: str = "php") -> str:
    encoded = STYLES[style][1](hash_key + plaintext + hash_iv).lower()
    return hashlib.sha256(encoded.encode("ascii")).hexdigest().upper()


class TransportError(Exception):
    """TransCode ≠ 1: the envelope was refused."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(f"{body.get('TransCode')} {body.get('TransMsg')}")
        self.body = body


@dataclass
class Client:
    merchant_id: str
    hash_key: str
    hash_iv: str
    post: Callable[[str, bytes], dict[str, Any]]  # (path, body) → the JSON answer
    style: str = "php"
    platform_id: str = ""
    clock: Callable[[], float] = time.time
    sent: list[dict[str, Any]] = field(default_factory=list)

    def envelope(self, data: dict[str, Any], *, timestamp: int | None = None) -> dict[str, Any]:
        serialise, urlencode, _ = STYLES[self.style]
        plaintext = serialise({"MerchantID": self.merchant_id} | data)
        body: dict[str, Any] = {
            "MerchantID": self.merchant_id,
            "RqHeader": {"Timestamp": timestamp if timestamp is not None else round(self.clock())},
            "Data": encrypt_text(urlencode(plaintext), self.hash_key, self.hash_iv),
            "CheckMacValue": check_mac_value(plaintext, self.hash_key, self.hash_iv, self.style),
        }
        if self.platform_id:
            body["PlatformID"] = self.platform_id
        return body

    def open(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The answer's Data, its CheckMacValue verified; TransportError if TransCode ≠ 1."""
        if answer.get("TransCode") != 1:
            raise TransportError(answer)
        _, _, urldecode = STYLES[self.style]
        plaintext = urldecode(decrypt_text(answer["Data"], self.hash_key, self.hash_iv))
        wanted = check_mac_value(plaintext, self.hash_key, self.hash_iv, self.style)
        if answer.get("CheckMacValue") != wanted:
            raise AssertionError(f"CheckMacValue mismatch: {answer.get('CheckMacValue')} != {wanted}")
        return json.loads(plaintext)

    def call(self, name: str, data: dict[str, Any], *, prefix: str = "Ticket") -> dict[str, Any]:
        body = self.envelope(data)
        self.sent.append(body)
        return self.open(self.post(f"/api/{prefix}/{name}", json.dumps(body).encode()))


def flask_poster(client) -> Callable[[str, bytes], dict[str, Any]]:  # noqa: ANN001
    def post(path: str, body: bytes) -> dict[str, Any]:
        response = client.post(path, data=body, content_type="application/json", csrf=False)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_json()
    return post


def http_poster(base_url: str, timeout: float = 30) -> Callable[[str, bytes], dict[str, Any]]:
    def post(path: str, body: bytes) -> dict[str, Any]:
        request = urllib.request.Request(f"{base_url}{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            assert response.status == 200
            return json.loads(response.read().decode("utf-8"))
    return post

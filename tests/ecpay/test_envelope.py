"""The AES envelope and the ECTicket CheckMacValue against the published (and derived) vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ecpay.envelope import (
    DecryptError,
    NotJsonObject,
    decrypt_json,
    encode_uri_component,
    encrypt_json,
    encrypt_text,
    php_urlencode,
    ticket_check_mac_value,
    verify_ticket_mac,
)

VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))
B, C = VECTORS["B"], VECTORS["C"]
ENCODE = {"php_urlencode": php_urlencode, "encodeURIComponent": encode_uri_component}
CMV_KEYS = {"cmv_php_urlencode": "php", "cmv_encodeURIComponent": "uri_component",
            "cmv_EscapeDataString": "escape_data_string"}


@pytest.mark.parametrize("name", sorted(B))
def test_aes_vector_encrypts_and_decrypts(name: str) -> None:
    v = B[name]
    encoded = ENCODE[v["url_encoding"]](v["plaintext_json"])
    assert encrypt_text(encoded, v["hashKey"], v["hashIV"]) == v["expected_base64"]
    value, text = decrypt_json(v["expected_base64"], v["hashKey"], v["hashIV"])
    assert text == v["plaintext_json"]
    assert value == json.loads(v["plaintext_json"])


@pytest.mark.parametrize("name", sorted(C))
def test_ticket_mac_vector(name: str) -> None:
    v = C[name]
    for field, encoding in CMV_KEYS.items():
        if field in v:
            got = ticket_check_mac_value(v["plaintext_json"], v["hashKey"], v["hashIV"], encoding)
            assert got == v[field], field
            assert verify_ticket_mac(v["plaintext_json"], v[field].lower(), v["hashKey"], v["hashIV"])
    if "data_base64" in v:
        assert decrypt_json(v["data_base64"], v["hashKey"], v["hashIV"])[1] == v["plaintext_json"]


def test_our_serialisation_gives_one_mac_for_every_encoding() -> None:
    v = C["C5"]
    value = json.loads(v["plaintext_json"])
    data, text = encrypt_json(value, v["hashKey"], v["hashIV"])
    assert text == v["plaintext_json"]
    assert data == v["data_base64"]


@pytest.mark.parametrize("bad", ["", "!!!", "AAAA", "a" * 22])
def test_garbage_is_a_decrypt_error(bad: str) -> None:
    with pytest.raises(DecryptError):
        decrypt_json(bad, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")


def test_a_json_array_is_not_an_object() -> None:
    data = encrypt_text(php_urlencode("[1]"), "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")
    with pytest.raises(NotJsonObject):
        decrypt_json(data, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=5))
def test_round_trip_and_one_mac(value: dict[str, str]) -> None:
    data, text = encrypt_json(value, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")
    assert decrypt_json(data, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs") == (value, text)
    macs = {ticket_check_mac_value(text, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs", e)
            for e in ("php", "uri_component", "escape_data_string")}
    assert len(macs) == 1

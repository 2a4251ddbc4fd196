"""The AioCheckOut CheckMacValue: every published vector (a frozen copy in vectors.json), and
properties against a reference built independently from Python's quote_plus."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ecpay.checkmac import (
    check_mac_value,
    ecpay_urlencode,
    pysdk_check_mac_value,
    signed,
    verify,
)

VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))
A = {name: v for name, v in VECTORS["A"].items() if "expected" in v}
K3 = ("pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")


@pytest.mark.parametrize("name", sorted(A))
def test_published_vector(name: str) -> None:
    v = A[name]
    assert check_mac_value(v["params"], v["hashKey"], v["hashIV"], v["method"]) == v["expected"]


@pytest.mark.parametrize("name", sorted(n for n, v in A.items() if v["method"] == "sha256"))
def test_published_vector_verifies_and_a_changed_value_does_not(name: str) -> None:
    v = A[name]
    fields = dict(v["params"], CheckMacValue=v["expected"].lower())
    assert verify(fields, v["hashKey"], v["hashIV"])
    first = sorted(v["params"])[0]
    fields[first] = fields[first] + "1"
    assert not verify(fields, v["hashKey"], v["hashIV"])


def test_a1_lowered_string_is_the_published_one() -> None:
    v = VECTORS["A"]["A1"]
    from app.ecpay.checkmac import mac_source

    assert ecpay_urlencode(mac_source(v["params"], v["hashKey"], v["hashIV"])).lower() == (
        "hashkey%3dpwfhcqoqzgmho4w6%26choosepayment%3dall%26encrypttype%3d1%26itemname%3dapple+"
        "iphone+15%26merchantid%3d3002607%26merchanttradedate%3d2023%2f03%2f12+15%3a30%3a23%26"
        "merchanttradeno%3decpay20230312153023%26paymenttype%3daio%26returnurl%3dhttps%3a%2f%2f"
        "www.ecpay.com.tw%2freceive.php%26totalamount%3d30000%26tradedesc%3d%e4%bf%83%e9%8a%b7"
        "%e6%96%b9%e6%a1%88%26hashiv%3dekrm7ift261dpevs")


def test_a9_python_sdk_tilde_variant_accepted_only_by_the_switch() -> None:
    v = VECTORS["A"]["A9"]
    assert check_mac_value(v["params"], v["hashKey"], v["hashIV"]) == v["expected_canonical"]
    assert pysdk_check_mac_value(v["params"], v["hashKey"], v["hashIV"]) == v["expected_pysdk_variant"]
    fields = dict(v["params"], CheckMacValue=v["expected_pysdk_variant"])
    assert verify(fields, v["hashKey"], v["hashIV"])
    assert not verify(fields, v["hashKey"], v["hashIV"], accept_pysdk_tilde=False)


def test_space_is_plus_never_percent_20_and_case_sorting_matters() -> None:
    assert ecpay_urlencode("a b~'*") == "a+b%7E%27*"
    v = VECTORS["A"]["A3"]
    wrong = hashlib.sha256(_reference_source(v["params"], *K3, casefold=False)).hexdigest()
    assert wrong.upper() != v["expected"]


# The spec's reference algorithm, written from a different primitive -----------------------------

def _reference_encode(text: str) -> str:
    # quote_plus keeps `~` (RFC 3986 unreserved); ECPay's .NET encoder escapes it.
    return quote_plus(text, safe="-_.!*()", encoding="utf-8").replace("~", "%7E")


def _reference_source(fields: dict[str, str], key: str, iv: str, casefold: bool = True) -> bytes:
    items = [(k, v) for k, v in fields.items() if k != "CheckMacValue"]
    items.sort(key=(lambda kv: kv[0].lower()) if casefold else (lambda kv: kv[0]))
    s = "HashKey=" + key + "".join(f"&{k}={v}" for k, v in items) + "&HashIV=" + iv
    return _reference_encode(s).lower().encode("ascii")


def _reference_cmv(fields: dict[str, str], key: str, iv: str) -> str:
    return hashlib.sha256(_reference_source(fields, key, iv)).hexdigest().upper()


SPICY = st.sampled_from([" ", "~", "'", "*", "(", ")", "!", "%", "+", "&", "=", "#", "促銷", "🎫",
                         "\u00e9", "", "\t", "/", "?"])
VALUES = st.lists(st.one_of(st.text(), SPICY), max_size=6).map("".join)
NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True)


@given(st.text())
def test_encoder_equals_reference_for_any_text(text: str) -> None:
    assert ecpay_urlencode(text) == _reference_encode(text)


@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_mac_equals_reference_for_any_values(fields: dict[str, str]) -> None:
    assert check_mac_value(fields, *K3) == _reference_cmv(fields, *K3)


@given(st.dictionaries(NAMES, VALUES, min_size=1, max_size=8))
def test_signed_fields_verify(fields: dict[str, str]) -> None:
    sent = signed(fields, *K3)
    assert verify(sent, *K3)
    assert not verify(sent, "x" * 16, K3[1])

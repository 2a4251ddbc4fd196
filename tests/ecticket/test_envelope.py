"""The ECTicket envelope through the client written from the spec: the published vectors, an
accepted call (QueryItemInfo), each envelope refusal answered with its TransCode and nothing
else, PHP and JavaScript clients alike, a parent store calling for its child (PlatformID),
and another merchant's keys touching nothing of this one."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from app import clock
from app.db import db
from app.ecpay import json_api, keys
from app.products.models import ProductKind
from tests.ecticket.client import (
    Client,
    TransportError,
    check_mac_value,
    encrypt_text,
    flask_poster,
    php_urlencode,
)
from tests.factories import make_product, make_store

VECTORS = json.loads((Path(__file__).parents[1] / "ecpay" / "vectors.json").read_text("utf-8"))
PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")  # ECPay's ECTicket stage pair
OTHER = keys.Pair("b15bd8514fed472c", "9c8458263def47cd")


@pytest.mark.parametrize("name", sorted(VECTORS["C"]))
def test_the_client_reproduces_the_published_mac_vectors(name: str) -> None:
    vector = VECTORS["C"][name]
    for style, key in (("php", "cmv_php_urlencode"), ("js", "cmv_encodeURIComponent")):
        if key in vector:
            assert check_mac_value(vector["plaintext_json"], vector["hashKey"], vector["hashIV"],
                                   style) == vector[key]


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    store = make_store()
    keys.install_pair(store.id, PAIR)
    product = make_product(store, "咖啡兌換券", kind=ProductKind.PICKUP, face_value=150)
    db.session.commit()
    return store, product


def _client(client, store, *, style: str = "php", pair: keys.Pair = PAIR, **kw) -> Client:  # noqa: ANN001
    return Client(store.merchant_code, pair.hash_key, pair.hash_iv, flask_poster(client),
                  style=style, clock=lambda: clock.now().timestamp(), **kw)


@pytest.mark.parametrize("style", ["php", "js"])
def test_an_accepted_call_is_answered_in_data_with_its_mac(shop, client, style) -> None:  # noqa: ANN001
    store, product = shop
    answer = _client(client, store, style=style).call("QueryItemInfo", {"ItemNo": str(product.id)})
    assert answer == {"RtnCode": 1, "RtnMsg": "Success", "ItemNo": str(product.id),
                      "ItemName": "咖啡兌換券", "TicketType": "1", "TicketPrice": 150,
                      "ItemStatus": "1", "EscrowExpiredDate": f"{product.escrow_end:%Y%m%d}"}
    missing = _client(client, store).call("QueryItemInfo", {"ItemNo": "99999999"})
    assert (missing["RtnCode"], missing["RtnMsg"]) == (3003, "Item not found: 99999999")


def _raw(client, body) -> dict:  # noqa: ANN001
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    response = client.post("/api/Ticket/QueryItemInfo", data=raw,
                           content_type="application/json", csrf=False)
    assert response.status_code == 200
    return response.get_json()


def test_envelope_refusals(shop, client) -> None:  # noqa: ANN001
    store, product = shop
    good = _client(client, store).envelope({"ItemNo": str(product.id)})
    cases = [
        (b"not json", 10001), (b"[1,2]", 10001), (b"\xff\xfe", 10001),
        ({k: v for k, v in good.items() if k != "MerchantID"}, 10002),
        (good | {"MerchantID": 3}, 10002),
        (good | {"MerchantID": "12345678901"}, 10002),
        (good | {"RqHeader": {}}, 10002), (good | {"RqHeader": "x"}, 10002),
        (good | {"RqHeader": {"Timestamp": "soon"}}, 10002),
        ({k: v for k, v in good.items() if k != "Data"}, 10002), (good | {"Data": 5}, 10002),
        ({k: v for k, v in good.items() if k != "CheckMacValue"}, 10002),
        (good | {"CheckMacValue": "X" * 65}, 10002),
        (good | {"MerchantID": "9999999"}, 10003),
        (good | {"PlatformID": "9999999"}, 10003),
        (good | {"RqHeader": {"Timestamp": good["RqHeader"]["Timestamp"] - 602}}, 10004),
        (good | {"Data": "!!!notbase64"}, 10005), (good | {"Data": good["Data"][:-8]}, 10005),
        (good | {"Data": "QUJD"}, 10005),
        (good | {"CheckMacValue": "0" * 64}, 10007),
        (good | {"CheckMacValue": 12345}, 10002), (good | {"RqHeader": {"Timestamp": 1.5}}, 10002),
        (good | {"PlatformID": ["x"]}, 10002), (good | {"MerchantID": None}, 10002),
        (good | {"Data": base64.b64encode(b"0123456789abcdef").decode()}, 10005),  # bad padding
        (good | {"Data": good["Data"] + "A"}, 10005),
        (good | {"Pad": "x" * 300_000}, 10001),  # oversize
        (json.dumps(good).replace("{", "[" * 5000, 1), 10001),  # deep and broken
        ("[" * 100_000 + "]" * 100_000, 10001),  # deep
        (good | {"MerchantID": "30\x0007"}, 10003), (good | {"PlatformID": "1\x00"}, 10003),
    ]
    for body, code in cases:
        answer = _raw(client, body)
        assert answer["TransCode"] == code, (body, answer)
        assert answer["Data"] == "" and answer["CheckMacValue"] == ""
    assert _raw(client, good)["TransCode"] == 1


CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain",
                 "multipart/form-data")


def _post_as(client, raw: bytes | str, content_type: str, path: str = "/api/Ticket/QueryItemInfo",
             ) -> dict:  # noqa: ANN001
    response = client.post(path, data=raw, content_type=content_type, csrf=False)
    assert (response.status_code, response.content_type) == (200, "application/json; charset=utf-8")
    return response.get_json()


@pytest.mark.parametrize("path", ["/api/Ticket/QueryItemInfo", "/api/issuance/issue"])
def test_a_body_over_the_limit_is_10001_in_the_envelope_never_a_413(shop, app, client, path) -> None:  # noqa: ANN001
    """Past the API's own limit (json_api.MAX_BODY) and past the app's (MAX_CONTENT_LENGTH, where
    the rest of the app answers 413): HTTP 200 and the envelope's 10001, whatever the
    Content-Type."""
    store, product = shop
    good = json.dumps(_client(client, store).envelope({"ItemNo": str(product.id)}))
    padded = good + " " * (json_api.MAX_BODY - len(good))  # still JSON: the limit itself is fine
    for raw in (padded + " ", b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)):
        for content_type in CONTENT_TYPES:
            answer = _post_as(client, raw, content_type, path)
            assert (answer["TransCode"], answer["TransMsg"]) == (10001, "Invalid request format")
            assert (answer["Data"], answer["CheckMacValue"], answer["MerchantID"]) == ("", "", "")
    assert _post_as(client, padded, "application/json")["TransCode"] == 1


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_the_body_is_json_whatever_the_content_type(shop, client, content_type) -> None:  # noqa: ANN001
    store, product = shop
    api = _client(client, store)
    raw = json.dumps(api.envelope({"ItemNo": str(product.id)}))
    assert api.open(_post_as(client, raw, content_type))["ItemName"] == "咖啡兌換券"


def test_a_number_for_merchant_id_or_platform_id_is_the_wrong_type(shop, client) -> None:  # noqa: ANN001
    """MerchantID and PlatformID are Strings: the store's own number sent as a JSON integer is
    refused as mistyped (10002), not read as its digits and accepted."""
    store, product = shop
    good = _client(client, store).envelope({"ItemNo": str(product.id)})
    for name, body in (("MerchantID", good | {"MerchantID": int(store.merchant_code)}),
                       ("PlatformID", good | {"PlatformID": int(store.merchant_code)})):
        answer = _raw(client, body)
        assert (answer["TransCode"], answer["TransMsg"]) == (10002, f"Invalid parameter: {name}")
        assert (answer["Data"], answer["CheckMacValue"]) == ("", "")
    assert _raw(client, good | {"PlatformID": ""})["TransCode"] == 1  # "" = absent
    assert _raw(client, good | {"PlatformID": store.merchant_code})["TransCode"] == 1


def _sealed(store, plaintext: str, mac: str | None = None) -> dict:  # noqa: ANN001
    """An envelope whose Data is `plaintext` exactly (PHP urlencode, AES), signed over it."""
    return {"MerchantID": store.merchant_code,
            "RqHeader": {"Timestamp": round(clock.now().timestamp())},
            "Data": encrypt_text(php_urlencode(plaintext), PAIR.hash_key, PAIR.hash_iv),
            "CheckMacValue": mac or check_mac_value(plaintext, PAIR.hash_key, PAIR.hash_iv)}


def test_data_that_is_not_a_json_object_is_10006(shop, client) -> None:  # noqa: ANN001
    """Data decrypts (right keys, padding, URL-encoding) and is signed, but its plaintext is not
    a JSON object: 10006, checked before the MAC (a wrong MAC over it is still 10006)."""
    store, product = shop
    whole = f'{{"MerchantID":"{store.merchant_code}","ItemNo":"{product.id}"}}'
    for plaintext in (whole[:-1], "{not json", '{"MerchantID":"1",}', "[1,2]", '"text"', "12",
                      whole + "x", "{'MerchantID':'1'}", ""):
        for mac in (None, "0" * 64):
            answer = _raw(client, _sealed(store, plaintext, mac))
            assert (answer["TransCode"], answer["TransMsg"]) == (10006, "Data is not valid JSON"), \
                plaintext
            assert (answer["Data"], answer["CheckMacValue"]) == ("", "")
    assert _raw(client, _sealed(store, whole))["TransCode"] == 1
    assert _raw(client, _sealed(store, whole, "0" * 64))["TransCode"] == 10007


def test_a_timestamp_more_than_600_seconds_ahead_is_expired(shop, client) -> None:  # noqa: ANN001
    store, product = shop
    clock.freeze(clock.now().replace(microsecond=0))
    api = _client(client, store)
    now = int(clock.now().timestamp())
    for ahead, code in ((601, 10004), (3600, 10004), (10**9, 10004), (600, 1), (-600, 1),
                        (-601, 10004)):
        answer = _raw(client, api.envelope({"ItemNo": str(product.id)}, timestamp=now + ahead))
        assert answer["TransCode"] == code, ahead
        if code != 1:
            assert (answer["TransMsg"], answer["Data"]) == ("Timestamp expired", "")


def test_data_for_another_merchant_is_a_mismatch(shop, client) -> None:  # noqa: ANN001
    store, product = shop
    sender = _client(client, store)
    body = sender.envelope({"ItemNo": str(product.id)})
    forged = Client("9999999", PAIR.hash_key, PAIR.hash_iv, sender.post)
    data = forged.envelope({"ItemNo": str(product.id)})
    body |= {"Data": data["Data"], "CheckMacValue": data["CheckMacValue"]}
    assert _raw(client, body)["TransCode"] == 10008


def test_another_merchants_keys_touch_nothing_here(shop, client) -> None:  # noqa: ANN001
    store, product = shop
    other = make_store()
    keys.install_pair(other.id, OTHER)
    db.session.commit()
    with pytest.raises(TransportError) as refused:  # this store's number, the other's keys
        _client(client, store, pair=OTHER).call("QueryItemInfo", {"ItemNo": str(product.id)})
    assert refused.value.body["TransCode"] == 10005
    theirs = _client(client, other, pair=OTHER).call("QueryItemInfo", {"ItemNo": str(product.id)})
    assert theirs["RtnCode"] == 3003  # its own keys: this store's product does not exist there


def test_a_parent_calls_for_its_child_with_its_own_keys(shop, client) -> None:  # noqa: ANN001
    child, product = shop
    parent = make_store()
    keys.install_pair(parent.id, OTHER)
    stranger = make_store()
    keys.install_pair(stranger.id, OTHER)
    db.session.commit()
    with pytest.raises(TransportError) as refused:
        _client(client, child, pair=OTHER, platform_id=parent.merchant_code).call(
            "QueryItemInfo", {"ItemNo": str(product.id)})
    assert refused.value.body["TransCode"] == 10003  # not its parent yet
    child.parent_id = parent.id
    db.session.commit()
    answer = _client(client, child, pair=OTHER, platform_id=parent.merchant_code).call(
        "QueryItemInfo", {"ItemNo": str(product.id)})
    assert answer["ItemName"] == "咖啡兌換券"
    with pytest.raises(TransportError):
        _client(client, child, pair=OTHER, platform_id=stranger.merchant_code).call(
            "QueryItemInfo", {"ItemNo": str(product.id)})


def test_an_unknown_call_is_404_and_a_crash_is_10099(shop, client, monkeypatch) -> None:  # noqa: ANN001
    store, product = shop
    body = json.dumps(_client(client, store).envelope({"ItemNo": str(product.id)}))
    assert client.post("/api/Ticket/Nope", data=body, content_type="application/json",
                       csrf=False).status_code == 404

    def broken(call):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")

    from app.ecticket import views
    monkeypatch.setitem(views.HANDLERS, "QueryItemInfo", broken)
    answer = _raw(client, json.loads(body))
    assert (answer["TransCode"], answer["TransMsg"]) == (10099, "System error")

"""The simulated bank: a repeated key is the same entry, single rejections, the bank down,
money never moved twice, entries kept across restarts in a JSON file."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from app.escrow.bank import BankEntry, BankUnavailable
from app.escrow.simulator import InProcessBank, make_simulator

KEY = "sim-key"


def _submit(client: Client, *entries: dict, key: str = KEY):  # noqa: ANN201
    return client.post("/entries", json={"entries": list(entries)},
                       headers={"Authorization": f"Bearer {key}"})


def _entry(key: str, kind: str = "deposit", serial: str = "A0001", amount: int = 150, fee: int = 0) -> dict:
    return {"key": key, "kind": kind, "ticket_serial": serial, "merchant_code": "9000001",
            "amount": amount, "fee": fee}


def test_a_repeated_key_is_answered_as_the_first_time_and_moves_nothing(tmp_path):
    sim = make_simulator(None, key=KEY)
    client = Client(sim)
    first = _submit(client, _entry("deposit:1:1")).get_json()["answers"][0]
    again = _submit(client, _entry("deposit:1:1", amount=999)).get_json()["answers"][0]
    assert first["accepted"] and again == first
    assert sim.received_count("deposit:1:1") == 2
    assert [e["amount"] for e in sim.accepted("A0001", "deposit")] == [150]
    listing = client.get("/entries?serial=A0001").get_json()["entries"]
    assert [(e["key"], e["received"]) for e in listing] == [("deposit:1:1", 2)]


def test_the_same_money_under_another_key_is_refused(tmp_path):
    client = Client(make_simulator(None, key=KEY))
    _submit(client, _entry("deposit:1:1"))
    [dup] = _submit(client, _entry("deposit:1:2")).get_json()["answers"]
    assert not dup["accepted"] and "重複" in dup["reason"]
    _submit(client, _entry("release:1:1", kind="release"))
    [twice] = _submit(client, _entry("refund:1:1", kind="refund", amount=100, fee=50)).get_json()["answers"]
    assert not twice["accepted"] and "重複" in twice["reason"]


def test_rejections_by_serial_by_amount_and_without_a_deposit(tmp_path):
    sim = make_simulator(None, key=KEY)
    client = Client(sim)
    assert client.post("/control", json={"reject_serials": ["B0002"], "require_deposit": True}).get_json() == {
        "fail": False, "reject_serials": ["B0002"], "require_deposit": True}
    answers = _submit(client, _entry("d1", serial="B0002"), _entry("d2", serial="C0003", amount=0),
                      _entry("r1", kind="release", serial="D0004"),
                      _entry("f1", kind="refund", serial="E0005", amount=0, fee=0),
                      _entry("x1", kind="payout")).get_json()["answers"]
    assert [a["accepted"] for a in answers] == [False] * 5
    assert "B0002" in answers[0]["reason"] and "金額" in answers[1]["reason"]
    assert "存入紀錄" in answers[2]["reason"] and "合計" in answers[3]["reason"]
    # a refund of the whole face value as the fee is fine once the deposit is held
    _submit(client, _entry("d3", serial="F0006"))
    [full_fee] = _submit(client, _entry("f2", kind="refund", serial="F0006", amount=0, fee=150)).get_json()["answers"]
    assert full_fee["accepted"]


def test_down_bad_requests_and_the_key(tmp_path):
    client = Client(make_simulator(None, key=KEY))
    assert _submit(client, _entry("k1"), key="nope").status_code == 401
    assert client.post("/entries", data="{", headers={"Authorization": f"Bearer {KEY}"},
                       content_type="application/json").status_code == 400
    client.post("/control", json={"fail": True})
    assert _submit(client, _entry("k1")).status_code == 503
    client.post("/control", json={"fail": False})
    assert _submit(client, _entry("k1")).status_code == 200
    assert client.get("/nowhere").status_code == 404
    assert client.get("/").get_json() == {"ok": True}


def test_entries_survive_a_restart_in_the_state_file(tmp_path):
    path = tmp_path / "bank.json"
    client = Client(make_simulator(path, key=KEY))
    [first] = _submit(client, _entry("deposit:7:1")).get_json()["answers"]
    client.post("/control", json={"reject_serials": ["Z9"]})
    assert json.loads(path.read_text())["entries"]["deposit:7:1"]["answer"] == first
    restarted = make_simulator(path, key=KEY)
    assert restarted.reject_serials == {"Z9"}
    [again] = _submit(Client(restarted), _entry("deposit:7:1")).get_json()["answers"]
    assert again == first
    client.post("/control", json={"reset": True})
    assert Client(make_simulator(path)).get("/entries").get_json() == {"entries": []}


def test_the_in_process_bank_speaks_the_same_protocol(tmp_path):
    sim = make_simulator(None, key=KEY)
    bank = InProcessBank(sim)
    entry = BankEntry(key="deposit:3:1", kind="deposit", ticket_serial="Q1", merchant_code="9000001",
                      amount=100)
    [answer] = bank.submit([entry])
    assert answer.accepted and answer.bank_ref.startswith("ESB")
    assert bank.submit([entry]) == [answer] and sim.received_count("deposit:3:1") == 2
    sim.fail = True
    with pytest.raises(BankUnavailable, match="503"):
        bank.submit([entry])

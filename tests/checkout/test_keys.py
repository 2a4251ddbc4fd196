"""系統介接設定's keys: sealed at rest, rotated with 24 hours of grace, the allowed IPs, and the
production configuration that insists on a data key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.ecpay import keys
from app.ecpay.models import KeyPair
from app.errors import Forbidden, InvalidInput
from tests.factories import STAGE_KEYS, make_account, make_checkout_store, make_store, make_sub


def test_a_generated_pair_is_sixteen_letters_and_digits_each() -> None:
    pair = keys.generate_pair()
    assert len(pair.hash_key) == len(pair.hash_iv) == 16
    assert (pair.hash_key + pair.hash_iv).isalnum() and (pair.hash_key + pair.hash_iv).isascii()


def test_pairs_are_sealed_and_bound_to_their_store(ctx) -> None:  # noqa: ANN001
    store = make_checkout_store()
    row = db.session.scalar(select(KeyPair).where(KeyPair.store_id == store.id))
    assert STAGE_KEYS.hash_key not in row.sealed and STAGE_KEYS.hash_iv not in row.sealed
    assert keys.unseal(row.sealed, store.id) == STAGE_KEYS
    with pytest.raises(RuntimeError):
        keys.unseal(row.sealed, store.id + 1)
    version = ctx.config["CODE_KEY_VERSION"]
    ctx.config["CODE_KEYS"] = {version: b"another-server-key-of-at-least-32-characters"}
    with pytest.raises(RuntimeError):
        keys.unseal(row.sealed, store.id)


def test_rotation_keeps_the_old_pair_for_24_hours(ctx) -> None:  # noqa: ANN001
    start = clock.taipei_datetime(2026, 5, 1, 10)
    with clock.frozen(start):
        store = make_checkout_store()
        main = make_account(store)
        new = keys.rotate(main, store)
        assert keys.pairs_for(store.id) == [new, STAGE_KEYS]
    with clock.frozen(start + timedelta(hours=23, minutes=59)):
        assert keys.pairs_for(store.id) == [new, STAGE_KEYS]
    with clock.frozen(start + timedelta(hours=24, seconds=1)):
        assert keys.pairs_for(store.id) == [new]
        assert keys.current_pair(store.id) == new


def test_rotation_needs_the_modify_right(ctx) -> None:  # noqa: ANN001
    store = make_checkout_store()
    viewer = make_sub(store, grants={Function.SYSTEM_INTEGRATION: Level.VIEW})
    with pytest.raises(Forbidden):
        keys.rotate(viewer, store)
    assert keys.pairs_for(store.id) == [STAGE_KEYS]


@pytest.mark.parametrize(("text", "parsed"), [
    ("", []), ("203.0.113.10", ["203.0.113.10"]),
    ("203.0.113.10, 203.0.113.0/24\n2001:db8::1", ["203.0.113.10", "203.0.113.0/24", "2001:db8::1"]),
    ("203.0.113.10 203.0.113.10/32", ["203.0.113.10"]),
])
def test_parse_ips(text: str, parsed: list[str]) -> None:
    assert keys.parse_ips(text) == parsed


@pytest.mark.parametrize("text", ["203.0.113.300", "example.com", " ".join(["10.0.0.1"] * 21)])
def test_bad_ip_lists_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        keys.parse_ips(text)


@pytest.mark.parametrize(("allowed", "ip", "ok"), [
    ("", "198.51.100.1", True), ("203.0.113.0/24", "203.0.113.99", True),
    ("203.0.113.0/24", "198.51.100.1", False), ("203.0.113.10", "not-an-ip", False),
])
def test_ip_allowed(allowed: str, ip: str, ok: bool) -> None:
    assert keys.ip_allowed(allowed, ip) is ok


def test_allowed_ips_are_saved_with_history(ctx) -> None:  # noqa: ANN001
    store = make_store()
    main = make_account(store)
    assert keys.update_allowed_ips(main, store, "203.0.113.10\n203.0.113.0/24")
    assert keys.allowed_ips_of(store.id) == "203.0.113.10\n203.0.113.0/24"
    assert not keys.update_allowed_ips(main, store, "203.0.113.10, 203.0.113.0/24")



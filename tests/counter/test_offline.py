"""Offline counter (離線核銷): the signed snapshot, its verification, the sync endpoint, the
merchant's conflict list and the store's switch.

The snapshot holds only what the counter may redeem and never a plain code; a snapshot whose
signature or age is wrong is refused. The sync replays a device's queue through the counter's
own redemption: replaying twice redeems once; each kind of conflict is recorded with both sides'
facts; another store's ticket is a conflict that says nothing of it; the endpoint takes the
session and its CSRF token, and refuses malformed queues with a 4xx.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import timedelta
from io import BytesIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import clock
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.counter import offline, snapshot
from app.counter.models import Conflict, OfflineRedemption, Outcome
from app.db import db
from app.history import HistoryEntry
from app.products.models import BranchRole, ProductBranch
from app.settings import services as settings
from app.tickets import services as ticket_services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.concurrency import run_at_once
from tests.counter.helpers import act, clerk, entries, lookup, reload
from tests.factories import (
    link_product,
    login,
    make_account,
    make_branch,
    make_product,
    make_relation,
    make_store,
)
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime
SYNC = "/counter/offline/sync"
SNAPSHOT = "/counter/offline/snapshot"
DEVICE = "device-0001"


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    """A store with two branches, a clerk bound to 北門, a pickup product any branch may redeem,
    a gift product, and one listed for 南門 only; a partner store granted the pickup product."""
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store("offowner1")
    north, south = make_branch(store, "N01", "北門"), make_branch(store, "S01", "南門")
    south_only = make_product(store, "南門限定券", redeem=[south])
    partner = make_store("離線夥伴商店")
    make_account(partner, username="offpartner1")
    make_relation(store, partner)
    link_product(pickup, partners=[partner])
    db.session.commit()
    clerk(store, "offclerk01", north)
    clerk(store, "offclerk02", north)
    return {"store": store, "owner": owner, "pickup": pickup, "gift": gift, "north": north,
            "south": south, "south_only": south_only, "partner": partner}


def _envelope(client) -> dict:  # noqa: ANN001
    response = client.get(SNAPSHOT)
    assert response.status_code == 200, response.status_code
    return response.get_json()


def _payload(client) -> dict:  # noqa: ANN001
    return json.loads(_envelope(client)["payload"])


def _public_key_on_page(client) -> str:  # noqa: ANN001
    page = client.get("/counter/redeem").get_data(as_text=True)
    found = re.search(r'data-public-key="([^"]+)"', page)
    assert found, "the redeem page holds the public key"
    return found.group(1)


def _entry(ticket: Ticket | int, clerk_id: int, *, key: str | None = None, at: str | None = None,
           code: str | None = None) -> dict:
    """A queued redemption as the page sends it: of `ticket` (its code proven), or of a bare
    ticket id with the proof of `code` (a forged entry)."""
    key = key or str(uuid.uuid4())
    ticket_id = ticket if isinstance(ticket, int) else ticket.id
    typed = code if code is not None else ticket.code if not isinstance(ticket, int) else "0" * 16
    return {"key": key, "ticket_id": ticket_id, "clerk": clerk_id,
            "at": at or clock.now().isoformat(), "snapshot_at": clock.now().isoformat(),
            "proof": offline.possession_proof(key, typed)}


def _sync(client, *entries_, device: str = DEVICE, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    return client.post(SYNC, json={"device": device, "entries": list(entries_)}, **kwargs)


def _account_id(username: str) -> int:
    return db.session.scalar(select(Account.id).where(Account.username == username))


# The snapshot -----------------------------------------------------------------------------

def test_a_snapshot_holds_what_the_branch_may_redeem_and_no_plain_code(shop, client):
    pickup = issue(shop["owner"], shop["store"], shop["pickup"], quantity=3)
    gift = issue(shop["owner"], shop["store"], shop["gift"], quantity=1)
    south_only = issue(shop["owner"], shop["store"], shop["south_only"], quantity=1)
    codes = {t.id: t.code for t in [*pickup, *gift, *south_only]}
    ticket_services.redeem(shop["owner"], shop["store"], pickup[2])
    db.session.commit()

    login(client, "offclerk01")
    envelope = _envelope(client)
    text = json.dumps(envelope)
    for code in codes.values():  # no code, in any form a page or a clerk would write it
        for form in (code, code.lower(), "-".join(code[i:i + 4] for i in range(0, 16, 4))):
            assert form not in text
    payload = json.loads(envelope["payload"])
    salt = bytes.fromhex(payload["salt"])
    by_id = {entry[0]: (digest, entry) for digest, entry in payload["tickets"].items()}
    # the two unused pickup tickets and the gift voucher; not the redeemed one, nor 南門's
    assert set(by_id) == {pickup[0].id, pickup[1].id, gift[0].id}
    for ticket_id, (digest, entry) in by_id.items():
        assert digest == snapshot.code_hash(salt, codes[ticket_id])
        assert len(digest) == 12 and entry[1] == S.UNUSED.value
    assert by_id[gift[0].id][1][4] is not None and by_id[pickup[0].id][1][4] is None  # window end
    assert set(payload["products"]) == {str(shop["pickup"].id), str(shop["gift"].id)}
    assert payload["branch"] == shop["north"].id and payload["store"] == shop["store"].id
    assert payload["count"] == 3 and payload["partial"] is False
    # the serials, the holders and their mobiles stay on the server too
    assert pickup[0].serial not in text and "0912345678" not in text


def test_each_snapshot_has_its_own_salt(shop, client):
    issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)
    login(client, "offclerk01")
    first, second = _payload(client), _payload(client)
    assert first["salt"] != second["salt"]
    assert set(first["tickets"]).isdisjoint(second["tickets"])  # entries cannot be matched


def test_a_partner_store_gets_the_granted_products_only(shop, client):
    granted = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)
    issue(shop["owner"], shop["store"], shop["gift"], quantity=1)
    login(client, "offpartner1")
    payload = _payload(client)
    assert [entry[0] for entry in payload["tickets"].values()] == [granted[0].id]
    assert set(payload["products"]) == {str(shop["pickup"].id)}
    assert payload["branch"] is None


def test_an_expired_gift_voucher_is_left_out(shop, client):
    gift = issue(shop["owner"], shop["store"], shop["gift"], quantity=1)
    login(client, "offclerk01")
    clock.freeze(clock.day_end(gift[0].expires_on) + timedelta(seconds=1))
    assert _payload(client)["tickets"] == {}


def test_the_snapshot_is_limited_to_the_configured_size(shop, app, client):
    issue(shop["owner"], shop["store"], shop["pickup"], quantity=3)
    app.config["OFFLINE_MAX_TICKETS"] = 2
    login(client, "offclerk01")
    payload = _payload(client)
    assert payload["count"] == 2 and payload["partial"] is True


def test_who_gets_a_snapshot(shop, app, client):
    assert client.get(SNAPSHOT).status_code == 302  # not logged in: the login page
    clerk(shop["store"], "offviewer1", shop["north"], grants={Function.REDEEM: Level.VIEW})
    login(client, "offviewer1")
    assert client.get(SNAPSHOT).status_code == 403  # may look codes up, not redeem
    assert 'data-offline' not in client.get("/counter/redeem").get_data(as_text=True)


# Verifying --------------------------------------------------------------------------------

def test_a_snapshot_verifies_with_the_key_the_page_holds(shop, client):
    issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)
    login(client, "offclerk01")
    public = snapshot.public_key_of(_public_key_on_page(client))
    envelope = _envelope(client)
    payload = snapshot.verify(envelope, public, now=clock.now(), age=snapshot.max_age())
    assert payload["count"] == 1


def test_a_snapshot_with_a_wrong_signature_is_refused(shop, client):
    issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)
    login(client, "offclerk01")
    public = snapshot.public_key_of(_public_key_on_page(client))
    envelope = _envelope(client)
    now, age = clock.now(), snapshot.max_age()
    forged = dict(envelope, payload=envelope["payload"].replace('"unused"', '"used"', 1))
    other_key = Ed25519PrivateKey.generate()
    signed_by_another = snapshot.sign(json.loads(envelope["payload"]), other_key)
    flipped = envelope["signature"][:-2] + ("A" if envelope["signature"][-2] != "A" else "B") + \
        envelope["signature"][-1]
    for bad in (forged, signed_by_another, dict(envelope, signature=flipped),
                dict(envelope, signature="not base64 !")):
        with pytest.raises(snapshot.SnapshotRefused) as refused:
            snapshot.verify(bad, public, now=now, age=age)
        assert refused.value.reason == "signature"
    for bad in (None, [], {"payload": 1, "signature": "x"}):
        with pytest.raises(snapshot.SnapshotRefused) as refused:
            snapshot.verify(bad, public, now=now, age=age)
        assert refused.value.reason == "malformed"


def test_a_snapshot_too_old_or_from_the_future_is_refused(shop, client):
    login(client, "offclerk01")
    public = snapshot.public_key_of(_public_key_on_page(client))
    envelope = _envelope(client)
    age = snapshot.max_age()
    assert age == timedelta(hours=24)  # the default
    issued = clock.now()
    snapshot.verify(envelope, public, now=issued + age, age=age)  # just within
    with pytest.raises(snapshot.SnapshotRefused) as refused:
        snapshot.verify(envelope, public, now=issued + age + timedelta(seconds=1), age=age)
    assert refused.value.reason == "age" and "24 小時" in refused.value.message
    with pytest.raises(snapshot.SnapshotRefused) as refused:
        snapshot.verify(envelope, public, now=issued + timedelta(hours=2), age=timedelta(hours=1))
    assert refused.value.reason == "age"
    with pytest.raises(snapshot.SnapshotRefused) as refused:
        snapshot.verify(envelope, public, now=issued - timedelta(hours=1), age=age)
    assert refused.value.reason == "age" and "晚於本機時間" in refused.value.message


def test_the_key_comes_from_the_configuration(app, ctx):
    seed = bytes(range(32))
    app.config["OFFLINE_SIGNING_KEY"] = base64.b64encode(seed).decode()
    expected = Ed25519PrivateKey.from_private_bytes(seed)
    assert snapshot.public_bytes(snapshot.signing_key()) == snapshot.public_bytes(expected)
    app.config["OFFLINE_SIGNING_KEY"] = "c2hvcnQ="
    with pytest.raises(RuntimeError):
        snapshot.signing_key()


def test_a_production_server_without_a_key_offers_no_offline_mode(shop, app, client):
    login(client, "offclerk01")
    app.config.update(TESTING=False, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://x@h/db")
    try:
        assert snapshot.signing_key() is None
        assert client.get(SNAPSHOT).status_code == 404
        assert "data-offline" not in client.get("/counter/redeem").get_data(as_text=True)
    finally:
        app.config.update(TESTING=True)


# The store's switch -----------------------------------------------------------------------

def test_a_store_that_turns_offline_mode_off_gets_no_snapshot(shop, client):
    login(client, "offclerk01")
    assert 'data-testid="offline-panel"' in client.get("/counter/redeem").get_data(as_text=True)
    owner = client.application.test_client()
    login(owner, "offowner1")
    assert owner.post("/settings/offline", data={}).status_code == 303
    db.session.expire_all()
    assert settings.offline_enabled(shop["store"]) is False
    entry = db.session.scalar(select(HistoryEntry).where(
        HistoryEntry.action == "offline_settings_updated"))
    assert entry.changes == {"offline_enabled": [True, False]}
    assert client.get(SNAPSHOT).status_code == 404
    assert "data-offline" not in client.get("/counter/redeem").get_data(as_text=True)
    assert "關閉" in owner.get("/settings/").get_data(as_text=True)
    assert owner.post("/settings/offline", data={"offline_enabled": "y"}).status_code == 303
    assert client.get(SNAPSHOT).status_code == 200


# The sync endpoint ------------------------------------------------------------------------

def test_a_synced_redemption_goes_through_the_counter_and_keeps_the_device_in_history(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    login(client, "offclerk01")
    clerk_id = _account_id("offclerk01")
    offline_at = T(2026, 7, 1, 8, 55)
    response = _sync(client, _entry(ticket, clerk_id, key="k-synced-1",
                                    at=offline_at.isoformat()))
    assert response.status_code == 200
    [answer] = response.get_json()["results"]
    assert answer["outcome"] == "synced" and answer["serial"] == ticket.serial
    assert answer["replayed"] is False
    done = reload(ticket)
    assert done.status is S.USED and done.redeemed_branch_id == shop["north"].id
    [entry] = entries(ticket, "redeemed")
    assert DEVICE in entry.reason and "2026/07/01 08:55:00" in entry.reason
    assert entry.actor_label == "offclerk01" and entry.actor_branch_id == shop["north"].id
    record = db.session.scalar(select(OfflineRedemption))
    assert record.outcome is Outcome.SYNCED and record.offline_at == offline_at
    assert record.device_id == DEVICE and record.branch_id == shop["north"].id


def test_replaying_a_queue_twice_redeems_once(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    login(client, "offclerk01")
    entry = _entry(ticket, _account_id("offclerk01"), key="k-replay-01")
    first = _sync(client, entry).get_json()["results"][0]
    second = _sync(client, entry).get_json()["results"][0]
    assert first["outcome"] == second["outcome"] == "synced"
    assert second["replayed"] is True
    assert len(entries(ticket, "redeemed")) == 1
    assert db.session.query(OfflineRedemption).count() == 1
    # the same key naming another ticket is not a replay, and does nothing
    other = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    reused = _sync(client, dict(entry, ticket_id=other.id)).get_json()["results"][0]
    assert reused["outcome"] == "skipped" and reload(other).status is S.UNUSED


@pytest.mark.postgres
def test_two_replays_at_once_redeem_once(pg_app):
    with pg_app.app_context():
        clock.freeze(T(2026, 7, 1, 9, 0))
        store, owner, pickup, _ = ready_store("offowner9")
        account = clerk(store, "offclerk09")
        ticket = issue(owner, store, pickup, quantity=1)[0]
        entry = _entry(ticket, account.id, key="k-race-0001")
        db.session.remove()

    def replay(_: int, ready):  # noqa: ANN001, ANN202
        client = pg_app.test_client()
        login(client, "offclerk09")
        ready()
        return _sync(client, entry).get_json()["results"][0]

    answers = run_at_once(pg_app, replay, [0, 1])
    assert sorted(a["replayed"] for a in answers) == [False, True]
    assert {a["outcome"] for a in answers} == {"synced"}
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.action == "redeemed")) == 1


def _conflict(client, ticket: Ticket | int, username: str) -> dict:  # noqa: ANN001
    response = _sync(client, _entry(ticket, _account_id(username)))
    assert response.status_code == 200
    [answer] = response.get_json()["results"]
    assert answer["outcome"] == "conflict"
    return answer


def test_a_ticket_redeemed_elsewhere_meanwhile_is_a_conflict_with_both_sides(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    other = client.application.test_client()
    login(other, "offclerk02")
    assert act(other, "redeem", ticket).status_code == 200  # another counter, online
    login(client, "offclerk01")
    answer = _conflict(client, ticket, "offclerk01")
    assert answer["conflict"] == Conflict.REDEEMED_ELSEWHERE.value
    assert "此票券已核銷" in answer["message"] and "offclerk02" in answer["message"]
    assert len(entries(ticket, "redeemed")) == 1  # still the one redemption
    record = db.session.scalar(select(OfflineRedemption))
    assert record.outcome is Outcome.CONFLICT and record.server_status == S.USED.value
    assert record.ticket_id == ticket.id and "offclerk02" in record.server_said
    [noted] = entries(ticket, "offline_redemption_conflict")
    assert DEVICE in noted.reason


def test_a_returned_ticket_is_a_conflict(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    ticket_services.return_ticket(shop["owner"], shop["store"], ticket, reason="顧客退貨")
    db.session.commit()
    login(client, "offclerk01")
    answer = _conflict(client, ticket, "offclerk01")
    assert answer["conflict"] == Conflict.RETURNED.value and "已退貨" in answer["message"]
    assert reload(ticket).status is S.RETURN_PENDING


def test_a_window_closed_by_the_time_of_the_sync_is_a_conflict(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["gift"], quantity=1)[0]
    login(client, "offclerk01")
    offline_at = clock.day_end(ticket.expires_on) - timedelta(minutes=5)  # valid when redeemed
    clock.freeze(clock.day_end(ticket.expires_on) + timedelta(minutes=5))  # heard of after it
    response = _sync(client, _entry(ticket, _account_id("offclerk01"),
                                    at=offline_at.isoformat()))
    [answer] = response.get_json()["results"]
    assert answer["outcome"] == "conflict"
    assert answer["conflict"] == Conflict.WINDOW_CLOSED.value
    assert reload(ticket).status is S.UNUSED
    record = db.session.scalar(select(OfflineRedemption))
    assert record.offline_at == offline_at and record.server_status == S.EXPIRED.value


def test_a_ticket_outside_the_branchs_rights_is_a_conflict(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    login(client, "offclerk01")
    _payload(client)  # in the snapshot while the list was empty
    db.session.add(ProductBranch(product_id=shop["pickup"].id, branch_id=shop["south"].id,
                                 role=BranchRole.REDEEM))
    db.session.commit()
    answer = _conflict(client, ticket, "offclerk01")
    assert answer["conflict"] == Conflict.NOT_ALLOWED.value
    assert "核銷分店名單" in answer["message"]
    assert reload(ticket).status is S.UNUSED


def test_another_stores_ticket_in_a_forged_queue_is_never_redeemed(shop, client):
    stranger, stranger_owner, stranger_product, _ = ready_store("offowner2")
    foreign = issue(stranger_owner, stranger, stranger_product, quantity=1)[0]
    login(client, "offclerk01")
    answer = _conflict(client, foreign, "offclerk01")
    assert answer["conflict"] == Conflict.UNKNOWN_TICKET.value
    assert answer["serial"] == "" and answer["product"] == ""  # nothing said of it
    assert foreign.serial not in json.dumps(answer)
    assert reload(foreign).status is S.UNUSED
    assert entries(foreign, "offline_redemption_conflict") == []
    record = db.session.scalar(select(OfflineRedemption))
    assert record.ticket_id is None and record.claimed_ticket_id == foreign.id
    # a ticket id that is no ticket at all: the same answer
    assert _conflict(client, 2**62, "offclerk01")["conflict"] == Conflict.UNKNOWN_TICKET.value


def test_a_ticket_id_without_its_code_redeems_nothing(shop, client):
    """A forged queue naming the store's own tickets by id, without having their codes (a proof
    of another code, or none that matches), is told 查無此票券 and redeems nothing."""
    mine, other = issue(shop["owner"], shop["store"], shop["pickup"], quantity=2)
    login(client, "offclerk01")
    clerk_id = _account_id("offclerk01")
    for forged in (_entry(mine.id, clerk_id, code=other.code),  # another ticket's code
                   _entry(mine.id, clerk_id),  # a well-formed guess
                   dict(_entry(mine, clerk_id), proof="0" * 64)):
        [answer] = _sync(client, forged).get_json()["results"]
        assert answer["outcome"] == "conflict"
        assert answer["conflict"] == Conflict.UNKNOWN_TICKET.value and answer["serial"] == ""
    assert reload(mine).status is S.UNUSED and reload(other).status is S.UNUSED
    assert _sync(client, _entry(mine, clerk_id)).get_json()["results"][0]["outcome"] == "synced"


def test_wrong_proofs_count_against_the_counters_brute_force_guard(shop, client):
    tickets = issue(shop["owner"], shop["store"], shop["pickup"], quantity=2)
    login(client, "offclerk01")
    clerk_id = _account_id("offclerk01")
    forged = [_entry(tickets[0].id, clerk_id) for _ in range(20)]  # 20 guesses of its code
    answers = _sync(client, *forged).get_json()["results"]
    assert {a["conflict"] for a in answers} == {Conflict.UNKNOWN_TICKET.value}
    [held] = _sync(client, _entry(tickets[1], clerk_id)).get_json()["results"]
    assert held["outcome"] == "skipped" and "次數過多" in held["message"]
    assert reload(tickets[1]).status is S.UNUSED
    assert lookup(client, "redeem", tickets[1].code).status_code == 429  # the counter too


def test_another_clerks_entries_are_left_for_that_clerk(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    login(client, "offclerk01")
    [answer] = _sync(client, _entry(ticket, _account_id("offclerk02"))).get_json()["results"]
    assert answer["outcome"] == "skipped"
    assert reload(ticket).status is S.UNUSED
    assert db.session.query(OfflineRedemption).count() == 0


def test_the_sync_needs_the_session_its_csrf_token_and_the_right(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    body = {"device": DEVICE, "entries": [_entry(ticket, 1)]}
    assert client.post(SYNC, json=body).status_code == 302  # no session: the login page
    login(client, "offclerk01")
    body["entries"][0]["clerk"] = _account_id("offclerk01")
    assert client.post(SYNC, json=body, csrf=False).status_code == 400
    clerk(shop["store"], "offnoright", shop["north"], grants={Function.REPORT_TICKETS: Level.VIEW})
    stranger = client.application.test_client()
    login(stranger, "offnoright")
    body["entries"][0]["clerk"] = _account_id("offnoright")
    refused = stranger.post(SYNC, json=body)
    assert refused.status_code == 403 and refused.get_json()["error"]["message"]
    assert reload(ticket).status is S.UNUSED
    assert db.session.query(OfflineRedemption).count() == 0


def test_a_clerk_who_lost_the_right_or_whose_branch_was_disabled_is_heard_as_a_conflict(
        shop, client):
    first, second = issue(shop["owner"], shop["store"], shop["pickup"], quantity=2)
    clerk(shop["store"], "offviewer2", shop["north"], grants={Function.REDEEM: Level.VIEW})
    viewer = client.application.test_client()
    login(viewer, "offviewer2")
    answer = _conflict(viewer, first, "offviewer2")
    assert answer["conflict"] == Conflict.NOT_ALLOWED.value and "權限" in answer["message"]
    login(client, "offclerk01")
    shop["north"].enabled = False
    db.session.commit()
    answer = _conflict(client, second, "offclerk01")
    assert answer["conflict"] == Conflict.NOT_ALLOWED.value and "停用" in answer["message"]
    assert reload(first).status is S.UNUSED and reload(second).status is S.UNUSED


@pytest.mark.parametrize("body, status", [
    ("not json", 422),
    ('{"device": "device-0001", "entries": "x"}', 422),
    ('{"device": "dev\\u0000ice-01", "entries": []}', 422),
    ('{"device": "device-0001", "entries": [{"key": "k\\u0000-1234567", "ticket_id": 1, '
     '"clerk": 1, "at": "2026-07-01T09:00:00+08:00"}]}', 422),
    ('[' * 5000 + ']' * 5000, 400),
    ('{"device": "device-0001", "entries": [{"key": "k-12345678", "ticket_id": 99999999999999999999,'
     ' "clerk": 1, "at": "2026-07-01T09:00:00+08:00"}]}', 422),
    ('{"device": "device-0001", "entries": [{"key": "k-12345678", "ticket_id": true, "clerk": 1,'
     ' "at": "2026-07-01T09:00:00+08:00"}]}', 422),
    ('{"device": "device-0001", "entries": [{"key": "k-12345678", "ticket_id": 1, "clerk": 1,'
     ' "at": "yesterday"}]}', 422),
    ('{"device": "device-0001", "entries": [{"key": "k-12345678", "ticket_id": 1, "clerk": 1,'
     ' "at": "2026-07-01T09:00:00"}]}', 422),
    ('{"device": "x", "entries": []}', 422),
    ('{"device": "device-0001", "entries": [{"key": "k-12345678", "ticket_id": 1, "clerk": 1,'
     ' "at": "2026-07-01T09:00:00+08:00"}]}', 422),  # no proof of the code
    ('{"device": "device-0001", "entries": [{"key": "k-12345678", "ticket_id": 1, "clerk": 1,'
     ' "at": "2026-07-01T09:00:00+08:00", "proof": "XYZ"}]}', 422),
])
def test_malformed_queues_are_refused_with_a_4xx(shop, client, body, status):
    login(client, "offclerk01")
    response = client.post(SYNC, data=body, content_type="application/json")
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["message"]
    assert db.session.query(OfflineRedemption).count() == 0


def test_too_long_a_queue_and_a_form_post_are_refused(shop, client):
    login(client, "offclerk01")
    many = [_entry(1, 1, key=f"k-many-{i:04d}") for i in range(201)]
    assert _sync(client, *many).status_code == 422
    assert client.post(SYNC, data={"device": DEVICE}).status_code == 422


# The merchant's conflict list -------------------------------------------------------------

def _two_conflicts(shop, client) -> tuple:  # noqa: ANN001
    first, second = issue(shop["owner"], shop["store"], shop["pickup"], quantity=2)
    for ticket in (first, second):
        ticket_services.redeem(shop["owner"], shop["store"], ticket)
    db.session.commit()
    login(client, "offclerk01")
    _conflict(client, first, "offclerk01")
    _conflict(client, second, "offclerk01")
    return first, second


def test_the_merchant_lists_the_conflicts_and_downloads_them(shop, client):
    first, second = _two_conflicts(shop, client)
    owner = client.application.test_client()
    login(owner, "offowner1")
    page = owner.get("/counter/offline/conflicts").get_data(as_text=True)
    assert first.serial in page and second.serial in page
    assert "已在他處核銷" in page and DEVICE in page and "offclerk01" in page and "北門" in page
    excel = owner.get("/counter/offline/conflicts?format=xlsx")
    assert excel.status_code == 200
    sheet = load_workbook(BytesIO(excel.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("同步時間", "衝突類型", "票券序號")
    assert {r[2] for r in rows[1:]} == {first.serial, second.serial}
    assert "離線資料時間" in rows[0]  # the Excel-only column
    # another store sees none of them
    stranger = client.application.test_client()
    ready_store("offowner3")
    db.session.commit()
    login(stranger, "offowner3")
    assert first.serial not in stranger.get("/counter/offline/conflicts").get_data(as_text=True)


def test_a_branch_clerk_sees_the_branchs_conflicts_only(shop, client):
    first, _ = _two_conflicts(shop, client)
    clerk(shop["store"], "offsouth01", shop["south"])
    south = client.application.test_client()
    login(south, "offsouth01")
    assert first.serial not in south.get("/counter/offline/conflicts").get_data(as_text=True)
    north = client.application.test_client()
    login(north, "offclerk02")
    assert first.serial in north.get("/counter/offline/conflicts").get_data(as_text=True)


def test_marking_a_conflict_handled(shop, client):
    first, second = _two_conflicts(shop, client)
    record = db.session.scalar(select(OfflineRedemption).where(
        OfflineRedemption.ticket_id == first.id))
    owner = client.application.test_client()
    login(owner, "offowner1")
    done = owner.post(f"/counter/offline/conflicts/{record.id}/handled")
    assert done.status_code == 303
    open_page = owner.get("/counter/offline/conflicts").get_data(as_text=True)
    assert first.serial not in open_page and second.serial in open_page
    assert first.serial in owner.get("/counter/offline/conflicts?show=handled").get_data(as_text=True)
    [entry] = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.action == "offline_conflict_handled")).all()
    assert entry.subject_id == record.id and entry.actor_label == "offowner1"
    again = owner.post(f"/counter/offline/conflicts/{record.id}/handled", follow_redirects=True)
    assert "此衝突已標記為已處理" in again.get_data(as_text=True)
    # another store's conflict, or an id beyond any: 404
    stranger = client.application.test_client()
    ready_store("offowner4")
    db.session.commit()
    login(stranger, "offowner4")
    assert stranger.post(f"/counter/offline/conflicts/{record.id}/handled").status_code == 404
    assert stranger.post(f"/counter/offline/conflicts/{2**70}/handled").status_code == 404


def test_the_lookup_online_is_unchanged_by_offline_mode(shop, client):
    ticket = issue(shop["owner"], shop["store"], shop["pickup"], quantity=1)[0]
    login(client, "offclerk01")
    assert lookup(client, "redeem", ticket.code).status_code == 200


# The installable page ---------------------------------------------------------------------

def test_the_manifest_and_the_service_worker(client):
    manifest = client.get("/counter/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json(force=True)
    assert body["start_url"] == "/counter/redeem" and body["scope"] == "/counter/"
    worker = client.get("/counter/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert "ectix-counter-" in worker.get_data(as_text=True)


def test_the_redeem_page_names_its_manifest_in_the_head(shop, client):
    login(client, "offclerk01")
    page = client.get("/counter/redeem").get_data(as_text=True)
    head = page.split("</head>", 1)[0]
    assert '<link rel="manifest" href="/counter/manifest.webmanifest">' in head


def test_the_menu_leads_to_the_conflict_list(shop, client):
    login(client, "offclerk01")
    page = client.get("/counter/redeem").get_data(as_text=True)
    assert 'href="/counter/offline/conflicts"' in page and "離線核銷衝突" in page
    assert client.get("/counter/offline/conflicts").status_code == 200

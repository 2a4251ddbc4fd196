"""Through two gunicorn hosts on one database: racing clients on one ticket get one winner per
action, a batch confirmed from both hosts at once is issued once (by a worker, through RQ), and
the redemption rate of the pair."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.services import create_api_token
from app.billing.models import Charge
from app.db import db
from app.escrow.models import LedgerEntry, LedgerKind
from app.history import HistoryEntry
from app.issuance import services as issuance
from app.issuance.models import BatchStatus
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus as S
from tests.issuance.helpers import ready_store, rows
from tests.processes import wait_for
from tests.scale.harness import CSRF, RoundRobin, figure, fresh_batch, issue_many, login, size
from tests.tickets.helpers import issue

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

API = "/api/v1"


def _race(client: RoundRobin, racers: int, path: str, body: dict | None = None) -> list[int]:
    """`racers` clients, half on each host, each with a warm connection, POST at the same moment;
    their statuses."""
    barrier = threading.Barrier(racers)
    statuses: list[int] = [0] * racers

    def racer(i: int) -> None:
        try:
            client.request("GET", f"{API}/me", turn=i)  # the connection, opened and kept
            barrier.wait(30)
            statuses[i] = client.request("POST", path, turn=i, json=body).status_code
        except BaseException:
            barrier.abort()
            raise

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def _one_winner(statuses: list[int], success: int) -> None:
    assert sorted(statuses) == sorted([success] + [409] * (len(statuses) - 1)), statuses


def _actions(ticket_id: int, action: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket_id,
        HistoryEntry.action == action))


def _status(ticket_id: int) -> S:
    db.session.rollback()
    return db.session.scalar(select(Ticket.status).where(Ticket.id == ticket_id))


def _escrow_expired_entries(ticket_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.ticket_id == ticket_id, LedgerEntry.kind == LedgerKind.ESCROW_EXPIRED))


def test_racing_clients_on_two_hosts_get_one_winner_per_action(cluster, seeding):
    store, owner, pickup, _ = ready_store("scalerace")
    fresh, ended = issue(owner, store, pickup, quantity=2)
    ended.expires_on = clock.business_day() - timedelta(days=1)  # its escrow is over
    _, token = create_api_token(owner, "race")
    db.session.commit()
    client = RoundRobin(cluster.urls, {"Authorization": f"Bearer {token}"})
    racers = size(16, 64)
    started = time.monotonic()

    _one_winner(_race(client, racers, f"{API}/redemptions", {"code": fresh.code}), 201)
    assert (_status(fresh.id), _actions(fresh.id, "redeemed")) == (S.USED, 1)
    _one_winner(_race(client, racers, f"{API}/tickets/{fresh.serial}/cancel-redemption"), 200)
    assert (_status(fresh.id), _actions(fresh.id, "redemption_cancelled")) == (S.UNUSED, 1)
    _one_winner(_race(client, racers, f"{API}/tickets/{fresh.serial}/return", {"reason": "退貨"}), 200)
    assert (_status(fresh.id), _actions(fresh.id, "returned")) == (S.RETURN_PENDING, 1)
    _one_winner(_race(client, racers, f"{API}/tickets/{fresh.serial}/cancel-return",
                      {"reason": "取消退貨"}), 200)
    assert (_status(fresh.id), _actions(fresh.id, "return_cancelled")) == (S.UNUSED, 1)

    # Past its escrow end a redemption also writes the ledger (價金保管逾期): once.
    _one_winner(_race(client, racers, f"{API}/redemptions", {"code": ended.code}), 201)
    assert _status(ended.id) is S.USED_AFTER_EXPIRY and _actions(ended.id, "redeemed") == 1
    assert _escrow_expired_entries(ended.id) == 1
    _one_winner(_race(client, racers, f"{API}/tickets/{ended.serial}/cancel-redemption"), 200)
    _one_winner(_race(client, racers, f"{API}/redemptions", {"code": ended.code}), 201)
    assert _actions(ended.id, "redeemed") == 2 and _escrow_expired_entries(ended.id) == 1
    client.close()
    figure("races: 7 actions × racers on two hosts", f"{racers} racers, {time.monotonic() - started:.1f} s")


def test_redemptions_through_two_hosts(cluster, seeding):
    """Every request a different code, `clients` threads sending without pause, each request to
    the next host: how many redemptions a second the pair serves (on this machine's two cores,
    shared with PostgreSQL, the workers and the clients)."""
    store, owner, pickup, _ = ready_store("scalerate")
    warm_up, count = size(40, 100), size(300, 3000)
    tickets = issue_many(owner, store, pickup, warm_up + count)
    _, token = create_api_token(owner, "rate")
    db.session.commit()
    codes = [t.code for t in tickets]
    clients = size(8, 16)
    client = RoundRobin(cluster.urls, {"Authorization": f"Bearer {token}"})
    lock = threading.Lock()
    results: list[tuple[int, float]] = []

    def send(batch: list[str]) -> None:
        for code in batch:
            start = time.perf_counter()
            status = client.request("POST", f"{API}/redemptions", json={"code": code}).status_code
            with lock:
                results.append((status, time.perf_counter() - start))

    def run(batch_codes: list[str]) -> float:
        threads = [threading.Thread(target=send, args=(batch_codes[i::clients],)) for i in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        return time.perf_counter() - start

    run(codes[:warm_up])  # every gunicorn worker started, its pool and caches filled
    results.clear()
    elapsed = run(codes[warm_up:])
    client.close()
    statuses = [status for status, _ in results]
    assert statuses == [201] * count, {s: statuses.count(s) for s in set(statuses)}
    used = db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.store_id == store.id, Ticket.status == S.USED))
    assert used == warm_up + count
    latencies = sorted(seconds for _, seconds in results)
    figure("API redemptions through two hosts",
           f"{count / elapsed:.0f}/s ({count} in {elapsed:.1f} s, {clients} clients; latency "
           f"median {statistics.median(latencies) * 1000:.0f} ms, "
           f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms)")


def test_a_batch_confirmed_from_both_hosts_at_once_is_issued_once(cluster, seeding):
    store, owner, pickup, _ = ready_store("scalebatch")
    count, quantity = size(10, 50), size(10, 20)
    batch = issuance.prepare_batch(owner, store, import_no="SCALE2X", method=DeliveryMethod.IMMEDIATE,
                                   kind=ProductKind.PICKUP, rows=rows(pickup, count=count, quantity=quantity))
    db.session.commit()
    batch_id = batch.id
    pages = []
    for base in cluster.urls:
        browser = login(base, "scalebatch")
        preview = browser.get(f"{base}/issuance/batches/{batch_id}", timeout=30)
        pages.append((base, browser, CSRF.search(preview.text).group(1)))

    barrier = threading.Barrier(2)
    answers: list[str] = ["", ""]

    def confirm(i: int) -> None:
        base, browser, csrf = pages[i]
        barrier.wait(30)
        answers[i] = browser.post(f"{base}/issuance/batches/{batch_id}/confirm",
                                  data={"csrf_token": csrf}, timeout=60).text

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    said = sorted("已確認發行過" if "已確認發行過，不會重複發行" in text
                  else "已確認發行" if "已確認發行，發行狀態請見下方列表" in text else text[:200]
                  for text in answers)
    assert said == ["已確認發行", "已確認發行過"]

    took = wait_for("a worker to issue the batch",
                    lambda: fresh_batch(batch_id).status is BatchStatus.SUCCEEDED, 120)
    issued = fresh_batch(batch_id)
    assert (issued.issued_count, issued.attempts) == (count * quantity, 1)
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.batch_id == batch_id)) == count * quantity
    assert db.session.scalar(select(func.count()).select_from(Order).where(
        Order.batch_id == batch_id)) == count
    assert db.session.scalars(select(Charge.quantity).where(Charge.store_id == store.id)).all() == [
        count * quantity]
    actions = db.session.scalars(select(HistoryEntry.action).where(
        HistoryEntry.subject_type == "batches", HistoryEntry.subject_id == batch_id)
        .order_by(HistoryEntry.id)).all()
    assert actions == ["previewed", "confirmed", "issued"]
    for _, browser, _ in pages:
        browser.close()
    figure("batch confirmed on both hosts at once",
           f"{count * quantity} tickets issued once, {time.monotonic() - started:.1f} s from the "
           f"confirms (worker picked it up and issued in {took:.1f} s of polling)")

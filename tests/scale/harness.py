"""The scale harness's pieces (tests/scale/conftest.py puts them together): sizes, figures, the
gated bank, the round-robin client and the cluster's handle."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import delete, text

from app import clock
from app.db import db
from app.escrow.simulator import BankSimulator
from app.issuance.models import Batch
from app.jobs import ScheduledRun
from app.tickets import services as tickets
from app.tickets.codes import MAX_TICKETS_PER_BATCH
from app.tickets.models import Ticket
from tests.factories import PASSWORD
from tests.issuance.helpers import ready_store
from tests.processes import Hosts, Workers
from tests.tickets.helpers import issue

FULL = os.environ.get("ECTIX_SCALE_FULL") == "1"
HELD_BACK = datetime(2999, 1, 1, tzinfo=UTC)  # the slot of the runs that hold a job back
WORKER_NAMES = ("scale-worker-a", "scale-worker-b")
HOST_NAMES = ("scale-host-a", "scale-host-b")


def size(bounded: int, full: int) -> int:
    return full if FULL else bounded


def issue_many(owner: Any, store: Any, product: Any, quantity: int) -> list[Ticket]:
    """Tickets issued through the real services, in batches of at most the batch limit."""
    issued: list[Ticket] = []
    while len(issued) < quantity:
        issued += issue(owner, store, product, quantity=min(MAX_TICKETS_PER_BATCH, quantity - len(issued)))
    return issued


def fresh_batch(batch_id: int) -> Batch:
    """The batch as the workers left it (a new transaction, the row read again)."""
    db.session.rollback()
    batch = db.session.get(Batch, batch_id, populate_existing=True)
    assert batch is not None
    return batch


@dataclass
class SyncNight:
    """Tickets a nightly escrow sync has to send: issued two nights before it, half redeemed and
    a quarter returned the day before."""
    store: Any
    owner: Any
    sold: list[Ticket]
    redeemed: list[Ticket]
    returned: list[Ticket]


def sync_night(name: str, night: date, n: int) -> SyncNight:
    with clock.frozen(clock.day_start(night - timedelta(days=2)) + timedelta(hours=9)):
        store, owner, pickup, _ = ready_store(name)
        sold = issue_many(owner, store, pickup, n)
    redeemed, returned = sold[: n // 2], sold[n // 2: n // 2 + n // 4]
    with clock.frozen(clock.day_start(night - timedelta(days=1)) + timedelta(hours=10)):
        for ticket in redeemed:
            tickets.redeem(owner, store, ticket)
        for ticket in returned:
            tickets.return_ticket(owner, store, ticket, reason="退貨")
        db.session.commit()
    return SyncNight(store, owner, sold, redeemed, returned)


# Figures ---------------------------------------------------------------------------------------

FIGURES: list[tuple[str, str]] = []


def figure(name: str, value: str) -> None:
    """A measured figure, printed with the others at the end of the run (and now, for -s)."""
    FIGURES.append((name, value))
    print(f"[scale] {name}: {value}")


# The bank --------------------------------------------------------------------------------------

class Gate:
    """WSGI middleware before the bank simulator: armed with a test on a submission's entries,
    it lets the bank process the first submission that passes it (the money moves), then holds
    the answer until `open()`, so the worker that sent it can be killed while it waits."""

    def __init__(self, bank: BankSimulator) -> None:
        self.bank = bank
        self.test: Callable[[list[dict]], bool] | None = None
        self.reached, self.opened = threading.Event(), threading.Event()
        self.held: list[dict] = []  # the entries of the held submission
        self.lock = threading.Lock()

    def arm(self, test: Callable[[list[dict]], bool]) -> None:
        self.reached.clear()
        self.opened.clear()
        self.test = test

    def open(self) -> None:
        self.opened.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.test is None or environ.get("REQUEST_METHOD") != "POST":
            return self.bank(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            entries = json.loads(body)["entries"]
        except (ValueError, KeyError, TypeError):
            entries = []
        with self.lock:
            hold = self.test is not None and self.test(entries)
            if hold:
                self.test, self.held = None, entries  # once
        if not hold:
            return self.bank(environ, start_response)
        answered: list[Any] = []
        result = self.bank(environ, lambda status, headers, exc_info=None: answered.extend((status, headers)))
        answer = b"".join(result)
        self.reached.set()
        self.opened.wait(120)
        start_response(*answered)
        return [answer]


@dataclass
class Bank:
    sim: BankSimulator
    gate: Gate
    url: str

    def control(self, **settings: object) -> dict:
        request = urllib.request.Request(
            f"{self.url}/control", data=json.dumps(settings).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def received(self, keys: set[str]) -> dict[str, int]:
        """How often the bank received each of these keys (a resend counts again)."""
        with self.sim.lock:
            counts = dict.fromkeys(keys, 0)
            for key in self.sim.received:
                if key in counts:
                    counts[key] += 1
            return counts

    def entries_of(self, serials: set[str]) -> list[dict]:
        """What the bank holds for these tickets: {key, entry, answer, received} each."""
        with self.sim.lock:
            return [{"key": key, **record} for key, record in self.sim.entries.items()
                    if record["entry"]["ticket_serial"] in serials]


# The client ------------------------------------------------------------------------------------

class RoundRobin:
    """Requests to the hosts in turn, over keep-alive connections (one requests.Session per
    thread and host)."""

    def __init__(self, urls: list[str], headers: dict[str, str] | None = None) -> None:
        self.urls, self.headers = urls, headers or {}
        self.turn = itertools.count()
        self.local = threading.local()

    def session(self, url: str) -> requests.Session:
        sessions = self.local.__dict__.setdefault("sessions", {})
        if url not in sessions:
            sessions[url] = requests.Session()
            sessions[url].headers.update(self.headers)
        return sessions[url]

    def host(self, turn: int | None = None) -> str:
        return self.urls[(next(self.turn) if turn is None else turn) % len(self.urls)]

    def request(self, method: str, path: str, *, turn: int | None = None, **kwargs: Any) -> requests.Response:
        url = self.host(turn)
        return self.session(url).request(method, f"{url}{path}", timeout=60, **kwargs)

    def close(self) -> None:
        for session in self.local.__dict__.get("sessions", {}).values():
            session.close()


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def login(base: str, username: str) -> requests.Session:
    """A merchant's browser logged in through one host (a main account: no second factor)."""
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30)
    answer = browser.post(f"{base}/login", timeout=30, data={
        "username": username, "password": PASSWORD, "csrf_token": CSRF.search(page.text).group(1)})
    assert answer.status_code == 200 and "/login" not in answer.url, answer.url
    return browser


# The cluster -----------------------------------------------------------------------------------

@dataclass
class Cluster:
    database_url: str
    redis_url: str
    app: Flask
    bank: Bank
    hosts: Hosts
    workers: Workers
    logs: Path
    alive: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [self.hosts.urls[name] for name in HOST_NAMES]

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url)

    @contextmanager
    def via_rq(self) -> Iterator[None]:
        """Jobs this process queues go to RQ, for the workers, until the block ends."""
        self.app.config.update(JOBS_MODE="rq", REDIS_URL=self.redis_url)
        try:
            yield
        finally:
            self.app.config["JOBS_MODE"] = "inline"

    def unblock(self, *names: str) -> None:
        """Let the schedulers run these recurring jobs (for their latest slot)."""
        with self.app.app_context():
            db.session.execute(delete(ScheduledRun).where(ScheduledRun.name.in_(names),
                                                          ScheduledRun.slot == HELD_BACK))
            db.session.commit()

    def start_worker(self, name: str) -> None:
        self.workers.start(name)
        if name not in self.alive:
            self.alive.append(name)

    def worker_pids(self) -> dict[int, str]:
        return {self.workers.started[name].pid: name for name in self.alive}

    def kill(self, name: str) -> None:
        """kill -9 a worker, wherever it is."""
        process = self.workers.started[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.alive.remove(name)

    def current_job(self, name: str) -> str | None:
        """The id of the RQ job the named worker is running."""
        pid = self.workers.started[name].pid
        for worker in Worker.all(connection=self.redis()):
            if worker.pid == pid:
                return worker.get_current_job_id()
        return None

    def rq_gives_up_in(self, job_id: str) -> float:
        """Seconds until RQ's own registry takes a started job as abandoned (its timeout plus a
        minute; a worker's clean-up, every ten minutes, then notices it)."""
        registry = Queue("default", connection=self.redis()).started_job_registry
        for member, expires_at in registry.connection.zrange(registry.key, 0, -1, withscores=True):
            if member.decode().startswith(job_id):
                return expires_at - time.time()
        raise AssertionError(f"job {job_id} is not in RQ's started registry")

    def backends(self, name: str) -> list[str]:
        """The wait event type of each open connection of the named process ('' when running)."""
        with self.app.app_context():
            found = [row[0] or "" for row in db.session.execute(text(
                "SELECT wait_event_type FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"), {"name": name})]
            db.session.remove()
        return found



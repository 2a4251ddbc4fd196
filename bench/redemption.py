"""Redemptions per second through the HTTP API (gunicorn on PostgreSQL, 32 concurrent clients),
next to the bare compare-and-set statement run directly on the same database in the same run.

The ratio (API rate / bare statement rate) is the figure we track: it shows what the web stack,
authentication, the rights checks and history cost on top of the one UPDATE that matters.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time

from sqlalchemy import create_engine, text

from bench.support import ROOT, fresh_database

CLIENTS = 32
TICKETS_PER_CLIENT = 150
PORT = 5077


def _make_tickets(url: str, count: int) -> tuple[list[str], str, list[int]]:
    """Tickets issued through the real service; returns their codes, an API token, and the ids
    of a second set of tickets for the bare statement."""
    from app import create_app
    from app.auth.services import create_api_token
    from app.db import db
    from app.issuance import services
    from app.products.models import ProductKind
    from app.stores.models import DeliveryMethod
    from app.tickets.models import Ticket
    from bench.fixtures import issuer_with_product, rows

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_MODE": "inline"})
    with app.app_context():
        store, owner, product = issuer_with_product()
        _, token = create_api_token(owner, "bench")
        db.session.commit()
        batches = []
        for n in range((2 * count + 999) // 1000):
            batch = services.prepare_batch(
                owner, store, import_no=f"RB{n}", method=DeliveryMethod.MERCHANT_PRINT,
                kind=ProductKind.PICKUP, rows=rows(product, count=100, quantity=10, prefix=f"RB{n}N"))
            db.session.commit()
            services.confirm_batch(owner, store, batch)
            db.session.commit()
            batches.append(batch.id)
        tickets = [(t.id, t.code) for t in db.session.scalars(  # codes derive from the key
            db.select(Ticket).order_by(Ticket.id).limit(2 * count))]
        db.session.remove()
        db.engine.dispose()
    codes = [code for _, code in tickets[:count]]
    bare_ids = [ticket_id for ticket_id, _ in tickets[count:2 * count]]
    return codes, token, bare_ids


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _api_load(codes: list[str], token: str) -> tuple[float, list[float], int]:
    chunks = [codes[i::CLIENTS] for i in range(CLIENTS)]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)

    def client(mine: list[str]) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        local: list[float] = []
        bad = 0
        barrier.wait()
        for code in mine:
            body = json.dumps({"code": code})
            start = time.perf_counter()
            conn.request("POST", "/api/v1/redemptions", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - start)
            if response.status != 201:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(local)
            errors += bad

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, errors


def _bare_load(url: str, ids: list[int]) -> float:
    engine = create_engine(url, pool_size=CLIENTS, max_overflow=0)
    chunks = [ids[i::CLIENTS] for i in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)

    def worker(mine: list[int]) -> None:
        with engine.connect() as conn:
            barrier.wait()
            for ticket_id in mine:
                conn.execute(text("UPDATE tickets SET status = 'used', redeemed_at = now() "
                                  "WHERE id = :id AND status = 'unused' RETURNING id"),
                             {"id": ticket_id}).all()
                conn.commit()

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(ids) / elapsed


def run() -> list[dict]:
    count = CLIENTS * TICKETS_PER_CLIENT
    with fresh_database() as url:
        print(f"  issuing {2 * count} tickets…", flush=True)
        codes, token, bare_ids = _make_tickets(url, count)
        env = {**os.environ, "DATABASE_URL": url, "ECTIX_JOBS_MODE": "inline",
               "SECRET_KEY": "bench", "ECTIX_SECURE_COOKIES": "0"}
        workers = str(2 * (os.cpu_count() or 2) + 1)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "app:create_app()", "-b", f"127.0.0.1:{PORT}",
             "-w", workers, "--threads", "4", "-k", "gthread", "--log-level", "warning"],
            cwd=ROOT, env=env)
        try:
            for _ in range(100):
                try:
                    http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/login")
                    break
                except OSError:
                    time.sleep(0.1)
            _api_load(codes[:CLIENTS * 5], token)  # warm up every worker
            elapsed, latencies, errors = _api_load(codes[CLIENTS * 5:], token)
        finally:
            server.terminate()
            server.wait(10)
        api_rate = len(latencies) / elapsed
        bare_rate = _bare_load(url, bare_ids)
    print(f"  API: {api_rate:.0f}/s (errors {errors}); bare statement: {bare_rate:.0f}/s", flush=True)
    if errors:
        raise RuntimeError(f"{errors} redemptions did not answer 201")
    return [
        {"name": "redemption API: redemptions per second (32 clients)", "value": api_rate,
         "unit": "/s", "target": None},
        {"name": "redemption API: latency p50", "value": _percentile(latencies, 50) * 1000,
         "unit": "ms", "target": None},
        {"name": "redemption API: latency p99", "value": _percentile(latencies, 99) * 1000,
         "unit": "ms", "target": None},
        {"name": "bare compare-and-set: updates per second (32 connections)", "value": bare_rate,
         "unit": "/s", "target": None},
        {"name": "ratio API / bare statement", "value": api_rate / bare_rate, "unit": "",
         "target": None},
    ]

"""The framework ceiling of the redemption benchmark: the least a Flask app on gunicorn can do to
redeem a code over HTTP, served with exactly the real API's gunicorn configuration
(bench/gunicorn_conf.py). `POST /api/v1/redemptions {"code": ...}` checks the bearer token
against a set of token hashes read once at start, finds the ticket by its code digest (the
column and keyed digest the real lookup probes: app/credentials.py, Ticket.code) and runs the
one compare-and-set statement in autocommit; it answers a small JSON 201 (404 when the code
redeems nothing). No ORM, no session, no rights, no history: what remains is Flask, gunicorn,
JSON, one HMAC and one round trip to PostgreSQL, which the real API cannot beat.

    gunicorn -c python:bench.gunicorn_conf 'bench.ceiling:create_app()'   # DATABASE_URL set
"""

from __future__ import annotations

import hashlib
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, jsonify, request

from app.credentials import digest
from bench import gunicorn_conf

STATEMENT = ("UPDATE tickets SET status = 'used', redeemed_at = now() "
             "WHERE code_digest = %s AND status = 'unused' RETURNING id")


def psycopg_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq reads it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class Pool:
    """At most `size` autocommit connections, opened on first need: as many as the worker serves
    requests at once (a queue, so it is cooperative under gevent's patched threading too)."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.idle, self.slots = url, queue.LifoQueue(), queue.Queue()
        for _ in range(size):
            self.slots.put(None)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self.idle.get_nowait()
        except queue.Empty:
            self.slots.get()  # waits while `size` connections are out
            conn = psycopg.connect(self.url, autocommit=True)
        try:
            yield conn
        except BaseException:
            conn.close()
            self.slots.put(None)
            raise
        self.idle.put(conn)


def create_app() -> Flask:
    url = psycopg_url(os.environ["DATABASE_URL"])
    key = os.environ["ECTIX_CODE_KEY"].encode()  # the key the tickets were issued under (v1)
    with psycopg.connect(url) as conn:  # filled once: a revoked token keeps working here
        tokens = {row[0] for row in conn.execute(
            "SELECT token_hash FROM api_tokens WHERE revoked_at IS NULL")}
    pool = Pool(url, gunicorn_conf.POOL_SIZE)
    app = Flask(__name__)

    @app.post("/api/v1/redemptions")
    def redeem():  # noqa: ANN202
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if hashlib.sha256(bearer.encode()).hexdigest() not in tokens:
            return jsonify(error="unauthorized"), 401
        code = (request.get_json(silent=True) or {}).get("code")
        if not isinstance(code, str):
            return jsonify(error="invalid"), 422
        with pool.connection() as conn:
            row = conn.execute(STATEMENT, (digest(key, "code", code),)).fetchone()
        if row is None:
            return jsonify(error="not_found"), 404
        return jsonify(id=row[0], status="used"), 201

    return app

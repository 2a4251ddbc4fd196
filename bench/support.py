"""Shared pieces of the benchmarks: the machine, a fresh PostgreSQL database, a worker process."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ECTIX_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECTIX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
OWNER, PASSWORD = "benchowner", "Bench1234"  # the issuer's main account (bench/fixtures.py)
_CSRF = (re.compile(r'name="csrf_token"[^>]*value="([^"]+)"'),
         re.compile(r'value="([^"]+)"[^>]*name="csrf_token"'))
# A PostgreSQL app outside tests needs its own code key (app/credentials.py); the benchmark's
# processes (this one, `flask db upgrade`, the worker, gunicorn) inherit this one.
os.environ.setdefault("ECTIX_CODE_KEY", "bench-code-key-not-a-secret")


def _run(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pg_version = ""
    with contextlib.suppress(Exception):
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            pg_version = conn.execute(text("show server_version")).scalar()
        engine.dispose()
    return {
        "commit": _run("git", "rev-parse", "HEAD") or "unknown",
        "dirty": bool(_run("git", "status", "--porcelain")),
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "postgresql": pg_version,
        "redis": _run("redis-server", "--version").split(" v=")[-1].split(" ")[0],
    }


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database, migrated; dropped afterwards. Yields its URL."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"ectix_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = urlsplit(PG_URL)._replace(path=f"/{name}").geturl()
    try:
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def worker(database_url: str) -> Iterator[subprocess.Popen]:
    """`python worker.py` on the benchmark database and Redis, stopped afterwards."""
    from redis import Redis

    Redis.from_url(REDIS_URL).flushdb()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    log = (ROOT / "bench" / "results" / "worker.log.tmp").open("w")  # a pipe would fill and block
    proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    time.sleep(1.5)  # let it connect and register
    try:
        yield proc
    finally:
        stop(proc, 10)
        log.close()


def csrf_token_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    for pattern in _CSRF:
        if found := pattern.search(html):
            return found.group(1)
    raise ValueError("no CSRF token on the page")


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """Terminate a process the benchmark started, killing it if it outlasts `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


def wait_for_batch(model, batch_id: int, started: float, limit: float = 120) -> float:  # noqa: ANN001
    """Poll an issuing batch (of `model`) until it finishes; the seconds since `started`.
    Raises if it failed or took longer than `limit`."""
    from app.db import db
    from app.issuance.models import BatchStatus

    while True:
        db.session.expire_all()
        batch = db.session.get(model, batch_id)
        if batch.status in (BatchStatus.SUCCEEDED, BatchStatus.FAILED):
            break
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"the batch did not finish in {limit:.0f} s")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    if batch.status is not BatchStatus.SUCCEEDED:
        raise RuntimeError(f"the batch failed: {batch.error}")
    return elapsed

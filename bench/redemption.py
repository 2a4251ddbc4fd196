"""Redemption on PostgreSQL, from the physical limit down to the clerk's press, in one run.

One fresh database; tickets issued through the real services; every phase redeems each of them
at most once, and the tickets are put back to unused between phases (`_reset`: a redemption of
an unused ticket moves no sales counter, writes no escrow entry and sends no notice for this
store, so a reset ticket redeems again exactly as a new one; only history rows accumulate).

1. bare statement: the compare-and-set alone, one UPDATE in autocommit from 32 psycopg
   connections (a thread each): what PostgreSQL on this machine allows.
2. framework ceiling: bench/ceiling.py, the least a Flask app can do for the same request (a
   cached token, the one statement) under the API's gunicorn configuration, driven by wrk.
3. redemption API: the real app, `POST /api/v1/redemptions` with a bearer token, same gunicorn,
   same wrk load. Its ratio to the ceiling is what the web app's own work costs.
4. counter redemption: the HTMX press of 【核銷】 at the counter, `POST /counter/act` with a
   logged-in session cookie and its CSRF token.
5. In process: the server CPU one API redemption takes (prebuilt WSGI environs, no HTTP), and
   the SQL statements a code that finds nothing costs.
6. Instructions per API redemption, per counter press and per call of the framework ceiling,
   counted by valgrind's callgrind (bench/instructions.py): the one figure this shared VM's
   noise cannot move, so a change of a few percent shows from one run to the next; the
   ceiling's over each call's is the throughput ratio's noise-free companion.

wrk (Debian's package; `make bench` installs it) drives the HTTP phases with bench/redemption.lua:
2 threads, 32 connections, a one-second warm-up on codes of its own so every worker is up, then
ECTIX_BENCH_SECONDS (default 8) on the others. The gunicorn settings are bench/gunicorn_conf.py,
for the ceiling and the app alike; `python -m bench.redemption compare [sync gthread gevent]`
runs the API phase under each worker model of that file.
"""

from __future__ import annotations

import gc
import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench import gunicorn_conf, instructions
from bench.ceiling import psycopg_url
from bench.support import OWNER, PASSWORD, ROOT, csrf_token_of, fresh_database, stop

CLIENTS = gunicorn_conf.CLIENTS
WRK_THREADS = 2
SECONDS = int(os.environ.get("ECTIX_BENCH_SECONDS") or 8)
WARM_UP_SECONDS, WARM_UP_TICKETS = 1, 3000  # a warm-up that runs out of codes just ends early
# Enough that no phase runs out of codes: the ceiling has answered up to 2,800/s on two cores.
TICKETS = int(os.environ.get("ECTIX_BENCH_REDEMPTION_TICKETS") or
              4500 * SECONDS + WARM_UP_TICKETS)
CPU_CALLS, CPU_WARM_UP, CPU_BATCHES = 500, 100, 5
HOST = "127.0.0.1"
PORT = 5077
LUA = Path(__file__).resolve().parent / "redemption.lua"

BARE = "redemption: bare statement (1 UPDATE, autocommit, 32 psycopg connections)"
CEILING = ("redemption: framework ceiling (minimal Flask, cached token, 1 statement; "
           "gunicorn, wrk 32 connections)")
API = "redemption API: POST /api/v1/redemptions (real app; same gunicorn, wrk 32 connections)"
COUNTER = ("counter redemption: HTMX POST /counter/act (session cookie + CSRF; same gunicorn, "
           "wrk 32 connections)")
INSTRUCTIONS = "{}: instructions per call (callgrind, in process; the machine's noise cannot move it)"
API_CALL = "redemption API"
COUNTER_CALL = "counter redemption"
CEILING_CALL = "framework ceiling"
# The throughput ratios' noise-free companion: the ceiling's instructions over the call's.
INSTRUCTIONS_RATIO = "framework ceiling's instructions / instructions per call"


class BenchError(RuntimeError):
    pass


# Tickets --------------------------------------------------------------------------------------

def _make_tickets(url: str, count: int) -> tuple[list[str], str, list[int]]:
    """`count` tickets issued through the real service (1,000 a batch, as a merchant would);
    their codes, an API token of the issuer's main account, and their ids (same order)."""
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
        for n in range((count + 999) // 1000):
            batch = services.prepare_batch(
                owner, store, import_no=f"RB{n}", method=DeliveryMethod.MERCHANT_PRINT,
                kind=ProductKind.PICKUP, rows=rows(product, count=100, quantity=10, prefix=f"RB{n}N"))
            db.session.commit()
            services.confirm_batch(owner, store, batch)
            db.session.commit()
        tickets = [(t.id, t.code) for t in db.session.scalars(  # codes derive from the key
            db.select(Ticket).order_by(Ticket.id).limit(count))]
        db.session.remove()
        db.engine.dispose()
    return [code for _, code in tickets], token, [ticket_id for ticket_id, _ in tickets]


def _reset(url: str) -> None:
    """Every ticket unused again, as issued: the columns a redemption sets (app/tickets/actions.py,
    Action.REDEEM) back to empty, and the table vacuumed so each phase meets the same heap."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("UPDATE tickets SET status = 'unused', redeemed_at = NULL, "
                     "redeemed_by_id = NULL, redeemed_store_id = NULL, redeemed_branch_id = NULL, "
                     "status_changed_at = issued_at WHERE status <> 'unused'")
        conn.execute("VACUUM ANALYZE tickets")


# 1. The bare statement ------------------------------------------------------------------------

def _bare(url: str, ids: list[int]) -> dict:
    """Each ticket once, one autocommit UPDATE … RETURNING per ticket, 32 connections at once."""
    chunks = [ids[i::CLIENTS] for i in range(CLIENTS)]
    conns = [psycopg.connect(psycopg_url(url), autocommit=True) for _ in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)
    updated = [0] * CLIENTS

    def worker(n: int) -> None:
        conn, done = conns[n], 0
        barrier.wait()
        for ticket_id in chunks[n]:
            done += len(conn.execute(
                "UPDATE tickets SET status = 'used', redeemed_at = now() "
                "WHERE id = %s AND status = 'unused' RETURNING id", (ticket_id,)).fetchall())
        updated[n] = done

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    if sum(updated) != len(ids):
        raise BenchError(f"bare statement: {sum(updated)} of {len(ids)} tickets updated")
    return {"rate": len(ids) / elapsed, "count": len(ids), "seconds": elapsed}


# HTTP phases ----------------------------------------------------------------------------------

def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return found


@contextmanager
def _server(app_spec: str, url: str, extra_env: dict[str, str] | None = None) -> Iterator[None]:
    """gunicorn with bench/gunicorn_conf.py serving `app_spec` on the benchmark database."""
    env = {**os.environ, "DATABASE_URL": url, "ECTIX_JOBS_MODE": "inline", "SECRET_KEY": "bench",
           "ECTIX_SECURE_COOKIES": "0", "ECTIX_BENCH_BIND": f"{HOST}:{PORT}", **(extra_env or {})}
    env.pop("REDIS_URL", None)  # as before: rate-limit counts in each worker's memory
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:bench.gunicorn_conf",
                             app_spec], cwd=ROOT, env=env)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise BenchError(f"gunicorn ({app_spec}) exited with {proc.returncode}")
            try:
                conn = http.client.HTTPConnection(HOST, PORT, timeout=1)
                conn.request("GET", "/__bench_ping")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise BenchError(f"gunicorn ({app_spec}) did not answer in 30 s")
        yield
    finally:
        stop(proc, 15)


def _wrk(codes_file: Path, seconds: int, env: dict[str, str], *, may_run_out: bool = False) -> dict:
    """One wrk run; the JSON line redemption.lua's done() prints."""
    out = subprocess.run(
        [wrk_path(), "-t", str(WRK_THREADS), "-c", str(CLIENTS), "-d", f"{seconds}s", "--latency",
         "--timeout", "10s", "-s", str(LUA), f"http://{HOST}:{PORT}"],
        env={**os.environ, "BENCH_CODES": str(codes_file), "BENCH_THREADS": str(WRK_THREADS),
             **env}, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if out.returncode or line is None:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stdout[-2000:]} {out.stderr[-2000:]}")
    result = json.loads(line.removeprefix("BENCHJSON "))
    if result["exhausted"] and not may_run_out:
        raise BenchError(f"wrk ran out of codes after {result['sent']} requests: raise "
                         "ECTIX_BENCH_REDEMPTION_TICKETS")
    return result


def _load(files: tuple[Path, Path], env: dict[str, str], expect: int) -> dict:
    """Warm up on codes of their own (every worker started, its pool filled; requests still in
    flight when wrk stops must not redeem a code the measured run sends), then measure."""
    warm_up, measured = files
    _wrk(warm_up, WARM_UP_SECONDS, env, may_run_out=True)
    result = _wrk(measured, SECONDS, env)
    answered = sum(result["statuses"].values())
    result["ok"] = result["statuses"].get(str(expect), 0)
    # Every request that did not answer `expect` (a refusal, an error page, a socket error or a
    # timeout) is an error.
    result["errors"] = (answered - result["ok"]) + result["connect_errors"] + \
        result["read_errors"] + result["write_errors"] + result["timeouts"]
    result["rate"] = result["ok"] / result["duration_s"]
    return result


def _session(base: str) -> tuple[str, str]:
    """A clerk's browser at the counter: log the issuer's main account in (it has no second
    factor, so the password is the whole login; app/auth/views.py) and open 票券核銷. Its Cookie
    header and the CSRF token the page's forms carry."""
    import requests

    browser = requests.Session()
    login = browser.get(f"{base}/login", timeout=30)
    answer = browser.post(f"{base}/login", timeout=30, data={
        "username": OWNER, "password": PASSWORD, "csrf_token": csrf_token_of(login.text)})
    page = browser.get(f"{base}/counter/redeem", timeout=30, allow_redirects=False)
    if page.status_code != 200:
        raise BenchError(f"the counter page answered {page.status_code} after logging in "
                         f"(login answered {answer.status_code} at {answer.url})")
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    return cookie, csrf_token_of(page.text)


def _codes_files(directory: Path, codes: list[str], ids: list[int]) -> tuple[Path, Path]:
    """The warm-up's codes (the last WARM_UP_TICKETS) and the measured run's (the others)."""
    lines = [f"{c} {i}\n" for c, i in zip(codes, ids, strict=True)]
    warm_up, measured = directory / "warm-up.txt", directory / "codes.txt"
    warm_up.write_text("".join(lines[-WARM_UP_TICKETS:]))
    measured.write_text("".join(lines[:-WARM_UP_TICKETS]))
    return warm_up, measured


def _app_server(url: str, extra_env: dict | None = None):  # noqa: ANN202
    """The real app under the same gunicorn, each worker's database pool sized to its threads
    (ECTIX_DB_POOL_SIZE, as README's production section says)."""
    return _server("app:create_app()", url,
                   {"ECTIX_DB_POOL_SIZE": str(gunicorn_conf.POOL_SIZE), **(extra_env or {})})


def _check_redeemed(url: str, ids: list[int], result: dict) -> None:
    """The successes wrk counted are tickets really redeemed (at least as many: requests still in
    flight when wrk stopped may have redeemed a few more), so a success answer cannot hide a
    failure (an error page or a login form served with 200)."""
    with psycopg.connect(psycopg_url(url)) as conn:
        used = conn.execute("SELECT count(*) FROM tickets WHERE status = 'used' AND id = ANY(%s)",
                            (ids[:-WARM_UP_TICKETS],)).fetchone()[0]
    if used < result["ok"]:
        raise BenchError(f"{result['ok']} successes answered but {used} tickets redeemed")


def _api_phase(url: str, files: tuple[Path, Path], token: str, ids: list[int],
               extra_env: dict | None = None) -> dict:
    _reset(url)
    with _app_server(url, extra_env):
        result = _load(files, {"BENCH_MODE": "api", "BENCH_TOKEN": token}, 201)
    _check_redeemed(url, ids, result)
    return result


# 5. In process --------------------------------------------------------------------------------

def _in_process(url: str, codes: list[str], token: str) -> tuple[float, int]:
    """(server CPU ms per API redemption, statements of a lookup that finds nothing)."""
    from app import create_app
    from app.db import db, observe_statements
    from app.tickets.codes import new_redemption_code

    # No access line per call, as in the gunicorn phases (bench/gunicorn_conf.py).
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_MODE": "inline", "SECRET_KEY": "bench",
                      "LOG_LEVEL": "WARNING"})

    def environ(code: str) -> dict:
        return instructions.api_environ(code, token)

    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    def call(env: dict) -> None:
        b"".join(app(env, start_response))  # the body too: serialising it is the server's work

    for code in codes[:CPU_WARM_UP]:
        call(environ(code))
    prebuilt = [environ(code) for code in codes[CPU_WARM_UP:CPU_WARM_UP + CPU_CALLS]]
    statuses.clear()
    # The benchmark's own objects (codes, results) are frozen out of the garbage collector's
    # reach, as a server worker holds none of them; and the best of CPU_BATCHES is kept, since
    # a shared machine only ever adds time (the way timeit reports).
    gc.collect()
    gc.freeze()
    size = len(prebuilt) // CPU_BATCHES
    batches = []
    for n in range(CPU_BATCHES):
        start = time.process_time()
        for env in prebuilt[n * size:(n + 1) * size]:
            call(env)
        batches.append((time.process_time() - start) / size * 1000)
    gc.unfreeze()
    cpu_ms = min(batches)
    if not all(s.startswith("201") for s in statuses):
        raise BenchError(f"in-process redemptions answered {sorted(set(statuses))}")

    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    unknown = environ(new_redemption_code())  # well formed, random: no ticket has it
    statuses.clear()
    with observe_statements(engine, statements.append):  # at the driver: raw cursors count too
        call(unknown)
    if not statuses[0].startswith("404"):
        raise BenchError(f"an unknown code answered {statuses[0]}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return cpu_ms, len(statements)


# The run --------------------------------------------------------------------------------------

def _server_label() -> str:
    c = gunicorn_conf
    return f"gunicorn {c.worker_class} {c.workers}×{c.threads}, pool {c.POOL_SIZE}/worker"


def _print(label: str, r: dict) -> None:
    print(f"  {label}: {r['rate']:.0f}/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
          f"errors {r['errors']} (answers {r['statuses']})", flush=True)


def run() -> list[dict]:
    wrk_path()
    server = _server_label()
    with fresh_database() as url, tempfile.TemporaryDirectory() as tmp:
        print(f"  issuing {TICKETS} tickets…", flush=True)
        codes, token, ids = _make_tickets(url, TICKETS)
        files = _codes_files(Path(tmp), codes, ids)

        _reset(url)
        bare = _bare(url, ids)
        print(f"  bare statement: {bare['rate']:.0f}/s", flush=True)

        _reset(url)
        with _server("bench.ceiling:create_app()", url):
            ceiling = _load(files, {"BENCH_MODE": "api", "BENCH_TOKEN": token}, 201)
        _check_redeemed(url, ids, ceiling)
        _print(f"framework ceiling ({server})", ceiling)

        api = _api_phase(url, files, token, ids)
        _print(f"redemption API ({server})", api)

        _reset(url)
        with _app_server(url):
            cookie, csrf = _session(f"http://{HOST}:{PORT}")
            counter = _load(files, {"BENCH_MODE": "counter", "BENCH_COOKIE": cookie,
                                    "BENCH_CSRF": csrf}, 200)
        _check_redeemed(url, ids, counter)
        _print(f"counter redemption ({server})", counter)

        _reset(url)
        cpu_ms, statements = _in_process(url, codes, token)
        print(f"  in process: {cpu_ms:.2f} ms CPU per redemption; nothing found: {statements} "
              "statements", flush=True)

        _reset(url)
        pairs = list(zip(codes, ids, strict=True))
        per_call = instructions.CALLS + instructions.WARM_UP
        api_instructions = instructions.count("api", url, token, pairs[:per_call], Path(tmp))
        counter_instructions = instructions.count("counter", url, token,
                                                  pairs[per_call:2 * per_call], Path(tmp))
        ceiling_instructions = instructions.count("ceiling", url, token,
                                                  pairs[2 * per_call:3 * per_call], Path(tmp))
        print(f"  instructions per call (callgrind): API {api_instructions / 1e6:.2f} M, counter "
              f"{counter_instructions / 1e6:.2f} M, framework ceiling "
              f"{ceiling_instructions / 1e6:.2f} M", flush=True)

    def http_figures(name: str, r: dict, p99_target: float | None = None) -> list[dict]:
        common = {"server": server, "requests": r["requests"], "seconds": r["duration_s"],
                  "answers": r["statuses"]}
        return [
            {"name": name, "value": r["rate"], "unit": "/s", "target": None, "better": "higher",
             **common},
            {"name": f"{name}: p50", "value": r["p50_ms"], "unit": "ms", "target": None},
            {"name": f"{name}: p99", "value": r["p99_ms"], "unit": "ms", "target": p99_target},
        ]

    return [
        {"name": BARE, "value": bare["rate"], "unit": "/s", "target": None, "better": "higher",
         "updates": bare["count"], "seconds": bare["seconds"]},
        *http_figures(CEILING, ceiling),
        *http_figures(API, api, 50),
        {"name": f"{API}: errors (not 201)", "value": api["errors"], "unit": "", "target": 0},
        {"name": "redemption API / framework ceiling", "value": api["rate"] / ceiling["rate"],
         "unit": "", "target": 0.5, "better": "higher"},
        *http_figures(COUNTER, counter, 60),
        {"name": f"{COUNTER}: errors (not 200)", "value": counter["errors"], "unit": "",
         "target": 0},
        {"name": "counter redemption / framework ceiling", "value": counter["rate"] / ceiling["rate"],
         "unit": "", "target": 0.4, "better": "higher"},
        {"name": f"redemption API: server CPU per redemption (in process, best of "
                 f"{CPU_BATCHES} × {CPU_CALLS // CPU_BATCHES} WSGI calls)",
         "value": cpu_ms, "unit": "ms", "target": 1.5},
        {"name": "redemption API: nothing-found lookup: statements", "value": statements,
         "unit": "", "target": 2},
        {"name": INSTRUCTIONS.format(API_CALL), "value": api_instructions / 1e6,
         "unit": "M", "target": None, "calls": instructions.CALLS},
        {"name": INSTRUCTIONS.format(COUNTER_CALL), "value": counter_instructions / 1e6,
         "unit": "M", "target": None, "calls": instructions.CALLS},
        {"name": INSTRUCTIONS.format(CEILING_CALL), "value": ceiling_instructions / 1e6,
         "unit": "M", "target": None, "calls": instructions.CALLS},
        {"name": f"{INSTRUCTIONS_RATIO}: {API_CALL}",
         "value": ceiling_instructions / api_instructions, "unit": "", "target": None},
        {"name": f"{INSTRUCTIONS_RATIO}: {COUNTER_CALL}",
         "value": ceiling_instructions / counter_instructions, "unit": "", "target": None},
    ]


def _model(spec: str) -> tuple[str, int, int]:
    """A model of gunicorn_conf.MODELS by name, or "class:WORKERSxTHREADS" (gthread:2x8)."""
    if ":" not in spec:
        return gunicorn_conf.MODELS[spec]
    worker_class, _, size = spec.partition(":")
    workers, _, threads = size.partition("x")
    return worker_class, int(workers), int(threads or 1)


def compare(models: list[str]) -> None:
    """The API phase under each worker model of bench/gunicorn_conf.py, on one database."""
    wrk_path()
    count = TICKETS  # as many as a phase of the full run may use
    with fresh_database() as url, tempfile.TemporaryDirectory() as tmp:
        print(f"  issuing {count} tickets…", flush=True)
        codes, token, ids = _make_tickets(url, count)
        files = _codes_files(Path(tmp), codes, ids)
        for model in models:
            worker_class, workers, threads = _model(model)
            env = {"ECTIX_BENCH_WORKER_CLASS": worker_class, "ECTIX_BENCH_WORKERS": str(workers),
                   "ECTIX_BENCH_THREADS": str(threads)}
            pool = math.ceil(CLIENTS / workers) if worker_class == "gevent" else threads
            try:
                result = _api_phase(url, files, token, ids, env)
            except BenchError as err:
                print(f"  {model}: {err}", flush=True)
                continue
            _print(f"API, gunicorn {worker_class} {workers}×{threads}, pool {pool}", result)


if __name__ == "__main__":
    if sys.argv[1:2] == ["compare"]:
        compare(sys.argv[2:] or list(gunicorn_conf.MODELS))
    else:
        print(run())

"""Reports on a big tenant: one million tickets on PostgreSQL, pages over HTTP, a 100k-row export.

A fresh database gets the demo data and ECTIX_BENCH_TICKETS tickets (default 1,000,000) from
`flask --app app demo-data --tickets N` (demodata/loadgen.py; its wall time is a figure too). Then a
real gunicorn serves the app and the demo `issuer` (60 % of the tickets) logs in over HTTP:

- the ticket report's first page by issue date, the last three months (target < 150 ms),
- the home dashboard (target < 300 ms),

each WARMUP times, then REQUESTS times one after another: median and p95. Last, a separate
process runs app.reports.export.write_report_xlsx for a window of issue dates holding just over
100,000 of the issuer's tickets: its time (target < 10 s) and the process's peak RSS (target
< 200 MB, read from wait4, so only that process counts). The exact row count is recorded.

Missing pieces fail loudly before anything is loaded: an endpoint that does not exist, an export
function that cannot be imported, a page answering anything but 200.

    python -m bench reports                      # as part of `make bench`
    python -m bench.reports                      # alone; writes bench/results/reports-<time>.json
    python -m bench.reports again DATABASE_URL   # the pages and the export again, on a database
                                                 # loaded earlier (ECTIX_BENCH_TICKETS: its size)
    python -m bench.reports explain DATABASE_URL # EXPLAIN ANALYZE the SQL behind the pages
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from bench.support import ROOT, fresh_database, machine_info

TICKETS = int(os.environ.get("ECTIX_BENCH_TICKETS", "1000000"))  # smaller for a quick try
PORT = 5078
WARMUP = 3
REQUESTS = 20
LOGIN = ("issuer", "Demo1234")
ISSUER_CODE = "3002607"

# The pages, as the browser asks for them ({start} / {end}: YYYY-MM-DD, Taipei days).
TICKET_REPORT_ENDPOINT = "reports.tickets"
TICKET_REPORT_URL = "/reports/tickets?mode=date&date_type=issued&start={start}&end={end}"
HOME_ENDPOINT = "home.index"
HOME_URL = "/home"
# Further pages: the date types and reports the indexes and the daily figures serve, each with
# its target (ms, on the median and the p95; None: measured only).
EXTRA_PAGES = {
    "ticket report, by redemption date": (
        TICKET_REPORT_ENDPOINT, "/reports/tickets?mode=date&date_type=redeemed&start={start}&end={end}"),
    "ticket report, by return date": (
        TICKET_REPORT_ENDPOINT, "/reports/tickets?mode=date&date_type=returned&start={start}&end={end}"),
    "branch report": ("reports.branch", "/reports/branch?start={start}&end={end}"),
    "circulation report": ("reports.circulation", "/reports/circulation?start={start}&end={end}"),
    "cross-store report": ("reports.cross_store", "/reports/cross-store?start={start}&end={end}"),
}
EXTRA_TARGETS_MS = {"ticket report, by redemption date": None, "ticket report, by return date": None,
                    "branch report": 300, "circulation report": 500, "cross-store report": 150}
EXPORT_REPORT = "tickets"
# At 10M tickets the export is the background export of a million rows (the issue's target).
EXPORT_ROWS = int(os.environ.get("ECTIX_BENCH_EXPORT_ROWS", str(max(100_000, TICKETS // 10))))

TARGET_REPORT_MS = 150
TARGET_HOME_MS = 300
TARGET_EXPORT_S = 10 if EXPORT_ROWS < 1_000_000 else 120
TARGET_EXPORT_MB = 200  # flat: the same bound at 100k rows and at 1M
TARGET_LOAD_S = 180 if TICKETS <= 1_000_000 else None  # the load itself has no target at 10M

RESULTS = Path(__file__).resolve().parent / "results"


class BenchError(RuntimeError):
    pass


# Before loading anything: is everything we will measure there? ---------------------------------

def preflight() -> None:
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    wanted = {TICKET_REPORT_ENDPOINT, HOME_ENDPOINT} | {e for e, _ in EXTRA_PAGES.values()}
    missing = sorted(wanted - endpoints)
    try:
        from app.reports.export import write_report_xlsx  # noqa: F401
    except ImportError as err:
        missing.append(f"app.reports.export.write_report_xlsx ({err})")
    if missing:
        raise BenchError("the reports benchmark needs what does not exist yet: " + ", ".join(missing))
    with app.test_request_context():
        from flask import url_for

        for endpoint, url in [(TICKET_REPORT_ENDPOINT, TICKET_REPORT_URL), (HOME_ENDPOINT, HOME_URL),
                              *EXTRA_PAGES.values()]:
            if url_for(endpoint) != url.split("?")[0]:
                raise BenchError(f"{endpoint} is served at {url_for(endpoint)}, not {url}: "
                                 "update the URL constants at the top of bench/reports.py")


# Loading ---------------------------------------------------------------------------------------

def load(url: str, tickets: int) -> float:
    """`flask demo-data --tickets N` on the database; its wall time in seconds."""
    env = {**os.environ, "DATABASE_URL": url}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "demo-data",
                           "--tickets", str(tickets)], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    for line in proc.stdout.splitlines():
        if not line.startswith("  ") or any(w in line for w in ("tickets", "re-", "VACUUM", "written")):
            print(f"  | {line}", flush=True)
    if proc.returncode:
        raise BenchError(f"loading failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return elapsed


# HTTP ------------------------------------------------------------------------------------------

class Browser:
    """One logged-in session against the server: a cookie, no redirects followed."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        content = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, content, dict(response.getheaders())

    def login(self, username: str, password: str) -> None:
        status, page, _ = self.request("GET", "/login")
        tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
        match = tag and re.search(r'value="([^"]+)"', tag.group(0))
        if status != 200 or not match:
            raise BenchError(f"GET /login answered {status} without a CSRF token")
        status, _, headers = self.request("POST", "/login", urlencode(
            {"username": username, "password": password, "csrf_token": match.group(1)}))
        if status not in (302, 303) or "/login" in headers.get("Location", ""):
            raise BenchError(f"logging in as {username} failed ({status})")

    def timed_get(self, path: str) -> tuple[float, str]:
        start = time.perf_counter()
        status, content, headers = self.request("GET", path)
        elapsed = time.perf_counter() - start
        if status != 200:
            where = headers.get("Location", "")
            raise BenchError(f"GET {path} answered {status} {where}\n{content[:1500]}")
        return elapsed, content


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(browser: Browser, path: str) -> dict:
    for _ in range(WARMUP):
        browser.timed_get(path)
    samples = [browser.timed_get(path)[0] * 1000 for _ in range(REQUESTS)]
    return {"median": _percentile(samples, 50), "p95": _percentile(samples, 95), "samples": samples}


def serve(url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "ECTIX_JOBS_MODE": "inline", "SECRET_KEY": "bench",
           "ECTIX_SECURE_COOKIES": "0", "ECTIX_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:create_app()", "-b", f"127.0.0.1:{PORT}",
         "-w", "2", "--threads", "4", "-k", "gthread", "--timeout", "300",
         "--log-level", "warning"], cwd=ROOT, env=env)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/login")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise BenchError("gunicorn did not answer in 30 s")


# The export ------------------------------------------------------------------------------------

_EXPORT_CHILD = """
import json, sys, time
from pathlib import Path
from app import create_app
from app.reports.export import write_report_xlsx
spec = json.loads(sys.argv[1])
app = create_app({"SQLALCHEMY_DATABASE_URI": spec["url"]})
with app.app_context():
    start = time.perf_counter()
    rows = write_report_xlsx(spec["report"], spec["params"], spec["store_id"], spec["account_id"],
                             Path(spec["out"]))
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))
"""


def export_window(url: str) -> tuple[dict, int, int, int]:
    """Issue dates holding just over EXPORT_ROWS of the issuer's tickets: (params, expected
    rows, store id, account id)."""
    from app import clock

    engine = create_engine(url)
    with engine.connect() as conn:
        store_id, account_id = conn.execute(text(
            "SELECT s.id, a.id FROM stores s JOIN accounts a ON a.store_id = s.id "
            "WHERE s.merchant_code = :code AND a.username = :user"),
            {"code": ISSUER_CODE, "user": LOGIN[0]}).one()
        nth = conn.execute(text(
            "SELECT issued_at FROM tickets WHERE store_id = :s ORDER BY issued_at DESC "
            "OFFSET :n LIMIT 1"), {"s": store_id, "n": EXPORT_ROWS - 1}).scalar()
        if nth is None:
            raise BenchError(f"the issuer has fewer than {EXPORT_ROWS:,} tickets")
        end = clock.business_day()
        start = clock.business_day(nth)
        expected = conn.execute(text(
            "SELECT count(*) FROM tickets WHERE store_id = :s AND issued_at >= :a AND issued_at <= :b"),
            {"s": store_id, "a": clock.day_start(start), "b": clock.day_end(end)}).scalar()
    engine.dispose()
    params = {"mode": "date", "date_type": "issued", "start": start.isoformat(), "end": end.isoformat()}
    return params, expected, store_id, account_id


def export(url: str) -> dict:
    params, expected, store_id, account_id = export_window(url)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.xlsx"
        spec = {"url": url, "report": EXPORT_REPORT, "params": params, "store_id": store_id,
                "account_id": account_id, "out": str(out)}
        stdout, stderr = Path(tmp) / "stdout", Path(tmp) / "stderr"
        start = time.perf_counter()
        with stdout.open("w") as so, stderr.open("w") as se:
            proc = subprocess.Popen([sys.executable, "-c", _EXPORT_CHILD, json.dumps(spec)],
                                    cwd=ROOT, stdout=so, stderr=se)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, in KB
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise BenchError(f"the export process failed ({proc.returncode}):\n"
                             f"{stderr.read_text()[-3000:]}")
        result = json.loads(stdout.read_text().strip().splitlines()[-1])
        size_mb = out.stat().st_size / 1e6
    return {"params": params, "expected_rows": expected, "rows": result["rows"],
            "seconds": result["seconds"], "process_seconds": wall,
            "peak_rss_mb": usage.ru_maxrss / 1024, "file_mb": size_mb}


# The run ---------------------------------------------------------------------------------------

def _window() -> dict[str, str]:
    """The last three months up to today: the widest range the report pages accept."""
    from app import clock
    from app.daterange import add_months

    today = clock.business_day()
    start = add_months(today, -3)
    while add_months(start, 3) < today:  # 5/31 - 3 months = 2/28, and 2/28 + 3 months = 5/28
        start += timedelta(days=1)
    return {"start": start.isoformat(), "end": today.isoformat()}


@contextlib.contextmanager
def loaded_database(details: dict, existing: str | None) -> Iterator[str]:
    """A fresh database loaded with TICKETS tickets (dropped afterwards), or `existing`: one an
    earlier `demo-data --tickets N` loaded (kept; its load is not timed again)."""
    if existing is not None:
        details["existing_database"] = True
        details["load_seconds"] = None
        yield existing
        return
    with fresh_database() as url:
        print(f"  loading the demo data and {TICKETS:,} tickets…", flush=True)
        details["load_seconds"] = load(url, TICKETS)
        print(f"  loaded in {details['load_seconds']:.1f} s", flush=True)
        yield url


def run(existing: str | None = None) -> list[dict]:
    preflight()
    # Other processes on the machine change every figure here: the load average goes with them.
    details: dict = {"tickets": TICKETS, "load_average_before": os.getloadavg()}
    with loaded_database(details, existing) as url:
        server = serve(url)
        try:
            browser = Browser(PORT)
            browser.login(*LOGIN)
            window = _window()
            report_path = TICKET_REPORT_URL.format(**window)
            report = measure(browser, report_path)
            print(f"  ticket report page 1: median {report['median']:.0f} ms, "
                  f"p95 {report['p95']:.0f} ms", flush=True)
            home = measure(browser, HOME_URL)
            print(f"  home dashboard: median {home['median']:.0f} ms, p95 {home['p95']:.0f} ms",
                  flush=True)
            extras = {}
            for name, (_, path) in EXTRA_PAGES.items():
                extras[name] = measure(browser, path.format(**window))
                print(f"  {name}: median {extras[name]['median']:.0f} ms, "
                      f"p95 {extras[name]['p95']:.0f} ms", flush=True)
        finally:
            server.terminate()
            server.wait(10)
        exported = export(url)
        print(f"  export: {exported['rows']:,} rows in {exported['seconds']:.1f} s, "
              f"peak RSS {exported['peak_rss_mb']:.0f} MB", flush=True)
        details.update(report_url=report_path, report=report, home_url=HOME_URL, home=home,
                       extras=extras, export=exported, load_average_after=os.getloadavg())
    loaded = [] if existing else [
        {"name": f"reports: load demo + {TICKETS:,} tickets (demo-data --tickets)",
         "value": details["load_seconds"], "unit": "s", "target": TARGET_LOAD_S}]
    figures = [
        *loaded,
        {"name": "reports: ticket report by issue date, page 1 (median)", "value": report["median"],
         "unit": "ms", "target": TARGET_REPORT_MS, "samples": report["samples"]},
        {"name": "reports: ticket report by issue date, page 1 (p95)", "value": report["p95"],
         "unit": "ms", "target": TARGET_REPORT_MS},
        {"name": "reports: home dashboard (median)", "value": home["median"], "unit": "ms",
         "target": TARGET_HOME_MS, "samples": home["samples"]},
        {"name": "reports: home dashboard (p95)", "value": home["p95"], "unit": "ms",
         "target": TARGET_HOME_MS},
        *({"name": f"reports: {name} ({stat})", "value": m[stat], "unit": "ms",
           "target": EXTRA_TARGETS_MS[name]} for name, m in extras.items() for stat in ("median", "p95")),
        {"name": f"reports: Excel export of {exported['rows']:,} rows", "value": exported["seconds"],
         "unit": "s", "target": TARGET_EXPORT_S},
        {"name": "reports: Excel export, peak RSS of its process", "value": exported["peak_rss_mb"],
         "unit": "MB", "target": TARGET_EXPORT_MB},
    ]
    if exported["rows"] < EXPORT_ROWS:
        raise BenchError(f"the export wrote {exported['rows']:,} rows, expected "
                         f"{exported['expected_rows']:,} for {exported['params']}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"reports-{stamp}.json"
    out.write_text(json.dumps({"recorded_at": stamp, "machine": machine_info(), "figures": figures,
                               "details": details}, ensure_ascii=False, indent=2) + "\n")
    print(f"  recorded in bench/results/{out.name}", flush=True)
    return figures


# EXPLAIN ----------------------------------------------------------------------------------------

def explain(url: str, min_ms: float = 2.0) -> None:
    """Fetch the measured pages in-process as the issuer, capture every SQL statement they run,
    and print EXPLAIN (ANALYZE, BUFFERS) of those taking at least `min_ms`, page by page: the
    evidence for (or against) an index. `url` is a loaded database (e.g. one left by
    `flask demo-data --tickets 1000000`)."""
    import psycopg
    from sqlalchemy import event

    from app import create_app
    from app.db import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "bench", "JOBS_MODE": "inline"})
    captured: list[tuple[str, object]] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cursor, statement, parameters, context, many:
                     captured.append((statement, parameters)))
    client = app.test_client()
    response = client.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]})
    if response.status_code not in (302, 303):
        raise BenchError(f"login failed ({response.status_code})")
    window = _window()
    pages = {"ticket report by issue date": TICKET_REPORT_URL.format(**window), "home": HOME_URL}
    pages |= {name: path.format(**window) for name, (_, path) in EXTRA_PAGES.items()}
    raw = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    for name, path in pages.items():
        client.get(path)  # warm the caches
        captured.clear()
        start = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        print(f"\n=== {name}: GET {path} -> {response.status_code} in {elapsed:.0f} ms, "
              f"{len(captured)} statements")
        for statement, parameters in captured:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters or None)
                plan = [row[0] for row in cursor.fetchall()]
            raw.rollback()
            took = next((float(line.split(":")[1].split()[0]) for line in plan
                         if line.startswith("Execution Time")), 0.0)
            if took >= min_ms:
                print(f"\n--- {took:.1f} ms\n{statement}\n{parameters}\n" + "\n".join(plan))
    raw.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["explain"]:
        explain(sys.argv[2], *(float(a) for a in sys.argv[3:4]))
        raise SystemExit(0)
    for figure in run(sys.argv[2] if sys.argv[1:2] == ["again"] else None):
        target = figure["target"]
        print(f"{figure['name']:<64} {figure['value']:>10.1f} {figure['unit']:<3} "
              f"{'' if target is None else target}")

"""Instructions per redemption, counted by valgrind's callgrind: a figure the machine's noise
cannot move.

The CPU time of a call on the shared two-core bench VM moves by up to half from one run to the
next; the number of instructions it executes does not (repeated runs agree within 0.5 %), so a
change of a few percent shows. `count` starts this module under `valgrind --tool=callgrind
--instr-atstart=no`: the child builds the app and warms up uninstrumented (WARM_UP calls, at
near-native speed), says so with a file, the parent switches instrumentation on
(`callgrind_control -i on`), the child makes CALLS calls and says so, the parent switches it
off. The figure is the instructions collected divided by CALLS: the WSGI call and its answer,
the database driver's side of the round trips included, PostgreSQL's excluded.

    python -m bench.instructions api|counter|ceiling URL TOKEN CODES_FILE DIR   (the child)

"ceiling" calls bench/ceiling.py's app with the API's request: the framework ceiling's share.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.support import OWNER, PASSWORD, ROOT, csrf_token_of, stop

CALLS, WARM_UP = 200, 60


class Unavailable(RuntimeError):
    pass


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the callgrind child exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the callgrind child did not reach {path.name} in {timeout:.0f} s")
        time.sleep(0.1)


def count(kind: str, url: str, token: str, pairs: list[tuple[str, int]], workdir: Path) -> float:
    """Instructions per call of `kind` ("api": POST /api/v1/redemptions; "counter": the HTMX
    press of 【核銷】; "ceiling": the API's request to bench/ceiling.py's app), each call
    redeeming one of `pairs` (code, ticket id), all unused."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if not valgrind or not control:
        raise Unavailable("valgrind is not installed: `make bench` installs it")
    if len(pairs) < CALLS + WARM_UP:
        raise ValueError(f"{CALLS + WARM_UP} unused tickets needed")
    workdir = workdir / kind
    workdir.mkdir()
    codes = workdir / "codes.txt"
    codes.write_text("".join(f"{code} {ticket_id}\n" for code, ticket_id in pairs))
    log = workdir / "callgrind.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [valgrind, "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={workdir / 'callgrind.out'}",
             sys.executable, "-m", "bench.instructions", kind, url, token, str(codes), str(workdir)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for(workdir / "ready", proc, 600)
            subprocess.run([control, "-i", "on", str(proc.pid)], check=True, capture_output=True)
            (workdir / "go").touch()
            _wait_for(workdir / "done", proc, 600)
            subprocess.run([control, "-i", "off", str(proc.pid)], check=True, capture_output=True)
            (workdir / "stop").touch()
            proc.wait(120)
        finally:
            if proc.poll() is None:
                stop(proc, 10)
    collected = re.findall(r"Collected : (\d+)", log.read_text())
    if proc.returncode or not collected:
        raise RuntimeError(f"callgrind run failed ({proc.returncode}): {log.read_text()[-2000:]}")
    return int(collected[-1]) / CALLS


# The child --------------------------------------------------------------------------------------

def api_environ(code: str, token: str) -> dict:
    """The WSGI environ of `POST /api/v1/redemptions` for `code` with the bearer token."""
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder(path="/api/v1/redemptions", method="POST", json={"code": code},
                          headers={"Authorization": f"Bearer {token}"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()


def _api_calls(app, token: str, pairs: list[tuple[str, int]]) -> Callable[[int], None]:  # noqa: ANN001
    environs = [api_environ(code, token) for code, _ in pairs]
    return _caller(app, environs, "201", b'"used"')


def _counter_calls(app, pairs: list[tuple[str, int]]) -> Callable[[int], None]:  # noqa: ANN001
    """A clerk's browser, logged in (the issuer's main account) on 票券核銷, as the wrk phase
    sends the press: its session cookie and the page's CSRF token."""
    from werkzeug.test import EnvironBuilder

    client = app.test_client()

    login = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": OWNER, "password": PASSWORD,
                                "csrf_token": csrf_token_of(login)})
    page = client.get("/counter/redeem")
    if page.status_code != 200:
        raise RuntimeError(f"the counter page answered {page.status_code}")
    csrf = csrf_token_of(page.get_data(as_text=True))
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = f"{name}={client.get_cookie(name).value}"
    headers = {"Cookie": cookie, "HX-Request": "true", "HX-Target": "counter",
               "HX-Current-URL": "http://127.0.0.1/counter/redeem"}
    environs = [EnvironBuilder(path="/counter/act", method="POST", headers=headers,
                               data={"action": "redeem", "code": code, "ticket_id": str(ticket_id),
                                     "seen": "unused", "reason": "", "fee": "", "csrf_token": csrf},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
                for code, ticket_id in pairs]
    return _caller(app, environs, "200", b'data-testid="counter-success"', follow_cookie=name)


def _caller(app, environs: list[dict], status: str, success: bytes,  # noqa: ANN001
            follow_cookie: str | None = None) -> Callable[[int], None]:
    """Calls of the prebuilt `environs`; with `follow_cookie`, the session cookie a response
    sets is sent with the next call, as a browser does (the server re-signs it once a minute:
    under valgrind the calls span minutes, and a stale cookie would be re-signed every time)."""
    answered: list[str] = []
    cookie = [environs[0].get("HTTP_COOKIE", "")] if environs else [""]

    def start_response(line: str, headers: list, exc_info: object = None) -> None:
        answered.append(line)
        for header, value in headers:
            if follow_cookie and header.lower() == "set-cookie" and \
                    value.startswith(f"{follow_cookie}="):
                cookie[0] = value.split(";", 1)[0]

    def call(n: int) -> None:
        if follow_cookie:
            environs[n]["HTTP_COOKIE"] = cookie[0]
        body = b"".join(app(environs[n], start_response))
        if not answered[-1].startswith(status) or success not in body:
            raise RuntimeError(f"call {n} answered {answered[-1]}: {body[:300]!r}")

    return call


def _child(kind: str, url: str, token: str, codes_file: str, workdir: str) -> None:
    import gc

    from app import create_app
    from app.auth import request_cache

    # The calls run about fifty times slower under valgrind: the request cache must not expire
    # in the middle, or the figure would count its reloads.
    request_cache.SECONDS = 24 * 3600.0
    pairs = [(code, int(ticket_id)) for code, ticket_id in
             (line.split() for line in Path(codes_file).read_text().splitlines())]
    if kind == "ceiling":
        from bench import ceiling

        os.environ["DATABASE_URL"] = url
        app = ceiling.create_app()
    else:
        # No access line per call, as in the gunicorn phases (bench/gunicorn_conf.py).
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_MODE": "inline",
                          "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False,
                          "LOG_LEVEL": "WARNING"})
    call = _counter_calls(app, pairs) if kind == "counter" else _api_calls(app, token, pairs)
    for n in range(WARM_UP):
        call(n)
    gc.collect()
    here = Path(workdir)
    (here / "ready").touch()
    while not (here / "go").exists():
        time.sleep(0.05)
    for n in range(WARM_UP, WARM_UP + CALLS):
        call(n)
    (here / "done").touch()
    while not (here / "stop").exists():
        time.sleep(0.05)


if __name__ == "__main__":
    _child(*sys.argv[1:6])

"""Processes of this checkout that tests start: `worker.py` (RQ worker and scheduler) and gunicorn
serving the real app, each in its own process group, with a log file, and all stopped at the end.

Why here: the killed-worker test and the scale harness (tests/scale) start the same processes
the same way; each connection a process opens carries its name (PostgreSQL's application_name),
so a test can see what that one process is doing (pg_stat_activity).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from app.credentials import keys_from_environment

ROOT = Path(__file__).resolve().parents[1]  # this checkout: the processes run its code
SECRET_KEY = "test-secret-key"  # tests.conftest.base_config's: one key for every process
# The test app's code key (derived from its SECRET_KEY): codes issued by the test process are
# found by the servers and workers it starts.
CODE_KEY = keys_from_environment({}, SECRET_KEY)[1][1].decode()


def wait_for(what: str, predicate: Callable[[], bool], seconds: float = 20) -> float:
    """Poll `predicate` until it holds; the seconds it took. Fails after `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, SIGKILL if it outlasts `timeout`, then anything left in its process group (a
    forked child: gunicorn's workers)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Processes:
    """Processes started with a shared environment, each named, logging to `logs/<name>.log`."""

    def __init__(self, database_url: str, redis_url: str, logs: Path, env: dict[str, str] | None = None) -> None:
        self.database_url, self.redis_url, self.logs = database_url, redis_url, logs
        self.env = env or {}
        self.started: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        separator = "&" if "?" in self.database_url else "?"
        environ = {**os.environ, "DATABASE_URL": f"{self.database_url}{separator}application_name={name}",
                   "REDIS_URL": self.redis_url, "SECRET_KEY": SECRET_KEY, "ECTIX_CODE_KEY": CODE_KEY,
                   "PYTHONPATH": str(ROOT), **self.env, **(env or {})}
        environ.pop("ECTIX_JOBS_MODE", None)  # REDIS_URL: jobs go to RQ
        with open(self.logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own group, for the cleanup
        self.started[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self, name: str) -> None:
        stop(self.started[name])

    def stop_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started.values():
            stop(process)

    def dump_logs(self, tail: int = 3000) -> None:
        """Print the end of every log (call it when a test fails)."""
        for name, process in self.started.items():
            print(f"--- {name} (exit {process.poll()}) ---\n{self.log(name)[-tail:]}")


class Workers(Processes):
    """`python worker.py [queue ...]` processes (default: every queue), each with its scheduler."""

    def start(self, name: str, *queues: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return self._spawn(name, [sys.executable, str(ROOT / "worker.py"), *queues], env)


class Hosts(Processes):
    """gunicorn serving `app:create_app()` on a loopback port in the threaded layout
    docs/deployment.md gives hosts that serve long downloads (gthread, each worker's database
    pool the size of its threads)."""

    def __init__(self, *args, workers: int = 2, threads: int = 4, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.workers, self.threads = workers, threads
        self.urls: dict[str, str] = {}

    def start(self, name: str, env: dict[str, str] | None = None, *, wait: bool = True) -> str:
        """Start one host (and wait until it answers, unless told not to); its base URL."""
        port = free_port()
        self._spawn(name, [
            sys.executable, "-m", "gunicorn", "app:create_app()", "-b", f"127.0.0.1:{port}",
            "-k", "gthread", "-w", str(self.workers), "--threads", str(self.threads),
            "--log-level", "warning", "--graceful-timeout", "5"],
            {"ECTIX_SECURE_COOKIES": "0", "ECTIX_DB_POOL_SIZE": str(self.threads), **(env or {})})
        self.urls[name] = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_up(name)
        return self.urls[name]

    def wait_up(self, name: str) -> None:
        process, base = self.started[name], self.urls[name]

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn {name} exited:\n{self.log(name)[-2000:]}")
            return _answers(base)

        wait_for(f"gunicorn {name} to answer", up, 90)


def _answers(base: str) -> bool:
    try:
        urllib.request.urlopen(f"{base}/login", timeout=2).close()  # noqa: S310
        return True
    except (urllib.error.URLError, OSError):
        return False

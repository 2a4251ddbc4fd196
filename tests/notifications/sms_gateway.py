"""A local HTTP SMS gateway for tests: records every request and answers as it is told, and
reports what became of each SMS the way a real gateway does, with a signed status callback.

    with SmsGatewayStub() as gateway:
        gateway.url                  # POST here
        gateway.mode = "http500"     # "ok" | "http500" | "error_body" | "no_id" | "echo_key" | "timeout"
        gateway.requests[0].json, gateway.requests[0].headers["Authorization"]

Status callbacks (the protocol of app.notifications.receipts): point it at the app and give it
the secret, then report by hand, or let it report every SMS it accepts by itself:

        gateway.callback_url, gateway.callback_secret = f"{base}/notifications/sms/status", "s3"
        gateway.report(gateway.id_for(message.id), "failed", "空號")   # → Callback(status, json)
        gateway.replay()                                               # the last one, byte for byte
        gateway.auto_report = ("delivered", "")   # after each accepted SMS, retried while not 2xx
        gateway.wait_for_callbacks(1)

The callback's timestamp is the app's clock (app.clock: frozen when a test freezes it).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app import clock
from app.notifications.receipts import signed_headers


@dataclass
class GatewayRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Callback:
    """One status callback posted to the app, and its answer."""

    body: bytes
    headers: dict[str, str]
    status: int  # the app's HTTP status (0: no answer)
    answer: Any  # the app's JSON answer (None when there was none)


@dataclass
class SmsGatewayStub:
    mode: str = "ok"
    delay: float = 2.0  # how long "timeout" keeps the client waiting (longer than its timeout)
    requests: list[GatewayRequest] = field(default_factory=list)
    callback_url: str = ""  # where status callbacks go
    callback_secret: str = ""  # what signs them
    auto_report: tuple[str, str] | None = None  # (status, reason) for every SMS accepted
    auto_tries: int = 20  # a callback answered 404 (not yet committed) is tried again
    now: Callable[[], int] = field(default=lambda: int(clock.now().timestamp()))
    callbacks: list[Callback] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # reference (ectix-<id>) → our id
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)
    _reporters: list[threading.Thread] = field(default_factory=list)

    def start(self) -> SmsGatewayStub:
        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins the handlers
            block_on_close = True

        self._server = Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1/sms"

    def stop(self) -> None:
        self._release.set()  # let a "timeout" handler finish at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        for reporter in list(self._reporters):
            reporter.join(5)

    def __enter__(self) -> SmsGatewayStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: GatewayRequest) -> int:
        with self._lock:
            self.requests.append(request)
            return len(self.requests)

    # Status callbacks ------------------------------------------------------------------------

    def id_for(self, message_id: int) -> str:
        """The gateway's id of the SMS our message `message_id` became."""
        return self.accepted[f"ectix-{message_id}"]

    def report(self, sms_id: str, status: str, reason: str = "", *, secret: str | None = None,
               timestamp: int | None = None, body: bytes | None = None,
               headers: dict[str, str] | None = None) -> Callback:
        """Post one status callback, signed (with `secret`, default the callback secret, at
        `timestamp`, default now); `body` / `headers` replace the ones it would build."""
        if body is None:
            payload = {"id": sms_id, "status": status}
            if reason:
                payload["reason"] = reason
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if headers is None:
            headers = signed_headers(self.callback_secret if secret is None else secret,
                                     self.now() if timestamp is None else timestamp, body)
        return self._post(body, headers)

    def replay(self, index: int = -1) -> Callback:
        """Post an earlier callback again, byte for byte (a gateway's retry, or an attacker's)."""
        earlier = self.callbacks[index]
        return self._post(earlier.body, earlier.headers)

    def wait_for_callbacks(self, count: int, timeout: float = 10.0) -> list[Callback]:
        """The callbacks answered 2xx, once there are `count` of them (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [c for c in self.callbacks if 200 <= c.status < 300]
            if len(done) >= count:
                return done
            time.sleep(0.02)
        return [c for c in self.callbacks if 200 <= c.status < 300]

    def _post(self, body: bytes, headers: dict[str, str]) -> Callback:
        request = urllib.request.Request(self.callback_url, data=body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, raw = exc.code, exc.read()
        except OSError:
            status, raw = 0, b""
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            answer = None
        callback = Callback(body, dict(headers), status, answer)
        with self._lock:
            self.callbacks.append(callback)
        return callback

    def accept(self, reference: str, sms_id: str) -> None:
        with self._lock:
            self.accepted[reference] = sms_id
        if self.auto_report is not None and self.callback_url:
            status, reason = self.auto_report
            reporter = threading.Thread(target=self._report_until_taken,
                                        args=(sms_id, status, reason), daemon=True)
            self._reporters.append(reporter)
            reporter.start()

    def _report_until_taken(self, sms_id: str, status: str, reason: str) -> None:
        """As a gateway does: the callback again, a moment later, while it is not taken (the
        platform may not have committed the SMS's id yet when the first one arrives)."""
        for _ in range(self.auto_tries):
            if 200 <= self.report(sms_id, status, reason).status < 300:
                return
            time.sleep(0.1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet

    def do_POST(self) -> None:  # noqa: N802
        stub: SmsGatewayStub = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        number = stub.record(GatewayRequest(self.path, dict(self.headers.items()), body))
        mode = stub.mode
        try:
            if mode == "timeout":
                stub._release.wait(stub.delay)
                self._send(200, {"id": f"late-{number}"})
            elif mode == "http500":
                self._send(500, {"error": "gateway exploded"})
            elif mode == "error_body":
                self._send(200, {"error": "quota exceeded", "message": "餘額不足"})
            elif mode == "no_id":
                self._send(200, {"status": "ok"})
            elif mode == "echo_key":
                self._send(401, {"error": f"bad token {self.headers.get('Authorization')}"})
            else:
                sms_id = f"sms-{number}"
                self._send(200, {"id": sms_id, "status": "accepted"})
                reference = json.loads(body.decode("utf-8")).get("reference", "")
                stub.accept(reference, sms_id)
        except OSError:
            pass  # the client gave up (timeout): nothing to answer

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)
        self.close_connection = True

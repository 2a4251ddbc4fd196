"""A local HTTP SMS gateway for tests: records every request and answers as it is told.

    with SmsGatewayStub() as gateway:
        gateway.url                  # POST here
        gateway.mode = "http500"     # "ok" | "http500" | "error_body" | "no_id" | "echo_key" | "timeout"
        gateway.requests[0].json, gateway.requests[0].headers["Authorization"]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class GatewayRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class SmsGatewayStub:
    mode: str = "ok"
    delay: float = 2.0  # how long "timeout" keeps the client waiting (longer than its timeout)
    requests: list[GatewayRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

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

    def __enter__(self) -> SmsGatewayStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: GatewayRequest) -> int:
        with self._lock:
            self.requests.append(request)
            return len(self.requests)


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
                self._send(200, {"id": f"sms-{number}", "status": "accepted"})
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

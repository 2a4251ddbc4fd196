"""Helpers for the refund-notice tests: a merchant's server on loopback that answers as it is
told, installment orders written straight to the tables, and one run of the per-minute job."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from sqlalchemy import select

from app import clock
from app.db import db
from app.installments import jobs as installment_jobs
from app.installments.models import (
    InstallmentOrder,
    NoticeAttempt,
    RefundNotice,
)
from app.installments.status import PeriodStatus
from app.stores.models import Store
from tests.factories import make_account, make_installment_order, make_installment_store

_seq = itertools.count(1)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("ascii"), keep_blank_values=True))


@dataclass
class MerchantServer:
    """Answers each POST with the next (status, body) of `script`; the last one again after.
    `delay` seconds before answering (longer than the client's timeout: a timeout)."""

    script: list[tuple[int, str]] = field(default_factory=lambda: [(200, "1|OK")])
    delay: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MerchantServer:
        class Server(ThreadingHTTPServer):
            daemon_threads = False
            block_on_close = True

        self._server = Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/ecpay/refund?src=ectix"

    def answer(self, received: Received) -> tuple[int, str]:
        with self._lock:
            self.requests.append(received)
            n = len(self.requests)
        return self.script[min(n, len(self.script)) - 1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        owner: MerchantServer = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, text = owner.answer(Received(self.path, dict(self.headers.items()), body))
        if owner.delay:
            owner._release.wait(owner.delay)
        raw = text.encode("utf-8")
        try:
            self.send_response(status)
            for name, value in owner.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass  # the client gave up
        self.close_connection = True


def installment_store(username: str | None = None, name: str | None = None) -> Store:
    store = make_installment_store(name)
    if username:
        make_account(store, username=username)
    return store


def make_refunded_order(store: Store, *, url: str = "", total: int = 3000, periods: int = 3,
                        redeemed: int = 1, fee: int = 0,
                        refunded_at: datetime | None = None) -> InstallmentOrder:
    """An order issued 40 days ago whose first `redeemed` periods were released and the rest
    returned with `fee` split over them; refunded (by the bank) at `refunded_at` if given."""
    issued = clock.now() - timedelta(days=40)
    returned = periods - redeemed
    return make_installment_order(
        store, total, periods, days=30, first_date=date(2026, 10, 1), created_at=issued,
        statuses=[PeriodStatus.REDEEMED] * redeemed + [PeriodStatus.RETURNED] * returned,
        returned_at=issued + timedelta(days=10) if returned else None,
        return_fee=fee if returned else None, refunded_at=refunded_at if returned else None,
        refund_notify_url=url)


def run_job() -> int:
    """One run of the per-minute job (its sends run inline, after its commit)."""
    queued = installment_jobs.refund_notices(clock.now().isoformat())
    db.session.expire_all()
    return queued


def notice_of(order: InstallmentOrder) -> RefundNotice | None:
    db.session.expire_all()
    return db.session.scalar(select(RefundNotice).where(RefundNotice.order_id == order.id))


def attempts_of(notice: RefundNotice) -> list[NoticeAttempt]:
    return list(db.session.scalars(select(NoticeAttempt).where(NoticeAttempt.notice_id == notice.id)
                                   .order_by(NoticeAttempt.id)))

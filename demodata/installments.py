"""Demo installment orders (分期核銷, docs/installments.md) in every period status, made by the real
services on a moving clock, as the demo tickets are.

Sixty-five days ago the store issues two uploads: orders whose periods start 60 days ago (two
periods redeemed and paid; the third due today, so today's job has put it 核銷中) and orders
that start 45 days ago, returned ten days ago with a handling fee and refunded by the bank. One
order is issued alone with a refund-notification URL: its notice goes to a receiver on loopback
that fails twice, then answers 1|OK. Five days ago more orders: one returned yesterday whose
refund the bank rejects (退貨中), some returned today (待退貨, still cancellable). Today's upload
stays 未使用. The daily job and the nightly sync run on the days they would have.
Idempotent: nothing happens when the first demo batch exists.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app import clock
from app.auth.models import Account
from app.db import db
from app.escrow.jobs import run_sync
from app.escrow.simulator import InProcessBank, make_simulator
from app.history import Actor, set_actor
from app.installments import issuing, services
from app.installments.jobs import redeem_due_periods, refund_notices
from app.installments.models import AllowedDomain, InstallmentBatch, InstallmentOrder
from app.installments.settings import settings_for
from app.stores.models import Store

FIRST_IMPORT_NO = "DEMO-I1"
SHOP_HOST = "shop.example.com"
NAMES = ("陳小華", "林美玲", "王大同", "張雅婷", "李志明", "黃淑芬", "吳建宏", "劉怡君", "蔡宗翰", "楊佩珊")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return clock.taipei_datetime(day.year, day.month, day.day, hour, minute)


def _rows(prefix: str, count: int, first: date | None, total: int = 12_000) -> list[dict[str, Any]]:
    return [{"廠商訂單編號": f"{prefix}{i + 1:03d}", "訂單總金額": total + 600 * i,
             "購買人姓名": NAMES[i % len(NAMES)], "手機": f"09{12345670 + i:08d}",
             "Email": f"member{i + 1}@example.com", "首期預計核銷日": first, "_row": i + 2}
            for i in range(count)]


def _issue(owner: Account, store: Store, import_no: str, rows: list[dict]) -> list[InstallmentOrder]:
    batch = issuing.prepare_batch(owner, store, import_no=import_no, rows=rows)
    db.session.commit()
    issuing.confirm_batch(owner, store, batch)
    db.session.commit()  # issued at once: the demo loader runs jobs inline
    return list(db.session.scalars(select(InstallmentOrder).where(InstallmentOrder.batch_id == batch.id)
                                   .order_by(InstallmentOrder.id)))


def _night(day: date, bank: InProcessBank) -> None:
    clock.freeze(_at(day, 1))
    run_sync(day, force=True, bank=bank)


def _redeem(day: date) -> None:
    clock.freeze(_at(day, 0, 10))
    redeem_due_periods(clock.now().isoformat())


class _Receiver:
    """The merchant's server for the demo's refund notice: fails twice, then answers 1|OK."""

    def __init__(self) -> None:
        self.answers = [(500, "server busy"), (200, "0|ERROR")]
        self.received = 0

    def __call__(self, environ: dict, start_response: Any) -> Any:
        Request(environ).get_data()
        self.received += 1
        status, body = self.answers.pop(0) if self.answers else (200, "1|OK")
        return Response(body, status=status)(environ, start_response)


@contextmanager
def _receiver() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in the demo's output
    server = make_server("127.0.0.1", 0, _Receiver(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    allowed = current_app.config.get("INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK")
    current_app.config["INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    try:
        yield f"http://127.0.0.1:{server.server_port}/ectix/refund-notify"
    finally:
        current_app.config["INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK"] = allowed
        server.shutdown()
        thread.join(5)
        server.server_close()


def _set_url(store: Store, url: str) -> None:
    """The store's refund URL, set as the operator and merchant would have (the demo's loopback
    receiver is not an https host an operator could open, so it is written directly)."""
    settings_for(store.id).refund_notify_url = url
    db.session.commit()


def load_demo_installments(store: Store) -> None:
    if db.session.scalar(select(InstallmentBatch.id).where(InstallmentBatch.store_id == store.id,
                                                           InstallmentBatch.import_no == FIRST_IMPORT_NO)):
        return
    owner = db.session.scalar(select(Account).where(Account.username == "installment"))
    assert owner is not None
    today = clock.business_day()
    d = today - timedelta(days=65)
    state = Path(current_app.config.get("ESCROW_SIMULATOR_STATE")
                 or Path(current_app.instance_path) / "bank.json")
    state.parent.mkdir(parents=True, exist_ok=True)
    simulator = make_simulator(state)
    bank = InProcessBank(simulator)
    actor = Actor(owner.id, owner.username, store.id, None, "127.0.0.1")
    try:
        with _receiver() as receiver_url:
            clock.freeze(_at(d, 10))
            set_actor(actor)
            _issue(owner, store, FIRST_IMPORT_NO,
                   _rows("COURSE", 10, today - timedelta(days=60)))
            members = _issue(owner, store, "DEMO-I2", _rows("MEMBER", 8, today - timedelta(days=45)))
            _set_url(store, receiver_url)
            set_actor(actor)
            [notified] = _issue(owner, store, "DEMO-I3",
                                _rows("NOTIFY", 1, today - timedelta(days=45), total=9_000))
            _set_url(store, "")
            _night(d + timedelta(days=1), bank)  # the deposits

            for due in (60, 45, 30, 15):
                _redeem(today - timedelta(days=due))
                _night(today - timedelta(days=due - 1), bank)

            returned_day = today - timedelta(days=10)
            clock.freeze(_at(returned_day, 14))
            set_actor(actor)
            for i, order in enumerate([*members[:4], notified]):
                services.return_order(owner, store, order.id, fee=300 if i % 2 == 0 else 0,
                                      reason="會員提前解約")
            db.session.commit()
            _night(returned_day + timedelta(days=1), bank)  # refunded

            # the refund notice: the receiver fails twice, the retries (1 and 5 minutes) succeed
            sent_at = _at(returned_day + timedelta(days=1), 1, 5)
            for minutes in (0, 1, 6):
                clock.freeze(sent_at + timedelta(minutes=minutes))
                refund_notices(clock.now().isoformat())

        five_ago = today - timedelta(days=5)
        clock.freeze(_at(five_ago, 11))
        set_actor(actor)
        late = _issue(owner, store, "DEMO-I4", _rows("LESSON", 6, today + timedelta(days=20)))
        _night(five_ago + timedelta(days=1), bank)
        clock.freeze(_at(today - timedelta(days=1), 16))
        set_actor(actor)
        services.return_order(owner, store, late[0].id, fee=120, reason="學員搬家")
        db.session.commit()
        # tonight's refund is rejected by the bank: the periods stay 退貨中 with its reason
        simulator.reject_serials = {p.serial for p in late[0].periods}
        _night(today, bank)
        simulator.reject_serials = set()
        simulator._save()
        _redeem(today)  # the courses' third period is due today: 核銷中 until tonight
    finally:
        clock.unfreeze()

    # today: returns that can still be cancelled, and a fresh upload
    set_actor(actor)
    for order in late[1:3]:
        services.return_order(owner, store, order.id, fee=0, reason="課程時段無法配合")
    db.session.commit()
    _issue(owner, store, "DEMO-I5", _rows("TRIAL", 5, today + timedelta(days=7), total=6_000))
    if db.session.scalar(select(AllowedDomain.id).where(AllowedDomain.store_id == store.id,
                                                        AllowedDomain.host == SHOP_HOST)) is None:
        db.session.add(AllowedDomain(store_id=store.id, host=SHOP_HOST))
    settings_for(store.id).refund_notify_url = f"https://{SHOP_HOST}/ectix/refund-notify"
    set_actor(None)
    db.session.commit()

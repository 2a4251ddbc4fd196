"""End to end, as a merchant's system sees ectix: gunicorn on PostgreSQL, and the client written
from the spec alone (tests/ecticket/client.py, over HTTP). It issues 100 tickets, queries them,
redeems 10, cancels one redemption, returns 5 and queries the refunds."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app
from app.db import db
from app.ecpay import keys
from app.products.models import ProductKind
from tests.conftest import base_config, empty_pg
from tests.ecticket.client import Client, http_poster
from tests.factories import make_account, make_product, make_store
from tests.settings.helpers import mark_complete

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")  # ECPay's ECTicket stage pair
CODE_KEY = "e2e-code-key-not-a-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(url: str) -> tuple[str, int]:
    app = create_app(base_config(url))
    with app.app_context():
        store = make_store("端到端商店")
        make_account(store, username="e2eowner")
        mark_complete(store)
        product = make_product(store, "咖啡兌換券", kind=ProductKind.PICKUP, face_value=150)
        keys.install_pair(store.id, PAIR)
        db.session.commit()
        found = store.merchant_code, product.id
        db.session.remove()
        db.engine.dispose()
    return found


@pytest.fixture
def server(pg_database_url, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ECTIX_CODE_KEY", CODE_KEY)  # one key for the seeding app and gunicorn
    merchant_id, product_id = _seed(pg_database_url)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": pg_database_url, "ECTIX_JOBS_MODE": "inline",
           "SECRET_KEY": "test-secret-key", "ECTIX_CODE_KEY": CODE_KEY,
           "ECTIX_SECURE_COOKIES": "0"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:create_app()", "-b", f"127.0.0.1:{port}",
         "-w", "2", "--threads", "4", "-k", "gthread", "--log-level", "warning"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/login", timeout=1).close()  # noqa: S310
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not start")
        yield base, merchant_id, product_id
    finally:
        process.terminate()
        process.wait(15)
        # The database is shared by the session's PostgreSQL tests: leave it empty, as pg_app does.
        empty_pg(create_app(base_config(pg_database_url)))


def test_issue_query_redeem_cancel_refund_through_gunicorn(server) -> None:  # noqa: ANN001
    base, merchant_id, product_id = server
    api = Client(merchant_id, PAIR.hash_key, PAIR.hash_iv, http_poster(base), style="js")
    issued = api.call("Issue", {
        "MerchantTradeNo": "E2E0001", "PaymentProvider": "2", "IssueType": "3",
        "IsImmediate": "1", "Operator": "pos01", "CustomerName": "林小美",
        "CustomerPhone": "0911222333", "CustomerEmail": "mei@example.com",
        "TicketInfo": [{"ItemNo": str(product_id), "TicketPrice": 150, "TicketAmount": 100}]})
    assert (issued["RtnCode"], issued["TicketData"][0]["TicketAmount"]) == (1, 100)
    for _ in range(50):
        result = api.call("QueryIssueResult", {"MerchantTradeNo": "E2E0001"})
        if result["Status"] != 3:
            break
        time.sleep(0.2)
    assert (result["RtnCode"], result["Status"], result["TicketTradeNo"]) == (
        1, 1, issued["TicketTradeNo"])

    order = api.call("QueryOrderInfo", {"MerchantTradeNo": "E2E0001", "PageNum": 1})
    tickets = order["TicketList"]
    assert (order["TotalCount"], len(tickets), order["TradeAmount"]) == (100, 100, 15000)
    assert {t["UseStatus"] for t in tickets} == {1}

    redeemed = tickets[:10]
    for ticket in redeemed:
        done = api.call("WriteOff", {"WriteOffNo": ticket["WriteOffNo"], "Action": "1",
                                     "Operator": "pos01"})
        assert done["RtnCode"] == 1, done
    again = api.call("WriteOff", {"WriteOffNo": redeemed[0]["WriteOffNo"], "Action": "1",
                                  "Operator": "pos01"})
    assert again["RtnCode"] == 3004  # never twice
    cancelled = api.call("WriteOff", {"WriteOffNo": redeemed[0]["WriteOffNo"], "Action": "2",
                                      "CancelReason": "客人改期", "Operator": "pos01"})
    assert cancelled["RtnCode"] == 1, cancelled

    returned = tickets[20:25]
    for ticket in returned:
        done = api.call("Refund", {"TicketNo": ticket["TicketNo"], "Action": "1",
                                   "Reason": "客人退貨", "RefundFee": 0, "Operator": "pos01"})
        assert done["RtnCode"] == 1, done
    refunds = api.call("QueryRefundInfo", {"MerchantTradeNo": "E2E0001"})
    assert sorted(r["TicketNo"] for r in refunds["RefundList"]) == sorted(
        t["TicketNo"] for t in returned)
    assert {r["RefundAmount"] for r in refunds["RefundList"]} == {150}

    order = api.call("QueryOrderInfo", {"MerchantTradeNo": "E2E0001"})
    assert (order["RedeemCount"], order["RefundCount"], order["UnUsedCount"]) == (9, 5, 86)
    status = api.call("QueryTicketStatus", {"TicketNo": redeemed[1]["TicketNo"], "WriteOffNo": ""})
    assert status["TicketList"][0]["UseStatus"] == 2

    # A body past the API's 256 KiB, its length declared or streamed in chunks: the real server
    # reads it to its end and answers HTTP 200 with the envelope's 10001, never a 413.
    for body, headers in ((b"x" * (1024 * 1024), {}),
                          ((b"x" * 65536 for _ in range(5)), {"Transfer-Encoding": "chunked"})):
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
        connection.request("POST", "/api/Ticket/WriteOff", body=body,
                           headers={"Content-Type": "application/json", **headers},
                           encode_chunked=bool(headers))
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
        assert (response.status, answer["TransCode"], answer["Data"]) == (200, 10001, "")


def test_the_end_to_end_run_leaves_the_shared_database_empty(pg_database_url) -> None:  # noqa: ANN001
    """Runs after the test above (file order): its server fixture emptied what it wrote, so the
    session's next PostgreSQL test (the WriteOff race counts tickets) starts from nothing."""
    app = create_app(base_config(pg_database_url))
    with app.app_context():
        tables = [t for t in db.metadata.sorted_tables if t.name != "alembic_version"]
        left = {t.name: n for t in tables
                if (n := db.session.scalar(select(func.count()).select_from(t)))}
        db.session.remove()
        db.engine.dispose()
    assert left == {}

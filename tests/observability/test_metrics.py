"""GET /metrics: hidden without its token setting, refused with a wrong token; request counters
labelled by the URL rule, redemptions counted on commit, the gauges read at scrape time from the
database and a real Redis, and the counters of several processes summed in multiprocess mode.

The counters are the process's own and grow across tests: each test compares two scrapes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import clock, jobs
from app.auth.services import create_api_token
from app.checkout.models import PaymentNotice
from app.db import db
from app.escrow.models import BankSyncRun, SyncRunStatus
from app.issuance.models import Batch, BatchStatus
from app.notifications.models import Channel, Message, MessageStatus, NoticeStatus
from app.observability import metrics
from app.stores.models import DeliveryMethod
from app.tickets import actions
from app.tickets.lifecycle import Action
from app.tickets.status import TicketStatus
from tests.factories import make_checkout_order, make_store
from tests.issuance.helpers import ready_store
from tests.jobs import sample_jobs
from tests.tickets.helpers import issue

TOKEN = "metrics-token-for-tests-0123456789"
T = clock.taipei_datetime
ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset], float]


def scrape(client, token: str = TOKEN) -> Samples:  # noqa: ANN001
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse(response.get_data(as_text=True))


def parse(body: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, route: str, method: str, status: int) -> float:
    return value(samples, "ectix_http_requests_total", route=route, method=method, status=str(status))


@pytest.fixture
def metrics_app(app):  # noqa: ANN001, ANN201
    app.config.update(METRICS_TOKEN=TOKEN, REDIS_URL=None)
    return app


# Access ------------------------------------------------------------------------------------

def test_metrics_is_404_without_its_token_setting(app, client):
    app.config["METRICS_TOKEN"] = None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_refuses_a_missing_or_wrong_token_and_answers_the_right_one(metrics_app, client):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer "}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "ectix_" not in response.get_data(as_text=True)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert "Set-Cookie" not in response.headers
    names = {name for name, _ in parse(response.get_data(as_text=True))}
    assert {"ectix_http_requests_total", "ectix_outbox_backlog",
            "ectix_scheduled_job_failures_last_day", "ectix_metrics_source_up"} <= names


def test_token_matches_only_the_bearer_token():
    assert metrics.token_matches(f"Bearer {TOKEN}", TOKEN)
    assert metrics.token_matches(f"bearer {TOKEN}", TOKEN)
    assert not metrics.token_matches(f"Bearer {TOKEN[:-1]}", TOKEN)
    assert not metrics.token_matches(TOKEN, TOKEN)
    assert not metrics.token_matches("", TOKEN)


# Requests and redemptions ------------------------------------------------------------------

def test_an_api_redemption_counts_its_route_status_latency_and_the_redemption(metrics_app, client, ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("metricsissuer")
    _, plain = create_api_token(owner, "metrics")
    db.session.commit()
    headers = {"Authorization": f"Bearer {plain}"}
    [ticket] = issue(owner, store, pickup)
    product_id = pickup.id

    before = scrape(client)
    first = client.post("/api/v1/redemptions", headers=headers, json={"code": ticket.code})
    again = client.post("/api/v1/redemptions", headers=headers, json={"code": ticket.code})
    product = client.get(f"/api/v1/products/{product_id}", headers=headers)
    assert (first.status_code, again.status_code, product.status_code) == (201, 409, 200)
    after = scrape(client)

    redeemed = "ectix_ticket_redemptions_total"
    assert value(after, redeemed) - value(before, redeemed) == 1  # the 409 redeemed nothing
    route = "/api/v1/redemptions"
    assert requests(after, route, "POST", 201) - requests(before, route, "POST", 201) == 1
    assert requests(after, route, "POST", 409) - requests(before, route, "POST", 409) == 1
    rule = "/api/v1/products/<int:product_id>"
    assert requests(after, rule, "GET", 200) - requests(before, rule, "GET", 200) == 1
    count = "ectix_http_request_duration_seconds_count"
    assert (value(after, count, route=route, method="POST")
            - value(before, count, route=route, method="POST")) == 2
    spent = "ectix_http_request_duration_seconds_sum"
    assert value(after, spent, route=route, method="POST") > value(before, spent, route=route,
                                                                    method="POST")
    routes = {dict(labels).get("route") for _, labels in after} - {None}
    # Labels are rules (the process's registry also holds earlier tests' routes, e.g. the
    # product list): never a path with an id in it.
    assert rule in routes and f"/api/v1/products/{product_id}" not in routes, routes
    assert not [r for r in routes if re.search(r"/\d+(/|$)", r)], routes


def test_a_path_no_rule_matches_is_one_series_whatever_the_path(metrics_app, client):
    before = scrape(client)
    for n in (1234567, 7654321):
        assert client.get(f"/no/such/page/{n}").status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405
    after = scrape(client)
    unmatched = metrics.UNMATCHED
    assert requests(after, unmatched, "GET", 404) - requests(before, unmatched, "GET", 404) == 2
    assert requests(after, unmatched, "other", 405) - requests(before, unmatched, "other", 405) == 1
    labels = {v for _, ls in after for _, v in ls}
    assert not any("1234567" in v or "BREW" in v for v in labels)


def redeemed() -> float:
    [family] = metrics.REDEMPTIONS.collect()
    return next(s.value for s in family.samples if s.name.endswith("_total"))


def test_the_latency_is_the_requests_own_and_a_refused_request_is_counted(app, client):
    def slow(n: int) -> str:
        time.sleep(0.3)
        return "slept"

    app.add_url_rule("/test-slow/<int:n>", "test_slow", slow)  # before the app's first request
    app.config.update(METRICS_TOKEN=TOKEN, REDIS_URL=None)
    before = scrape(client)
    assert client.get("/test-slow/42").status_code == 200
    assert client.get("/healthz?q=a%00b").status_code == 422  # refused before any view
    after = scrape(client)

    rule = "/test-slow/<int:n>"
    bucket = "ectix_http_request_duration_seconds_bucket"

    def grew(le: str) -> float:
        return (value(after, bucket, route=rule, method="GET", le=le)
                - value(before, bucket, route=rule, method="GET", le=le))

    assert (grew("0.25"), grew("0.5"), grew("+Inf")) == (0, 1, 1)
    assert requests(after, rule, "GET", 200) - requests(before, rule, "GET", 200) == 1
    assert requests(after, "/healthz", "GET", 422) - requests(before, "/healthz", "GET", 422) == 1


def test_a_redemption_counts_when_it_commits_and_not_when_it_rolls_back(metrics_app, ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("metricsroll")
    first, second, third = issue(owner, store, pickup, quantity=3)
    before = redeemed()

    actions.perform(Action.REDEEM, owner, store, first)
    assert redeemed() == before  # not before the commit
    db.session.rollback()
    assert redeemed() == before
    db.session.commit()  # the rolled-back redemption is not carried into a later commit
    assert redeemed() == before

    actions.perform(Action.REDEEM, owner, store, second)
    actions.perform(Action.RETURN, owner, store, third, reason="test")  # another move: not a redemption
    db.session.commit()
    assert redeemed() == before + 1
    db.session.expire_all()
    assert db.session.get(type(second), second.id).status is TicketStatus.USED
    assert db.session.get(type(third), third.id).status is not TicketStatus.UNUSED


# Gauges read at scrape time -------------------------------------------------------------------

def test_the_database_gauges_escrow_lag_outbox_and_failures(metrics_app, client, ctx):
    clock.freeze(T(2026, 7, 3, 9, 0))
    now = clock.now()
    store = make_store()
    db.session.add_all([
        BankSyncRun(business_day=date(2026, 7, 1), status=SyncRunStatus.DONE,
                    started_at=now - timedelta(days=1, hours=8), finished_at=now - timedelta(days=1, hours=8)),
        BankSyncRun(business_day=date(2026, 7, 2), status=SyncRunStatus.DONE,
                    started_at=now - timedelta(hours=8), finished_at=now - timedelta(hours=7, minutes=30)),
        BankSyncRun(business_day=date(2026, 7, 3), status=SyncRunStatus.FAILED, trigger="manual",
                    started_at=now - timedelta(hours=1), finished_at=now - timedelta(hours=1)),
        *[Message(store_id=store.id, channel=channel, kind="test", to_address="a@example.com",
                  body="x", status=status)
          for channel, status in ((Channel.EMAIL, MessageStatus.QUEUED),
                                  (Channel.EMAIL, MessageStatus.QUEUED),
                                  (Channel.SMS, MessageStatus.QUEUED),
                                  (Channel.EMAIL, MessageStatus.SENT),
                                  (Channel.SMS, MessageStatus.FAILED))],
        Batch(store_id=store.id, import_no="FAILNOW", delivery_method=DeliveryMethod.IMMEDIATE,
              status=BatchStatus.FAILED, rows=[], finished_at=now - timedelta(hours=2)),
        Batch(store_id=store.id, import_no="FAILOLD", delivery_method=DeliveryMethod.IMMEDIATE,
              status=BatchStatus.FAILED, rows=[], finished_at=now - timedelta(days=2)),
        jobs.ScheduledRun(name="escrow_sync", slot=now - timedelta(hours=8), status="failed",
                          finished_at=now - timedelta(hours=8)),
        jobs.ScheduledRun(name="escrow_sync", slot=now - timedelta(days=3), status="failed",
                          finished_at=now - timedelta(days=3)),
        jobs.ScheduledRun(name="expire_tickets", slot=now - timedelta(hours=9), status="done",
                          finished_at=now - timedelta(hours=9)),
    ])
    for status in (NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.SUCCEEDED):
        order = make_checkout_order(store, paid=True)
        db.session.add(PaymentNotice(store_id=store.id, order_id=order.id,
                                     url="https://merchant.example/return", payload={}, status=status))
    db.session.commit()

    got = scrape(client)
    assert value(got, "ectix_metrics_source_up", source="database") == 1
    assert value(got, "ectix_escrow_sync_lag_seconds") == 7.5 * 3600
    assert value(got, "ectix_escrow_sync_last_success_timestamp_seconds") == (
        now - timedelta(hours=7, minutes=30)).timestamp()
    assert value(got, "ectix_outbox_backlog", kind="email") == 2
    assert value(got, "ectix_outbox_backlog", kind="sms") == 1
    assert value(got, "ectix_outbox_backlog", kind="checkout_notices") == 2
    assert ("ectix_outbox_backlog", frozenset({("kind", "ecticket_notices")})) in got
    assert value(got, "ectix_scheduled_job_failures_last_day", job="escrow_sync") == 1
    assert ("ectix_scheduled_job_failures_last_day", frozenset({("job", "expire_tickets")})) in got
    assert value(got, "ectix_scheduled_job_failures_last_day", job="expire_tickets") == 0
    assert value(got, "ectix_work_failures_last_day", kind="issuance_batch") == 1
    assert value(got, "ectix_work_failures_last_day", kind="escrow_sync_run") == 1
    assert ("ectix_work_failures_last_day", frozenset({("kind", "export")})) in got
    # Inline jobs: no Redis to read, so no queue gauges.
    assert not any(name == "ectix_queue_depth" for name, _ in got)


def test_no_escrow_lag_before_the_first_successful_sync(metrics_app, client):
    got = scrape(client)
    assert not any(name.startswith("ectix_escrow_sync") for name, _ in got)
    assert value(got, "ectix_metrics_source_up", source="database") == 1


def test_a_database_that_does_not_answer_is_reported_down_and_the_scrape_still_answers(
        metrics_app, client, caplog):
    metrics_app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://ectix:pw@127.0.0.1:1/none"
    metrics_app.extensions.pop("ectix-probe-engine", None)
    got = scrape(client)
    assert ("ectix_metrics_source_up", frozenset({("source", "database")})) in got
    assert value(got, "ectix_metrics_source_up", source="database") == 0
    assert not any(name == "ectix_outbox_backlog" for name, _ in got)
    assert "could not be read (OperationalError)" in caplog.text


@pytest.mark.redis
def test_queue_depth_and_failed_jobs_are_read_from_redis(metrics_app, client, ctx, redis_url):
    from redis import Redis
    from rq import Queue, SimpleWorker

    metrics_app.config.update(JOBS_MODE="rq", REDIS_URL=redis_url)
    jobs.enqueue(sample_jobs.write_news, "one")
    jobs.enqueue(sample_jobs.write_news, "two")
    jobs.enqueue(sample_jobs.write_news, "three", queue="notifications")
    db.session.commit()

    got = scrape(client)
    assert value(got, "ectix_metrics_source_up", source="redis") == 1
    assert value(got, "ectix_queue_depth", queue="default") == 2
    assert value(got, "ectix_queue_depth", queue="notifications") == 1
    assert value(got, "ectix_queue_failed_jobs", queue="default") == 0

    jobs.enqueue(sample_jobs.failing_recurring, "slot", retries=())
    db.session.commit()
    queue = Queue("default", connection=Redis.from_url(redis_url))
    jobs.bind_app(metrics_app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        jobs._app = None

    got = scrape(client)
    assert value(got, "ectix_queue_depth", queue="default") == 0
    assert value(got, "ectix_queue_depth", queue="notifications") == 1
    assert value(got, "ectix_queue_failed_jobs", queue="default") == 1


def test_an_unreachable_redis_is_reported_down(metrics_app, client):
    metrics_app.config.update(JOBS_MODE="rq", REDIS_URL="redis://127.0.0.1:1/3")
    got = scrape(client)
    assert value(got, "ectix_metrics_source_up", source="redis") == 0
    assert value(got, "ectix_metrics_source_up", source="database") == 1
    assert not any(name == "ectix_queue_depth" for name, _ in got)


# Several processes ----------------------------------------------------------------------------

RECORDER = """
import sys
from app import create_app

app = create_app({"TESTING": True, "SECRET_KEY": "x", "JOBS_MODE": "inline",
                  "SQLALCHEMY_DATABASE_URI": sys.argv[2]})
client = app.test_client()
for _ in range(int(sys.argv[1])):
    assert client.get("/healthz").status_code == 200
"""


def test_multiprocess_mode_sums_the_counters_of_every_process(metrics_app, client, tmp_path,
                                                              monkeypatch):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "SECRET_KEY": "x"}
    database = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    for n in (3, 4):  # two processes, one after the other: different pids, one folder
        subprocess.run([sys.executable, "-c", RECORDER, str(n), database], env=env, cwd=ROOT,
                       check=True, timeout=120)
    assert len(list(folder.glob("counter_*.db"))) == 2
    assert len(list(folder.glob("histogram_*.db"))) == 2

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    got = scrape(client)
    assert requests(got, "/healthz", "GET", 200) == 7
    assert value(got, "ectix_http_request_duration_seconds_count", route="/healthz", method="GET") == 7
    assert value(got, "ectix_http_request_duration_seconds_bucket", route="/healthz", method="GET",
                 le="+Inf") == 7
    # This process counts in memory (no folder when it started): its own scrapes are not there.
    assert requests(got, "/metrics", "GET", 200) == 0
    assert value(got, "ectix_metrics_source_up", source="database") == 1

"""Prometheus metrics at `GET /metrics` (the `prometheus_client` library: its text format, or
OpenMetrics when the scraper asks for it).

The route exists only with ECTIX_METRICS_TOKEN set (METRICS_TOKEN; otherwise 404, as an unknown
URL) and answers only a request carrying it as `Authorization: Bearer <token>` (401 otherwise;
the hashes are compared in constant time). No login, no session, no CSRF (a GET).

Counted as things happen, in the process that serves them:
- `ectix_http_requests_total{route, method, status}` and the latency histogram
  `ectix_http_request_duration_seconds{route, method}`: `route` is the URL rule
  (`/api/v1/products/<int:product_id>`), never the path, so ids add no series; a path no rule
  matches is `<unmatched>`, a method outside the usual ones `other`. One cheap hook, around
  the WSGI app: a clock read when the request comes in, and when the answer starts (its
  `start_response`, while Flask's request object is still in the environ) the request's
  `url_rule` read off that object, a dict lookup and two increments. No context-local lookup,
  nothing read from the database; the time covers every before- and after-request function,
  the session's cookie included.
- `ectix_ticket_redemptions_total`: tickets redeemed (核銷), heard through the ticket core's
  after-move reactions and counted when the redemption's transaction commits (a rolled-back
  one is not counted).

Read when Prometheus scrapes, by `StateCollector` (never on a request), through the probes'
own connections with short timeouts (`health.probe_engine`):
- `ectix_queue_depth{queue}` and `ectix_queue_failed_jobs{queue}`: jobs waiting in each RQ
  queue and its failed-job registry (JOBS_MODE "rq" only: in-process jobs have no Redis);
- `ectix_scheduled_job_failures_last_day{job}`: runs of each recurring job that failed in the
  last 24 hours, and `ectix_work_failures_last_day{kind}`: issuance and installment batches,
  Excel exports and bank sync runs that failed in that time;
- `ectix_escrow_sync_last_success_timestamp_seconds` and `ectix_escrow_sync_lag_seconds`: when
  the last bank escrow sync finished successfully, and how long ago (absent until one has);
- `ectix_outbox_backlog{kind}`: e-mails and SMS waiting to be sent, and every kind of merchant
  notice (payment results, refunds, ECTicket use-status) pending or being sent;
- `ectix_metrics_source_up{source}`: 0 when the database or Redis could not be read for this
  scrape (its gauges are then missing, not zero).

Several processes (gunicorn's workers): set PROMETHEUS_MULTIPROC_DIR to an empty directory
(emptied at every start of the service) in the environment of the app's processes before they
start. prometheus_client then keeps every process's counters and histograms in files there,
and a scrape, answered by any worker, sums them all (`MultiProcessCollector`); the gauges above
are read at the scrape and are the same whoever answers. Without the variable (`make run`,
the tests) each process counts in memory and answers its own. No metric here is a gauge kept
per process, so gunicorn's `child_exit` hook need not call `multiprocess.mark_process_dead`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from time import perf_counter
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app import clock, jobs, schedule
from app.db import db
from app.escrow.models import BankSyncRun, SyncRunStatus
from app.installments.models import InstallmentBatch
from app.issuance.models import Batch, BatchStatus
from app.notifications.models import Channel, Message, MessageStatus, NoticeColumns, NoticeStatus
from app.observability.health import PROBE_TIMEOUT, probe_engine
from app.reports.models import ExportJob, ExportStatus
from app.tickets import reactions
from app.tickets.lifecycle import Action

log = logging.getLogger(__name__)

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: a redemption answers in milliseconds, an export page or a bank call in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RECENT = timedelta(hours=24)

# No `_created` series: multiprocess mode has none, so both modes answer the same series, and
# a counter is one series per label set instead of two.
disable_created_metrics()

# registry=None: a scrape puts them in a registry of its own (single process) or reads every
# process's files instead (multiprocess mode); see `scrape`.
REQUESTS = Counter("ectix_http_requests", "HTTP requests answered, by URL rule, method and status",
                   ("route", "method", "status"), registry=None)
LATENCY = Histogram("ectix_http_request_duration_seconds",
                    "Time from the request's arrival to the start of its answer, by URL rule "
                    "and method", ("route", "method"), buckets=BUCKETS, registry=None)
REDEMPTIONS = Counter("ectix_ticket_redemptions", "Tickets redeemed (committed)", registry=None)
COUNTED = (REQUESTS, LATENCY, REDEMPTIONS)

_REDEEMED = "ectix_redeemed"  # redemptions of the session's open transaction (Session.info)
# (route, method, status) -> the labelled counter and histogram: labels() takes a lock and
# builds a tuple each time, a dict lookup does not (this runs on every request).
_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestMetrics(app.wsgi_app)  # type: ignore[method-assign]
    app.register_blueprint(bp)


class RequestMetrics:
    """WSGI middleware counting and timing every request by its URL rule and status (module
    docstring). It wraps whatever the app's WSGI callable is (ProxyFix included): a request a
    before-request function refuses is counted and timed like any other."""

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = perf_counter()

        def answer(status: str, headers: list, exc_info: Any = None) -> Any:
            flask_request = environ.get("werkzeug.request")  # until its context is popped
            rule = getattr(flask_request, "url_rule", None)
            method = environ.get("REQUEST_METHOD", "")
            key = (rule.rule if rule is not None else UNMATCHED,
                   method if method in METHODS else "other", status[:3])
            children = _children.get(key)
            if children is None:
                children = _children[key] = (REQUESTS.labels(*key), LATENCY.labels(*key[:2]))
            children[0].inc()
            children[1].observe(perf_counter() - started)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, answer)


# Redemptions -------------------------------------------------------------------------------

@reactions.after_move
def _note_redemption(moved: reactions.Moved) -> None:
    if moved.action is Action.REDEEM:
        info = db.session().info  # the session whose transaction the move ran in (actions)
        info[_REDEEMED] = info.get(_REDEEMED, 0) + 1


@event.listens_for(Session, "after_commit")
def _count_redemptions(session: Session) -> None:
    if redeemed := session.info.pop(_REDEEMED, 0):
        REDEMPTIONS.inc(redeemed)


@event.listens_for(Session, "after_soft_rollback")
def _forget_redemptions(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_REDEEMED, None)


# The scrape --------------------------------------------------------------------------------

@bp.get("/metrics")
def scrape() -> Response:
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        abort(404)
    if not token_matches(request.headers.get("Authorization", ""), expected):
        return Response("unauthorized\n", 401, {"WWW-Authenticate": "Bearer"},
                        content_type="text/plain; charset=utf-8")
    registry = CollectorRegistry(auto_describe=False)
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry, path=directory)
    else:
        for metric in COUNTED:
            registry.register(metric)
    registry.register(StateCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
    # The text format Prometheus asks for in its Accept header (0.0.4 when it names none).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), content_type=content_type)


def token_matches(header: str, expected: str) -> bool:
    """`Authorization: Bearer <expected>`, compared as hashes in constant time (the time
    tells nothing of how much of a guess was right, nor of the token's length)."""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    return hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


class StateCollector:
    """The gauges read from the database and Redis when Prometheus scrapes (module docstring).
    A source that cannot be read is logged by the kind of its error and reported as down."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ectix_metrics_source_up",
                               "1 when this scrape could read the source, 0 when it could not",
                               labels=("source",))
        sources = [("database", self._database)]
        if self.app.config.get("JOBS_MODE") == "rq" and self.app.config.get("REDIS_URL"):
            sources.append(("redis", self._redis))
        for name, read in sources:
            try:
                families = list(read())
            except Exception as exc:  # noqa: BLE001 - the scrape goes on without this source
                log.warning("metrics: the %s could not be read (%s)", name, type(exc).__name__)
                up.add_metric((name,), 0)
                continue
            up.add_metric((name,), 1)
            yield from families
        yield up

    def _database(self) -> Iterator[Metric]:
        now = clock.now()
        since = now - RECENT
        with probe_engine(self.app).connect() as conn:
            last_sync = conn.execute(select(func.max(BankSyncRun.finished_at))
                                     .where(BankSyncRun.status == SyncRunStatus.DONE)).scalar()
            queued = dict(conn.execute(select(Message.channel, func.count())
                                       .where(Message.status == MessageStatus.QUEUED)
                                       .group_by(Message.channel)).all())
            notices = {model.__tablename__: conn.execute(
                select(func.count()).select_from(model)
                .where(model.status.in_((NoticeStatus.PENDING, NoticeStatus.SENDING)))).scalar()
                for model in _notice_models()}
            run = jobs.ScheduledRun
            runs = dict(conn.execute(select(run.name, func.count())
                                     .where(run.status == "failed", run.finished_at >= since)
                                     .group_by(run.name)).all())
            work = {kind: conn.execute(select(func.count()).select_from(model)
                                       .where(model.status == failed, model.finished_at >= since)
                                       ).scalar()
                    for kind, model, failed in _WORK}

        if last_sync is not None:
            yield GaugeMetricFamily("ectix_escrow_sync_last_success_timestamp_seconds",
                                    "When the last successful bank escrow sync finished (Unix time)",
                                    value=last_sync.timestamp())
            yield GaugeMetricFamily("ectix_escrow_sync_lag_seconds",
                                    "Seconds since the last successful bank escrow sync finished",
                                    value=(now - last_sync).total_seconds())
        backlog = GaugeMetricFamily("ectix_outbox_backlog",
                                    "E-mails and SMS queued, merchant notices pending or sending",
                                    labels=("kind",))
        for channel in Channel:
            backlog.add_metric((channel.value,), queued.get(channel, 0))
        for table, count in sorted(notices.items()):
            backlog.add_metric((table,), count or 0)
        yield backlog
        failures = GaugeMetricFamily("ectix_scheduled_job_failures_last_day",
                                     "Runs of each recurring job that failed in the last 24 hours",
                                     labels=("job",))
        for recurring in schedule.SCHEDULE:
            failures.add_metric((recurring.name,), runs.get(recurring.name, 0))
        yield failures
        failed_work = GaugeMetricFamily("ectix_work_failures_last_day",
                                        "Batches, exports and bank sync runs that failed in the "
                                        "last 24 hours", labels=("kind",))
        for kind, count in work.items():
            failed_work.add_metric((kind,), count or 0)
        yield failed_work

    def _redis(self) -> Iterator[Metric]:
        from rq import Queue  # as in app.jobs: rq stays out of the web process's import time

        depth = GaugeMetricFamily("ectix_queue_depth", "Jobs waiting in each RQ queue",
                                  labels=("queue",))
        failed = GaugeMetricFamily("ectix_queue_failed_jobs",
                                   "Jobs in each RQ queue's failed-job registry", labels=("queue",))
        connection = Redis.from_url(self.app.config["REDIS_URL"], socket_timeout=PROBE_TIMEOUT,
                                    socket_connect_timeout=PROBE_TIMEOUT)
        try:
            for name in jobs.QUEUES:
                queue = Queue(name, connection=connection)
                depth.add_metric((name,), queue.count)
                # No clean-up here: a scrape reads, it does not change the registry.
                failed.add_metric((name,), queue.failed_job_registry.get_job_count(cleanup=False))
        finally:
            connection.close()
        yield depth
        yield failed


# The work tables whose rows end FAILED, by the kind the metric names them.
_WORK: tuple[tuple[str, Any, Any], ...] = (
    ("issuance_batch", Batch, BatchStatus.FAILED),
    ("installment_batch", InstallmentBatch, BatchStatus.FAILED),
    ("export", ExportJob, ExportStatus.FAILED),
    ("escrow_sync_run", BankSyncRun, SyncRunStatus.FAILED),
)


def _notice_models() -> list[Any]:
    """Every merchant notice table (a model with NoticeColumns), whichever feature has it."""
    return sorted((mapper.class_ for mapper in db.Model.registry.mappers
                   if issubclass(mapper.class_, NoticeColumns)), key=lambda m: m.__tablename__)

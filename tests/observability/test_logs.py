"""Structured logs (app.observability.logs): the request id, the context every line carries, the
access line, job ids, and nothing secret or personal in any line.

Each test reads what the app's JSON formatter writes: a handler with it on the root logger, its
lines parsed back, so a test sees exactly what a log shipper would."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from flask import g
from flask_login import login_user

from app.auth.services import create_api_token
from app.db import db
from app.jobs import enqueue, run_job
from app.observability import logs
from tests.factories import PASSWORD, login, make_account, make_store
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue
from tests.wallet.helpers import EMAIL, MOBILE, confirm, issue_order, shop

MADE = re.compile(r"[0-9a-f]{32}")
PROBE = "tests.observability.test_logs:probe_job"


class Lines:
    """What the JSON handler wrote: the raw text and its lines parsed."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self, route: str | None = None) -> list[dict]:
        return [line for line in self.all() if line["logger"] == "ectix.access"
                and (route is None or line.get("route") == route)]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Every record of every logger, DEBUG and up, through the app's JSON formatter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Lines(buffer)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def probe_job(n: int) -> None:
    logging.getLogger("tests.job").warning("probe job %s ran", n)


@pytest.fixture
def probe(app) -> Callable[[], str]:  # noqa: ANN001
    """A route that logs one line and answers the request id the code sees (g.request_id)."""

    def view(n: int) -> str:
        logging.getLogger("tests.probe").warning("inside the request")
        return g.request_id

    app.add_url_rule("/_probe/<int:n>", "probe", view)
    return view


# The request id ----------------------------------------------------------------------------


def test_a_well_formed_request_id_is_used_echoed_and_on_every_line(client, probe, lines):
    response = client.get("/_probe/7", headers={"X-Request-Id": "edge-7f3a.B_9"})
    assert response.headers["X-Request-Id"] == "edge-7f3a.B_9"
    assert response.get_data(as_text=True) == "edge-7f3a.B_9"  # g.request_id, for the code
    inside = [line for line in lines.all() if line["logger"] == "tests.probe"]
    assert [line["request_id"] for line in inside] == ["edge-7f3a.B_9"]
    [access] = lines.access("/_probe/<int:n>")
    assert access["request_id"] == "edge-7f3a.B_9"


@pytest.mark.parametrize("sent", [
    "a" * 65,                                   # too long
    "abc\ndef",                                 # a newline: a forged second line
    'abc" "level": "CRITICAL',                  # quotes
    "abc def",                                  # a space
    "abc\x1b[31m",                              # a terminal escape
    "",                                         # empty
])
def test_a_malformed_request_id_is_replaced_by_a_new_one(client, probe, lines, sent):
    response = client.get("/_probe/1", environ_overrides={"HTTP_X_REQUEST_ID": sent})
    made = response.headers["X-Request-Id"]
    assert MADE.fullmatch(made) and made != sent
    assert response.get_data(as_text=True) == made
    assert all(line.get("request_id") in (None, made) for line in lines.all())
    assert [line["request_id"] for line in lines.access()] == [made]
    if sent:
        assert sent not in lines.text and json.dumps(sent)[1:-1] not in lines.text


def test_a_request_without_an_id_gets_a_new_one_each_time(client, probe, lines):
    first = client.get("/_probe/1").headers["X-Request-Id"]
    second = client.get("/_probe/2").headers["X-Request-Id"]
    assert MADE.fullmatch(first) and MADE.fullmatch(second) and first != second
    assert [line["request_id"] for line in lines.access()] == [first, second]
    assert [line["request_id"] for line in lines.all() if line["logger"] == "tests.probe"] \
        == [first, second]


def test_a_line_after_the_request_carries_no_request_id(client, probe, lines):
    client.get("/_probe/1")
    logging.getLogger("tests.after").warning("between requests")
    [after] = [line for line in lines.all() if line["logger"] == "tests.after"]
    assert "request_id" not in after


# The access line and its context -----------------------------------------------------------


def test_the_access_line_of_a_logged_in_merchant(client, ctx, lines):
    store = make_store()
    account = make_account(store, username="logsmerchant")
    db.session.commit()
    login(client, "logsmerchant")
    response = client.get("/home")
    assert response.status_code == 200
    [access] = lines.access("/home")
    assert access["account_id"] == account.id and access["store_id"] == store.id
    assert access["method"] == "GET" and access["status"] == 200
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert access["level"] == "INFO" and access["time"].endswith("Z")
    assert MADE.fullmatch(access["request_id"])
    [login_line] = [line for line in lines.access("/login") if line["method"] == "POST"]
    assert login_line["status"] == 302 and login_line["account_id"] == account.id


def test_the_access_line_of_an_api_token_call_names_the_rule_not_the_path(client, ctx, lines):
    store, owner, pickup, _ = ready_store("logsapi")
    _, plain = create_api_token(owner, "logs")
    db.session.commit()
    response = client.get(f"/api/v1/products/{pickup.id}",
                          headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200
    [access] = lines.access()
    assert access["route"] == "/api/v1/products/<int:product_id>"
    assert f"/products/{pickup.id}" not in lines.text
    assert access["account_id"] == owner.id and access["store_id"] == store.id
    assert access["status"] == 200 and access["method"] == "GET"


def test_an_anonymous_request_has_no_account_or_store(client, lines):
    assert client.get("/login").status_code == 200
    [access] = lines.access("/login")
    assert "account_id" not in access and "store_id" not in access
    assert access["status"] == 200


def test_an_unmatched_path_logs_no_route_and_its_404(client, lines):
    assert client.get("/no/such/page").status_code == 404
    [access] = lines.access()
    assert access["status"] == 404 and "route" not in access
    assert "/no/such/page" not in lines.text


def test_reading_the_context_runs_no_query(app, ctx, count_queries, lines):
    store = make_store()
    account = make_account(store)
    db.session.commit()  # both expired: reading an attribute would load them again
    with app.test_request_context("/"):
        login_user(account)
        g.store = store
        db.session.expire_all()
        count_queries.clear()
        logging.getLogger("tests.context").warning("with an expired user")
        assert count_queries == []
    [line] = [line for line in lines.all() if line["logger"] == "tests.context"]
    assert line["account_id"] == account.id and line["store_id"] == store.id


# Jobs --------------------------------------------------------------------------------------


def test_an_inline_jobs_lines_carry_its_name(ctx, lines):
    enqueue(probe_job, 5)
    db.session.commit()  # inline: the job runs now
    logging.getLogger("tests.job").warning("after the job")
    job_lines = [line for line in lines.all() if line["logger"] == "tests.job"]
    assert [line["message"] for line in job_lines] == ["probe job 5 ran", "after the job"]
    assert job_lines[0]["job_id"] == PROBE and job_lines[0]["job"] == PROBE
    assert "job_id" not in job_lines[1] and "job" not in job_lines[1]


def test_an_rq_jobs_lines_carry_its_rq_id(ctx, lines):
    from fakeredis import FakeStrictRedis
    from rq import Queue, SimpleWorker

    class Worker(SimpleWorker):
        def _install_signal_handlers(self) -> None:  # leave pytest's own
            pass

    connection = FakeStrictRedis()
    queue = Queue("default", connection=connection)
    job = queue.enqueue(run_job, PROBE, 8)
    Worker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    [line] = [line for line in lines.all() if line["logger"] == "tests.job"]
    assert line["message"] == "probe job 8 ran"
    assert line["job_id"] == job.id and line["job"] == PROBE and job.id != PROBE


# Nothing secret or personal ------------------------------------------------------------------


def test_no_password_csrf_token_or_session_cookie_in_the_login_lines(client, ctx, lines):
    store = make_store()
    make_account(store, username="logslogin")
    db.session.commit()
    wrong = "Wr0ng-Passw0rd-for-logs"
    csrf = client.csrf_token()
    failed = client.post("/login", data={"username": "logslogin", "password": wrong},
                         headers={"X-CSRFToken": csrf})
    assert failed.status_code == 401
    done = client.post("/login", data={"username": "logslogin", "password": PASSWORD},
                       headers={"X-CSRFToken": csrf})
    assert done.status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None and len(cookie.value) > 20
    assert client.get("/home").status_code == 200

    assert [line["status"] for line in lines.access("/login")] == [401, 302]
    assert lines.access("/home")[0]["account_id"] is not None
    for secret in (wrong, PASSWORD, csrf, cookie.value, "logslogin"):
        assert secret not in lines.text, secret


def test_no_link_token_mobile_or_email_in_the_wallet_lines(client, ctx, lines):
    store, owner, pickup, _ = shop("logswallet")
    order = issue_order(owner, store, pickup, quantity=1)  # its notices are sent, while logged
    token = order.link_token
    assert client.get(f"/t/{token}?again={token}").status_code == 200
    assert confirm(client, token).status_code in (302, 303)
    assert client.get(f"/t/{token}").status_code == 200

    routes = [line["route"] for line in lines.access()]
    assert routes == ["/t/<token>", "/t/<token>/confirm", "/t/<token>"]
    for secret in (token, MOBILE, EMAIL):
        assert secret not in lines.text, secret


def test_no_bearer_token_or_code_in_the_api_lines(client, ctx, lines):
    store, owner, pickup, _ = ready_store("logsredeem")
    [ticket] = issue(owner, store, pickup)
    _, plain = create_api_token(owner, "logs")
    db.session.commit()
    code = ticket.code
    headers = {"Authorization": f"Bearer {plain}"}
    redeemed = client.post("/api/v1/redemptions", json={"code": code}, headers=headers)
    assert redeemed.status_code == 201
    again = client.post("/api/v1/redemptions", json={"code": code}, headers=headers)
    assert again.status_code == 409
    unknown = client.post("/api/v1/redemptions", json={"code": code[::-1]}, headers=headers)
    assert unknown.status_code == 404

    assert [line["status"] for line in lines.access("/api/v1/redemptions")] == [201, 409, 404]
    for secret in (plain, code, code[::-1], "-".join(code[i:i + 4] for i in range(0, 16, 4))):
        assert secret not in lines.text, secret


def test_a_traceback_is_one_string_field_and_redacted(lines):
    try:
        raise RuntimeError("SMTP refused buyer@example.com for /t/SeCrEt_LiNk_0123456789")
    except RuntimeError:
        logging.getLogger("tests.error").exception("sending to 0912-345-678 failed")
    [line] = lines.all()
    assert line["level"] == "ERROR" and line["message"] == "sending to *** failed"
    assert isinstance(line["exception"], str) and "RuntimeError: SMTP refused" in line["exception"]
    for secret in ("buyer@example.com", "SeCrEt_LiNk", "0912-345-678"):
        assert secret not in lines.text


@pytest.mark.parametrize(("text", "masked"), [
    ("to buyer.name+tag@example.com.tw", "to ***"),
    ("mobile 0912345678, +886 912 345 678 and 886-912-345-678", "mobile ***, *** and ***"),
    ("card 4311-9522-2222-2222 / 4311952222222222", "card *** / ***"),
    ("Authorization: Bearer abc.DEF-123_x", "Authorization: ***"),
    ("header Bearer abc.DEF-123_x", "header Bearer ***"),
    ("password=hunter2&user=x", "password=***&user=x"),
    ('{"HashKey": "5294y06JbISpM5x9", "HashIV": "v77hoKGq4kWxNNIS"}',
     '{"HashKey": "***", "HashIV": "***"}'),
    ("csrf_token=IjQ1ZjA3 session=abc", "csrf_token=*** session=***"),
    ("order 2026120712345 of 3 at 2026-12-07 18:30:00", "order 2026120712345 of 3 at 2026-12-07 18:30:00"),
    ("GET /t/<token> 200 3.1 ms", "GET /t/*** 200 3.1 ms"),
])
def test_redact_masks_personal_data_and_credentials(text, masked):
    from app.wallet.logredact import redact

    assert redact(text) == masked


# Settings ----------------------------------------------------------------------------------


def test_the_format_setting():
    assert logs.chosen_format({"LOG_FORMAT": None}) == "json"  # production: any other process
    assert logs.chosen_format({"LOG_FORMAT": None}, debug=True) == "text"  # make run
    assert logs.chosen_format({"LOG_FORMAT": None}, testing=True) == "text"
    assert logs.chosen_format({"LOG_FORMAT": "json"}, testing=True) == "json"
    with pytest.raises(ValueError, match="ECTIX_LOG_FORMAT"):
        logs.formatter("yaml")


def test_the_text_format_has_the_context_and_redacts(client, probe):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.TextFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        client.get("/_probe/3", headers={"X-Request-Id": "text-1"})
        logging.getLogger("tests.text").warning("for buyer@example.com")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = buffer.getvalue()
    assert re.search(r" WARNING tests\.probe \[request_id=text-1\] inside the request$", text, re.M)
    assert re.search(r" INFO ectix\.access \[request_id=text-1\] GET /_probe/<int:n> 200 ", text)
    assert "WARNING tests.text for ***" in text and "buyer@" not in text


def test_a_production_app_writes_json_to_stderr_and_keeps_one_handler(monkeypatch, capsys,
                                                                       tmp_path):
    from app import create_app
    from tests.conftest import base_config

    monkeypatch.setenv("ECTIX_LOG_FORMAT", "json")
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        for _ in range(2):
            application = create_app(base_config(f"sqlite:///{tmp_path / 'x.sqlite3'}"))
        ours = [h for h in root.handlers if isinstance(h, logs.StderrHandler)]
        assert len(ours) == 1
        logging.getLogger("tests.stderr").warning("to stderr")
        [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()
                  if '"tests.stderr"' in x]
        assert line["message"] == "to stderr" and line["level"] == "WARNING"
        assert application.logger.handlers == []  # Flask's own handler would write it twice
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_gunicorns_log_config_routes_its_error_log_to_the_app_handler():
    config = logs.gunicorn_logconfig({"LOG_FORMAT": None, "LOG_LEVEL": "INFO"})
    assert config["root"] == {"level": "INFO", "handlers": ["ectix"]}
    assert config["handlers"]["ectix"] == {"()": logs.StderrHandler, "fmt": "json"}
    assert config["loggers"]["gunicorn.error"] == {"handlers": [], "propagate": True}
    assert config["loggers"]["gunicorn.access"] == {"handlers": [], "propagate": False}

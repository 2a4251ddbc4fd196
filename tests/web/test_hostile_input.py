"""No server error from input: every URL rule of the app, with hostile values.

The sweep requests every rule of `app.url_map` on PostgreSQL (where a NUL in a string or an
integer beyond a column's range is an error of the server, not of SQLite's lenient typing),
as an anonymous visitor, a merchant's main account, a branch clerk and a platform operator, with
hostile values in the path variables (huge and negative integers, NUL, `%00`, very long strings,
bytes that are not UTF-8) and in the common query and form fields, by GET and by POST where the
rule allows them, and asserts that no answer is a 5xx (an exception raised by a view counts as a
500: the test app propagates exceptions).
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from werkzeug.routing import IntegerConverter, Rule

from app.auth.permissions import Function, Level
from app.db import db
from tests.factories import login, make_account, make_branch, make_operator, make_order, make_store, make_sub

pytestmark = pytest.mark.postgres

HUGE = "99999999999999999999"
INTEGERS = (HUGE, str(2**31), "-5")  # beyond a BigInteger, beyond an Integer, negative
LONG = quote("長" * 400)  # longer than any field takes
# Path values, percent-encoded as they travel. An id's converter answers before any view runs,
# whoever asks: those rules are swept as the main account only; text variables by every role.
INT_PATH_VALUES = (HUGE, str(2**31), "A%00B")
TEXT_PATH_VALUES = (HUGE, "%00", "A%00B", LONG, "%FF%FE")
LONG_FIELDS = ("q", "name", "username", "note", "reason", "remark", "serial", "code")
QUERY_FIELDS = ("page", "per_page", "q", "start", "end", "status", "kind", "product_id", "branch_id",
                "store_id", "order_id", "ticket_id", "batch_id", "id", "month", "code", "serial",
                "listed", "sort", "tab", "account_id", "partner_store_id", "issuer", "store",
                "period", "year", "format", "was", "transfer_id")
FORM_FIELDS = QUERY_FIELDS + (
    "username", "password", "name", "remark", "note", "text", "mobile", "email", "face_value",
    "quantity", "reason", "purchaser_name", "purchaser_mobile", "purchaser_email", "title",
    "body", "amount", "merchant_order_no", "ticket_ids", "product_ids", "store_ids", "fee",
    "new_password", "confirm", "current_password", "branch", "revision", "product", "seen")
SKIPPED = {"static", "auth.logout", "auth.switch_store"}  # they end the sweep's own session
_VARIABLE = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def _path(rule: Rule, value: str) -> str:
    return _VARIABLE.sub(value, rule.rule)


def _field_sets(fields: tuple[str, ...], *, thorough: bool) -> list[list[tuple[str, str]]]:
    """The query or form fields, each set carrying one kind of hostile value (a NUL is refused
    before anything else is read, so it travels alone): integers out of range (each field gets
    each of INTEGERS in turn over three sets), NUL; and for the main account, bytes that are not
    UTF-8 and very long text."""
    sets = [[(name, INTEGERS[(n + shift) % len(INTEGERS)]) for n, name in enumerate(fields)]
            for shift in range(len(INTEGERS) if thorough else 1)]
    sets.append([(name, "x%00y") for name in fields])
    if thorough:
        sets.append([(name, "%FF%FE") for name in fields])
        sets.append([(name, LONG) for name in LONG_FIELDS])
    return sets


def _hostile_requests(rule: Rule, *, thorough: bool):  # noqa: ANN202
    """(method, url, body) to send for `rule`: its path variables hostile, or (a rule without
    any) its query or form fields."""
    methods = [m for m in ("GET", "POST", "PATCH", "DELETE") if m in rule.methods]
    only_ints = all(isinstance(c, IntegerConverter) for c in rule._converters.values())
    for method in methods:
        if rule.arguments:
            if only_ints and not thorough:
                continue
            for value in INT_PATH_VALUES if only_ints else TEXT_PATH_VALUES:
                yield method, _path(rule, value), None
            continue
        for pairs in _field_sets(QUERY_FIELDS if method == "GET" else FORM_FIELDS, thorough=thorough):
            encoded = "&".join(f"{name}={value}" for name, value in pairs)
            if method == "GET":
                yield method, f"{rule.rule}?{encoded}", None
            else:
                yield method, rule.rule, encoded


def _send(client, method: str, url: str, body: str | None) -> int:  # noqa: ANN001
    headers = {"Accept": "text/html"}
    if url.startswith("/api/"):
        headers["Content-Type"] = "application/json"
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        response = client.open(url, method=method, data=body or "", headers=headers)
    except Exception as exc:  # noqa: BLE001 - a view's exception is the 500 a visitor would get
        return 500 if not isinstance(exc, AssertionError) else 599
    return response.status_code


@pytest.fixture
def sweep_clients(pg_app):
    with pg_app.app_context():
        store = make_store("掃描商店")
        make_account(store, username="sweepmain1")
        branch = make_branch(store, "S001", "掃描分店")
        make_sub(store, "sweepclerk1", branch=branch,
                 grants={Function.REDEEM: Level.MODIFY, Function.RETURN: Level.MODIFY,
                         Function.REPORT_TICKETS: Level.VIEW})
        make_operator("sweepop1")
        make_order(store)
        db.session.commit()
    clients = {"anonymous": pg_app.test_client()}
    for role, username in (("main", "sweepmain1"), ("clerk", "sweepclerk1"), ("operator", "sweepop1")):
        clients[role] = pg_app.test_client()
        login(clients[role], username)
    return clients


def test_no_url_rule_answers_a_server_error_to_hostile_input(pg_app, sweep_clients):
    started = time.monotonic()
    rules = [r for r in pg_app.url_map.iter_rules() if r.endpoint not in SKIPPED]
    sent, failures = 0, []
    for role, client in sweep_clients.items():
        for rule in rules:
            for method, url, body in _hostile_requests(rule, thorough=role == "main"):
                status = _send(client, method, url, body)
                sent += 1
                if status >= 500:
                    failures.append((role, method, url[:120], (body or "")[:40], status))
    elapsed = time.monotonic() - started
    assert sent > 2000
    assert failures == []
    assert elapsed < 90, f"the sweep took {elapsed:.0f} s"

"""The API against its own OpenAPI document, fuzzed by schemathesis on PostgreSQL.

Every operation of GET /api/v1/openapi.json is called with data generated from the document
(valid and invalid, its examples and boundary values, methods it does not list) by a merchant's
main account holding a live token, against the WSGI app on PostgreSQL. Every check of
schemathesis must hold: no server error, statuses, content types, headers and bodies as
documented, invalid data refused (so the document states the rules the API enforces), valid
data accepted, a 405 naming the allowed methods in `Allow`. Examples are bounded so the test
stays under two minutes.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import wsgi as schemathesis_wsgi
from werkzeug import Client

from app.auth.services import create_api_token
from app.db import db
from tests.factories import make_account, make_branch, make_order, make_product, make_store

pytestmark = pytest.mark.postgres

MAX_EXAMPLES = 15
POSITIVE_STATUSES = ("2xx", "401", "403", "404", "409", "422", "429")


class _InProcessClient(Client):
    """Werkzeug's client, taking (and ignoring) the socket settings schemathesis 4.32 passes
    along when it re-sends a request to probe authentication in-process (it drops them itself
    for its main requests)."""

    def open(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return super().open(*args, **kwargs)


@pytest.fixture
def api_schema(pg_app, monkeypatch):
    monkeypatch.setattr(schemathesis_wsgi, "get_client", _InProcessClient)
    with pg_app.app_context():
        store = make_store("文件商店")
        main = make_account(store, username="docmain1")
        make_branch(store, "D001", "文件分店")
        make_product(store)
        make_order(store)
        # The fuzzer may revoke a token it guesses the id of: the one it uses is not the first.
        create_api_token(main, "被撤銷也無妨")
        _, plain = create_api_token(main, "schemathesis")
        db.session.commit()
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", pg_app)
    loaded.config.update(headers={"Authorization": f"Bearer {plain}"})
    loaded.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    # Valid data is accepted, or refused by a rule JSON Schema cannot state (a date after today,
    # a code's check digit, a product that must be listed): 409, or 422 naming the field.
    loaded.config.checks.positive_data_acceptance.expected_statuses = [*POSITIVE_STATUSES]
    return loaded


def _problems(event: events.EngineEvent) -> list[str]:
    """What a finished scenario found wrong (each failed check, with the request that failed
    it), or an error of the run."""
    if isinstance(event, events.NonFatalError | events.FatalError):
        return [f"{getattr(event, 'label', '')}: {event.info.title}: {event.info.message}"[:800]]
    if not isinstance(event, events.ScenarioFinished) or event.status is not Status.FAILURE:
        return []
    found = []
    for case_id, checks in event.recorder.checks.items():
        case = event.recorder.cases[case_id].value
        for check in checks:
            if check.status is Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                found.append(f"{event.label} [{check.name}] {case.method} {case.formatted_path} "
                             f"query={case.query} body={str(case.body)[:200]}: "
                             f"{failure.title}: {failure.message[:300]}")
    return found


def test_api_conforms_to_its_document(api_schema):
    started = time.monotonic()
    problems: list[str] = []
    scenarios = 0
    for event in from_schema(api_schema).execute():
        problems += _problems(event)
        scenarios += isinstance(event, events.ScenarioFinished)
    elapsed = time.monotonic() - started
    assert scenarios > 20
    assert problems == [], "\n".join(problems)
    assert elapsed < 120, f"schemathesis took {elapsed:.0f} s"

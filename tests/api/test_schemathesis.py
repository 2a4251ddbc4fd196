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

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.auth.services import create_api_token
from app.db import db
from tests.factories import make_account, make_branch, make_order, make_product, make_store

pytestmark = pytest.mark.postgres

MAX_EXAMPLES = 15


@pytest.fixture
def api_schema(pg_app):
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
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case):
    response = case.call_and_validate()
    assert response.status_code < 500

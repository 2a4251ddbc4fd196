"""The same-answer rule at the counter (docs/tickets.md): an unknown code, another store's code
and a malformed one get the same status and page, run the same SQL statements and count one
failed look-up each, for the look-up and for the button (a forged post)."""

from __future__ import annotations

import re

import pytest

from app import clock, ratelimit
from app.auth import request_cache
from app.db import db
from app.tickets import codes
from app.tickets.codes import display_code
from app.tickets.models import Ticket
from tests.counter.helpers import HTMX, act, clerk, lookup
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue


def mistyped(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def scrub(body: str, typed: str) -> str:
    """The page without what only this request has: the typed code echoed, CSRF, nonces."""
    for form in {typed, codes.normalise_code(typed), display_code(codes.normalise_code(typed))}:
        body = body.replace(form, "«CODE»")
    body = re.sub(r'nonce="[^"]*"', 'nonce=""', body)
    body = re.sub(r'(name="csrf-token" content=")[^"]*"', r'\1"', body)  # the page's meta tag
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]*"', r'\1"', body)


@pytest.fixture
def three(ctx, client, monkeypatch):  # noqa: ANN001, ANN201
    """A clerk of one store signed in; three codes it cannot find: unknown, another store's, and
    its own ticket's code mistyped (malformed)."""
    # The request cache lives 5 s of wall time: on a busy machine it could expire between two
    # of the three requests and add its reload's statements to one of them.
    monkeypatch.setattr(request_cache, "SECONDS", 3600.0)
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("issuer01")
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    clerk(store, "clerkA01")
    [mine, warm] = issue(owner, store, pickup, quantity=2)
    [theirs] = issue(other_owner, other, other_pickup)
    login(client, "clerkA01")
    assert lookup(client, "redeem", warm.code, htmx=True).status_code == 200  # templates compiled
    return {"unknown": codes.new_redemption_code(), "another store's": theirs.code,
            "malformed": mistyped(mine.code)}, mine.id


def _answers(client, send, codes_by_case, count_queries):  # noqa: ANN001, ANN202
    account_id = db.session.scalar(db.text("SELECT id FROM accounts WHERE username = 'clerkA01'"))
    answers = {}
    for case, code in codes_by_case.items():
        before = ratelimit._limiter().get_window_stats(
            ratelimit.UNKNOWN_CODE_PER_ACCOUNT.item, ratelimit.UNKNOWN_CODE_PER_ACCOUNT.name,
            str(account_id)).remaining
        db.session.remove()  # each request starts from an empty session, as in production
        count_queries.clear()
        response = send(code)
        statements = list(count_queries)
        after = ratelimit._limiter().get_window_stats(
            ratelimit.UNKNOWN_CODE_PER_ACCOUNT.item, ratelimit.UNKNOWN_CODE_PER_ACCOUNT.name,
            str(account_id)).remaining
        answers[case] = (response.status_code, scrub(response.get_data(as_text=True), code),
                         statements, before - after)
    return answers


@pytest.mark.parametrize("htmx", [True, False])
def test_a_lookup_answers_the_three_alike(client, three, count_queries, htmx):
    codes_by_case, _ = three
    answers = _answers(client, lambda code: lookup(client, "redeem", code, htmx=htmx),
                       codes_by_case, count_queries)
    unknown = answers["unknown"]
    assert unknown[0] == 404 and "查無此核銷代碼，請確認是否輸入正確" in unknown[1]
    assert unknown[3] == 1  # one failed look-up counted
    for case, answer in answers.items():
        assert answer[:2] == unknown[:2], case  # status and page, byte for byte
        assert answer[2] == unknown[2], case  # the very same statements
        assert answer[3] == unknown[3], case


def test_the_button_answers_the_three_alike(client, three, count_queries):
    codes_by_case, ticket_id = three

    def press(code: str):  # noqa: ANN202
        return client.post("/counter/act", headers=HTMX, data={
            "action": "redeem", "code": code, "ticket_id": ticket_id, "seen": "unused"})

    answers = _answers(client, press, codes_by_case, count_queries)
    unknown = answers["unknown"]
    assert unknown[0] == 404 and unknown[3] == 1
    for case, answer in answers.items():
        assert answer == unknown, case


def test_a_found_code_still_takes_few_statements(client, three, count_queries):
    """The rule costs the found path nothing: the visibility is in the one ticket query."""
    _, ticket_id = three
    code = db.session.get(Ticket, ticket_id).code
    db.session.remove()
    count_queries.clear()
    assert lookup(client, "redeem", code, htmx=True).status_code == 200
    ticket_selects = [s for s in count_queries if "FROM tickets" in s]
    assert len(ticket_selects) == 1 and "product_partners" in ticket_selects[0]
    assert len(count_queries) <= 5, count_queries  # as tests/counter/test_queries.py
    assert act(client, "redeem", db.session.get(Ticket, ticket_id), htmx=True).status_code == 200

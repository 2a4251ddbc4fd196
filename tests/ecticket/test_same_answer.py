"""The same-answer rule through ECTicket (docs/tickets.md): WriteOff and QueryTicketStatus answer
an unknown WriteOffNo, another store's and a malformed one with the same RtnCode and RtnMsg (the
WriteOffNo echoed as sent), running the same SQL statements; a TicketNo likewise."""

from __future__ import annotations

import pytest

from app import clock
from app.db import db
from app.ecpay import keys
from app.tickets import codes
from tests.ecticket.client import Client, flask_poster
from tests.factories import make_order, make_product, make_store

PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")


@pytest.fixture
def world(ctx, client):  # noqa: ANN001, ANN201
    clock.freeze(clock.taipei_datetime(2026, 5, 4, 10, 0))
    store = make_store("示範商店")
    keys.install_pair(store.id, PAIR)
    mine = make_order(store, product=make_product(store, "咖啡兌換券"), quantity=2).tickets
    other = make_store("他店")
    theirs = make_order(other, product=make_product(other, "他店券")).tickets[0]
    db.session.commit()
    api = Client(store.merchant_code, PAIR.hash_key, PAIR.hash_iv, flask_poster(client),
                 clock=lambda: clock.now().timestamp())
    warm = api.call("QueryTicketStatus", {"WriteOffNo": mine[1].code, "TicketNo": ""})
    assert warm["RtnCode"] == 1
    return api, mine[0], theirs


def _answers(api, count_queries, call: str, field: str, cases: dict[str, str], extra):  # noqa: ANN001, ANN202
    answers = {}
    for case, value in cases.items():
        db.session.remove()
        count_queries.clear()
        answer = api.call(call, {field: value, **extra})
        answers[case] = ((answer["RtnCode"], answer["RtnMsg"].replace(value, "«SENT»")),
                         list(count_queries))
    return answers


@pytest.mark.parametrize(("call", "extra"), [
    ("WriteOff", {"Action": "1", "Operator": "POS01"}),
    ("QueryTicketStatus", {"TicketNo": ""}),
])
def test_a_write_off_no_answers_the_three_alike(world, count_queries, call, extra):
    api, mine, theirs = world
    cases = {"unknown": codes.new_redemption_code(), "another store's": theirs.code,
             "malformed": mine.code[:-1] + ("0" if mine.code[-1] != "0" else "1")}
    answers = _answers(api, count_queries, call, "WriteOffNo", cases, extra)
    assert answers["unknown"][0] == (3003, "WriteOffNo not found: «SENT»")
    for case, answer in answers.items():
        assert answer == answers["unknown"], case  # RtnCode, RtnMsg and the very statements


def test_a_ticket_no_unknown_or_another_stores_answers_alike(world, count_queries):
    api, _, theirs = world
    cases = {"unknown": "ZZZZZ20260504001", "another store's": theirs.serial}
    answers = _answers(api, count_queries, "QueryTicketStatus", "TicketNo", cases,
                       {"WriteOffNo": ""})
    assert answers["unknown"][0] == (3003, "TicketNo not found: «SENT»")
    assert answers["another store's"] == answers["unknown"]

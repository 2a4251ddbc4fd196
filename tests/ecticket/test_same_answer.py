"""The same-answer rule through ECTicket (docs/tickets.md): WriteOff and QueryTicketStatus answer
an unknown WriteOffNo, another store's and a malformed one with the same RtnCode and RtnMsg (the
WriteOffNo echoed as sent), running the same SQL statements; a TicketNo likewise. Refund and
the cancelling calls on another merchant's ticket answer as for an unknown one and change
nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import clock
from app.db import db
from app.ecpay import keys
from app.history import HistoryEntry
from app.stores.models import Store
from app.tickets import codes
from app.tickets.models import Ticket
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


OTHER = keys.Pair("b15bd8514fed472c", "9c8458263def47cd")
RETURN = {"Action": "1", "Reason": "客人退貨", "Operator": "POS01"}


@pytest.mark.parametrize(("call", "field", "extra", "before"), [
    ("Refund", "WriteOffNo", RETURN, None),
    ("Refund", "TicketNo", RETURN, None),
    ("Refund", "WriteOffNo", {"Action": "2", "Reason": "誤退", "Operator": "POS01"}, "Refund"),
    ("WriteOff", "WriteOffNo", {"Action": "2", "CancelReason": "誤刷", "Operator": "POS01"},
     "WriteOff"),
])
def test_another_merchants_ticket_is_answered_like_an_unknown_one_and_left_alone(
        world, client, count_queries, call, field, extra, before) -> None:  # noqa: ANN001
    """Refund (return, cancel a return) and WriteOff Action 2 (cancel a redemption) on a ticket
    of another merchant — in the state where its owner's same call succeeds — answer what an
    unknown code answers (RtnCode, RtnMsg, the very statements) and change nothing."""
    api, _, theirs = world
    other = db.session.get(Store, theirs.store_id)
    keys.install_pair(other.id, OTHER)
    db.session.commit()
    owner = Client(other.merchant_code, OTHER.hash_key, OTHER.hash_iv, flask_poster(client),
                   clock=lambda: clock.now().timestamp())
    if before is not None:  # the owner redeems (or returns) it first: cancelling is then possible
        done = owner.call(before, {"WriteOffNo": theirs.code, "Action": "1", "Reason": "r",
                                   "Operator": "own"})
        assert done["RtnCode"] == 1, done
    value = theirs.code if field == "WriteOffNo" else theirs.serial
    unknown = codes.new_redemption_code() if field == "WriteOffNo" else "ZZZZZ20260504001"
    state = _state(theirs.id)

    answers = _answers(api, count_queries, call, field,
                       {"unknown": unknown, "another merchant's": value}, extra)
    assert answers["unknown"][0] == (3003, f"{field} not found: «SENT»")
    assert answers["another merchant's"] == answers["unknown"]
    assert _state(theirs.id) == state  # status, moves and history untouched

    mine = owner.call(call, {field: value, **extra})  # the same call by its owner goes through
    assert mine["RtnCode"] == 1, mine
    assert _state(theirs.id) != state


def _state(ticket_id: int) -> tuple:
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    lines = db.session.scalars(select(HistoryEntry.id).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket_id)
        .execution_options(unscoped=True)).all()
    return (ticket.status, ticket.redeemed_at, ticket.return_reason, ticket.return_fee, lines)

"""WriteOff, Refund and QueryTicketStatus through the client written from the spec: the counter's
rules (windows, branch lists, partner stores, the handling fee) answered as RtnCodes, the history
naming the API and its Operator, a repeated call never moving a ticket twice, and unknown codes
counted per store and IP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.db import db
from app.ecpay import keys
from app.ecticket import tickets as ect_tickets
from app.ecticket.ticket_info import use_status
from app.history import HistoryEntry
from app.installments.models import InstallmentPeriod
from app.installments.status import PeriodStatus
from app.products import rights
from app.products.models import ProductKind
from app.ratelimit import Rule
from app.stores.models import RelationStatus
from app.tickets.lifecycle import CANCEL_WINDOW_CLOSED
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus
from tests.ecticket.client import Client, flask_poster
from tests.factories import (
    make_branch,
    make_installment_order,
    make_installment_store,
    make_order,
    make_product,
    make_relation,
    make_store,
)

PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")
PARTNER_PAIR = keys.Pair("b15bd8514fed472c", "9c8458263def47cd")
NOW = clock.taipei_datetime(2026, 5, 4, 10, 0)


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    store = make_store("示範商店")
    keys.install_pair(store.id, PAIR)
    listed = make_branch(store, "B01", "台北門市")
    other = make_branch(store, "B02", "台中門市")
    make_branch(store, "B03", "停用門市", enabled=False)
    product = make_product(store, "咖啡兌換券", kind=ProductKind.PICKUP, face_value=150,
                           redeem=[listed], returns=[listed])
    order = make_order(store, product=product, quantity=3)
    db.session.commit()
    return store, {"listed": listed, "other": other}, order.tickets


def _client(client, store, pair: keys.Pair = PAIR) -> Client:  # noqa: ANN001
    return Client(store.merchant_code, pair.hash_key, pair.hash_iv, flask_poster(client),
                  clock=lambda: clock.now().timestamp())


def _ticket(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def _history(ticket_id: int) -> list[HistoryEntry]:
    return list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket_id)
        .order_by(HistoryEntry.id)))


def test_redeem_and_cancel_the_redemption(shop, client) -> None:  # noqa: ANN001
    store, _, tickets = shop
    ticket = tickets[0]
    api = _client(client, store)
    answer = api.call("WriteOff", {"WriteOffNo": ticket.code, "Action": "1", "Operator": "POS01"})
    assert answer == {"RtnCode": 1, "RtnMsg": "Success", "TicketNo": ticket.serial, "UseStatus": 2}
    row = _ticket(ticket.id)
    assert row.status is TicketStatus.USED
    assert (row.redeemed_store_id, row.redeemed_branch_id, row.redeemed_by_id) == (store.id, None, None)
    [entry] = _history(ticket.id)
    assert (entry.action, entry.actor_label, entry.actor_id) == ("redeemed", "ECTicket API:POS01", None)
    assert (entry.actor_store_id, entry.actor_branch_id, entry.ip) == (store.id, None, "127.0.0.1")
    assert db.session.scalar(select(Account).where(Account.username.like("ECTicket%"))) is None

    # idempotency: the same code again is refused and says when and where; nothing moves twice
    again = api.call("WriteOff", {"WriteOffNo": ticket.code, "Action": 1, "Operator": "POS01"})
    assert again["RtnCode"] == 3004
    assert again["RtnMsg"] == "此票券已核銷（於 2026/05/04 10:00 由 示範商店（總店））"
    assert (again["TicketNo"], again["UseStatus"]) == (ticket.serial, 2)
    assert len(_history(ticket.id)) == 1

    missing = api.call("WriteOff", {"WriteOffNo": ticket.code, "Action": "2", "Operator": "POS01"})
    assert (missing["RtnCode"], missing["RtnMsg"]) == (3001, "Parameter error: CancelReason (required)")
    cancelled = api.call("WriteOff", {"WriteOffNo": ticket.code, "Action": "2", "Operator": "POS02",
                                      "CancelReason": "客人改日使用"})
    assert (cancelled["RtnCode"], cancelled["UseStatus"]) == (1, 1)
    row = _ticket(ticket.id)
    assert (row.status, row.redeemed_at) == (TicketStatus.UNUSED, None)
    last = _history(ticket.id)[-1]
    assert (last.action, last.actor_label, last.reason) == (
        "redemption_cancelled", "ECTicket API:POS02", "客人改日使用")
    not_redeemed = api.call("WriteOff", {"WriteOffNo": ticket.code, "Action": "2",
                                         "Operator": "POS02", "CancelReason": "x"})
    assert (not_redeemed["RtnCode"], not_redeemed["UseStatus"]) == (3004, 1)


def test_parameters_are_checked_before_anything_moves(shop, client) -> None:  # noqa: ANN001
    store, _, tickets = shop
    api = _client(client, store)
    code = tickets[0].code
    cases = [
        ({"Action": "1", "Operator": "P"}, "Parameter error: WriteOffNo (required)"),
        ({"WriteOffNo": code, "Action": "3", "Operator": "P"}, "Parameter error: Action"),
        ({"WriteOffNo": code, "Action": "1"}, "Parameter error: Operator (required)"),
        ({"WriteOffNo": code, "Action": "1", "Operator": "P" * 11}, "Parameter error: Operator"),
        ({"WriteOffNo": "X" * 19, "Action": "1", "Operator": "P"}, "Parameter error: WriteOffNo"),
    ]
    for data, message in cases:
        answer = api.call("WriteOff", data)
        assert (answer["RtnCode"], answer["RtnMsg"]) == (3001, message), data
    assert _ticket(tickets[0].id).status is TicketStatus.UNUSED


def test_the_acting_branch_and_its_rights(shop, client) -> None:  # noqa: ANN001
    store, branches, tickets = shop
    api = _client(client, store)
    code = tickets[0].code

    def write_off(store_id: str, action: str = "1", **extra: str) -> dict:
        return api.call("WriteOff", {"WriteOffNo": code, "Action": action, "StoreID": store_id,
                                     "Operator": "clerk", **extra})

    assert (write_off("B99")["RtnCode"], write_off("B99")["RtnMsg"]) == (3008, "StoreID not found: B99")
    disabled = write_off("B03")
    assert disabled["RtnCode"] == 3008 and disabled["RtnMsg"].startswith("StoreID disabled: B03")
    not_listed = write_off("B02")
    assert (not_listed["RtnCode"], not_listed["RtnMsg"]) == (
        3008, rights.BRANCH_NOT_IN_REDEEM_LIST.message)
    assert _ticket(tickets[0].id).status is TicketStatus.UNUSED
    assert write_off("B01")["RtnCode"] == 1
    row = _ticket(tickets[0].id)
    assert row.redeemed_branch_id == branches["listed"].id
    assert _history(row.id)[-1].actor_branch_id == branches["listed"].id
    # only the head office or the branch that redeemed may cancel
    wrong = write_off("B02", "2", CancelReason="誤刷")
    assert (wrong["RtnCode"], wrong["RtnMsg"]) == (3008, rights.NOT_THE_REDEEMER.message)
    assert write_off("", "2", CancelReason="誤刷")["RtnCode"] == 1


def test_a_partner_store_redeems_with_its_own_merchant_id(shop, client) -> None:  # noqa: ANN001
    store, _, tickets = shop
    partner = make_store("合作商店")
    keys.install_pair(partner.id, PARTNER_PAIR)
    relation = make_relation(store, partner)
    granted = make_product(store, "合作兌換券", partners=[partner])
    granted_ticket = make_order(store, product=granted).tickets[0]
    db.session.commit()
    api = _client(client, partner, PARTNER_PAIR)
    # a ticket of a product not granted to it does not exist for it
    hidden = api.call("WriteOff", {"WriteOffNo": tickets[0].code, "Action": "1", "Operator": "p"})
    assert hidden["RtnCode"] == 3003
    done = api.call("WriteOff", {"WriteOffNo": granted_ticket.code, "Action": "1", "Operator": "p"})
    assert done["RtnCode"] == 1
    assert _ticket(granted_ticket.id).redeemed_store_id == partner.id
    status = api.call("QueryTicketStatus", {"TicketNo": granted_ticket.serial, "WriteOffNo": ""})
    assert status["TicketList"][0]["WriteOffNo"] == "" and status["MerchantTradeNo"] == ""
    assert status["TicketList"][0]["UseStatus"] == 2
    # the partner may not return; after the relation is dissolved it may not cancel either
    refused = api.call("Refund", {"WriteOffNo": granted_ticket.code, "Action": "1",
                                  "Reason": "x", "Operator": "p"})
    assert (refused["RtnCode"], refused["RtnMsg"]) == (3008, rights.ISSUER_ONLY.message)
    relation.status = RelationStatus.DISSOLVED
    db.session.commit()
    dissolved = api.call("WriteOff", {"WriteOffNo": granted_ticket.code, "Action": "2",
                                      "CancelReason": "x", "Operator": "p"})
    assert (dissolved["RtnCode"], dissolved["RtnMsg"]) == (3008, rights.RELATION_DISSOLVED.message)


def test_unknown_codes_are_counted_per_store_and_ip(shop, client, monkeypatch) -> None:  # noqa: ANN001
    store, _, tickets = shop
    monkeypatch.setattr(ect_tickets, "UNKNOWN_CODE", Rule("ecticket-code-test", "3/10 minutes",
                                                          "too many"))
    api = _client(client, store)
    for typed in ("0000000000000000", "ZZZZ", "1234567890ABCDEF"):
        answer = api.call("WriteOff", {"WriteOffNo": typed, "Action": "1", "Operator": "P"})
        assert (answer["RtnCode"], answer["RtnMsg"]) == (3003, f"WriteOffNo not found: {typed}")
    limited = api.call("WriteOff", {"WriteOffNo": tickets[0].code, "Action": "1", "Operator": "P"})
    assert (limited["RtnCode"], limited["RtnMsg"]) == (3009, "too many")
    assert _ticket(tickets[0].id).status is TicketStatus.UNUSED
    other = make_store()
    keys.install_pair(other.id, PARTNER_PAIR)
    db.session.commit()
    answer = _client(client, other, PARTNER_PAIR).call(
        "WriteOff", {"WriteOffNo": tickets[0].code, "Action": "1", "Operator": "P"})
    assert answer["RtnCode"] == 3003  # another store's count is its own


def test_return_with_a_fee_and_cancel_it(shop, client) -> None:  # noqa: ANN001
    store, _, tickets = shop
    ticket = tickets[1]
    api = _client(client, store)
    base = {"TicketNo": ticket.serial, "Reason": "客人退貨", "Operator": "BO1"}
    too_much = api.call("Refund", base | {"Action": "1", "RefundFee": 151})
    assert (too_much["RtnCode"], too_much["RtnMsg"]) == (
        3001, "Parameter error: RefundFee (退貨手續費不可超過票券面額)")
    assert api.call("Refund", {**base, "Action": "1", "Reason": ""})["RtnCode"] == 3001
    both = api.call("Refund", base | {"Action": "1", "WriteOffNo": ticket.code})
    assert (both["RtnCode"], both["RtnMsg"]) == (
        3001, "Parameter error: TicketNo/WriteOffNo/MerchantTradeNo (exactly one)")
    answer = api.call("Refund", base | {"Action": "1", "RefundFee": "30"})
    assert answer == {"RtnCode": 1, "RtnMsg": "Success", "TicketNo": ticket.serial, "UseStatus": 3}
    row = _ticket(ticket.id)
    assert (row.status, row.return_fee, row.return_reason) == (TicketStatus.RETURN_PENDING, 30, "客人退貨")
    entry = _history(ticket.id)[-1]
    assert (entry.action, entry.actor_label) == ("returned", "ECTicket API:BO1")
    assert "退貨手續費 NT$30" in entry.reason
    again = api.call("Refund", base | {"Action": "1"})
    assert again["RtnCode"] == 3004 and again["RtnMsg"].startswith("此票券已退貨")
    # the same call under /api/issuance, by WriteOffNo
    cancelled = api.call("Refund", {"WriteOffNo": ticket.code, "Action": "2", "Reason": "誤退",
                                    "Operator": "BO1"}, prefix="issuance")
    assert (cancelled["RtnCode"], cancelled["UseStatus"]) == (1, 1)
    row = _ticket(ticket.id)
    assert (row.status, row.return_fee) == (TicketStatus.UNUSED, None)
    assert _history(ticket.id)[-1].action == "return_cancelled"


def test_wrong_states_and_windows(shop, client) -> None:  # noqa: ANN001
    store, _, tickets = shop
    api = _client(client, store)
    redeemed = tickets[2]
    assert api.call("WriteOff", {"WriteOffNo": redeemed.code, "Action": "1",
                                 "Operator": "P"})["RtnCode"] == 1
    refund = api.call("Refund", {"TicketNo": redeemed.serial, "Action": "1", "Reason": "r",
                                 "Operator": "P"})
    assert (refund["RtnCode"], refund["UseStatus"]) == (3004, 2)
    clock.move(timedelta(days=1))
    late = api.call("WriteOff", {"WriteOffNo": redeemed.code, "Action": "2", "CancelReason": "r",
                                 "Operator": "P"})
    assert (late["RtnCode"], late["RtnMsg"]) == (3007, CANCEL_WINDOW_CLOSED.message)
    assert _ticket(redeemed.id).status is TicketStatus.USED
    unknown = api.call("Refund", {"TicketNo": "ZZZZZ20260504001", "Action": "1", "Reason": "r",
                                  "Operator": "P"})
    assert (unknown["RtnCode"], unknown["RtnMsg"]) == (3003, "TicketNo not found: ZZZZZ20260504001")


def test_query_ticket_status(shop, client) -> None:  # noqa: ANN001
    store, _, tickets = shop
    ticket = tickets[0]
    api = _client(client, store)
    by_serial = api.call("QueryTicketStatus", {"TicketNo": ticket.serial, "WriteOffNo": ""})
    order = db.session.get(Order, ticket.order_id)
    assert by_serial["RtnCode"] == 1
    assert (by_serial["MerchantTradeNo"], by_serial["TicketTradeNo"]) == (
        order.merchant_order_no, order.order_no)
    assert by_serial["TicketList"] == [{
        "TicketNo": ticket.serial, "UseStatus": 1, "ItemNo": str(ticket.product_id),
        "ItemName": "咖啡兌換券", "TicketType": "1", "TicketAmount": 150, "StartDate": "20260504",
        "WriteOffDate": "", "RefundDate": "", "ExpiredDate": f"{ticket.expires_on:%Y%m%d}",
        "WriteOffNo": ticket.code}]
    api.call("WriteOff", {"WriteOffNo": ticket.code, "Action": "1", "Operator": "P"})
    by_code = api.call("QueryTicketStatus", {"TicketNo": "", "WriteOffNo": ticket.code})
    assert (by_code["TicketList"][0]["UseStatus"], by_code["TicketList"][0]["WriteOffDate"]) == (2, "20260504")
    neither = api.call("QueryTicketStatus", {"TicketNo": "", "WriteOffNo": ""})
    assert neither["RtnCode"] == 3001


def test_installment_orders_are_returned_whole(ctx, client) -> None:  # noqa: ANN001
    clock.freeze(NOW)
    store = make_installment_store()
    keys.install_pair(store.id, PAIR)
    order = make_installment_order(store, total=3000, merchant_order_no="IO20260504A")
    plain = make_store()
    keys.install_pair(plain.id, PARTNER_PAIR)
    db.session.commit()
    api = _client(client, store)
    base = {"MerchantTradeNo": "IO20260504A", "Reason": "不上課了", "Operator": "BO"}
    answer = api.call("Refund", base | {"Action": "1", "RefundFee": 300})
    assert answer == {"RtnCode": 1, "RtnMsg": "Success", "MerchantTradeNo": "IO20260504A"}
    periods = db.session.scalars(select(InstallmentPeriod).where(
        InstallmentPeriod.order_id == order.id).execution_options(populate_existing=True)).all()
    assert {p.status for p in periods} == {PeriodStatus.RETURN_PENDING}
    assert sum(p.return_fee for p in periods) == 300
    assert db.session.scalar(select(HistoryEntry.actor_label).where(
        HistoryEntry.action == "order_returned")) == "ECTicket API:BO"
    assert api.call("Refund", base | {"Action": "1"})["RtnCode"] == 3004
    assert api.call("Refund", base | {"Action": "2"})["RtnCode"] == 1
    assert api.call("Refund", base | {"Action": "2", "MerchantTradeNo": "NOPE"})["RtnCode"] == 3003
    assert api.call("Refund", {"TicketNo": "ZZZZZ20260504001", "Action": "1", "Reason": "r",
                               "Operator": "P"})["RtnCode"] == 3005
    elsewhere = _client(client, plain, PARTNER_PAIR).call("Refund", base | {"Action": "1"})
    assert elsewhere["RtnCode"] == 3005


@pytest.mark.parametrize(("status", "wanted"), [
    (TicketStatus.UNUSED, 1), (TicketStatus.UNUSED_ESCROW_EXPIRED, 1), (TicketStatus.USED, 2),
    (TicketStatus.REDEEMING, 2), (TicketStatus.REDEEMED, 2), (TicketStatus.USED_AFTER_EXPIRY, 2),
    (TicketStatus.RETURN_PENDING, 3), (TicketStatus.RETURNING, 3), (TicketStatus.RETURNED, 3),
    (TicketStatus.RETURNED_ESCROW_EXPIRED, 3), (TicketStatus.EXPIRED, 4)])
def test_use_status_of_every_status(status: TicketStatus, wanted: int) -> None:
    assert use_status(status) == wanted


def test_an_expired_gift_voucher_is_use_status_4_under_its_free_trade_no(shop, client) -> None:  # noqa: ANN001
    store, _, _ = shop
    gift = make_product(store, "贈品券", kind=ProductKind.GIFT, face_value=80,
                        end=NOW.date() + timedelta(days=1))
    ticket = make_order(store, product=gift).tickets[0]
    db.session.commit()
    clock.move(timedelta(days=3))
    answer = _client(client, store).call("QueryTicketStatus", {"WriteOffNo": ticket.code})
    assert "MerchantTradeNo" not in answer and answer["FreeTradeNo"].startswith("ROW")
    assert (answer["TicketList"][0]["UseStatus"], answer["TicketList"][0]["TicketType"]) == (4, "2")
    refused = _client(client, store).call("WriteOff", {"WriteOffNo": ticket.code, "Action": "1",
                                                       "Operator": "P"})
    assert (refused["RtnCode"], refused["UseStatus"]) == (3004, 4)

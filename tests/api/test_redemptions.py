"""POST /api/v1/redemptions, the lifecycle POSTs on /tickets/<serial>/…, and the history: the
counter's rules through the API, 404s that reveal nothing, and the brute-force guard."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app import clock, ratelimit
from app.api import tickets as api_tickets
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.products.models import Product
from app.stores.models import Store
from app.tickets import codes
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus as S
from tests.api.conftest import bearer
from tests.factories import make_account, make_branch, make_product, make_relation, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime
API = "/api/v1"
TICKET_KEYS = {"serial", "code", "status", "status_label", "kind", "face_value", "product",
               "valid_from", "expires_on", "redeemed_at", "redeemed_by", "returned_at",
               "return_fee", "order_no"}
UNKNOWN = {"error": {"code": "not_found", "message": "查無此核銷代碼，請確認是否輸入正確"}}
NO_SERIAL = {"error": {"code": "not_found", "message": "查無此票券序號"}}


@dataclass
class Shop:
    store: Store
    owner: Account
    pickup: Product
    gift: Product
    headers: dict[str, str]


@pytest.fixture
def shop(ctx, token_for) -> Shop:  # noqa: ANN001
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store("apiissuer")
    _, plain = token_for(owner)
    return Shop(store, owner, pickup, gift, bearer(plain))


def headers_for(token_for, account: Account) -> dict[str, str]:  # noqa: ANN001
    return bearer(token_for(account)[1])


def clerk(store: Store, username: str, grants: dict[Function, Level], branch=None) -> Account:  # noqa: ANN001
    account = make_sub(store, username, branch=branch, grants=grants)
    db.session.commit()
    return account


def redeem(client, headers, code: str, **extra):  # noqa: ANN001, ANN201
    return client.post(f"{API}/redemptions", headers={**headers, **extra}, json={"code": code})


def act(client, headers, serial: str, action: str, body=None, **extra):  # noqa: ANN001, ANN201
    return client.post(f"{API}/tickets/{serial}/{action}", headers={**headers, **extra}, json=body)


def reload(ticket: Ticket) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def actions(ticket: Ticket, action: str | None = None) -> list[str]:
    stmt = (select(HistoryEntry.action)
            .where(HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket.id)
            .order_by(HistoryEntry.id))
    found = list(db.session.scalars(stmt))
    return [a for a in found if action is None or a == action]


def mistyped(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def unknown_code() -> str:
    return codes.new_redemption_code()


# Redeem ------------------------------------------------------------------------------------------

def test_a_redemption_answers_201_with_the_ticket(client, shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    typed = "-".join(ticket.code[i:i + 4] for i in range(0, 16, 4)).lower()  # as printed, any case
    response = redeem(client, shop.headers, typed)
    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert set(got) == TICKET_KEYS
    order_no = db.session.scalar(select(Order.order_no).where(Order.id == ticket.order_id))
    assert got == {
        "serial": ticket.serial, "code": ticket.code, "status": "used", "status_label": "已使用",
        "kind": "pickup", "face_value": 150,
        "product": {"id": shop.pickup.id, "name": "咖啡券"},
        "valid_from": None, "expires_on": shop.pickup.escrow_end.isoformat(),
        "redeemed_at": "2026-07-01T01:00:00+00:00",
        "redeemed_by": {"store": shop.store.name, "branch": None},
        "returned_at": None, "return_fee": None, "order_no": order_no,
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert reload(ticket).status is S.USED and reload(ticket).redeemed_by_id == shop.owner.id
    assert actions(ticket, "redeemed") == ["redeemed"]


def test_a_redemption_reads_what_it_needs_in_a_few_statements(client, shop, token_for, count_queries):
    """The token with its account, store and branch comes from the request cache; then the
    clerk's grants, the ticket with its product and order number, the product's branch list
    (a branch clerk), the compare-and-set and its history row (one statement on PostgreSQL:
    tests/tickets/test_one_round_trip.py); the redeemer's names come from the session."""
    branch = make_branch(shop.store, "A001", "台北門市")
    counter = clerk(shop.store, "clerkA01", {Function.REDEEM: Level.MODIFY}, branch)
    headers = headers_for(token_for, counter)
    first, second = issue(shop.owner, shop.store, shop.pickup, quantity=2)
    assert redeem(client, headers, first.code).status_code == 201  # the token is read and cached
    store_name, branch_id, second_id = shop.store.name, branch.id, second.id
    db.session.remove()  # the request starts from an empty session, as in production
    count_queries.clear()
    response = redeem(client, headers, second.code)
    assert response.status_code == 201
    assert response.get_json()["redeemed_by"] == {"store": store_name, "branch": "台北門市"}
    selects = [s for s in count_queries if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, count_queries  # grants, ticket+product+order no., branch list
    assert len(count_queries) == 5, count_queries  # + the compare-and-set and the history row
    redeemed = db.session.get(Ticket, second_id)
    assert redeemed.status is S.USED and redeemed.redeemed_branch_id == branch_id


def test_the_same_code_again_is_409_already_redeemed_with_when_where_and_who(client, shop, token_for):
    branch = make_branch(shop.store, "A001", "台北門市")
    counter = clerk(shop.store, "clerkA01", {Function.REDEEM: Level.MODIFY}, branch)
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    first = redeem(client, headers_for(token_for, counter), ticket.code)
    assert first.status_code == 201
    assert first.get_json()["redeemed_by"] == {"store": shop.store.name, "branch": "台北門市"}
    clock.freeze(T(2026, 7, 1, 9, 30))
    again = redeem(client, shop.headers, ticket.code)
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "AlreadyRedeemed"
    assert error["message"].startswith("此票券已核銷")
    for part in ("2026/07/01 09:00", "台北門市", "clerkA01"):
        assert part in error["message"]
    assert actions(ticket, "redeemed") == ["redeemed"]


def test_unknown_codes_and_codes_not_redeemable_here_get_the_same_404(client, shop, token_for):
    other_store, other_owner, other_pickup, _ = ready_store("otherissuer")
    [theirs] = issue(other_owner, other_store, other_pickup)
    listed = make_branch(shop.store, "A001", "台北門市")
    unlisted = make_branch(shop.store, "A002", "台中門市")
    restricted = make_product(shop.store, "限定券", redeem=[listed])
    db.session.commit()
    [mine] = issue(shop.owner, shop.store, restricted)
    outsider = clerk(shop.store, "clerkB02", {Function.REDEEM: Level.MODIFY}, unlisted)

    answers = [redeem(client, shop.headers, unknown_code()),
               redeem(client, shop.headers, theirs.code),  # another store's ticket
               redeem(client, headers_for(token_for, outsider), mine.code)]  # not on the list
    for response in answers:
        assert response.status_code == 404
        assert response.get_json() == UNKNOWN
    assert reload(theirs).status is S.UNUSED and reload(mine).status is S.UNUSED


def test_a_mistyped_code_is_the_same_404_as_an_unknown_one(client, shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    response = redeem(client, shop.headers, mistyped(ticket.code))
    assert response.status_code == 404
    assert response.get_json() == UNKNOWN
    assert redeem(client, shop.headers, "").get_json()["error"]["message"] == "請輸入核銷代碼"
    for body in ({"code": 123}, {}, {"code": ticket.code, "store": 1}, [ticket.code]):
        bad = client.post(f"{API}/redemptions", headers=shop.headers, json=body)
        assert bad.status_code == 422, body
    assert reload(ticket).status is S.UNUSED


def test_a_partner_store_redeems_a_granted_product_and_cancels_its_own_redemption(client, shop,
                                                                                    token_for):
    partner = make_store("可核銷商店甲")
    partner_owner = make_account(partner, username="partner01")
    make_relation(shop.store, partner)
    granted = make_product(shop.store, "聯名券", face_value=300, partners=[partner])
    db.session.commit()
    partner_headers = headers_for(token_for, partner_owner)
    [ticket] = issue(shop.owner, shop.store, granted)
    [not_granted] = issue(shop.owner, shop.store, shop.pickup)

    response = redeem(client, partner_headers, ticket.code)
    assert response.status_code == 201
    got = response.get_json()
    assert got["code"] is None  # only the issuer sees the code
    assert got["redeemed_by"] == {"store": "可核銷商店甲", "branch": None}
    assert reload(ticket).redeemed_store_id == partner.id
    assert redeem(client, partner_headers, not_granted.code).get_json() == UNKNOWN

    # the partner names the ticket by serial to cancel its own redemption the same day…
    assert act(client, partner_headers, ticket.serial, "return", {"reason": "x"}).get_json() == NO_SERIAL
    cancelled = act(client, partner_headers, ticket.serial, "cancel-redemption", {"reason": "按錯"})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "unused" and cancelled.get_json()["redeemed_by"] is None
    # …but a serial of a product not granted to it does not exist for it
    missing = act(client, partner_headers, not_granted.serial, "cancel-redemption")
    assert missing.status_code == 404 and missing.get_json() == NO_SERIAL


# Cancel redemption, return, cancel return --------------------------------------------------------

def test_cancel_redemption_return_with_a_fee_and_cancel_return(client, shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    h, serial = shop.headers, ticket.serial

    not_redeemed = act(client, h, serial, "cancel-redemption", {})
    assert not_redeemed.status_code == 409
    assert not_redeemed.get_json()["error"]["code"] == "NotRedeemed"
    assert redeem(client, h, ticket.code).status_code == 201
    cancelled = client.post(f"{API}/tickets/{serial.lower()}/cancel-redemption", headers=h)  # no body
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "unused"

    assert act(client, h, serial, "return", {}).get_json()["error"]["fields"] == {
        "reason": "請輸入退貨原因"}
    bad_fee = act(client, h, serial, "return", {"reason": "客訴", "fee": "30"})
    assert bad_fee.status_code == 422 and set(bad_fee.get_json()["error"]["fields"]) == {"fee"}
    assert act(client, h, serial, "return", {"reason": "客訴", "fee": 1.5}).status_code == 422
    assert act(client, h, serial, "return", {"reason": 5}).status_code == 422
    too_much = act(client, h, serial, "return", {"reason": "客訴", "fee": 151})
    assert too_much.status_code == 409
    assert too_much.get_json()["error"]["code"] == "FeeAboveFaceValue"
    returned = act(client, h, serial, "return", {"reason": "客訴", "fee": 30})
    assert returned.status_code == 200
    got = returned.get_json()
    assert (got["status"], got["return_fee"]) == ("return_pending", 30)
    assert got["returned_at"] == "2026-07-01T01:00:00+00:00"
    again = act(client, h, serial, "return", {"reason": "客訴"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "AlreadyReturned"

    assert act(client, h, serial, "cancel-return", {"reason": " "}).status_code == 422
    undone = act(client, h, serial, "cancel-return", {"reason": "消費者改變心意"})
    assert undone.status_code == 200
    assert (undone.get_json()["status"], undone.get_json()["return_fee"]) == ("unused", None)
    assert act(client, h, serial, "cancel-return", {"reason": "再一次"}).get_json()["error"][
        "code"] == "NotReturned"
    assert reload(ticket).status is S.UNUSED


def test_the_cancel_window_closes_at_midnight(client, shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    assert redeem(client, shop.headers, ticket.code).status_code == 201
    clock.freeze(T(2026, 7, 2, 0, 0))
    late = act(client, shop.headers, ticket.serial, "cancel-redemption", {})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "CancelWindowClosed"
    assert reload(ticket).status is S.USED


def test_unknown_or_foreign_serials_are_404(client, shop):
    other_store, other_owner, other_pickup, _ = ready_store("otherissuer")
    [theirs] = issue(other_owner, other_store, other_pickup)
    for serial in ("NOSUCHSERIAL0000", theirs.serial):
        for action, body in (("cancel-redemption", {}), ("return", {"reason": "x"}),
                             ("cancel-return", {"reason": "x"})):
            response = act(client, shop.headers, serial, action, body)
            assert response.status_code == 404 and response.get_json() == NO_SERIAL
            # the ticket is looked up before the body is read: no body, still 404
            assert client.post(f"{API}/tickets/{serial}/{action}", headers=shop.headers,
                               data={}).status_code == 404
        assert client.get(f"{API}/tickets/{serial}/history", headers=shop.headers).get_json() == NO_SERIAL
    assert reload(theirs).status is S.UNUSED


def test_a_branch_clerk_not_on_the_return_list_gets_404(client, shop, token_for):
    listed = make_branch(shop.store, "A001", "台北門市")
    unlisted = make_branch(shop.store, "A002", "台中門市")
    product = make_product(shop.store, "限退券", returns=[listed])
    db.session.commit()
    [ticket] = issue(shop.owner, shop.store, product)
    outsider = clerk(shop.store, "clerkR02", {Function.RETURN: Level.MODIFY}, unlisted)
    response = act(client, headers_for(token_for, outsider), ticket.serial, "return", {"reason": "x"})
    assert response.status_code == 404 and response.get_json() == NO_SERIAL
    assert reload(ticket).status is S.UNUSED


# History -----------------------------------------------------------------------------------------

def test_the_history_lists_every_change_in_order(client, shop, token_for):
    branch = make_branch(shop.store, "A001", "台北門市")
    counter = clerk(shop.store, "clerkH01", {Function.REDEEM: Level.MODIFY}, branch)
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    h = shop.headers
    assert redeem(client, headers_for(token_for, counter), ticket.code).status_code == 201
    clock.freeze(T(2026, 7, 1, 10, 0))
    assert act(client, h, ticket.serial, "cancel-redemption", {"reason": "店員按錯"}).status_code == 200
    assert act(client, h, ticket.serial, "return", {"reason": "客訴", "fee": 20}).status_code == 200
    assert act(client, h, ticket.serial, "cancel-return", {"reason": "改變心意"}).status_code == 200

    response = client.get(f"{API}/tickets/{ticket.serial}/history", headers=h)
    assert response.status_code == 200
    got = response.get_json()
    assert got["serial"] == ticket.serial
    lifecycle = [e for e in got["history"] if e["action"] in {
        "redeemed", "redemption_cancelled", "returned", "return_cancelled"}]
    assert [(e["action"], e["from_status"], e["to_status"]) for e in lifecycle] == [
        ("redeemed", "unused", "used"), ("redemption_cancelled", "used", "unused"),
        ("returned", "unused", "return_pending"), ("return_cancelled", "return_pending", "unused")]
    first, cancel = lifecycle[0], lifecycle[1]
    assert first == {"at": "2026-07-01T01:00:00+00:00", "action": "redeemed", "action_label": "核銷",
                     "from_status": "unused", "to_status": "used", "actor": "clerkH01",
                     "store": shop.store.name, "branch": "台北門市", "reason": ""}
    assert (cancel["actor"], cancel["branch"], cancel["reason"]) == ("apiissuer", None, "店員按錯")
    assert lifecycle[2]["reason"].startswith("客訴")
    assert [e["at"] for e in got["history"]] == sorted(e["at"] for e in got["history"])


# Permissions -------------------------------------------------------------------------------------

def test_each_route_needs_its_function_at_modify(client, shop, token_for):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    viewer = clerk(shop.store, "clerkV01", {Function.REDEEM: Level.VIEW,
                                            Function.CANCEL_REDEMPTION: Level.VIEW,
                                            Function.RETURN: Level.VIEW,
                                            Function.CANCEL_RETURN: Level.VIEW})
    h = headers_for(token_for, viewer)
    refused = [redeem(client, h, ticket.code),
               act(client, h, ticket.serial, "cancel-redemption", {}),
               act(client, h, ticket.serial, "return", {"reason": "x"}),
               act(client, h, ticket.serial, "cancel-return", {"reason": "x"}),
               client.get(f"{API}/tickets/{ticket.serial}/history", headers=h)]
    for response in refused:
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
    assert "票券核銷" in refused[0].get_json()["error"]["message"]
    assert reload(ticket).status is S.UNUSED

    redeemer = clerk(shop.store, "clerkM01", {Function.REDEEM: Level.MODIFY})
    h = headers_for(token_for, redeemer)
    assert redeem(client, h, ticket.code).status_code == 201
    assert act(client, h, ticket.serial, "cancel-redemption", {}).status_code == 403
    assert client.post(f"{API}/redemptions", json={"code": ticket.code}).status_code == 401


# The brute-force guard ---------------------------------------------------------------------------

@pytest.fixture
def small_limits(monkeypatch):  # noqa: ANN001, ANN201
    rules = (ratelimit.Rule("test-code-account", "3/10 minutes", "查詢錯誤的核銷代碼次數過多，請 10 分鐘後再試"),
             ratelimit.Rule("test-code-ip", "5/10 minutes", "此位址查詢錯誤的核銷代碼次數過多"))
    monkeypatch.setattr(api_tickets, "_LOOKUP_RULES", rules)
    return rules


def test_failed_lookups_are_limited_per_account_then_per_ip(client, shop, token_for, small_limits):
    tickets = issue(shop.owner, shop.store, shop.pickup, quantity=6)
    for ticket in tickets[:4]:  # successful lookups never count
        assert redeem(client, shop.headers, ticket.code).status_code == 201
    assert redeem(client, shop.headers, unknown_code()).status_code == 404
    assert redeem(client, shop.headers, mistyped(tickets[4].code)).status_code == 404
    assert redeem(client, shop.headers, unknown_code()).status_code == 404
    limited = redeem(client, shop.headers, tickets[4].code)  # checked before every lookup
    assert limited.status_code == 429
    assert limited.get_json() == {"error": {"code": "rate_limited",
                                            "message": "查詢錯誤的核銷代碼次數過多，請 10 分鐘後再試"}}
    assert limited.headers["Retry-After"] == "600"
    assert reload(tickets[4]).status is S.UNUSED

    # another account of the same store, from the same address: two more failures fill the IP's
    second = headers_for(token_for, clerk(shop.store, "clerkL01", {Function.REDEEM: Level.MODIFY}))
    assert redeem(client, second, unknown_code()).status_code == 404
    assert redeem(client, second, unknown_code()).status_code == 404
    by_ip = redeem(client, second, tickets[5].code)
    assert by_ip.status_code == 429
    assert by_ip.get_json()["error"]["message"] == "此位址查詢錯誤的核銷代碼次數過多"
    from_elsewhere = client.post(f"{API}/redemptions", headers=second, json={"code": tickets[5].code},
                                 environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert from_elsewhere.status_code == 201  # its own account is still under its limit
    assert redeem(client, shop.headers, tickets[5].code).status_code == 429  # the first still is
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.action == "redeemed")) == 5


def test_the_guard_uses_the_apps_rules(client, shop):
    assert api_tickets._LOOKUP_RULES == (ratelimit.UNKNOWN_CODE_PER_ACCOUNT,
                                         ratelimit.UNKNOWN_CODE_PER_IP)


def test_a_main_accounts_redemption_copies_neither_account_nor_store_into_the_session(
        client, shop, record_merges):
    """The bearer token's principal reads the request cache: the ORM account and store are
    copied into the request's session only by a view that needs them (/me reads g.store)."""
    first, second = issue(shop.owner, shop.store, shop.pickup, quantity=2)
    copied = record_merges()
    assert redeem(client, shop.headers, first.code).status_code == 201
    response = redeem(client, shop.headers, second.code)
    assert response.status_code == 201
    assert response.get_json()["redeemed_by"] == {"store": shop.store.name, "branch": None}
    assert copied == []
    assert reload(second).redeemed_by_id == shop.owner.id
    me = client.get(f"{API}/me", headers=shop.headers)
    assert me.status_code == 200 and me.get_json()["store"]["name"] == shop.store.name
    assert "Account" in copied  # /me reads g.store: the ORM account and its store, copied

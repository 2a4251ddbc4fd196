"""Which link opens what: the purchaser's order link, a recipient's transfer link, and the
links that open nothing (unknown, replaced by a change of purchaser, cancelled transfer), which
all get the very same "link not valid" page."""

from __future__ import annotations

import pytest

from app import ratelimit
from app.db import db
from app.orders import services as orders
from app.stores.models import DeliveryMethod
from app.tickets.codes import new_link_token
from app.wallet import links
from tests.wallet.helpers import cancel_transfer, give, issue_order, tickets_of


def test_an_order_link_opens_the_purchasers_tickets(bought):
    holding = links.resolve(bought.token)
    assert holding.is_purchaser and holding.transfer is None
    assert holding.order.id == bought.order.id and holding.store.id == bought.store.id
    assert [t.id for t in holding.tickets] == [t.id for t in tickets_of(bought.order)]
    assert (holding.holder_name, holding.holder_mobile, holding.holder_email) == (
        "林小美", "0912345678", "buyer@example.com")


def test_a_transfer_link_opens_the_given_tickets_only(bought):
    first, second, third = tickets_of(bought.order)
    made = give(bought.order, [first, third])
    recipient = links.resolve(made.link_token)
    assert not recipient.is_purchaser and recipient.transfer.id == made.id
    assert [t.id for t in recipient.tickets] == [first.id, third.id]
    assert (recipient.holder_name, recipient.holder_mobile) == ("陳大文", "0922333444")
    purchaser = links.resolve(bought.token)
    assert [t.id for t in purchaser.tickets] == [first.id, second.id, third.id]
    assert [purchaser.given_away(t) for t in purchaser.tickets] == [True, False, True]
    assert set(purchaser.transfers) == {made.id}


def _replaced(shop):  # noqa: ANN001, ANN202
    old = shop.order.link_token
    orders.change_purchaser(shop.owner, shop.store, shop.order.id, name="張新人", mobile="0955666777",
                            email="new@example.com")
    db.session.commit()
    return old


def _cancelled(shop):  # noqa: ANN001, ANN202
    made = give(shop.order, tickets_of(shop.order)[:1])
    cancel_transfer(shop.app, shop.owner, shop.store, made.id)
    return made.link_token


def _returned_all(shop):  # noqa: ANN001, ANN202 - every given ticket returned: the transfer ends
    from app.tickets import services as tickets

    ticket = tickets_of(shop.order)[0]
    made = give(shop.order, [ticket])
    tickets.return_ticket(shop.owner, shop.store, ticket, reason="消費者退貨")
    db.session.commit()
    return made.link_token


NOT_VALID = {
    "unknown": lambda shop: new_link_token(),
    "replaced by a change of purchaser": _replaced,
    "cancelled transfer": _cancelled,
    "transfer ended by returns": _returned_all,
    "too short": lambda shop: "abc",
    "not a token": lambda shop: "has.dots.and~signs~01234567",
}


@pytest.mark.parametrize("case", NOT_VALID)
def test_links_that_open_nothing(app, bought, client, case):
    bought.app = app
    token = NOT_VALID[case](bought)
    assert links.resolve(token) is None
    response = client.get(f"/t/{token}")
    assert response.status_code == 404
    assert "此連結無效" in response.get_data(as_text=True)


def test_every_invalid_link_gets_the_identical_page(app, bought, client):
    bought.app = app
    pages = set()
    for make in (NOT_VALID["unknown"], _replaced, _cancelled):
        response = client.get(f"/t/{make(bought)}")
        assert response.status_code == 404
        pages.add(response.get_data())
    assert len(pages) == 1
    page = pages.pop().decode()
    assert bought.store.name not in page  # says nothing about whose link it was


def test_a_replaced_link_is_invalid_and_the_new_one_works(app, bought, client):
    old = _replaced(bought)
    db.session.refresh(bought.order)
    assert client.get(f"/t/{old}").status_code == 404
    response = client.get(f"/t/{bought.order.link_token}")
    assert response.status_code == 200 and "電子票券核銷登入頁" in response.get_data(as_text=True)


def test_paper_and_kiosk_orders_have_no_wallet(ctx, bought):
    order = issue_order(bought.owner, bought.store, bought.pickup, quantity=1, method=DeliveryMethod.IBON)
    assert order.link_token is None  # nothing to resolve
    assert links.resolve(order.pickup_code or "x") is None


def test_unknown_links_are_rate_limited_per_address(app, bought, client):
    for _ in range(30):
        assert client.get(f"/t/{new_link_token()}").status_code == 404
    response = client.get(f"/t/{new_link_token()}")
    assert response.status_code == 429
    assert "請稍後再試" in response.get_data(as_text=True)
    # another address is not held back
    other = client.get(f"/t/{bought.token}", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200
    ratelimit.reset(app)
    assert client.get(f"/t/{bought.token}").status_code == 200

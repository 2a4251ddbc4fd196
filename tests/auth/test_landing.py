"""Where accounts land after login, the menu each role sees (never an entry that answers 403),
and the holder's contacts on the ticket page a clerk opens from the counter card."""

from __future__ import annotations

import pytest

from app.auth.permissions import Function, Level
from app.db import db
from app.tickets.models import Ticket
from tests.factories import PASSWORD, login, make_account, make_branch, make_order, make_store, make_sub


def test_a_bound_clerk_lands_on_the_counter_naming_its_branch(client, ctx):
    store = make_store()
    branch = make_branch(store, "A001", "台北門市")
    make_sub(store, "clerk81", branch=branch, grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    response = client.post("/login", data={"username": "clerk81", "password": PASSWORD})
    assert response.headers["Location"] == "/counter/redeem"
    html = client.get("/counter/redeem").get_data(as_text=True)
    assert "核銷分店：A001 台北門市" in html


@pytest.mark.parametrize("kind", ["main", "unbound", "no_redeem", "disabled_branch"])
def test_everyone_else_lands_on_the_home_page(client, ctx, kind):
    store = make_store()
    if kind == "main":
        make_account(store, username="land01")
    elif kind == "unbound":
        make_sub(store, "land01", grants={Function.REDEEM: Level.MODIFY})
    elif kind == "no_redeem":
        make_sub(store, "land01", branch=make_branch(store),
                 grants={Function.REPORT_TICKETS: Level.VIEW})
    else:
        make_sub(store, "land01", branch=make_branch(store, enabled=False),
                 grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    response = client.post("/login", data={"username": "land01", "password": PASSWORD})
    assert response.headers["Location"] == "/home"


ROLES = {
    "main": None,
    "clerk": {Function.REDEEM: Level.MODIFY, Function.CANCEL_REDEMPTION: Level.VIEW},
    "reports": {Function.REPORT_TICKETS: Level.VIEW, Function.REPORT_CIRCULATION: Level.VIEW,
                Function.BILLING: Level.VIEW},
    "issuer": {Function.ISSUANCE: Level.MODIFY, Function.PRODUCTS: Level.VIEW,
               Function.RETURN: Level.VIEW},
    "nothing": {},
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_menu_entry_a_role_sees_opens(client, ctx, role):
    from app.menu import MERCHANT_MENU

    store = make_store()
    grants = ROLES[role]
    if grants is None:
        make_account(store, username="menu01")
    else:
        make_sub(store, "menu01", branch=make_branch(store), grants=grants)
    db.session.commit()
    login(client, "menu01")
    html = client.get("/home").get_data(as_text=True)
    shown = []
    with client.application.test_request_context():
        from flask import url_for
        for section in MERCHANT_MENU:
            for entry in section.entries:
                if entry.endpoint not in client.application.view_functions:
                    continue
                url = url_for(entry.endpoint)
                if f'href="{url}"' in html:
                    shown.append((entry, url))
                elif grants is not None and entry.function is not None and entry.function in grants:
                    pytest.fail(f"{entry.label} hidden from a role holding its right")
    assert shown
    for entry, url in shown:
        assert client.get(url).status_code != 403, entry.label
    if grants is not None:
        assert "後台子帳號" not in html  # main account only
        labels = {e.label for e, _ in shown}
        for section in MERCHANT_MENU:
            for entry in section.entries:
                if entry.function is not None and entry.function not in grants:
                    assert entry.label not in labels or entry.label == "操作設定管理"


def _ticket(store) -> Ticket:  # noqa: ANN001
    order = make_order(store)
    ticket = db.session.scalar(db.select(Ticket).where(Ticket.order_id == order.id))
    ticket.holder_mobile, ticket.holder_email = "0912345678", "holder@example.com"
    return ticket


@pytest.mark.parametrize(("grants", "visible"), [
    (None, True),  # the main account
    ({Function.REDEEM: Level.MODIFY, Function.REPORT_TICKETS: Level.VIEW}, True),
    ({Function.REDEEM: Level.MODIFY}, False),
])
def test_the_ticket_page_masks_the_holder_unless_the_account_may_see_holder_data(
        client, ctx, grants, visible):
    store = make_store()
    if grants is None:
        make_account(store, username="mask01")
    else:
        make_sub(store, "mask01", branch=make_branch(store), grants=grants)
    ticket = _ticket(store)
    db.session.commit()
    login(client, "mask01")
    html = client.get(f"/tickets/{ticket.serial}").get_data(as_text=True)
    assert ("0912345678" in html) is visible
    assert ("holder@example.com" in html) is visible
    if not visible:
        assert "0912***678" in html
        assert "ho***@example.com" in html

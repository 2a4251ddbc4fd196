"""Rule d: a clerk of a disabled branch (停用分店) may only view. Every change it holds the right
for — printing and reprinting paper tickets, changing a purchaser, re-sending a notice, cancelling
a transfer, editing products, adding a ticket note — is refused with the branch message, on the
server and in the pages, and nothing changes. Enabling the branch gives the rights back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.auth.permissions import BRANCH_DISABLED, Function, Level
from app.db import db
from app.errors import Forbidden
from app.orders import services as orders
from app.printing import services as printing
from app.printing.models import PrintRun
from app.products import services as products
from app.stores.models import DeliveryMethod
from app.tickets import services as tickets
from app.transfers import services as transfers
from app.transfers.models import TransferStatus
from tests.branches.helpers import fresh
from tests.factories import login, make_branch, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import issue_order
from tests.transfers.helpers import give

RIGHTS = {f: Level.MODIFY for f in (
    Function.PAPER_PRINTING, Function.ISSUED_ORDERS, Function.TRANSFER_RECORDS, Function.PRODUCTS,
    Function.REPORT_TICKETS, Function.REDEEM)}


@pytest.fixture
def shop(ctx):
    store, owner, pickup, _ = ready_store()
    branch = make_branch(store, "A001", "台北店", enabled=False)
    clerk = make_sub(store, "clerk001", branch=branch, grants=RIGHTS)
    db.session.commit()
    paper = issue_order(owner, store, pickup, method=DeliveryMethod.MERCHANT_PRINT, quantity=1)
    eticket = issue_order(owner, store, pickup, quantity=2)
    transfer = give(eticket, [eticket.tickets[0]])
    return {"store": store, "owner": owner, "pickup": pickup, "branch": branch, "clerk": clerk,
            "paper": paper, "eticket": eticket, "transfer": transfer}


def _clerk(shop) -> Account:  # noqa: ANN001
    return fresh(Account, shop["clerk"].id)


def _changes(shop) -> list:  # noqa: ANN001
    """What each refused action would have changed, read fresh."""
    clerk, store = _clerk(shop), shop["store"]
    return [
        lambda: printing.print_tickets(clerk, store, [shop["paper"].tickets[0].id]),
        lambda: printing.record_test_print(clerk, store),
        lambda: orders.change_purchaser(clerk, store, shop["eticket"].id, name="新購買人",
                                        mobile="0911222333", email="new@example.com",
                                        expected_revision=orders.purchaser_revision(shop["eticket"])),
        lambda: orders.resend_notice(clerk, store, shop["eticket"].id),
        lambda: transfers.cancel(clerk, store, shop["transfer"].id, reason="客訴"),
        lambda: products.set_listed(clerk, store, [shop["pickup"].id], False),
        lambda: tickets.add_note(clerk, store, shop["eticket"].tickets[0], "備註"),
    ]


def test_every_change_is_refused_with_the_branch_message(shop):
    for change in _changes(shop):
        with pytest.raises(Forbidden) as refused:
            change()
        assert refused.value.message == BRANCH_DISABLED.message
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PrintRun)) == 0
    assert fresh(type(shop["transfer"]), shop["transfer"].id).status is TransferStatus.ACTIVE
    assert fresh(type(shop["pickup"]), shop["pickup"].id).listed is True
    assert fresh(type(shop["eticket"]), shop["eticket"].id).purchaser_name == "王小明"


def test_the_rights_come_back_with_the_branch(shop):
    shop["branch"].enabled = True
    db.session.commit()
    clerk = _clerk(shop)
    assert clerk.may(Function.PAPER_PRINTING, Level.MODIFY)
    printing.print_tickets(clerk, shop["store"], [shop["paper"].tickets[0].id])
    transfers.cancel(clerk, shop["store"], shop["transfer"].id, reason="客訴")
    db.session.commit()
    assert fresh(type(shop["transfer"]), shop["transfer"].id).status is TransferStatus.CANCELLED


def test_the_clerk_still_views_but_every_modify_right_is_gone(shop):
    clerk = _clerk(shop)
    for function in RIGHTS:
        assert clerk.may(function, Level.VIEW)
        assert not clerk.may(function, Level.MODIFY)


@pytest.mark.parametrize(("url", "data"), [
    ("/printing/print", {"ticket_ids": ["{paper_ticket}"]}),
    ("/orders/{eticket}/resend", {}),
    ("/transfers/{transfer}/cancel", {"reason": "客訴"}),
])
def test_the_pages_refuse_with_the_branch_message(shop, client, url, data):
    ids = {"paper_ticket": shop["paper"].tickets[0].id, "eticket": shop["eticket"].id,
           "transfer": shop["transfer"].id}
    login(client, "clerk001")
    response = client.post(url.format(**ids), data={k: [v.format(**ids) for v in vs] if isinstance(vs, list)
                                                    else vs for k, vs in data.items()})
    assert response.status_code == 403
    assert BRANCH_DISABLED.message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PrintRun)) == 0
    assert fresh(type(shop["transfer"]), shop["transfer"].id).status is TransferStatus.ACTIVE

"""Helpers for the counter page tests: a store with tickets, clerks, and the two POSTs."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.stores.models import Branch, Store
from app.tickets.models import Ticket
from tests.factories import PASSWORD, make_sub

HTMX = {"HX-Request": "true", "HX-Target": "counter"}
ALL_COUNTER = {Function.REDEEM: Level.MODIFY, Function.CANCEL_REDEMPTION: Level.MODIFY,
               Function.RETURN: Level.MODIFY, Function.CANCEL_RETURN: Level.MODIFY}


def clerk(store: Store, username: str, branch: Branch | None = None,
          grants: dict[Function, Level] | None = None) -> Account:
    account = make_sub(store, username, branch=branch, grants=ALL_COUNTER if grants is None else grants)
    db.session.commit()
    return account


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def lookup(client, slug: str, code: str, *, htmx: bool = False, **kwargs):  # noqa: ANN001, ANN201
    return client.post("/counter/lookup", data={"action": slug, "code": code},
                       headers=HTMX if htmx else None, **kwargs)


def act(client, slug: str, ticket: Ticket, *, seen: str | None = None, reason: str | None = None,
        fee: object = None, code: str | None = None, ticket_id: int | None = None,
        confirm: bool | None = None, htmx: bool = False, **kwargs):  # noqa: ANN001, ANN201
    """The card's button; on 取消核銷 with its box ticked unless `confirm=False`."""
    data = {"action": slug, "code": code if code is not None else ticket.code,
            "ticket_id": ticket_id if ticket_id is not None else ticket.id,
            "seen": seen or ticket.status.value}
    if reason is not None:
        data["reason"] = reason
    if fee is not None:
        data["fee"] = str(fee)
    if confirm if confirm is not None else slug == "cancel-redemption":
        data["confirm"] = "y"
    return client.post("/counter/act", data=data, headers=HTMX if htmx else None, **kwargs)


def reload(ticket: Ticket) -> Ticket:
    db.session.expire_all()
    return db.session.scalar(select(Ticket).where(Ticket.id == ticket.id)
                             .execution_options(unscoped=True))


def entries(ticket: Ticket, action: str) -> list[HistoryEntry]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.subject_type == "tickets",
                                   HistoryEntry.subject_id == ticket.id,
                                   HistoryEntry.action == action)
        .execution_options(unscoped=True)))


def dashed(code: str) -> str:
    """As a clerk might type it: lower case, in groups of four with dashes."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4)).lower()


def error_message(body: str) -> str:
    found = re.search(r'data-testid="counter-error">\s*<i[^>]*></i>\s*(.*?)\s*</div>', body, re.S)
    return found.group(1) if found else ""


def has_autofocus_code(body: str) -> bool:
    field = re.search(r'<input[^>]*id="counter-code"[^>]*>', body)
    return bool(field) and "autofocus" in field.group(0)


def code_field_value(body: str) -> str:
    field = re.search(r'<input[^>]*id="counter-code"[^>]*>', body)
    value = re.search(r'value="([^"]*)"', field.group(0)) if field else None
    return value.group(1) if value else ""


# In a browser ------------------------------------------------------------------------------

def browser_login(page, base: str, username: str) -> None:  # noqa: ANN001
    """Log in through the login page; a clerk lands on the counter, others on the home page."""
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: url in (f"{base}/home", f"{base}/counter/redeem"))


def ready(page) -> None:  # noqa: ANN001
    """The counter page is ready for a scan: the code field has the focus and the page's
    scripts (HTMX) have run, so Enter is an HTMX request, not a plain form post."""
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    expect(page.locator("#counter-code")).to_be_focused()


def scan(page, code: str) -> None:  # noqa: ANN001
    """What a scanner does: type into the focused element, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")

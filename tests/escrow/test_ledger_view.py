"""The ledger view matches the ledger rows for tickets in each of the 11 statuses.

Each case builds one ticket through the real services (issuance, redeem, return, the daily
expiry job and the nightly bank sync against the simulated bank on loopback), then checks that
the voucher's 價金保管帳 — the query, the ticket page, its Excel, the ticket report's row ledger
and the report's 價金保管餘額 column — shows exactly the ticket's ledger rows with the right
running balance, and what the bank has not acknowledged yet. The clock is frozen; the world:

- 6/29: the store, a pickup (咖啡券 150, escrow a year), a short pickup (短期券 200, escrow
  through 7/5) and a short gift (短期贈品 80, valid through 7/5);
- 7/1 09:00: the case's ticket is issued; the nights of 7/2 and 7/3 send what is due.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.db import db
from app.escrow import queries
from app.escrow.columns import LEDGER_COLUMNS
from app.escrow.jobs import run_sync
from app.escrow.models import InstructionStatus, LedgerEntry
from app.products.models import Product, ProductKind
from app.stores.models import Store
from app.tickets import services
from app.tickets.jobs import expire_tickets
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from app.web import format_money
from tests.escrow.helpers import T, at, day, ledger, reload
from tests.factories import login, make_product
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTMX = {"HX-Request": "true"}
ROW = re.compile(r'data-testid="ledger-row" data-kind="([a-z_]+)" data-amount="(-?\d+)" '
                 r'data-balance="(-?\d+)"')
EMPTY_PICKUP = "尚無價金保管紀錄：提貨券的價金於發行後次日凌晨的價金保管同步時存入信託。"
EMPTY_GIFT = "尚無價金保管紀錄：贈品券不需價金保管。"


@dataclass
class World:
    store: Store
    owner: object
    pickup: Product
    short: Product
    short_gift: Product
    bank: object

    def night(self, month: int, d: int) -> None:
        at(2026, month, d, 1, 0)
        run_sync(day(month, d))

    def expiry_job(self, month: int, d: int) -> None:
        at(2026, month, d, 0, 5)
        expire_tickets(T(2026, month, d, 0, 5).isoformat())


@pytest.fixture
def world(ctx, bank):  # noqa: ANN001, ANN201
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, _ = ready_store()
    short = make_product(store, "短期券", kind=ProductKind.PICKUP, face_value=200, end=date(2026, 7, 5))
    short_gift = make_product(store, "短期贈品", kind=ProductKind.GIFT, face_value=80,
                              end=date(2026, 7, 5))
    db.session.commit()
    return World(store, owner, pickup, short, short_gift, bank)


def _issue(w: World, product: Product) -> Ticket:
    at(2026, 7, 1, 9, 0)
    [ticket] = issue(w.owner, w.store, product)
    return ticket


def _redeem(w: World, ticket: Ticket, *when: int) -> None:
    at(2026, 7, *when)
    services.redeem(w.owner, w.store, reload(ticket))
    db.session.commit()


def _return(w: World, ticket: Ticket, *when: int, fee: int | None = None) -> None:
    at(2026, 7, *when)
    services.return_ticket(w.owner, w.store, reload(ticket), reason="顧客不要了", fee=fee)
    db.session.commit()


# The cases: (status, build, expected [(kind, amount, running balance)], outstanding) --------

def unused_before_its_night(w: World) -> Ticket:
    return _issue(w, w.pickup)  # nothing sent yet: no ledger


def unused(w: World) -> Ticket:
    ticket = _issue(w, w.pickup)
    w.night(7, 2)
    return ticket


def unused_escrow_expired(w: World) -> Ticket:
    ticket = _issue(w, w.short)
    w.night(7, 2)
    w.expiry_job(7, 6)
    return ticket


def used(w: World) -> Ticket:
    ticket = _issue(w, w.pickup)
    w.night(7, 2)
    _redeem(w, ticket, 2, 10, 0)  # the release goes the night after
    return ticket


def redeeming(w: World) -> Ticket:
    ticket = used(w)
    w.bank.control(reject_serials=[ticket.serial])  # the bank refuses the release: stays 核銷中
    w.night(7, 3)
    return ticket


def redeemed(w: World) -> Ticket:
    ticket = _issue(w, w.pickup)
    _redeem(w, ticket, 1, 10, 0)
    w.night(7, 2)  # deposit, then release, the same night
    return ticket


def used_after_expiry(w: World) -> Ticket:
    ticket = _issue(w, w.short)
    w.night(7, 2)
    _redeem(w, ticket, 7, 10, 0)  # past its escrow end, before the expiry job ran
    return ticket


def return_pending(w: World) -> Ticket:
    ticket = _issue(w, w.pickup)
    w.night(7, 2)
    _return(w, ticket, 2, 10, 0, fee=30)
    return ticket


def returning(w: World) -> Ticket:
    ticket = _issue(w, w.pickup)
    _return(w, ticket, 1, 20, 0, fee=30)
    w.night(7, 2)  # the deposit
    w.bank.control(fail=True)  # the night of 7/3 sends the refund and hears nothing back
    w.night(7, 3)
    return ticket


def returned(w: World) -> Ticket:
    ticket = _issue(w, w.pickup)
    _return(w, ticket, 1, 20, 0, fee=30)  # issued and returned the same day: refunded on day + 2
    w.night(7, 2)
    w.night(7, 3)
    return ticket


def returned_escrow_expired(w: World) -> Ticket:
    ticket = _issue(w, w.short)
    w.night(7, 2)
    w.expiry_job(7, 6)
    _return(w, ticket, 7, 10, 0)  # the merchant refunds the consumer itself: no bank step
    return ticket


def expired(w: World) -> Ticket:
    ticket = _issue(w, w.short_gift)
    w.night(7, 2)
    w.expiry_job(7, 6)
    return ticket


DEPOSIT = ("deposit", 150, 150)
CASES: list[tuple[S, Callable[[World], Ticket], list[tuple[str, int, int]], list[tuple[str, str]]]] = [
    (S.UNUSED, unused_before_its_night, [], []),
    (S.UNUSED, unused, [DEPOSIT], []),
    (S.UNUSED_ESCROW_EXPIRED, unused_escrow_expired, [("deposit", 200, 200), ("escrow_expired", 200, 0)], []),
    (S.USED, used, [DEPOSIT], []),
    (S.REDEEMING, redeeming, [DEPOSIT], [("release", "rejected")]),
    (S.REDEEMED, redeemed, [DEPOSIT, ("release", 150, 0)], []),
    (S.USED_AFTER_EXPIRY, used_after_expiry, [("deposit", 200, 200), ("escrow_expired", 200, 0)], []),
    (S.RETURN_PENDING, return_pending, [DEPOSIT], []),
    (S.RETURNING, returning, [DEPOSIT], [("refund", "pending")]),
    (S.RETURNED, returned, [DEPOSIT, ("refund", 120, 30), ("handling_fee", 30, 0)], []),
    (S.RETURNED_ESCROW_EXPIRED, returned_escrow_expired,
     [("deposit", 200, 200), ("escrow_expired", 200, 0)], []),
    (S.EXPIRED, expired, [], []),
]


def test_the_cases_cover_every_status():
    assert {status for status, *_ in CASES} == set(S)


def _client(app):  # noqa: ANN001, ANN202
    client = app.test_client()
    login(client, "issuer01")
    return client


def _sheet(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _page_rows(body: str) -> list[tuple[str, int, int]]:
    return [(kind, int(amount), int(balance)) for kind, amount, balance in ROW.findall(body)]


def _held_attribute(body: str) -> int:
    found = re.search(r'data-testid="escrow-ledger" data-held="(-?\d+)"', body)
    assert found, "no ledger section"
    return int(found.group(1))


@pytest.mark.parametrize(("status", "build", "expected", "outstanding"), CASES,
                         ids=[build.__name__ for _, build, _, _ in CASES])
def test_the_ledger_view_matches_the_ledger_rows(app, world, status, build, expected, outstanding):
    ticket = reload(build(world))
    assert ticket.current_status is status
    held = expected[-1][2] if expected else 0
    # the case's ledger, as the sync and the expiry wrote it
    assert ledger(ticket) == [(kind, amount) for kind, amount, _ in expected]

    # the query: exactly those rows, their balances, the bank's side of each
    view = queries.ticket_ledger(ticket)
    assert [(line.kind.value, line.amount, line.balance) for line in view.lines] == expected
    assert view.held == held
    entries = list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.ticket_id == ticket.id)
                                      .order_by(LedgerEntry.day, LedgerEntry.id)))
    assert [line.id for line in view.lines] == [e.id for e in entries]
    for line, entry in zip(view.lines, entries, strict=True):
        assert line.day == entry.day
        if entry.instruction_id is None:  # an escrow expiry: no bank step
            assert line.bank_status is None and line.bank_ref == "" and line.answered_at is None
        else:
            assert line.bank_status is InstructionStatus.ACKNOWLEDGED
            assert line.bank_ref.startswith("ESB") and line.sent_at and line.answered_at
    assert [(o.kind.value, o.status.value) for o in view.outstanding] == outstanding

    client = _client(app)
    # the ticket page
    body = client.get(f"/tickets/{ticket.serial}").get_data(as_text=True)
    assert _page_rows(body) == expected
    assert _held_attribute(body) == held
    empty_text = EMPTY_PICKUP if ticket.kind is ProductKind.PICKUP else EMPTY_GIFT
    assert (empty_text in body) is (not expected)
    assert ('data-testid="ledger-export"' in body) is bool(expected)
    if ticket.kind is ProductKind.PICKUP:
        assert f"目前價金保管餘額 <strong class=\"fs-5\">{format_money(held)}</strong>" in body
    else:
        assert "贈品券不經價金保管" in body
    shown = re.findall(r'<li data-kind="([a-z]+)" data-status="([a-z]+)">', body)
    assert shown == outstanding

    # its Excel: the same rows and balances, under the column spec's headers
    response = client.get(f"/tickets/{ticket.serial}/ledger/export")
    assert response.status_code == 200 and response.mimetype == XLSX
    header, *rows = _sheet(response.data)
    assert header == [c.header for c in LEDGER_COLUMNS]
    col = {h: i for i, h in enumerate(header)}
    assert [(r[col["項目"]], r[col["存入信託"]] or -(r[col["自信託撥出"]] or 0), r[col["保管餘額"]])
            for r in rows] == [(line.kind.label, line.change, line.balance) for line in view.lines]
    assert all(r[col["票券序號"]] == ticket.serial for r in rows)

    # the ticket report: the row's ledger (a modal), and the 價金保管餘額 column
    response = client.get(f"/reports/tickets/{ticket.id}/ledger", headers=HTMX)
    assert response.status_code == 200
    assert _page_rows(response.get_data(as_text=True)) == expected
    report = client.get("/reports/tickets", query_string={
        "mode": "serial", "q": "1", "serial": ticket.serial, "cols": "escrow"}).get_data(as_text=True)
    cell = re.search(r'<td class="[^"]*" data-col="held_in_escrow">([^<]*)</td>', report)
    assert cell, "no 價金保管餘額 cell"
    assert cell.group(1) == (format_money(held) if ticket.kind is ProductKind.PICKUP else "")
    assert ('data-testid="ledger-link"' in report) is (ticket.kind is ProductKind.PICKUP)

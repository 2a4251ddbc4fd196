"""The 價金保管帳 on PostgreSQL: a voucher's ledger rows and running balance, the ticket report's
價金保管餘額 column (the correlated sum) and the ticket page's Excel, after real nights against
the simulated bank."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from app.db import db
from app.escrow import queries
from app.escrow.jobs import run_sync
from app.reports import tickets as report
from app.reports.scope import ReportScope
from app.tickets import services
from tests.escrow.conftest import BANK_KEY
from tests.escrow.helpers import at, day, ledger, reload
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_bank(pg_app, simulator):  # noqa: ANN001, ANN201
    pg_app.config.update(ESCROW_BANK_URL=simulator.url, ESCROW_BANK_KEY=BANK_KEY, ESCROW_BANK_TIMEOUT=5)
    return simulator


def test_the_ledger_and_the_held_column_on_postgresql(pg_app, pg_bank):
    with pg_app.app_context():
        at(2026, 6, 29, 9, 0)
        store, owner, pickup, gift = ready_store()
        at(2026, 7, 1, 9, 0)
        returned, redeemed, kept = issue(owner, store, pickup, quantity=3)
        [free] = issue(owner, store, gift)
        at(2026, 7, 1, 20, 0)
        services.return_ticket(owner, store, reload(returned), reason="顧客不要了", fee=30)
        services.redeem(owner, store, reload(redeemed))
        db.session.commit()
        for d in (2, 3):
            at(2026, 7, d, 1, 0)
            run_sync(day(7, d))
        at(2026, 7, 3, 10, 0)

        expected = {returned.id: [("deposit", 150, 150), ("refund", 120, 30), ("handling_fee", 30, 0)],
                    redeemed.id: [("deposit", 150, 150), ("release", 150, 0)],
                    kept.id: [("deposit", 150, 150)], free.id: []}
        for ticket in (returned, redeemed, kept, free):
            ticket = reload(ticket)
            view = queries.ticket_ledger(ticket)
            assert [(line.kind.value, line.amount, line.balance) for line in view.lines] == expected[ticket.id]
            assert [(k, a) for k, a, _ in expected[ticket.id]] == ledger(ticket)
            assert view.outstanding == []

        scope = ReportScope(acting_store_id=store.id, store_ids=(store.id,), choices=(),
                            branch_id=None, branch_locked=False, account_id=owner.id)
        query = report.parse({"mode": "date", "q": "1", "start": "2026-07-01", "end": "2026-07-03",
                              "cols": ["escrow"]})
        rows = db.session.execute(report.rows_statement(scope, query)).mappings().all()
        assert {r["id"]: r["held_in_escrow"] for r in rows} == {
            returned.id: 0, redeemed.id: 0, kept.id: 150, free.id: None}
        serial = reload(returned).serial
        db.session.remove()

    client = pg_app.test_client()
    login(client, "issuer01")
    body = client.get(f"/tickets/{serial}").get_data(as_text=True)
    assert body.count('data-testid="ledger-row"') == 3
    response = client.get(f"/tickets/{serial}/ledger/export")
    rows = list(load_workbook(io.BytesIO(response.data), read_only=True).active.iter_rows(values_only=True))
    balance = rows[0].index("保管餘額")
    assert [r[balance] for r in rows[1:]] == [150, 30, 0]

"""票券報表 on PostgreSQL: the same rows as on SQLite for every filter of the date mode and the
other modes, the effective status filter against current_status, a capped page, the Excel file
of the background export, and the branch restriction and three-month rule through the client."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from app import clock
from app.db import db
from app.reports import tickets as report
from app.reports.export import write_report_xlsx
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.reports.test_ticket_report import DATE_CASES, names, q
from tests.reports.ticket_world import (
    BY_ISSUE,
    SINCE_SEPTEMBER,
    TODAY,
    build_ticket_world,
    row_serials,
    scope_of,
)
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres


def test_the_ticket_report_on_postgresql(pg_app, tmp_path):
    with pg_app.app_context():
        tw = build_ticket_world()
        for params, expected in DATE_CASES:
            assert names(tw, params) == expected, params.to_dict(flat=False)
        assert names(tw, q(**SINCE_SEPTEMBER), branch=tw.r001.id) == ["d1", "a1"]
        assert names(tw, q(**SINCE_SEPTEMBER), "rclerk02", branch=tw.r001.id) == ["c2", "b1"]
        assert names(tw, q(mode="serial", serial=tw.t["c1"].serial)) == ["c1"]
        assert names(tw, q(mode="holder", holder_name="王小明", **SINCE_SEPTEMBER)) == ["a3", "a2", "a1"]
        assert names(tw, q(mode="order", merchant_order_no="MO3")) == ["c2", "c1"]

        scope = scope_of("rowner01")
        everything = q(**SINCE_SEPTEMBER, cols=["issuer", "ticket", "order", "operators", "holder"])
        page = report.page(scope, report.parse(everything), 2, per_page=4)
        assert [r.serial for r in page.items] == tw.serials(*BY_ISSUE[4:8])
        assert (page.total, page.capped, page.has_next) == (9, False, True)

        path = tmp_path / "tickets.xlsx"
        written = write_report_xlsx("tickets", everything, tw.store.id, tw.owner.id, path)
        rows = list(load_workbook(io.BytesIO(path.read_bytes()), read_only=True).active.iter_rows(values_only=True))
        assert written == 9 and [r[0] for r in rows[1:]] == tw.serials(*BY_ISSUE)
        header = list(rows[0])
        a1 = dict(zip(header, rows[1 + BY_ISSUE.index("a1")], strict=True))
        assert (a1["核銷分店"], a1["核銷人員"], a1["持票人姓名"]) == ("R001 台北門市", "rclerk01", "王小明")
        r002_id, clerk1_rows = tw.r002.id, tw.serials("d1", "a1")
        db.session.remove()

    client = pg_app.test_client()
    login(client, "rclerk01")
    body = client.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER,
                                                        "branch": r002_id}).get_data(as_text=True)
    assert row_serials(body) == clerk1_rows
    refused = client.get("/reports/tickets", query_string={"mode": "date", "start": "2026-08-01",
                                                           "end": "2026-11-21"})
    assert refused.status_code == 422 and "查詢區間不可超過三個月" in refused.get_data(as_text=True)


def test_the_status_filter_agrees_with_current_status_on_postgresql(pg_app):
    with pg_app.app_context():
        clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
        _, owner, pickup, gift = ready_store()
        combos = list(itertools.product(TicketStatus, (TODAY - timedelta(days=1), TODAY,
                                                       TODAY + timedelta(days=1))))
        for product in (pickup, gift):
            for ticket, (status, end) in zip(issue(owner, owner.store, product, quantity=len(combos)),
                                             combos, strict=True):
                db.session.execute(update(Ticket).where(Ticket.id == ticket.id)
                                   .values(status=status, expires_on=end))
        db.session.commit()
        db.session.expire_all()
        tickets = db.session.scalars(select(Ticket)).all()
        for wanted in [(s,) for s in TicketStatus] + [STATUS_GROUPS[g] for g in StatusGroup]:
            expected = {t.id for t in tickets if t.current_status in wanted}
            got = set(db.session.scalars(select(Ticket.id).where(
                report.status_condition(wanted, clock.business_day()))))
            assert got == expected and got, wanted
        db.session.remove()

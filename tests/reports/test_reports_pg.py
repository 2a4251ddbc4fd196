"""The circulation, cross-store and branch queries on PostgreSQL: the same hand-built world, the
same figures (CASE grouping, UNION ALL with constant columns, unscoped cross-store reads and
streamed Excel rows behave differently enough between the two databases to check both)."""

from __future__ import annotations

import pytest

from app.db import db
from app.reports import branch, circulation, cross_store
from app.tickets.status import TicketStatus as S
from tests.factories import login
from tests.reports.helpers import query_error, scope_of, text, xlsx_rows
from tests.reports.test_branch_report import A1_OCT, A2_OCT
from tests.reports.test_circulation import A1_OCTOBER, OCTOBER, figures
from tests.reports.world import OCT, build

pytestmark = pytest.mark.postgres
OCT_NOV = {"start": "2026-10-01", "end": "2026-11-30"}


def test_every_report_on_postgresql(pg_app, tmp_path):
    with pg_app.app_context():
        world = build(str(tmp_path / "bank.json"))
        # 流通報表
        whole = circulation.report(scope_of("aowner01", **OCT), circulation.parse(OCT))
        assert figures(whole.total) == OCTOBER and whole.total.outstanding.amount == 660
        a1 = circulation.report(scope_of("aclerk01", branch=world.a2.id, **OCT), circulation.parse(OCT))
        assert figures(a1.total) == A1_OCTOBER
        parent = circulation.report(scope_of("parent01", **OCT), circulation.parse(OCT))
        assert [(s.name, s.tally.issued.count) for s in parent.stores] == [("母商店", 0), ("報表商店甲", 15)]
        # 跨店核銷報表
        scope = scope_of("aowner01")
        query = cross_store.parse(scope, OCT_NOV)
        got = [cross_store.to_line(r) for r in db.session.execute(cross_store.lines(scope, query))]
        assert [line.serial for line in got] == world.serials_in_order("X5", "X2", "X1")
        assert [line.status for line in got] == [S.USED, S.REDEEMED, S.REDEEMED]
        assert cross_store.totals(scope, query).amount == 900
        assert list(cross_store.build_sheet(scope_of("aclerk02"), OCT_NOV).rows()) == []
        # 分店報表
        result = branch.summarise(scope_of("aowner01"), branch.parse(OCT))
        assert {b.branch.code: {op: (b.of(op).count, b.of(op).amount) for op in branch.Operation}
                for b in result.branches} == {"A001": A1_OCT, "A002": A2_OCT}
        sheet = branch.build_sheet(scope_of("aowner01"), OCT)
        assert sheet.count() == 17 and len(list(sheet.rows())) == 17
        db.session.remove()

    # the pages and an Excel download, through the views
    client = pg_app.test_client()
    login(client, "aclerk01")
    for path in ("/reports/circulation", "/reports/cross-store", "/reports/branch"):
        assert client.get(path, query_string=OCT).status_code == 200
        too_long = client.get(path, query_string={"start": "2026-01-01", "end": "2026-10-31"})
        assert too_long.status_code == 422 and query_error(text(too_long)) == "查詢區間不可超過三個月"
    rows = xlsx_rows(client.get("/reports/branch/export", query_string={**OCT, "branch": world.a2.id}).data)
    assert len(rows) == 1 + 7 + 2 + 1 and {r[3] for r in rows[1:]} == {"A001"}  # A1 only: 7 + 2 + 1

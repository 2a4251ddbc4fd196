"""Saved filters through the client: save on the ticket report, see it listed, apply it, delete
it; another account's filter is 404; CSRF; the 20-filter limit; the report's own permission
check on applying; the pages that offer the bar."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.saved_filters import pages, rules
from app.saved_filters.models import SavedFilter
from tests.factories import login, make_account, make_operator, make_saved_filter, make_store, make_sub

QUERY = "mode=date&q=1&date_type=redeemed&start=2026-11-01&end=2026-11-21&cols=order&page=3&format=xlsx"


@pytest.fixture
def world(app, ctx):  # noqa: ANN001, ANN201
    store = make_store()
    main = make_account(store, username="fmain001")
    viewer = make_sub(store, username="fview001", grants={Function.REPORT_TICKETS: Level.VIEW})
    make_sub(store, username="fnone001", grants={Function.ISSUED_ORDERS: Level.VIEW})
    db.session.commit()
    return store, main, viewer


def _save(client, name="十一月核銷", query=QUERY, report="reports.tickets", **more):  # noqa: ANN001, ANN202
    return client.post("/saved-filters/", data={"report": report, "name": name, "query": query, **more})


def _query_of(location: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(location).query)


def test_save_list_apply_and_delete_on_the_ticket_report(client, world):
    store, main, _ = world
    login(client, "fmain001")
    page = client.get(f"/reports/tickets?{QUERY}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="saved-filters"' in html and "儲存此篩選條件" in html
    assert "尚未儲存篩選條件" in html
    # the bar's hidden query is the page's own query: no page, no format
    assert 'name="query" value="mode=date&amp;q=1&amp;date_type=redeemed&amp;start=2026-11-01' in html
    assert "page=3" not in html.split('data-testid="saved-filters"')[1]

    saved = _save(client)
    assert saved.status_code == 303
    assert urlsplit(saved.headers["Location"]).path == "/reports/tickets"
    kept = [("mode", "date"), ("q", "1"), ("date_type", "redeemed"), ("start", "2026-11-01"),
            ("end", "2026-11-21"), ("cols", "order")]
    assert _query_of(saved.headers["Location"]) == kept
    row = db.session.scalar(select(SavedFilter))
    assert (row.name, row.account_id, row.store_id, row.report) == ("十一月核銷", main.id, store.id,
                                                                    "reports.tickets")

    listed = client.get("/reports/tickets").get_data(as_text=True)
    assert "已儲存篩選條件「十一月核銷」" in listed  # the flash
    assert f'href="/saved-filters/{row.id}"' in listed and "十一月核銷" in listed

    applied = client.get(f"/saved-filters/{row.id}")
    assert applied.status_code == 303
    assert _query_of(applied.headers["Location"]) == kept
    report = client.get(applied.headers["Location"])
    assert report.status_code == 200 and 'data-testid="ticket-report"' in report.get_data(as_text=True)

    deleted = client.post(f"/saved-filters/{row.id}/delete", data={"query": "mode=date&evil=1"})
    assert deleted.status_code == 303
    assert _query_of(deleted.headers["Location"]) == [("mode", "date")]
    assert db.session.scalar(select(SavedFilter.id)) is None
    assert "已刪除篩選條件「十一月核銷」" in client.get("/reports/tickets").get_data(as_text=True)
    assert client.get(f"/saved-filters/{row.id}").status_code == 404


def test_a_relative_range_is_saved_and_applied_as_of_today(client, world):
    login(client, "fmain001")
    today = clock.business_day()
    week_ago = (today - timedelta(days=6)).isoformat()
    query = f"mode=date&q=1&start={week_ago}&end={today.isoformat()}"
    assert _save(client, "最近七天", query, relative="1").status_code == 303
    row = db.session.scalar(select(SavedFilter))
    assert row.query == "mode=date&q=1&start=%40-6&end=%400"
    assert "最近 7 天" in client.get("/reports/tickets").get_data(as_text=True)
    applied = client.get(f"/saved-filters/{row.id}").headers["Location"]
    assert _query_of(applied)[2:] == [("start", week_ago), ("end", today.isoformat())]


@pytest.mark.parametrize(("name", "message"), [("", rules.NAME_REQUIRED), ("字" * 31, rules.NAME_TOO_LONG)])
def test_a_refused_save_says_why_on_the_report(client, world, name, message):
    login(client, "fmain001")
    refused = _save(client, name)
    assert refused.status_code == 303
    assert _query_of(refused.headers["Location"])[:2] == [("mode", "date"), ("q", "1")]
    assert message in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(SavedFilter.id)) is None


def test_the_twenty_first_filter_is_refused(client, world):
    store, main, _ = world
    for i in range(rules.PER_REPORT):
        make_saved_filter(main, store, name=f"F{i:02d}")
    db.session.commit()
    login(client, "fmain001")
    assert "已達 20 組上限" in client.get("/reports/tickets").get_data(as_text=True)
    refused = _save(client, "再一組")
    assert rules.TOO_MANY in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert db.session.query(SavedFilter).count() == rules.PER_REPORT


def test_another_accounts_filter_is_404(client, world):
    store, main, viewer = world
    other = make_store()
    mine = make_saved_filter(main, store, name="主帳號的")
    theirs = make_saved_filter(make_account(other, username="fother01"), other, name="別家的")
    db.session.commit()
    login(client, "fview001")  # a sub-account of the same store sees only its own
    page = client.get("/reports/tickets").get_data(as_text=True)
    assert "主帳號的" not in page and "別家的" not in page
    for filter_id in (mine.id, theirs.id):
        assert client.get(f"/saved-filters/{filter_id}").status_code == 404
        assert client.post(f"/saved-filters/{filter_id}/delete").status_code == 404
    assert db.session.query(SavedFilter).count() == 2
    assert client.get("/saved-filters/999999").status_code == 404


def test_save_and_delete_need_the_csrf_token(client, world):
    store, main, _ = world
    row = make_saved_filter(main, store)
    db.session.commit()
    login(client, "fmain001")
    assert client.post("/saved-filters/", data={"report": "reports.tickets", "name": "x"},
                       csrf=False).status_code == 400
    assert client.post(f"/saved-filters/{row.id}/delete", csrf=False).status_code == 400
    assert db.session.query(SavedFilter).count() == 1


@pytest.mark.parametrize("report", ["", "reports.ticket_history", "auth.login", "nope", "x" * 500])
def test_saving_for_a_page_that_offers_none_is_404(client, world, report):
    login(client, "fmain001")
    assert _save(client, report=report).status_code == 404
    assert db.session.query(SavedFilter).count() == 0


def test_applying_to_a_report_the_account_may_not_view_is_refused_by_the_report(client, world):
    login(client, "fnone001")
    assert client.get("/reports/tickets").status_code == 403
    assert _save(client).status_code == 303  # keeping a query is harmless …
    row = db.session.scalar(select(SavedFilter))
    applied = client.get(f"/saved-filters/{row.id}")
    assert applied.status_code == 303
    assert client.get(applied.headers["Location"]).status_code == 403  # … the report says no


def test_an_operator_saves_on_the_bills_overview(client, app, ctx):
    make_operator("opsaved1")
    db.session.commit()
    login(client, "opsaved1")
    page = client.get("/operator/bills?status=overdue&code=12")
    assert 'data-testid="saved-filters"' in page.get_data(as_text=True)
    saved = _save(client, "逾期", "status=overdue&code=12&page=2", report="operator.bills_overview")
    assert urlsplit(saved.headers["Location"]).path == "/operator/bills"
    row = db.session.scalar(select(SavedFilter))
    assert (row.store_id, row.query) == (None, "status=overdue&code=12")


OFFERING = {"reports.tickets", "reports.circulation", "reports.cross_store", "reports.branch",
            "orders.index", "sms.index", "transfers.index", "return_applications.index",
            "installments.reports", "billing.bills", "billing.return_fees", "billing.payouts",
            "merchant.login_history", "operator.bills_overview"}


def test_the_report_and_list_pages_offer_saved_filters(app):
    with app.test_request_context():
        offering = {e for e in app.view_functions if pages.keys_for(e) is not None}
        assert offering == OFFERING
        assert {"start", "end", "order_no", "purchaser"} <= pages.keys_for("orders.index")
        assert "csrf_token" not in pages.keys_for("orders.index")
        assert pages.keys_for("orders.detail") is None


@pytest.mark.parametrize("url", ["/orders/", "/transfers/", "/return-applications/", "/reports/circulation",
                                 "/vendor/login-history"])
def test_list_pages_show_the_bar(client, world, url):
    login(client, "fmain001")
    response = client.get(url)
    assert response.status_code == 200, url
    assert 'data-testid="saved-filters"' in response.get_data(as_text=True)

"""紙本票券列印 pages: the list and its filters, Excel, 列印所選 (PDF, recorded), 測試列印, print
history; rights (view / modify) and tenancy (another store's ids answer 404, nothing printed);
the operator's platform-print page; the ticket's history shows its prints."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.billing.models import Charge, FeeKind
from app.db import db
from app.printing.models import PrintKind
from app.tickets.models import Ticket
from tests.factories import login, make_branch, make_product, make_sub
from tests.issuance.helpers import ready_store
from tests.operator.helpers import operator_logged_in
from tests.printing.helpers import ELECTRONIC, PLATFORM, paper_tickets, pdf_text, qr_codes, runs


def _html(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


@pytest.fixture
def shop(ctx, client):
    store, owner, pickup, gift = ready_store()
    login(client, "issuer01")
    return store, owner, pickup


def _shown(client, **args) -> set[str]:  # noqa: ANN001
    page = _html(client.get("/printing/", query_string=args))
    return set(re.findall(r'data-ticket-id="(\d+)"', page))


def _ids(tickets) -> set[str]:  # noqa: ANN001
    return {str(t.id) for t in tickets}


def test_the_list_shows_only_merchant_print_tickets_with_filters(shop, client):
    store, owner, pickup = shop
    coffee = paper_tickets(owner, store, pickup, 2)
    tea = make_product(store, "紅茶券", face_value=60)
    db.session.commit()
    [tea_ticket] = paper_tickets(owner, store, tea, 1)
    electronic = paper_tickets(owner, store, pickup, 1, method=ELECTRONIC)
    platform = paper_tickets(owner, store, pickup, 1, method=PLATFORM)
    job_ids = [coffee[0].id]
    client.post("/printing/print", data={"ticket_id": job_ids})
    assert _shown(client) == _ids([*coffee, tea_ticket])
    assert not _ids(electronic + platform) & _shown(client)
    assert _shown(client, product=str(tea.id)) == _ids([tea_ticket])
    assert _shown(client, printed="printed") == {str(coffee[0].id)}
    assert _shown(client, printed="unprinted") == _ids([coffee[1], tea_ticket])
    assert _shown(client, number=coffee[1].serial.lower()) == {str(coffee[1].id)}
    order_no = db.session.scalar(select(Ticket.order_id).where(Ticket.id == tea_ticket.id))
    from app.tickets.models import Order
    order = db.session.get(Order, order_no)
    assert _shown(client, number=order.order_no) == {str(tea_ticket.id)}
    assert _shown(client, number=order.merchant_order_no) == {str(tea_ticket.id)}
    page = _html(client.get("/printing/"))
    for control in ('data-testid="print-selected"', 'data-testid="sample-form"', 'name="ticket_id"'):
        assert control in page
    assert coffee[0].serial in page


def test_the_date_range_defaults_to_30_days_and_is_at_most_three_months(shop, client):
    store, owner, pickup = shop
    clock.freeze(clock.taipei_datetime(2026, 1, 5, 10))
    [old] = paper_tickets(owner, store, pickup, 1)
    clock.freeze(clock.taipei_datetime(2026, 3, 20, 10))
    assert _shown(client) == set()
    assert _shown(client, number=old.serial) == {str(old.id)}
    assert _shown(client, start="2026-01-01", end="2026-03-20") == {str(old.id)}
    response = client.get("/printing/", query_string={"start": "2026-01-01", "end": "2026-04-02"})
    assert response.status_code == 422 and "不可超過三個月" in _html(response)
    assert client.get("/printing/", query_string={"printed": "bogus"}).status_code == 422


def test_excel_of_the_list(shop, client):
    store, owner, pickup = shop
    tickets = paper_tickets(owner, store, pickup, 2)
    client.post("/printing/print", data={"ticket_id": [tickets[0].id]})
    response = client.get("/printing/", query_string={"format": "xlsx"})
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    wb.close()
    assert rows[0][:5] == ["票券序號", "ECT訂單編號", "廠商訂單編號", "商品", "面額"]
    by_serial = {r[0]: r for r in rows[1:]}
    assert set(by_serial) == {t.serial for t in tickets}
    assert by_serial[tickets[0].serial][8] == 1 and by_serial[tickets[1].serial][8] == 0
    assert by_serial[tickets[0].serial][3] == pickup.name


def test_print_selected_answers_a_pdf_and_records_the_run(shop, client, tmp_path):
    store, owner, pickup = shop
    tickets = paper_tickets(owner, store, pickup, 2)
    response = client.post("/printing/print", data={"ticket_id": [t.id for t in tickets]})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    text = pdf_text(data, tmp_path)
    assert all(t.serial in text for t in tickets)
    assert qr_codes(data, tmp_path, first=1, last=2) == [[t.code] for t in tickets]
    [run] = runs()
    assert (run.kind, run.ticket_count, run.account_id) == (PrintKind.MERCHANT, 2, owner.id)


def test_another_stores_ticket_in_the_form_is_a_404_and_prints_nothing(shop, client):
    store, owner, pickup = shop
    [mine] = paper_tickets(owner, store, pickup, 1)
    other, other_owner, other_pickup, _ = ready_store("issuer02")
    [theirs] = paper_tickets(other_owner, other, other_pickup, 1)
    response = client.post("/printing/print", data={"ticket_id": [mine.id, theirs.id]})
    assert response.status_code == 404
    assert runs() == []
    db.session.expire_all()
    assert db.session.get(Ticket, mine.id).print_count == 0


def test_an_electronic_ticket_in_the_form_is_a_404(shop, client):
    store, owner, pickup = shop
    [e] = paper_tickets(owner, store, pickup, 1, method=ELECTRONIC)
    assert client.post("/printing/print", data={"ticket_id": [e.id]}).status_code == 404
    assert runs() == []


@pytest.mark.parametrize("data", [{}, {"ticket_id": ["abc"]}, {"ticket_id": ["0"]}])
def test_nothing_or_nonsense_chosen_goes_back_with_a_message(shop, client, data):
    response = client.post("/printing/print?printed=unprinted", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/printing/?printed=unprinted"
    page = _html(client.get(response.headers["Location"]))
    assert "請先勾選要列印的票券" in page or "所選票券有誤" in page
    assert runs() == []


def test_printing_needs_the_csrf_token(shop, client):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    assert client.post("/printing/print", data={"ticket_id": [t.id]}, csrf=False).status_code == 400
    assert runs() == []


def test_test_print_answers_a_marked_sample(shop, client, tmp_path):
    response = client.post("/printing/sample")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "測試列印 SAMPLE — 不可使用" in pdf_text(response.get_data(), tmp_path)
    [run] = runs()
    assert (run.kind, run.ticket_count) == (PrintKind.TEST, 0)


def test_print_history_lists_runs_and_a_run_its_tickets(shop, client):
    store, owner, pickup = shop
    a, b = paper_tickets(owner, store, pickup, 2)
    client.post("/printing/print", data={"ticket_id": [a.id]})
    client.post("/printing/print", data={"ticket_id": [a.id, b.id]})
    client.post("/printing/sample")
    page = _html(client.get("/printing/runs"))
    rows = re.findall(r'data-run-id="(\d+)" data-kind="(\w+)"', page)
    assert [kind for _, kind in rows] == ["test", "merchant", "merchant"]
    assert "issuer01" in page and "測試列印" in page
    second = rows[1][0]
    detail = _html(client.get(f"/printing/runs/{second}"))
    assert set(re.findall(r'data-testid="run-ticket" data-ticket-id="(\d+)"', detail)) == _ids([a, b])
    assert client.get("/printing/runs", query_string={"start": "2026-01-01", "end": "2026-05-01"}
                      ).status_code == 422


def test_the_tickets_own_history_shows_each_print(shop, client):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    client.post("/printing/print", data={"ticket_id": [t.id]})
    client.post("/printing/print", data={"ticket_id": [t.id]})
    page = _html(client.get(f"/tickets/{t.serial}"))
    assert page.count('data-action="printed"') == 2
    assert "第 2 次列印" in page and "已列印" in page and "共 2 次" in page


def test_a_viewer_sees_the_list_but_cannot_print(shop, client, app):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    make_sub(store, username="viewer01", grants={Function.PAPER_PRINTING: Level.VIEW})
    make_sub(store, username="nobody01", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    viewer = app.test_client()
    login(viewer, "viewer01")
    page = _html(viewer.get("/printing/"))
    assert t.serial in page
    for control in ('data-testid="print-selected"', 'data-testid="sample-form"', 'name="ticket_id"'):
        assert control not in page
    assert viewer.post("/printing/print", data={"ticket_id": [t.id]}).status_code == 403
    assert viewer.post("/printing/sample").status_code == 403
    assert viewer.get("/printing/runs").status_code == 200
    nobody = app.test_client()
    login(nobody, "nobody01")
    assert nobody.get("/printing/").status_code == 403
    assert nobody.get("/printing/runs").status_code == 403
    assert runs() == []


def test_a_branch_bound_sub_account_with_the_right_may_print(shop, client, app):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    branch = make_branch(store, "B001", "分店")
    make_sub(store, "printer1", branch=branch, grants={Function.PAPER_PRINTING: Level.MODIFY})
    db.session.commit()
    other = app.test_client()
    login(other, "printer1")
    assert other.post("/printing/print", data={"ticket_id": [t.id]}).status_code == 200


def test_the_menu_entry(shop, client):
    assert "紙本票券列印" in _html(client.get("/printing/"))


# Operator: platform print ----------------------------------------------------------------------

def test_platform_print_page_file_and_mark_printed_once(app, ctx, tmp_path):
    store, owner, pickup, gift = ready_store()
    tickets = paper_tickets(owner, store, pickup, 2, method=PLATFORM)
    paper_tickets(owner, store, pickup, 1)  # merchant print: not the operator's
    batch_id = tickets[0].batch_id
    op = app.test_client()
    operator_logged_in(op)
    page = _html(op.get("/operator/platform-print/"))
    assert re.findall(r'data-batch-id="(\d+)" data-printed="(\w+)"', page) == [(str(batch_id), "no")]
    assert "平台列印作業" in page
    response = op.get(f"/operator/platform-print/{batch_id}/file")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.get_data(), tmp_path)
    assert all(t.serial in text for t in tickets)
    assert runs() == []  # downloading is not printing

    response = op.post(f"/operator/platform-print/{batch_id}/printed")
    assert response.status_code in (302, 303)
    assert "已標記批次" in _html(op.get(response.headers["Location"]))
    response = op.post(f"/operator/platform-print/{batch_id}/printed")
    assert "未重複計費" in _html(op.get(response.headers["Location"]))
    [run] = runs()
    assert (run.kind, run.ticket_count, run.batch_id) == (PrintKind.PLATFORM, 2, batch_id)
    charges = db.session.scalars(select(Charge).where(Charge.kind == FeeKind.PAPER_PRINT)).all()
    assert [c.quantity for c in charges] == [2]
    page = _html(op.get("/operator/platform-print/", query_string={"state": "printed"}))
    assert re.findall(r'data-batch-id="(\d+)" data-printed="(\w+)"', page) == [(str(batch_id), "yes")]
    assert op.get("/operator/platform-print/", query_string={"state": "unprinted"}).status_code == 200
    merchant_batch = db.session.scalar(select(Ticket.batch_id).where(
        Ticket.delivery_method == "paper:merchant_print"))
    assert op.get(f"/operator/platform-print/{merchant_batch}/file").status_code == 404
    assert op.post(f"/operator/platform-print/{merchant_batch}/printed").status_code == 404


def test_merchants_cannot_use_the_platform_print_pages(shop, client):
    store, owner, pickup = shop
    tickets = paper_tickets(owner, store, pickup, 1, method=PLATFORM)
    batch_id = tickets[0].batch_id
    assert client.get("/operator/platform-print/").status_code == 403
    assert client.get(f"/operator/platform-print/{batch_id}/file").status_code == 403
    assert client.post(f"/operator/platform-print/{batch_id}/printed").status_code == 403
    assert runs() == []


def test_another_stores_print_run_is_a_404(shop, client, app):
    store, owner, pickup = shop
    [t] = paper_tickets(owner, store, pickup, 1)
    client.post("/printing/print", data={"ticket_id": [t.id]})
    [run] = runs()
    assert client.get(f"/printing/runs/{run.id}").status_code == 200
    other, other_owner, _, _ = ready_store("issuer02")
    intruder = app.test_client()
    login(intruder, "issuer02")
    assert intruder.get(f"/printing/runs/{run.id}").status_code == 404
    assert t.serial not in _html(intruder.get("/printing/runs"))

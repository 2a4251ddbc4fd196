"""Rule e: merchant order numbers (廠商訂單編號).

Within one batch, rows sharing a merchant order number are one order of several products (the
same purchaser); across batches, a number an earlier batch took (issued, queued or issuing) is a
row error at preview, confirm and API time, never a failed job. The rule's text is in
app/issuance/rules.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import jobs
from app.db import db
from app.issuance import jobs as issuance_jobs
from app.issuance import services
from app.issuance.models import Batch, BatchStatus
from app.notifications.models import Message
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from tests.api.conftest import bearer, token_for  # noqa: F401  (the API tests' token fixture)
from tests.factories import login
from tests.issuance.helpers import ready_store, rows
from tests.issuance.page_helpers import only_batch, row, template_file, tickets, upload
from tests.products.helpers import freeze_today
from tests.wallet.helpers import confirm as confirm_link

TAKEN = "廠商訂單編號已使用於匯入單號 {}"
GENERIC = services.FAILED


def _prepare(owner, store, batch_rows, import_no):  # noqa: ANN001, ANN202
    batch = services.prepare_batch(owner, store, import_no=import_no,
                                   method=DeliveryMethod.IMMEDIATE, kind=None, rows=batch_rows)
    db.session.commit()
    return batch


def _issue(owner, store, batch_rows, import_no):  # noqa: ANN001, ANN202
    batch = _prepare(owner, store, batch_rows, import_no)
    outcome = services.confirm_batch(owner, store, batch)
    db.session.commit()  # the job runs (inline in tests) after this commit
    db.session.expire_all()
    return outcome, db.session.get(Batch, batch.id)


def _hold_jobs(monkeypatch) -> list:  # noqa: ANN001
    """Keep confirmed batches queued; returns the held jobs' ids, to run them later."""
    held: list = []
    monkeypatch.setattr(jobs, "enqueue", lambda func, *ids, **kw: held.append((func, ids)))
    return held


def _run(held: list) -> None:
    for func, ids in held:
        if func == services.ISSUE_JOB:
            issuance_jobs.issue_batch(*ids)
    db.session.expire_all()


def _errors(batch: Batch) -> list[str | None]:
    db.session.expire_all()
    return [r["errors"].get("廠商訂單編號") for r in db.session.get(Batch, batch.id).rows]


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    freeze_today()
    return ready_store("mershop01")


# Several products in one merchant order ------------------------------------------------------

def test_rule_e_two_products_in_one_merchant_order_are_issued_as_one_order(shop, client):
    store, owner, pickup, gift = shop
    both = rows(pickup, quantity=2, prefix="ORD") + rows(gift, quantity=1, prefix="ORD")
    assert both[0]["廠商訂單編號"] == both[1]["廠商訂單編號"] == "ORD0000"
    outcome, batch = _issue(owner, store, both, "TWOPROD")
    assert outcome is services.Confirmation.QUEUED and batch.status is BatchStatus.SUCCEEDED
    order = db.session.scalars(select(Order)).one()
    assert (order.merchant_order_no, order.ticket_count, order.amount) == ("ORD0000", 3, 2 * 150 + 80)
    issued = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
    assert [t.product_id for t in issued] == [pickup.id, pickup.id, gift.id]
    assert {t.order_id for t in issued} == {order.id}
    notices = db.session.scalars(select(Message).where(Message.order_id == order.id)).all()
    assert notices and len(notices) == len({m.channel for m in notices})  # one notice per channel
    assert all("共3張" in m.body or "共 3 張" in m.body for m in notices)

    login(client, "mershop01")
    listed = client.get("/orders/?merchant_order_no=ORD0000").get_data(as_text=True)
    assert listed.count(order.order_no) == 1
    detail = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "咖啡券" in detail and "甜點券" in detail and "3 張" in detail
    client.post("/logout")
    assert confirm_link(client, order.link_token).status_code in (302, 303)
    wallet = client.get(f"/t/{order.link_token}").get_data(as_text=True)
    assert "咖啡券" in wallet and "甜點券" in wallet


def test_rule_e_rows_of_one_merchant_order_with_different_purchasers_cannot_be_issued(shop):
    store, owner, pickup, gift = shop
    mixed = rows(pickup, prefix="MIX") + rows(gift, prefix="MIX", mobile="0922333444")
    batch = _prepare(owner, store, mixed, "MIXED")
    assert _errors(batch) == ["同一廠商訂單編號的購買人資料須相同"] * 2
    assert not services.batch_is_issuable(batch)


# Across batches --------------------------------------------------------------------------------

def test_rule_e_a_number_issued_by_an_earlier_batch_is_a_preview_error(shop):
    store, owner, pickup, _ = shop
    _issue(owner, store, rows(pickup, count=2), "FIRST")
    later = _prepare(owner, store, rows(pickup, count=3), "LATER")
    assert _errors(later) == [TAKEN.format("FIRST")] * 2 + [None]


def test_rule_e_a_batch_still_queued_holds_its_numbers_at_the_next_preview(shop, monkeypatch):
    store, owner, pickup, _ = shop
    held = _hold_jobs(monkeypatch)
    outcome, first = _issue(owner, store, rows(pickup), "QUEUED1")
    assert outcome is services.Confirmation.QUEUED and first.status is BatchStatus.QUEUED
    second = _prepare(owner, store, rows(pickup), "QUEUED2")
    assert _errors(second) == [TAKEN.format("QUEUED1")]
    _run(held)
    assert db.session.get(Batch, first.id).status is BatchStatus.SUCCEEDED


def test_rule_e_two_previews_the_second_confirm_gets_the_row_error_not_a_failed_job(shop):
    store, owner, pickup, _ = shop
    first = _prepare(owner, store, rows(pickup, count=2), "RACE1")
    second = _prepare(owner, store, rows(pickup, count=2, prefix="M") + rows(pickup, prefix="N"),
                      "RACE2")
    assert services.batch_is_issuable(first) and services.batch_is_issuable(second)
    assert services.confirm_batch(owner, store, first) is services.Confirmation.QUEUED
    db.session.commit()
    outcome = services.confirm_batch(owner, store, second)
    db.session.commit()
    assert outcome is services.Confirmation.ORDER_NOS_TAKEN
    db.session.expire_all()
    second = db.session.get(Batch, second.id)
    assert second.status is BatchStatus.PREVIEW and second.error_count == 2
    assert _errors(second) == [TAKEN.format("RACE1")] * 2 + [None]
    assert db.session.scalars(select(Batch.status)).all().count(BatchStatus.FAILED) == 0
    assert tickets() == 2


def test_rule_e_a_failed_batch_takes_no_number(shop, monkeypatch):
    store, owner, pickup, _ = shop

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(services, "insert_tickets", crash)
        _, failed = _issue(owner, store, rows(pickup), "FAILS")
    assert failed.status is BatchStatus.FAILED
    _, retried = _issue(owner, store, rows(pickup), "RETRY")
    assert retried.status is BatchStatus.SUCCEEDED


def test_rule_e_a_race_slipping_past_the_checks_fails_the_job_with_the_specific_reason(
        shop, monkeypatch):
    store, owner, pickup, _ = shop
    held = _hold_jobs(monkeypatch)
    first = _prepare(owner, store, rows(pickup), "SLIP1")
    second = _prepare(owner, store, rows(pickup), "SLIP2")
    monkeypatch.setattr(services, "_take_order_nos", lambda store, batch: True)  # the race
    for batch in (first, second):
        assert services.confirm_batch(owner, store, batch) is services.Confirmation.QUEUED
        db.session.commit()
    _run(held)
    first, second = db.session.get(Batch, first.id), db.session.get(Batch, second.id)
    assert first.status is BatchStatus.SUCCEEDED
    assert second.status is BatchStatus.FAILED
    assert second.error == "廠商訂單編號 M0000 已使用於匯入單號 SLIP1，發行未完成" != GENERIC
    assert tickets() == 1


# The pages and the API -------------------------------------------------------------------------

def test_rule_e_pages_two_uploads_while_the_first_is_queued(shop, client, monkeypatch):
    _, _, pickup, _ = shop
    login(client, "mershop01")
    _hold_jobs(monkeypatch)
    upload(client, template_file([row(pickup, "P1"), row(pickup, "P2")]), import_no="PAGE1")
    upload(client, template_file([row(pickup, "P2"), row(pickup, "P3")]), import_no="PAGE2")
    first, second = db.session.scalars(select(Batch).order_by(Batch.id)).all()
    assert client.post(f"/issuance/batches/{first.id}/confirm").status_code in (302, 303)
    response = client.post(f"/issuance/batches/{second.id}/confirm", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已被其他匯入單號使用" in page and TAKEN.format("PAGE1") in page
    assert 'data-testid="download-errors"' in page
    db.session.expire_all()
    assert db.session.get(Batch, second.id).status is BatchStatus.PREVIEW

    upload(client, template_file([row(pickup, "P2")]), import_no="PAGE3")
    third = db.session.scalars(select(Batch).where(Batch.import_no == "PAGE3")).one()
    preview = client.get(f"/issuance/batches/{third.id}").get_data(as_text=True)
    assert TAKEN.format("PAGE1") in preview and 'data-testid="confirm-form"' not in preview


def test_rule_e_pages_one_order_of_two_rows_counts_once(shop, client):
    _, _, pickup, _ = shop
    login(client, "mershop01")
    upload(client, template_file([row(pickup, "ONE", quantity=2), row(pickup, "ONE")]),
           import_no="COUNT1")
    page = client.get(f"/issuance/batches/{only_batch().id}").get_data(as_text=True)
    assert 'data-testid="total-orders">1<' in page and 'data-testid="total-tickets">3<' in page


def _api(client, headers, import_no, api_rows):  # noqa: ANN001, ANN202
    return client.post("/api/v1/batches", headers=headers, json={
        "import_no": import_no, "delivery_type": "electronic", "method": "immediate",
        "rows": api_rows})


def _api_row(product, number, **extra):  # noqa: ANN001, ANN003, ANN202
    return {"product_id": product.id, "quantity": 1, "merchant_order_no": number,
            "purchaser_name": "王小明", "mobile": "0912345678", **extra}


def test_rule_e_api_one_order_of_two_products_then_reuse_is_a_row_error(shop, client, token_for,  # noqa: F811
                                                                       monkeypatch):
    store, owner, pickup, gift = shop
    _, plain = token_for(owner)
    headers = bearer(plain)
    held = _hold_jobs(monkeypatch)
    accepted = _api(client, headers, "API1", [_api_row(pickup, "A1"), _api_row(gift, "A1")])
    assert accepted.status_code == 202
    queued = _api(client, headers, "API2", [_api_row(pickup, "A1")])  # API1 is still queued
    assert queued.status_code == 422
    error = queued.get_json()["error"]
    assert error["code"] == "invalid_rows"
    assert error["rows"] == [{"row": 1, "errors": {"merchant_order_no": TAKEN.format("API1")}}]
    differing = _api(client, headers, "API3", [_api_row(pickup, "B1"),
                                               _api_row(gift, "B1", purchaser_name="陳小華")])
    assert differing.status_code == 422
    assert [r["errors"] for r in differing.get_json()["error"]["rows"]] == [
        {"merchant_order_no": "同一廠商訂單編號的購買人資料須相同"}] * 2
    _run(held)
    got = client.get(f"/api/v1/batches/{accepted.get_json()['id']}", headers=headers).get_json()
    assert got["status"] == "succeeded"
    assert {t["merchant_order_no"] for t in got["tickets"]} == {"A1"}
    assert len({t["order_no"] for t in got["tickets"]}) == 1
    assert sorted(t["product_id"] for t in got["tickets"]) == sorted([pickup.id, gift.id])
    assert db.session.scalars(select(Batch.import_no)).all() == ["API1"]  # 422s leave nothing


def test_rule_e_api_a_batch_confirmed_while_the_request_ran_is_a_row_error(shop, client,
                                                                          token_for,  # noqa: F811
                                                                          monkeypatch):
    store, owner, pickup, _ = shop
    _, plain = token_for(owner)
    _hold_jobs(monkeypatch)
    rival = _prepare(owner, store, rows(pickup, prefix="R"), "RIVAL")
    real_prepare = services.prepare_batch

    def prepare_then_rival_confirms(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        batch = real_prepare(*args, **kwargs)  # checked before the rival is confirmed
        db.session.execute(
            Batch.__table__.update().where(Batch.id == rival.id).values(status=BatchStatus.QUEUED))
        return batch

    monkeypatch.setattr(services, "prepare_batch", prepare_then_rival_confirms)
    response = _api(client, bearer(plain), "LATE", [_api_row(pickup, "R0000")])
    assert response.status_code == 422
    assert response.get_json()["error"]["rows"] == [
        {"row": 1, "errors": {"merchant_order_no": TAKEN.format("RIVAL")}}]

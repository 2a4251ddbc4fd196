"""Issuing installment orders (service, on a real database): preview, confirm, the job, what an
order and its periods get, all-or-nothing, serials unique with tickets', the serial fee, the
refund URL in force at issue, who may issue, leases; PostgreSQL for progress, a race and a
1000-order batch."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from app import clock, jobs
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.billing.models import Charge, FeeKind, FeeRate
from app.db import db
from app.errors import DomainError, InvalidInput
from app.history import HistoryEntry
from app.installments import issuing
from app.installments import jobs as installment_jobs
from app.installments.models import (
    InstallmentBatch,
    InstallmentOrder,
    InstallmentPeriod,
    InstallmentSettings,
    UnissuedOrder,
)
from app.installments.status import PeriodStatus
from app.issuance import numbering
from app.issuance.models import BatchStatus
from app.issuance.services import Confirmation
from app.stores.models import RedemptionMode, Store
from app.tickets import codes
from app.tickets.models import Ticket
from tests.concurrency import Ready, run_at_once
from tests.factories import make_account, make_branch, make_order, make_store, make_sub
from tests.products.helpers import TODAY, freeze_today

REFUND_URL = "https://shop.example.tw/refunds"
PAST_THE_LEASE = jobs.LEASE + timedelta(seconds=1)


# Builders (the page and API tests use them too) ---------------------------------------------------

def installment_store(username: str = "instowner1", *, count: int | None = 12,
                      days: int | None = 30, url: str | None = REFUND_URL,
                      **store_kw: object) -> tuple[Store, Account]:
    """A store in installment mode whose contract has `count` periods of `days` days, its main
    account, and its refund-notification URL (None: no settings row)."""
    store = make_store(mode=RedemptionMode.INSTALLMENT, **store_kw)
    contract = store.contracts[0]
    contract.installment_period_count, contract.installment_period_days = count, days
    contract.escrow_type = "信託"
    owner = make_account(store, username=username)
    if url is not None:
        db.session.add(InstallmentSettings(store_id=store.id, refund_notify_url=url))
    db.session.commit()
    return store, owner


def order_rows(count: int = 3, *, prefix: str = "IO", total: int = 12000,
               **cells: object) -> list[dict]:
    """Rows as read from the template (keyed by its headers)."""
    return [{"廠商訂單編號": f"{prefix}{i:04d}", "訂單總金額": total, "購買人姓名": f"購買人{i}",
             "手機": "0912345678", "Email": f"b{i}@example.com", "首期預計核銷日": None,
             "_row": i + 2, **cells} for i in range(count)]


def confirmed(store: Store, owner: Account, rows: list[dict], import_no: str = "IMP001",
              monkeypatch=None) -> InstallmentBatch:  # noqa: ANN001
    """A previewed and confirmed batch (its job runs inline after the commit, unless held)."""
    batch = issuing.prepare_batch(owner, store, import_no=import_no, rows=rows)
    db.session.commit()
    assert issuing.batch_is_issuable(batch), batch.rows
    if monkeypatch is not None:
        with monkeypatch.context() as held:
            held.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
            assert issuing.confirm_batch(owner, store, batch) is Confirmation.QUEUED
            db.session.commit()
    else:
        assert issuing.confirm_batch(owner, store, batch) is Confirmation.QUEUED
        db.session.commit()
    return reload(batch.id)


def reload(batch_id: int) -> InstallmentBatch:
    db.session.expire_all()
    return db.session.get(InstallmentBatch, batch_id)


def count(model) -> int:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def orders() -> list[InstallmentOrder]:
    db.session.expire_all()
    return list(db.session.scalars(select(InstallmentOrder).order_by(InstallmentOrder.id)))


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    freeze_today()
    return installment_store()


# Preview and confirm ---------------------------------------------------------------------------

def test_a_preview_keeps_the_checked_rows_and_issues_nothing(shop):
    store, owner = shop
    rows = order_rows(3)
    rows[1]["訂單總金額"] = 5
    batch = issuing.prepare_batch(owner, store, import_no="PRE1", rows=rows)
    db.session.commit()
    assert batch.status is BatchStatus.PREVIEW and batch.source == "upload"
    assert (batch.error_count, batch.order_count, batch.error) == (1, 2, "")
    assert batch.rows[1]["errors"] == {"訂單總金額": "訂單總金額須至少 12 元（共 12 期，每期至少 1 元）"}
    assert not issuing.batch_is_issuable(batch)
    with pytest.raises(DomainError, match="發行資料有錯誤"):
        issuing.confirm_batch(owner, store, batch)
    assert count(InstallmentOrder) == 0

    again = issuing.prepare_batch(owner, store, import_no="PRE1", rows=order_rows(2))
    db.session.commit()
    assert again.id == batch.id and issuing.batch_is_issuable(again)  # the preview is replaced
    assert count(InstallmentBatch) == 1


@pytest.mark.parametrize(("import_no", "message"), [
    ("", "請填寫匯入單號"), ("API:1", "匯入單號限英數字、- 或 _，最多 30 字"), ("X" * 31, "匯入單號限英數字、- 或 _，最多 30 字"),
])
def test_the_import_number_rule_is_the_ticket_one(shop, import_no, message):
    store, owner = shop
    with pytest.raises(InvalidInput, match=message):
        issuing.prepare_batch(owner, store, import_no=import_no, rows=order_rows(1))


def test_an_issued_order_gets_the_contract_terms_periods_serials_and_the_refund_url(shop):
    store, owner = shop
    rows = order_rows(2, total=12005)
    rows[1]["首期預計核銷日"] = "2027/01/15"
    batch = confirmed(store, owner, rows)
    assert (batch.status, batch.issued_count, batch.order_count, batch.error) == (
        BatchStatus.SUCCEEDED, 2, 2, "")
    first, second = orders()
    now = clock.now()
    for order in (first, second):
        assert order.order_no.startswith(f"ECT{TODAY:%Y%m%d}") and len(order.order_no) == 19
        assert (order.period_count, order.period_days, order.total_amount) == (12, 30, 12005)
        assert order.refund_notify_url == REFUND_URL and order.source == "upload"
        assert order.batch_id == batch.id and order.created_at == now
        assert [p.number for p in order.periods] == list(range(1, 13))
        assert [p.face_value for p in order.periods] == [1005] + [1000] * 11
        assert all(p.status is PeriodStatus.UNUSED and p.issued_at == now for p in order.periods)
        assert all(len(p.serial) == 16 and p.serial[5:13] == f"{TODAY:%Y%m%d}" for p in order.periods)
    assert (first.merchant_order_no, first.purchaser_name, first.purchaser_mobile,
            first.purchaser_email) == ("IO0000", "購買人0", "0912345678", "b0@example.com")
    assert first.first_date == TODAY + timedelta(days=30)  # one period after issue
    assert second.first_date == date(2027, 1, 15)
    assert [p.expected_date for p in second.periods] == [
        date(2027, 1, 15) + timedelta(days=30 * n) for n in range(12)]
    serial_list = [p.serial for o in (first, second) for p in o.periods]
    assert len(set(serial_list)) == 24
    assert serial_list == [codes.serial(serial_list[0][:5], TODAY, i) for i in range(24)]


def test_history_one_issued_entry_per_order_and_the_batch_story(shop):
    store, owner = shop
    batch = confirmed(store, owner, order_rows(3))
    entries = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "installment_orders")).all()
    assert sorted(e.subject_id for e in entries) == sorted(o.id for o in orders())
    assert {(e.action, e.actor_id, e.actor_label, e.store_id, e.reason) for e in entries} == {
        ("issued", owner.id, owner.username, store.id, "批次 IMP001")}
    story = db.session.scalars(select(HistoryEntry.action).where(
        HistoryEntry.subject_type == "installment_batches", HistoryEntry.subject_id == batch.id)
        .order_by(HistoryEntry.id)).all()
    assert story == ["previewed", "confirmed", "issued"]
    issued = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "installment_batches", HistoryEntry.action == "issued")).one()
    assert issued.changes == {"orders": [None, 3], "periods": [None, 36]}


def test_the_serial_fee_is_charged_per_period_created(shop):
    store, owner = shop
    db.session.add(FeeRate(store_id=store.id, kind=FeeKind.SERIAL, effective_from=date(2026, 1, 1),
                           amount=2))
    db.session.commit()
    batch = confirmed(store, owner, order_rows(3))
    charge = db.session.scalars(select(Charge)).one()
    assert (charge.kind, charge.quantity, charge.unit_amount, charge.amount, charge.day,
            charge.reference) == (FeeKind.SERIAL, 36, 2, 72, TODAY, f"installment_batch:{batch.id}")


def test_the_refund_url_in_force_at_issue_is_kept_and_later_changes_are_not_retroactive(shop):
    store, owner = shop
    confirmed(store, owner, order_rows(1, prefix="OLD"), import_no="B1")
    settings = db.session.scalars(select(InstallmentSettings)).one()
    settings.refund_notify_url = "https://shop.example.tw/new-refunds"
    db.session.commit()
    confirmed(store, owner, order_rows(1, prefix="NEW"), import_no="B2")
    assert {o.merchant_order_no: o.refund_notify_url for o in orders()} == {
        "OLD0000": REFUND_URL, "NEW0000": "https://shop.example.tw/new-refunds"}


def test_without_settings_the_refund_url_is_empty(ctx):
    freeze_today()
    store, owner = installment_store(url=None)
    confirmed(store, owner, order_rows(1))
    assert orders()[0].refund_notify_url == ""


def test_a_paid_unissued_order_points_at_its_issued_order(shop):
    store, owner = shop
    db.session.add(UnissuedOrder(store_id=store.id, merchant_order_no="IO0001", total_amount=12000))
    db.session.commit()
    confirmed(store, owner, order_rows(2))
    unissued = db.session.scalars(select(UnissuedOrder)).one()
    assert unissued.issued_order_id == next(o.id for o in orders() if o.merchant_order_no == "IO0001")


# All or nothing ---------------------------------------------------------------------------------

def test_a_crash_after_some_orders_leaves_nothing_behind(shop, monkeypatch):
    store, owner = shop
    monkeypatch.setattr(issuing, "PROGRESS_EVERY", 2)
    real = issuing._insert_periods
    calls = []

    def crash_on_the_second_chunk(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(issuing, "_insert_periods", crash_on_the_second_chunk)
    batch = confirmed(store, owner, order_rows(5))
    assert batch.status is BatchStatus.FAILED
    assert batch.error == "系統錯誤，發行未完成，請稍後重新發行或聯繫客服"
    assert (count(InstallmentOrder), count(InstallmentPeriod), count(Charge)) == (0, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.subject_type == "installment_orders")) == 0
    assert used_now(store) == {}  # a failed batch takes no number


def used_now(store: Store) -> dict:
    return issuing.used_order_nos(store.id, [f"IO{i:04d}" for i in range(5)])


def test_a_row_no_longer_issuable_fails_the_whole_batch_with_its_row(shop, monkeypatch):
    store, owner = shop
    rows = order_rows(3)
    rows[2]["訂單總金額"] = 12
    batch = confirmed(store, owner, rows, monkeypatch=monkeypatch)  # held in the queue
    store.contracts[0].installment_period_count = 24  # the operator changed the contract meanwhile
    db.session.commit()
    installment_jobs.issue_batch(batch.id)
    batch = reload(batch.id)
    assert batch.status is BatchStatus.FAILED
    assert batch.error == "第 4 列的訂單總金額少於合約期數 24 期，發行未完成"
    assert (count(InstallmentOrder), count(InstallmentPeriod)) == (0, 0)


def test_an_order_number_taken_in_a_race_fails_the_batch_with_the_clash(shop, monkeypatch):
    store, owner = shop
    other = issuing.prepare_batch(owner, store, import_no="OTHER", rows=order_rows(1))
    db.session.commit()
    batch = confirmed(store, owner, order_rows(2), monkeypatch=monkeypatch)
    other = reload(other.id)
    monkeypatch.setattr(issuing.shared, "take_order_nos", lambda *args, **kwargs: True)  # the race
    assert issuing.confirm_batch(owner, store, other) is Confirmation.QUEUED
    db.session.commit()  # OTHER issues IO0000 first
    installment_jobs.issue_batch(batch.id)
    batch = reload(batch.id)
    assert batch.status is BatchStatus.FAILED
    assert batch.error == "廠商訂單編號 IO0000 已使用於匯入單號 OTHER，發行未完成"
    assert [o.merchant_order_no for o in orders()] == ["IO0000"]


# Merchant order numbers and import numbers (rule e, as for tickets) ----------------------------------

def test_numbers_taken_by_an_issued_or_queued_batch_are_row_errors(shop, monkeypatch):
    store, owner = shop
    confirmed(store, owner, order_rows(1, prefix="DONE"), import_no="ISSUED")
    confirmed(store, owner, order_rows(1, prefix="WAIT"), import_no="QUEUED", monkeypatch=monkeypatch)
    rows = [*order_rows(1, prefix="DONE"), *order_rows(1, prefix="WAIT"), *order_rows(1, prefix="FREE")]
    batch = issuing.prepare_batch(owner, store, import_no="THIRD", rows=rows)
    assert [r["errors"] for r in batch.rows] == [
        {"廠商訂單編號": "廠商訂單編號已使用於匯入單號 ISSUED"},
        {"廠商訂單編號": "廠商訂單編號已使用於匯入單號 QUEUED"}, {}]


def test_a_number_taken_since_the_preview_is_marked_at_confirm(shop, monkeypatch):
    store, owner = shop
    late = issuing.prepare_batch(owner, store, import_no="LATE", rows=order_rows(2))
    db.session.commit()
    confirmed(store, owner, order_rows(1), import_no="EARLY", monkeypatch=monkeypatch)
    late = reload(late.id)
    assert issuing.confirm_batch(owner, store, late) is Confirmation.ORDER_NOS_TAKEN
    db.session.commit()
    late = reload(late.id)
    assert late.status is BatchStatus.PREVIEW and late.error_count == 1
    assert late.rows[0]["errors"] == {"廠商訂單編號": "廠商訂單編號已使用於匯入單號 EARLY"}


def test_a_batch_is_issued_once_however_often_it_is_confirmed_or_uploaded(shop):
    store, owner = shop
    batch = confirmed(store, owner, order_rows(2))
    assert issuing.confirm_batch(owner, store, batch) is Confirmation.ALREADY_CONFIRMED
    with pytest.raises(DomainError, match="此匯入單號已使用，同一匯入單號不會重複發行"):
        issuing.prepare_batch(owner, store, import_no="IMP001", rows=order_rows(2, prefix="X"))
    installment_jobs.issue_batch(batch.id)  # the job delivered twice
    assert count(InstallmentOrder) == 2 and count(InstallmentPeriod) == 24


# Who may issue ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("setup", "message"), [
    (lambda s, c: setattr(c, "issuance_active", False), "ECT發行服務尚未開通"),
    (lambda s, c: setattr(c, "end_date", date(2026, 11, 20)), "ECTicket 合約已到期"),
    (lambda s, c: setattr(c, "redemption_mode", RedemptionMode.REDEEM_AFTER_USE),
     "此商店的核銷方式不是分期核銷，無法發行分期核銷訂單"),
    (lambda s, c: setattr(c, "installment_period_count", None), "合約尚未設定核銷設定（期數、每期天數）"),
    (lambda s, c: setattr(c, "installment_period_days", None), "合約尚未設定核銷設定（期數、每期天數）"),
])
def test_issuing_is_refused_with_the_reason(shop, setup, message):
    store, owner = shop
    setup(store, store.contracts[0])
    db.session.commit()
    refusal = issuing.issuing_refusal(owner, store)
    assert refusal is not None and message in refusal.message
    with pytest.raises(DomainError, match=message):
        issuing.prepare_batch(owner, store, import_no="NO", rows=order_rows(1))
    assert count(InstallmentBatch) == 0


def test_a_sub_account_needs_the_reports_function_at_modify_and_an_enabled_branch(shop):
    store, _ = shop
    viewer = make_sub(store, grants={Function.INSTALLMENT_REPORTS: Level.VIEW})
    writer = make_sub(store, grants={Function.INSTALLMENT_REPORTS: Level.MODIFY})
    closed = make_sub(store, branch=make_branch(store, enabled=False),
                      grants={Function.INSTALLMENT_REPORTS: Level.MODIFY})
    db.session.commit()
    assert issuing.issuing_refusal(viewer, store).message == issuing.NO_RIGHT
    assert issuing.issuing_refusal(writer, store) is None
    assert issuing.issuing_refusal(closed, store).message == \
        "您所屬的分店已停用，僅可查詢報表，無法進行票券操作"


def test_a_batch_queued_before_the_service_stopped_still_refuses_a_new_confirm(shop):
    store, owner = shop
    batch = issuing.prepare_batch(owner, store, import_no="STOP", rows=order_rows(1))
    store.contracts[0].issuance_active = False
    db.session.commit()
    with pytest.raises(DomainError, match="ECT發行服務尚未開通"):
        issuing.confirm_batch(owner, store, batch)
    assert reload(batch.id).status is BatchStatus.PREVIEW


# Serials ------------------------------------------------------------------------------------------

def test_serial_prefixes_skip_those_tickets_used_that_day(shop, monkeypatch):
    store, owner = shop
    make_order(make_store())  # a ticket issued today
    db.session.commit()
    taken = db.session.scalars(select(Ticket.serial)).one()[:5]
    offered = iter([taken, taken, "FRESH"])
    monkeypatch.setattr(codes, "new_serial_prefix", lambda: next(offered))
    confirmed(store, owner, order_rows(1))
    assert {p.serial[:5] for o in orders() for p in o.periods} == {"FRESH"}


def test_a_prefix_used_on_another_day_is_free_again(shop, monkeypatch):
    store, owner = shop
    confirmed(store, owner, order_rows(1))
    used = orders()[0].periods[0].serial[:5]
    monkeypatch.setattr(codes, "new_serial_prefix", lambda: used)
    assert numbering.fresh_prefixes(TODAY + timedelta(days=1), 1) == [used]


def test_every_thousand_serials_take_a_new_prefix(shop):
    store, owner = shop
    confirmed(store, owner, order_rows(100))  # 1200 periods
    found = [p.serial for o in orders() for p in o.periods]
    prefixes = sorted({s[:5] for s in found})
    assert len(found) == len(set(found)) == 1200 and len(prefixes) == 2
    assert sorted(s[13:] for s in found if s[:5] == prefixes[0]) in (
        [f"{i:03d}" for i in range(1000)], [f"{i:03d}" for i in range(200)])


def test_a_ticket_batch_also_avoids_the_prefixes_periods_used(shop, monkeypatch):
    store, owner = shop
    confirmed(store, owner, order_rows(1))
    used = orders()[0].periods[0].serial[:5]
    offered = iter([used, "TIKET"])
    monkeypatch.setattr(codes, "new_serial_prefix", lambda: next(offered))
    assert numbering.fresh_prefixes(TODAY, 1) == ["TIKET"]


def test_ect_order_numbers_skip_those_any_order_has_and_never_repeat_in_a_batch(shop, monkeypatch):
    store, owner = shop
    ticket_order = make_order(make_store())
    db.session.commit()
    offered = iter([ticket_order.order_no, "ECT2026112100000001", "ECT2026112100000001",
                    "ECT2026112100000002", "ECT2026112100000003"])
    monkeypatch.setattr(codes, "new_order_no", lambda day: next(offered))
    confirmed(store, owner, order_rows(2))
    assert [o.order_no for o in orders()] == ["ECT2026112100000001", "ECT2026112100000002"]

    offered = iter(["ECT2026112100000002", "ECT2026112100000009"])  # now an installment order's
    monkeypatch.setattr(codes, "new_order_no", lambda day: next(offered))
    assert numbering.new_order_nos(TODAY, 1) == ["ECT2026112100000009"]


# Leases (rule j, as for tickets) ---------------------------------------------------------------------

def _sweep() -> int:
    return installment_jobs.sweep_batches(clock.now().isoformat())


def test_a_batch_left_issuing_by_a_dead_worker_is_issued_once_by_the_sweeper(shop, monkeypatch):
    store, owner = shop
    batch = confirmed(store, owner, order_rows(3), monkeypatch=monkeypatch)
    assert issuing.claim_batch(batch.id) == 1
    db.session.commit()  # …and the worker died
    clock.move(jobs.LEASE - timedelta(seconds=1))
    assert _sweep() == 0
    clock.move(timedelta(seconds=2))
    assert _sweep() == 1  # queued again; the job runs inline after the sweeper's commit
    batch = reload(batch.id)
    assert (batch.status, batch.attempts, batch.lease_until) == (BatchStatus.SUCCEEDED, 2, None)
    assert count(InstallmentOrder) == 3


def test_a_batch_abandoned_three_times_fails_with_the_reason(shop, monkeypatch):
    store, owner = shop
    batch = confirmed(store, owner, order_rows(1), monkeypatch=monkeypatch)
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
    for attempt in (1, 2, 3):
        assert issuing.claim_batch(batch.id) == attempt
        db.session.commit()
        clock.move(PAST_THE_LEASE)
        _sweep()
    batch = reload(batch.id)
    assert batch.status is BatchStatus.FAILED
    assert batch.error == "發行作業中斷（系統程序終止），未發行任何訂單，請以新的匯入單號重新發行"
    assert count(InstallmentOrder) == 0


def test_a_late_attempt_after_the_sweeper_took_the_batch_back_commits_nothing(shop, monkeypatch):
    store, owner = shop
    batch = confirmed(store, owner, order_rows(2), monkeypatch=monkeypatch)
    attempt = issuing.claim_batch(batch.id)
    db.session.commit()
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
    clock.move(PAST_THE_LEASE)
    assert _sweep() == 1  # back in the queue, attempt 1 is dead to it
    with pytest.raises(jobs.LeaseLost):
        issuing.issue_claimed_batch(batch.id, attempt)
    db.session.rollback()
    assert count(InstallmentOrder) == 0


# PostgreSQL ---------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_pg_progress_is_seen_from_another_connection_while_the_batch_is_issuing(pg_app, monkeypatch):
    monkeypatch.setattr(issuing, "PROGRESS_EVERY", 100)
    seen: list[int] = []
    with pg_app.app_context():
        freeze_today()
        store, owner = installment_store()
        batch = confirmed(store, owner, order_rows(300), monkeypatch=monkeypatch)
        url = db.engine.url
        real = installment_jobs._progress

        def watched(batch_id: int, attempt: int, issued: int) -> None:
            real(batch_id, attempt, issued)
            engine = create_engine(url)
            with engine.connect() as conn:  # what the page's request would read now
                seen.append(conn.execute(text("SELECT issued_count FROM installment_batches "
                                              "WHERE id = :id"), {"id": batch_id}).scalar())
                seen.append(conn.execute(text("SELECT count(*) FROM installment_orders")).scalar())
            engine.dispose()

        monkeypatch.setattr(installment_jobs, "_progress", watched)
        installment_jobs.issue_batch(batch.id)
        batch = reload(batch.id)
        assert batch.status is BatchStatus.SUCCEEDED and batch.issued_count == 300
        db.session.remove()
    assert seen == [100, 0, 200, 0, 300, 0]  # the count moves; the orders appear only at commit


@pytest.mark.postgres
def test_pg_a_1000_order_batch_of_12_periods_is_issued_in_one_go(pg_app):
    with pg_app.app_context():
        freeze_today()
        store, owner = installment_store()
        batch = issuing.prepare_batch(owner, store, import_no="BIG", rows=order_rows(1000))
        db.session.commit()
        started = time.perf_counter()
        assert issuing.confirm_batch(owner, store, batch) is Confirmation.QUEUED
        db.session.commit()  # the job runs inline
        elapsed = time.perf_counter() - started
        batch = reload(batch.id)
        assert batch.status is BatchStatus.SUCCEEDED, batch.error
        assert count(InstallmentOrder) == 1000 and count(InstallmentPeriod) == 12000
        assert db.session.scalar(select(func.count(func.distinct(InstallmentPeriod.serial)))) == 12000
        assert elapsed < 10  # the bench holds the 3-second goal; this only catches a collapse
        db.session.remove()


@pytest.mark.postgres
def test_pg_two_confirms_sharing_a_number_one_issues_the_other_gets_the_row_error(pg_app):
    with pg_app.app_context():
        freeze_today()
        store, owner = installment_store()
        ids = [issuing.prepare_batch(owner, store, import_no=n, rows=order_rows(3)).id
               for n in ("AT1", "AT2")]
        db.session.commit()
        store_id, owner_id = store.id, owner.id
        db.session.remove()

    def confirm(batch_id: int, ready: Ready) -> Confirmation:
        freeze_today()
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        batch = db.session.get(InstallmentBatch, batch_id)
        ready()
        return issuing.confirm_batch(account, store, batch)

    outcomes = run_at_once(pg_app, confirm, ids, timeout=30)
    assert sorted(o.value for o in outcomes) == ["order_nos_taken", "queued"]
    with pg_app.app_context():
        assert count(InstallmentOrder) == 3
        statuses = sorted(b.status.value for b in db.session.scalars(select(InstallmentBatch)))
        assert statuses == ["preview", "succeeded"]
        db.session.remove()



@pytest.mark.postgres
def test_pg_two_api_orders_with_one_number_at_once_one_is_issued_the_other_told_it_is_used(pg_app):
    with pg_app.app_context():
        freeze_today()
        store, owner = installment_store()
        store_id, owner_id = store.id, owner.id
        db.session.remove()
    fields = {"merchant_order_no": "RACE1", "total_amount": 1200, "purchaser_name": "王",
              "mobile": "0912345678"}

    def issue(name: str, ready: Ready) -> str:
        freeze_today()
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        ready()
        return issuing.issue_order(account, store, {**fields, "purchaser_name": name}).order_no

    outcomes = run_at_once(pg_app, issue, ["甲", "乙"], timeout=30)
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1 and refused[0].code == "order_no_used"
    assert refused[0].fields == {"merchant_order_no": "廠商訂單編號已使用於匯入單號 API:RACE1"}
    with pg_app.app_context():
        assert count(InstallmentOrder) == 1 and count(InstallmentPeriod) == 12
        db.session.remove()

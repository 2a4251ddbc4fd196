"""Printing paper tickets (docs/issuance.md): merchant print (廠商列印), the operator's platform print
(綠界列印), the convenience-store kiosk (ibon), test prints, and the PDF of what was printed.

Every print is one PrintRun with one PrintedTicket per ticket, written in the same transaction
as the tickets' new print state: `print_count + 1` and `printed_at` set on the first print, in
one UPDATE statement for the whole run (a 1000-ticket print is a handful of statements, not
thousands). Each printed ticket also gets a history entry (歷程 「列印」, bulk-inserted), so the
ticket's history page (票券明細, and 已發行訂單 › 票券歷程) lists every print with who and when.

A printed ticket's purchaser can no longer be changed and its notice not re-sent: app.orders
reads `Ticket.printed_at`, which these functions set.

Rows are locked before they are changed (`SELECT … FOR UPDATE`); the platform print's "done" is
a compare-and-set on `Batch.printed_at IS NULL`, so a second click changes and bills nothing.

They flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app import clock, history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.billing.models import FeeKind
from app.billing.services import record_charge
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.issuance.models import Batch, BatchStatus
from app.issuance.presentation import TicketFace, faces_for
from app.printing import pdf, rules
from app.printing.models import PrintedTicket, PrintKind, PrintRun
from app.settings.services import settings_or_blank
from app.stores.models import DeliveryMethod, Store
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus
from app.uploads.models import Upload
from app.uploads.services import path_of

MERCHANT_PRINT = DeliveryMethod.MERCHANT_PRINT
PLATFORM_PRINT = DeliveryMethod.PLATFORM_PRINT
IBON = DeliveryMethod.IBON

NO_RIGHT = "您沒有紙本票券列印的修改權限"
NOTHING_CHOSEN = "請先勾選要列印的票券"
TOO_MANY = f"一次最多列印 {rules.MAX_TICKETS_PER_PRINT} 張票券"
NOT_PRINTABLE = "找不到所選的票券，或所選票券不是廠商列印的紙本票券"
BATCH_NOT_FOUND = "找不到此綠界列印批次"
INVALID_PICKUP_CODE = "取票代碼無效"
ALREADY_PRINTED_AT_KIOSK = "此取票代碼的票券已列印，無法重複列印"
KIOSK_LABEL = "超商 ibon 列印"

SAMPLE_CODE = "SAMPLE-NOT-VALID"  # 14 characters once normalised: never a redemption code
SAMPLE_SERIAL = "SAMPLE0000000000"


@dataclass(frozen=True)
class PrintJob:
    run: PrintRun
    tickets: list[Ticket]  # in page order


@dataclass(frozen=True)
class PlatformOutcome:
    batch: Batch
    run: PrintRun | None  # None: it had been marked printed before (nothing changed)


# Rights ------------------------------------------------------------------------------------------

def may_print(actor: Account, store: Store) -> bool:
    return actor.may(Function.PAPER_PRINTING, Level.MODIFY, mode=access.mode_of(store))


def _check_right(actor: Account, store: Store) -> None:
    access.check(actor, store, Function.PAPER_PRINTING, no_right=NO_RIGHT)


# Recording a print -------------------------------------------------------------------------------

def _record_run(store_id: int, kind: PrintKind, tickets: Sequence[Ticket], *,
                account_id: int | None, actor_label: str, batch_id: int | None = None) -> PrintRun:
    """A PrintRun of the (locked) `tickets`, their PrintedTicket rows, their new print state
    (one UPDATE) and one history entry each (one bulk INSERT)."""
    now = clock.now()
    run = PrintRun(store_id=store_id, kind=kind, account_id=account_id,
                   actor_label=actor_label[:60], batch_id=batch_id, ticket_count=len(tickets),
                   created_at=now)
    db.session.add(run)
    db.session.flush()
    if not tickets:
        return run
    ids = [t.id for t in tickets]
    db.session.execute(insert(PrintedTicket), [
        {"store_id": store_id, "run_id": run.id, "ticket_id": i, "printed_at": now} for i in ids])
    db.session.execute(
        update(Ticket).where(Ticket.id.in_(ids), Ticket.store_id == store_id)
        .values(print_count=Ticket.print_count + 1,
                printed_at=func.coalesce(Ticket.printed_at, now))
        .execution_options(synchronize_session=False, unscoped=True))
    current = history.current_actor()
    actor = history.Actor(account_id, actor_label[:60], current.store_id, current.branch_id,
                          current.ip)
    rows = []
    for ticket in tickets:  # locked rows: their values are the database's, so keep them in step
        count = ticket.print_count + 1
        set_committed_value(ticket, "print_count", count)
        if ticket.printed_at is None:
            set_committed_value(ticket, "printed_at", now)
        rows.append({"subject_id": ticket.id, "store_id": store_id,
                     "reason": f"{kind.label}（第 {count} 次列印，列印紀錄 #{run.id}）"})
    history.record_many(Ticket.__tablename__, "printed", rows, actor=actor)
    return run


def _locked_tickets(*conditions) -> list[Ticket]:  # noqa: ANN002 - SQL conditions
    return list(db.session.scalars(
        select(Ticket).where(*conditions).order_by(Ticket.id).with_for_update()
        .execution_options(populate_existing=True, unscoped=True)))


# Merchant print (廠商列印) -------------------------------------------------------------------------

def print_tickets(actor: Account, store: Store, ticket_ids: Sequence[int]) -> PrintJob:
    """列印所選: the chosen merchant-print tickets of the store, printed once more (a first print,
    or a reprint of a lost or damaged ticket: both are recorded). Any id that is not such a
    ticket of this store refuses the whole print (404), so nothing is printed by mistake."""
    _check_right(actor, store)
    return _merchant_print(store, ticket_ids, account_id=actor.id, actor_label=actor.username)


def record_api_print(store: Store, ticket_ids: Sequence[int], *, actor_label: str) -> PrintJob:
    """A merchant print asked through the ECTicket API (QueryPrintData: the merchant's system
    prints the tickets itself). Recorded exactly like 列印所選 (a merchant PrintRun, the print
    count, one history entry per ticket) but without an account: the request's envelope under
    the store's keys is the authority, `actor_label` (e.g. "API:<Operator>") names who."""
    return _merchant_print(store, ticket_ids, account_id=None, actor_label=actor_label)


def _merchant_print(store: Store, ticket_ids: Sequence[int], *, account_id: int | None,
                    actor_label: str) -> PrintJob:
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        raise InvalidInput(NOTHING_CHOSEN)
    if len(ids) > rules.MAX_TICKETS_PER_PRINT:
        raise InvalidInput(TOO_MANY)
    tickets = _locked_tickets(Ticket.id.in_(ids), Ticket.store_id == store.id,
                              Ticket.delivery_method == MERCHANT_PRINT)
    if len(tickets) != len(ids):
        raise NotFound(NOT_PRINTABLE)
    run = _record_run(store.id, PrintKind.MERCHANT, tickets, account_id=account_id,
                      actor_label=actor_label)
    db.session.flush()
    return PrintJob(run, tickets)


def record_test_print(actor: Account, store: Store) -> PrintRun:
    """測試列印: recorded as a run without tickets; the page is `sample_pdf`."""
    _check_right(actor, store)
    run = _record_run(store.id, PrintKind.TEST, [], account_id=actor.id,
                      actor_label=actor.username)
    db.session.flush()
    return run


# Platform print (綠界列印, the operator) ---------------------------------------------------------

def platform_batch(batch_id: int, *, for_update: bool = False) -> Batch:
    """A succeeded platform-print batch of any store, or NotFound."""
    stmt = (select(Batch).where(Batch.id == batch_id, Batch.delivery_method == PLATFORM_PRINT,
                                Batch.status == BatchStatus.SUCCEEDED)
            .execution_options(unscoped=True, populate_existing=True))
    if for_update:
        stmt = stmt.with_for_update()
    batch = db.session.scalar(stmt)
    if batch is None:
        raise NotFound(BATCH_NOT_FOUND)
    return batch


def batch_tickets(batch: Batch) -> list[Ticket]:
    return list(db.session.scalars(
        select(Ticket).where(Ticket.batch_id == batch.id, Ticket.store_id == batch.store_id)
        .order_by(Ticket.id).execution_options(unscoped=True)))


def mark_platform_printed(operator: Account, batch_id: int) -> PlatformOutcome:
    """標記已列印: the batch's print run is done. Compare-and-set on `printed_at IS NULL`: the
    first call sets every ticket printed, records the run and bills the print fee (票券-紙本票券
    印製費, per ticket); any later call changes and bills nothing."""
    if not operator.is_operator:
        raise Forbidden("只有平台管理員可以標記綠界列印")
    platform_batch(batch_id)  # 404 unless it is a succeeded platform-print batch
    now = clock.now()
    claimed = db.session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.printed_at.is_(None),
                            Batch.delivery_method == PLATFORM_PRINT,
                            Batch.status == BatchStatus.SUCCEEDED)
        .values(printed_at=now)
        .execution_options(synchronize_session=False, unscoped=True)).rowcount
    batch = platform_batch(batch_id)
    if not claimed:
        return PlatformOutcome(batch, None)
    tickets = _locked_tickets(Ticket.batch_id == batch.id, Ticket.store_id == batch.store_id)
    run = _record_run(batch.store_id, PrintKind.PLATFORM, tickets, account_id=operator.id,
                      actor_label=operator.username, batch_id=batch.id)
    record_charge(batch.store_id, FeeKind.PAPER_PRINT, len(tickets), day=clock.business_day(now),
                  reference=f"print_run:{run.id}")
    db.session.flush()
    return PlatformOutcome(batch, run)


# Convenience-store kiosk (超商 ibon) -------------------------------------------------------------

def kiosk_order(pickup_code: str) -> Order:
    """The convenience-store order of a pickup code; NotFound (取票代碼無效) otherwise. A
    malformed code is looked up too (its row, if any, ignored): unknown and malformed take one
    path, one statement (the same-answer rule, docs/tickets.md)."""
    well_formed = rules.is_pickup_code(pickup_code)
    order = db.session.scalar(
        select(Order).where(Order.pickup_code.matches(pickup_code), Order.delivery_method == IBON)
        .execution_options(unscoped=True))
    if order is None or not well_formed:
        raise NotFound(INVALID_PICKUP_CODE)
    return order


def order_tickets(order: Order) -> list[Ticket]:
    return list(db.session.scalars(
        select(Ticket).where(Ticket.order_id == order.id, Ticket.store_id == order.store_id)
        .order_by(Ticket.id).execution_options(unscoped=True)))


def kiosk_print(pickup_code: str) -> PrintJob:
    """The kiosk prints the order's tickets: all of them, once. Marks them printed (which ends
    change of purchaser and re-send); a second print of the same code is refused."""
    well_formed = rules.is_pickup_code(pickup_code)
    order = db.session.scalar(
        select(Order).where(Order.pickup_code.matches(pickup_code), Order.delivery_method == IBON)
        .with_for_update().execution_options(unscoped=True, populate_existing=True))
    if order is None or not well_formed:
        raise NotFound(INVALID_PICKUP_CODE)
    tickets = _locked_tickets(Ticket.order_id == order.id, Ticket.store_id == order.store_id)
    if not tickets:
        raise NotFound(INVALID_PICKUP_CODE)
    if any(t.printed_at is not None for t in tickets):
        raise DomainError(ALREADY_PRINTED_AT_KIOSK, code="already_printed")
    run = _record_run(order.store_id, PrintKind.KIOSK, tickets, account_id=None,
                      actor_label=KIOSK_LABEL)
    db.session.flush()
    return PrintJob(run, tickets)


# PDFs ------------------------------------------------------------------------------------------------

def logos(faces: Sequence[TicketFace]) -> dict[int, Upload]:
    """{upload id: Upload} of the faces' logos."""
    ids = {f.logo_upload_id for f in faces if f.logo_upload_id is not None}
    if not ids:
        return {}
    uploads = db.session.scalars(select(Upload).where(Upload.id.in_(ids))
                                 .execution_options(unscoped=True))
    return {u.id: u for u in uploads}


def logo_files(faces: Sequence[TicketFace]) -> dict[int, Path]:
    return {upload_id: path_of(upload) for upload_id, upload in logos(faces).items()}


def footer_for(run: PrintRun) -> pdf.Footer:
    return pdf.Footer(f"{run.kind.label} {clock.taipei(run.created_at):%Y/%m/%d %H:%M} #{run.id}")


def tickets_pdf(tickets: Sequence[Ticket], footer: pdf.Footer | None = None) -> bytes:
    """The PDF of `tickets`, one page each, in the order given."""
    faces = faces_for(tickets)
    return pdf.render(faces, logos=logo_files(faces), footer=footer or pdf.Footer())


def batch_pdf(batch: Batch) -> bytes:
    """The print file of a platform-print batch: all its tickets (for the print shop)."""
    footer = pdf.Footer(f"{PrintKind.PLATFORM.label} {batch.import_no} #{batch.id}")
    return tickets_pdf(batch_tickets(batch), footer)


def sample_face(store: Store, *, today: date | None = None) -> TicketFace:
    """What a test print shows: the store's own header, customer-service info, logo and rights
    statement around sample data that no counter would accept."""
    settings = settings_or_blank(store)
    today = today or clock.business_day()
    return TicketFace(
        ticket_id=0, serial=SAMPLE_SERIAL, code=SAMPLE_CODE, code_display=SAMPLE_CODE,
        product_name="範例商品（測試列印）", description="",
        usage_instructions="此為測試列印樣張，僅供確認版面與印表機設定。",
        is_pickup=True, kind_label="提貨券", face_value=100, status=TicketStatus.UNUSED,
        status_label=TicketStatus.UNUSED.label, usable=False, valid_from=None,
        valid_until=today + timedelta(days=365),
        issuer_name=store.name, cs_phone=settings.cs_phone, cs_email=settings.cs_email,
        line_url=settings.line_url, facebook_url=settings.facebook_url,
        instagram_url=settings.instagram_url,
        rights_statement=settings.rights_statement or "（此處顯示提貨券的權益說明）",
        image_upload_id=None, logo_upload_id=settings.logo_upload_id, banner_upload_id=None)


def sample_pdf(store: Store, run: PrintRun) -> bytes:
    face = sample_face(store)
    return pdf.render([face], logos=logo_files([face]), footer=footer_for(run), sample=True)

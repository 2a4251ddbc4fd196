"""Tenancy matrix: an account of store B gets 404 on every store-A page and API route.

Every merchant route with an id in its URL is requested, with every method it accepts, by
store B's main account (a browser session for pages, a bearer token for the API) using the ids
of store A's rows. A route whose URL takes an id this test does not know how to make fails the
test: extend ROW_MAKERS when you add one. The installment pages and API (八 分期核銷) exist only
for stores in installment mode: their routes are requested between two such stores, with the ids
of INSTALLMENT_ROW_MAKERS.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.routing import Rule

from app import clock
from app.auth.models import Account
from app.auth.services import create_api_token
from app.counter.models import Conflict, OfflineRedemption, Outcome
from app.db import db
from app.installments.models import InstallmentBatch
from app.stores.models import RedemptionMode, Store
from tests.credit.helpers import make_card_transaction
from tests.factories import (
    login,
    make_account,
    make_branch,
    make_checkout_order,
    make_installment_order,
    make_order,
    make_product,
    make_relation,
    make_saved_filter,
    make_store,
    make_sub,
    make_ticket_order,
    make_unissued_order,
)

# Blueprints that are not merchant-owned data: the operator console, public pages, login.
NOT_MERCHANT = ("static", "operator.", "partners_admin.", "escrow.", "notifications.", "auth.", "uploads.",
                "api.openapi", "platform_print.", "cvs.", "wallet.", "cashier.", "ecticket.")
# URL variables that name rows every merchant may read (not store-owned).
SHARED_ROWS = {"news_id"}


def _sub_account(store: Store, main: Account) -> int:
    return make_sub(store).id


def _api_token(store: Store, main: Account) -> int:
    return create_api_token(main, "a")[0].id


def _product(store: Store, main: Account) -> int:
    return make_product(store).id


def _history_entry(store: Store, main: Account) -> int:
    from app import history

    entry = history.record(make_product(store), "created")
    db.session.flush()
    return entry.id


def _partner_relation(store: Store, main: Account) -> int:
    return make_relation(store, make_store()).id


def _branch(store: Store, main: Account) -> int:
    return make_branch(store, "A001", "分店A").id


def _order(store: Store, main: Account) -> int:
    return make_order(store).id


def _ticket(store: Store, main: Account) -> int:
    return make_order(store).tickets[0].id


def _ticket_serial(store: Store, main: Account) -> str:
    return make_order(store).tickets[0].serial


def _batch(store: Store, main: Account) -> int:
    return make_order(store).batch_id


def _print_run(store: Store, main: Account) -> int:
    from app.printing.models import PrintKind, PrintRun

    run = PrintRun(store_id=store.id, kind=PrintKind.TEST, account_id=main.id,
                   actor_label=main.username, ticket_count=0)
    db.session.add(run)
    db.session.flush()
    return run.id


def _transfer(store: Store, main: Account) -> int:
    from app.tickets.codes import new_link_token
    from app.transfers.models import Transfer

    order = make_order(store)
    transfer = Transfer(store_id=store.id, transfer_no=f"TRM{order.id:08d}", order_id=order.id,
                        recipient_name="受贈人", link_token=new_link_token(), ticket_count=1)
    db.session.add(transfer)
    db.session.flush()
    return transfer.id


def _return_application(store: Store, main: Account) -> int:
    from app.return_applications.models import ReturnApplication

    order = make_order(store)
    application = ReturnApplication(store_id=store.id, ticket_id=order.tickets[0].id,
                                    order_id=order.id, reason="不想要了")
    db.session.add(application)
    db.session.flush()
    return application.id


def _export_job(store: Store, main: Account) -> int:
    from app.reports.models import ExportJob, ExportStatus

    job = ExportJob(store_id=store.id, account_id=main.id, report="tickets", params={},
                    title="票券報表", status=ExportStatus.DONE, total_rows=0)
    db.session.add(job)
    db.session.flush()
    return job.id


def _installment_batch(store: Store, main: Account) -> int:
    batch = InstallmentBatch(store_id=store.id, import_no="MATRIX1", rows=[])
    db.session.add(batch)
    db.session.flush()
    return batch.id


def _saved_filter(store: Store, main: Account) -> int:
    return make_saved_filter(main, store).id


def _bill_month(store: Store, main: Account) -> str:
    from datetime import date

    from app.bills.models import Bill

    db.session.add(Bill(store_id=store.id, month=date(2026, 9, 1), bill_day=date(2026, 10, 1),
                        amount=10))
    db.session.flush()
    return "2026-09"


def _card_transaction(store: Store, main: Account) -> int:
    from app.checkout.models import CardTransaction

    order = make_checkout_order(store, paid=True)
    txn = CardTransaction(store_id=store.id, order_id=order.id, amount=order.total_amount,
                          card_first6="431195", card_last4="2222", card_digest="d" * 64,
                          brand="VISA", auth_code="777777", auth_serial="1", acquirer="sandbox")
    db.session.add(txn)
    db.session.flush()
    return txn.id


def _rejected_card(store: Store, main: Account) -> int:
    from app.credit.reject_models import RejectCategory, RejectedCard

    row = RejectedCard(store_id=store.id, card_digest="e" * 64, card_last4="2222",
                       category=RejectCategory.FRAUD)
    db.session.add(row)
    db.session.flush()
    return row.id


def _rejected_ip(store: Store, main: Account) -> int:
    from app.credit.reject_models import RejectCategory, RejectedIp

    row = RejectedIp(store_id=store.id, ip="203.0.113.1", category=RejectCategory.FRAUD)
    db.session.add(row)
    db.session.flush()
    return row.id


def _ecticket_notice(store: Store, main: Account) -> int:
    from app.ecticket.notice_models import TicketNotice, TicketNoticeKind

    ticket = make_order(store).tickets[0]
    row = TicketNotice(store_id=store.id, ticket_id=ticket.id, kind=TicketNoticeKind.USE_STATUS,
                       use_status=2, ticket_no=ticket.serial, url="https://merchant.example/n",
                       payload={"RtnCode": 1})
    db.session.add(row)
    db.session.flush()
    return row.id


def _offline_conflict(store: Store, main: Account) -> int:
    ticket = make_order(store).tickets[0]
    row = OfflineRedemption(store_id=store.id, key=f"k-{ticket.id}", device_id="device-1",
                            account_id=main.id, claimed_ticket_id=ticket.id, ticket_id=ticket.id,
                            offline_at=clock.now(), outcome=Outcome.CONFLICT,
                            conflict=Conflict.REDEEMED_ELSEWHERE, server_said="已於他處核銷")
    db.session.add(row)
    db.session.flush()
    return row.id


ROW_MAKERS: dict[str, Callable[[Store, Account], int | str]] = {
    "account_id": _sub_account,
    "token_id": _api_token,
    "product_id": _product,
    "entry_id": _history_entry,
    "relation_id": _partner_relation,
    "branch_id": _branch,
    "order_id": _order,
    "ticket_id": _ticket,
    "serial": _ticket_serial,
    "batch_id": _batch,
    "export_id": _export_job,
    "transfer_id": _transfer,
    "application_id": _return_application,
    "run_id": _print_run,
    "filter_id": _saved_filter,
    "month": _bill_month,
    "checkout_order_id": lambda store, main: make_checkout_order(store, paid=True).id,
    "ticket_order_id": lambda store, main: make_ticket_order(store).id,
    "transaction_id": lambda store, main: make_card_transaction(store).id,
    "card_transaction_id": _card_transaction,
    "card_id": _rejected_card,
    "ip_id": _rejected_ip,
    "notice_id": _ecticket_notice,
    "record_id": _offline_conflict,
}

# The installment routes' URL variables (their rows, for stores in installment mode).
INSTALLMENT_ENDPOINTS = ("installments.", "api.installment")
INSTALLMENT_ROW_MAKERS: dict[str, Callable[[Store, Account], int | str]] = {
    "batch_id": _installment_batch,
    "merchant_order_no": lambda store, main: make_installment_order(
        store, 1200, merchant_order_no="MATRIX1").merchant_order_no,
    "order_id": lambda store, main: make_installment_order(store, 900).id,
    "unissued_id": lambda store, main: make_unissued_order(store).id,
}

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _merchant_rules(app, *, installment: bool = False) -> list[Rule]:
    return [r for r in app.url_map.iter_rules()
            if not r.endpoint.startswith(NOT_MERCHANT) and r.arguments
            and r.endpoint.startswith(INSTALLMENT_ENDPOINTS) == installment]


def test_every_id_in_a_merchant_url_is_known_to_the_matrix(app):
    unknown = {(r.endpoint, arg) for r in _merchant_rules(app)
               for arg in r.arguments if arg not in ROW_MAKERS and arg not in SHARED_ROWS}
    unknown |= {(r.endpoint, arg) for r in _merchant_rules(app, installment=True)
                for arg in r.arguments if arg not in INSTALLMENT_ROW_MAKERS}
    assert unknown == set(), "add a row maker for these URL variables"


def _clients(app, makers: dict, mode: RedemptionMode):  # noqa: ANN202
    a, b = make_store("商店A", mode=mode), make_store("商店B", mode=mode)
    main_a = make_account(a, username="mainaaa1")
    main_b = make_account(b, username="mainbbb1")
    ids = {name: maker(a, main_a) for name, maker in makers.items()}
    _, token_b = create_api_token(main_b, "b")
    db.session.commit()
    browser = app.test_client()
    login(browser, "mainbbb1")
    return ids, browser, token_b


@pytest.fixture
def store_b_clients(app, ctx):
    return _clients(app, ROW_MAKERS, RedemptionMode.REDEEM_AFTER_USE)


@pytest.fixture
def installment_store_b_clients(app, ctx):
    return _clients(app, INSTALLMENT_ROW_MAKERS, RedemptionMode.INSTALLMENT)


def _requested_by_store_b(app, clients, *, installment: bool) -> tuple[int, list]:
    ids, browser, token_b = clients
    checked, wrong = 0, []
    for rule in _merchant_rules(app, installment=installment):
        if any(arg in SHARED_ROWS for arg in rule.arguments):
            continue
        values = {arg: ids[arg] for arg in rule.arguments}
        url = app.url_map.bind("localhost").build(rule.endpoint, values)
        is_api = url.startswith("/api/")
        for method in METHODS:
            if method not in rule.methods:
                continue
            headers = {"Authorization": f"Bearer {token_b}"} if is_api else {}
            response = browser.open(url, method=method, headers=headers, data={})
            checked += 1
            if response.status_code != 404:
                wrong.append((method, url, response.status_code))
    return checked, wrong


def test_store_b_gets_404_on_every_store_a_row(app, store_b_clients):
    checked, wrong = _requested_by_store_b(app, store_b_clients, installment=False)
    assert checked > 0
    assert wrong == []


def test_installment_store_b_gets_404_on_every_installment_store_a_row(
        app, installment_store_b_clients):
    checked, wrong = _requested_by_store_b(app, installment_store_b_clients, installment=True)
    assert checked > 0
    assert wrong == []

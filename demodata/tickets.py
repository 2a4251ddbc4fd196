"""Demo tickets in every status (docs/tickets.md), made by the real services on a moving clock.

Ten days ago a batch is issued; clerks redeem and the issuer returns; the nightly bank sync runs
for each past night against the bank simulator (two entries rejected, so `redeeming` and
`returning` show too); the expiry job runs after two products' end dates; today a clerk and the
partner store redeem and the issuer returns, so today's tickets can still be cancelled.
Idempotent: nothing happens when the demo batch exists.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.db import db
from app.escrow.jobs import run_sync
from app.escrow.simulator import InProcessBank, make_simulator
from app.history import Actor, set_actor
from app.issuance import services as issuance
from app.issuance.models import Batch
from app.printing import services as printing
from app.products.models import Product, ProductKind
from app.return_applications import services as return_applications
from app.stores.models import DeliveryMethod, Store
from app.tickets import services as tickets
from app.tickets.jobs import expire_tickets
from app.tickets.models import Order, Ticket
from app.transfers import services as transfers

DEMO_IMPORT_NO = "DEMO-E1"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return clock.taipei_datetime(day.year, day.month, day.day, hour, minute)


def _as(account: Account, store: Store) -> None:
    set_actor(Actor(account.id, account.username, store.id, account.branch_id, "127.0.0.1"))


def _issue(owner: Account, store: Store, import_no: str, product: Product, orders: list[tuple],
           method: DeliveryMethod = DeliveryMethod.IMMEDIATE) -> list[Ticket]:
    rows = [{"商品編號": product.id, "數量": qty, "廠商訂單編號": no, "購買人姓名": name,
             "手機": mobile, "Email": email, "使用起始日": None, "_row": i + 2}
            for i, (no, qty, name, mobile, email) in enumerate(orders)]
    batch = issuance.prepare_batch(owner, store, import_no=import_no, method=method,
                                   kind=product.kind, rows=rows)
    db.session.commit()
    issuance.confirm_batch(owner, store, batch)
    db.session.commit()  # issued at once: the demo loader runs jobs inline
    return list(db.session.scalars(select(Ticket).where(Ticket.batch_id == batch.id)
                                   .order_by(Ticket.id)))


def _expired_product(store: Store, name: str, kind: ProductKind, face_value: int,
                     end: date) -> Product:
    product = db.session.scalar(select(Product).where(Product.store_id == store.id,
                                                      Product.name == name))
    if product is None:
        product = Product(store_id=store.id, name=name, kind=kind, face_value=face_value,
                          description=f"{name}（示範：已過期限）",
                          escrow_end=end if kind is ProductKind.PICKUP else None,
                          valid_until=end if kind is ProductKind.GIFT else None)
        db.session.add(product)
        db.session.flush()
    return product


def load_demo_tickets(issuer: Store, partner: Store) -> None:
    if db.session.scalar(select(Batch.id).where(Batch.store_id == issuer.id,
                                                Batch.import_no == DEMO_IMPORT_NO)):
        return
    owner = db.session.scalar(select(Account).where(Account.username == "issuer"))
    clerk = db.session.scalar(select(Account).where(Account.username == "clerk1"))
    partner_owner = db.session.scalar(select(Account).where(Account.username == "partner"))
    coffee = db.session.scalar(select(Product).where(Product.store_id == issuer.id,
                                                     Product.name == "咖啡兌換券"))
    dessert = db.session.scalar(select(Product).where(Product.store_id == issuer.id,
                                                      Product.name == "甜點招待券"))
    today = clock.business_day()
    d = today - timedelta(days=10)
    old_pickup = _expired_product(issuer, "週年慶提貨券（已逾價金保管期）", ProductKind.PICKUP, 300,
                                  today - timedelta(days=3))
    old_gift = _expired_product(issuer, "開幕贈品券（已過使用期限）", ProductKind.GIFT, 50,
                                today - timedelta(days=2))
    state = Path(current_app.config.get("ESCROW_SIMULATOR_STATE")
                 or Path(current_app.instance_path) / "bank.json")
    state.parent.mkdir(parents=True, exist_ok=True)
    simulator = make_simulator(state)
    bank = InProcessBank(simulator)
    buyer = ("示範購買人", "0912345678", "buyer@example.com")
    try:
        clock.freeze(_at(d, 10))
        _as(owner, issuer)
        coffee_tickets = _issue(owner, issuer, DEMO_IMPORT_NO, coffee,
                                [("DEMO0001", 6, *buyer), ("DEMO0002", 2, "王大同", "0922333444",
                                                           "wang@example.com")])
        old_tickets = _issue(owner, issuer, "DEMO-E2", old_pickup, [("DEMO0003", 3, *buyer)])
        [old_gift_ticket] = _issue(owner, issuer, "DEMO-G1", old_gift, [("DEMO0004", 1, *buyer)])
        gift_tickets = _issue(owner, issuer, "DEMO-G2", dessert, [("DEMO0005", 2, *buyer)])
        paper = _issue(owner, issuer, "DEMO-P1", coffee, [("DEMO0006", 3, "紙本購買人", "", "")],
                       method=DeliveryMethod.MERCHANT_PRINT)
        _paper_and_kiosk(owner, issuer, coffee, paper, buyer)

        # the day after: redemptions and returns that the bank will finalise (or reject)
        clock.freeze(_at(d + timedelta(days=1), 10))
        _as(clerk, issuer)
        tickets.redeem(clerk, issuer, coffee_tickets[1])
        tickets.redeem(clerk, issuer, coffee_tickets[3])
        tickets.redeem(clerk, issuer, gift_tickets[0])
        _as(owner, issuer)
        tickets.return_ticket(owner, issuer, coffee_tickets[2], reason="消費者不需要了", fee=15)
        tickets.return_ticket(owner, issuer, coffee_tickets[4], reason="重複購買")
        db.session.commit()

        # the nightly syncs: deposits the first night; the next night the bank rejects one
        # redemption and one refund, which stay redeeming / returning with the bank's reason
        for night in range(1, 10):
            day = d + timedelta(days=night)
            if night == 2:
                simulator.reject_serials = {coffee_tickets[3].serial, coffee_tickets[4].serial}
            clock.freeze(_at(day, 1))
            run_sync(day, bank=bank)
        simulator.reject_serials = set()
        simulator._save()

        # the expiry job after the two products' end dates, then actions on expired tickets
        expiry_day = today - timedelta(days=1)
        clock.freeze(datetime.combine(expiry_day, time(0, 5), tzinfo=clock.TAIPEI))
        expire_tickets(clock.now().isoformat())
        clock.freeze(_at(expiry_day, 11))
        _as(clerk, issuer)
        tickets.redeem(clerk, issuer, old_tickets[0])  # used_after_expiry
        _as(owner, issuer)
        tickets.return_ticket(owner, issuer, old_tickets[1], reason="逾期退貨，由店家自行退款")
        db.session.commit()
        assert old_gift_ticket.id
    finally:
        clock.unfreeze()

    # today: still cancellable
    _as(clerk, issuer)
    tickets.redeem(clerk, issuer, coffee_tickets[5])
    _as(owner, issuer)
    tickets.return_ticket(owner, issuer, coffee_tickets[6], reason="商品缺貨", fee=20)
    _as(partner_owner, partner)
    tickets.redeem(partner_owner, partner, coffee_tickets[7])
    set_actor(None)
    db.session.commit()
    _wallet_activity(owner, issuer, coffee)


def _wallet_activity(owner: Account, issuer: Store, coffee: Product) -> None:
    """What consumers did in their wallets today: one active transfer (轉贈) and one pending
    return application (申請退貨), through the services, so 7-3 K and the applications list
    have rows."""
    _as(owner, issuer)
    issued = _issue(owner, issuer, "DEMO-E3", coffee, [
        ("DEMO0007", 3, "示範購買人", "0912345678", "buyer@example.com"),
        ("DEMO0008", 1, "林美玲", "0933555777", "lin@example.com")])
    orders = {o.merchant_order_no: o for o in db.session.scalars(
        select(Order).where(Order.id.in_({t.order_id for t in issued})))}
    giver, applicant = orders["DEMO0007"], orders["DEMO0008"]
    set_actor(Actor(None, "消費者（電子票夾）", None, None, "127.0.0.1"))
    transfers.give(giver, [t.id for t in issued if t.order_id == giver.id][:2], name="陳小華",
                   mobile="0922333444", email="friend@example.com")
    return_applications.apply(issuer, applicant, [t for t in issued if t.order_id == applicant.id],
                              reason="活動改期無法前往，申請退貨", name=applicant.purchaser_name,
                              mobile=applicant.purchaser_mobile, email=applicant.purchaser_email)
    set_actor(None)
    db.session.commit()


def _paper_and_kiosk(owner: Account, issuer: Store, coffee: Product, paper: list[Ticket],
                     buyer: tuple[str, str, str]) -> None:
    """Paper and convenience-store tickets for 紙本票券列印: one merchant-print ticket printed
    once, a platform-print (綠界列印) batch waiting for the operator, and an ibon order whose
    pickup code opens the kiosk page /cvs/<code>."""
    _issue(owner, issuer, "DEMO-P2", coffee, [("DEMO0106", 4, "綠界列印購買人", "", "")],
           method=DeliveryMethod.PLATFORM_PRINT)
    _issue(owner, issuer, "DEMO-C1", coffee, [("DEMO0107", 2, *buyer)], method=DeliveryMethod.IBON)
    printing.print_tickets(owner, issuer, [paper[0].id])
    db.session.commit()

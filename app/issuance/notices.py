"""Notices to purchasers after issuing (docs/issuance.md): the e-ticket link for electronic tickets,
the pickup code for convenience-store tickets, nothing for paper tickets.

One job per batch (`app.issuance.jobs.notify_batch`); idempotent (an order that already has its
notice is skipped), so a re-run after a crash sends each notice once.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.credentials import conceal, mask
from app.db import db
from app.issuance.models import Batch
from app.notifications.models import Message
from app.notifications.services import queue_email, queue_sms
from app.settings.services import settings_or_blank, sms_active
from app.stores.models import Store
from app.tickets.models import Order

ISSUANCE_NOTICE = "issuance_notice"


def wallet_url(order: Order) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/t/{order.link_token}"


def concealed_wallet_url(order: Order) -> str:
    """The link as an outbox message holds it: sealed, shown as …last four."""
    token = order.link_token or ""
    return conceal(wallet_url(order),
                   f"{current_app.config['PUBLIC_BASE_URL']}/t/…{token[-4:]}")


def _already_notified(order_ids: list[int], kind: str) -> set[int]:
    return set(db.session.scalars(
        select(Message.order_id).where(Message.order_id.in_(order_ids), Message.kind == kind)))


def _how_to_confirm(order: Order) -> str:
    """What the e-mail tells the holder to type on the wallet's entry page: the mobile's last
    four digits, or (no mobile) the code the page e-mails on request."""
    if order.purchaser_mobile:
        return "開啟時需輸入手機末四碼確認身分"
    return "開啟時請按頁面上的「寄送驗證碼至 Email」，再輸入電子郵件中的驗證碼確認身分"


def notice_texts(store: Store, order: Order, kind: str = ISSUANCE_NOTICE) -> tuple[str, str, str]:
    """(subject, e-mail body, SMS body) of an order's issuance notice."""
    settings = settings_or_blank(store)
    method = order.delivery_method
    service = f"客服電話：{settings.cs_phone}" if settings.cs_phone else ""
    head = {"issuance_notice": "發行通知", "resend": "補發通知",
            "purchaser_changed": "變更購買人通知"}.get(kind, "通知")
    if method.delivery_type.value == "electronic":
        url = concealed_wallet_url(order)
        subject = f"【{store.name}】電子票券{head}"
        body = (f"{order.purchaser_name} 您好：\n\n您在 {store.name} 的電子票券已發行（訂單編號 "
                f"{order.order_no}，共 {order.ticket_count} 張）。\n請開啟以下連結查看票券與核銷代碼，"
                f"{_how_to_confirm(order)}：\n{url}\n\n{service}\n此信件由系統自動發送，請勿直接回覆。")
        sms = f"【{store.name}】您的電子票券已發行，共{order.ticket_count}張：{url}"
    else:
        subject = f"【{store.name}】超商票券{head}"
        pickup = conceal(order.pickup_code or "", mask(order.pickup_code or ""))
        body = (f"{order.purchaser_name} 您好：\n\n您在 {store.name} 的票券已可至 7-ELEVEN ibon 列印"
                f"（訂單編號 {order.order_no}，共 {order.ticket_count} 張）。\n"
                f"取票代碼：{pickup}\n\n{service}\n此信件由系統自動發送，請勿直接回覆。")
        sms = (f"【{store.name}】您的票券取票代碼：{pickup}，"
               f"請至 ibon 列印，共{order.ticket_count}張")
    return subject, body, sms


def send_order_notice(store: Store, order: Order, kind: str) -> None:
    """Queue the e-mail (and SMS when the store's SMS service is on) of one order's notice."""
    subject, body, sms = notice_texts(store, order, kind)
    if order.purchaser_email:
        queue_email(store.id, order.purchaser_email, subject, body, kind=kind, order_id=order.id)
    if order.purchaser_mobile and sms_active(store):
        queue_sms(store.id, order.purchaser_mobile, sms, kind=kind, order_id=order.id)


def queue_batch_notices(batch_id: int) -> None:
    """Queue the issuance notice of every order of a succeeded batch that has none yet (the job
    `app.issuance.jobs.notify_batch` commits)."""
    batch = db.session.get(Batch, batch_id)
    if batch is None:
        return
    method = batch.delivery_method
    if method.delivery_type.value == "paper":
        return  # paper tickets: no notice (merchant print shows them on the print page)
    store = db.session.get(Store, batch.store_id)
    orders = db.session.scalars(select(Order).where(Order.batch_id == batch_id)).all()
    done = _already_notified([o.id for o in orders], ISSUANCE_NOTICE)
    for order in orders:
        if order.id not in done:
            send_order_notice(store, order, ISSUANCE_NOTICE)

"""The operator's outbox (訊息寄件匣): every e-mail and SMS, sent, recorded, queued or failed.

With no SMTP server or SMS gateway configured this is where messages "arrive", so the links in
them are clickable here. Merchants get their own SMS log with the issuance feature.
"""

from __future__ import annotations

import re

from flask import Blueprint, request
from markupsafe import Markup, escape
from sqlalchemy import or_, select

from app.auth.access import operator_required
from app.db import db
from app.htmx import render
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.services import KIND_LABELS, kind_label, normalise_mobile
from app.pagination import paginate
from app.stores.models import Store
from app.tickets.models import Order

bp = Blueprint("notifications", __name__)

PER_PAGE = 50
CHANNEL_LABELS = {Channel.EMAIL: "電子郵件", Channel.SMS: "簡訊"}
STATUS_COLOURS = {status: status.colour for status in MessageStatus}

_URL = re.compile(r"https?://[^\s<>\"'，。、；）」]+")


def linkify(text: str) -> Markup:
    """Escaped text with its http(s) links clickable (the outbox stands in for the inbox)."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        url = escape(match.group(0))
        out.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}</a>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _choice(value: str, enum_cls: type[Channel] | type[MessageStatus]):  # noqa: ANN202
    try:
        return enum_cls(value) if value else None
    except ValueError:
        return None


@bp.get("/operator/messages")
@operator_required
def outbox():
    args = request.args
    channel = _choice(args.get("channel", ""), Channel)
    status = _choice(args.get("status", ""), MessageStatus)
    to = args.get("to", "").strip()[:200]
    kind = args.get("kind", "").strip()[:40]
    store_code = args.get("store", "").strip()[:10]

    stmt = select(Message).order_by(Message.id.desc())  # newest first, on the primary key
    if channel is not None:
        stmt = stmt.where(Message.channel == channel)
    if status is not None:
        stmt = stmt.where(Message.status == status)
    if to:
        terms = [Message.to_address.icontains(to, autoescape=True)]
        if (mobile := normalise_mobile(to)) and mobile != to:
            terms.append(Message.to_address == mobile)  # +886 912… finds 0912…
        stmt = stmt.where(or_(*terms))
    if kind:
        stmt = stmt.where(Message.kind == kind)
    if store_code:
        stmt = stmt.where(Message.store_id.in_(
            select(Store.id).where(Store.merchant_code == store_code)))
    page = paginate(stmt, per_page=PER_PAGE, max_per_page=PER_PAGE)

    store_ids = {m.store_id for m in page.items if m.store_id}
    order_ids = {m.order_id for m in page.items if m.order_id}
    stores = dict(db.session.execute(
        select(Store.id, Store.merchant_code).where(Store.id.in_(store_ids))).all()
    ) if store_ids else {}
    orders = dict(db.session.execute(
        select(Order.id, Order.order_no).where(Order.id.in_(order_ids))
        .execution_options(unscoped=True)).all()
    ) if order_ids else {}
    return render(
        "notifications/outbox.html", page=page, stores=stores, orders=orders,
        filters={"channel": channel.value if channel else "", "status": status.value if status else "",
                 "to": to, "kind": kind, "store": store_code},
        Channel=Channel, MessageStatus=MessageStatus, channel_labels=CHANNEL_LABELS,
        status_colours=STATUS_COLOURS, kinds=KIND_LABELS, kind_label=kind_label, linkify=linkify,
    )

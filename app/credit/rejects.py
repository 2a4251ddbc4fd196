"""拒絕名單 use cases: list a card number or a client IP (one by one, from a card transaction, or
from an xlsx), switch an entry on or off, delete it; and the checkout's check, registered with
app.checkout.services.PAY_CHECKS when this module is imported (app.create_app does).

A card number is kept only as its keyed digest (app.checkout.services.card_digest) and last
four digits. A transaction's card can be listed because the checkout keeps the same digest on
the card transaction. Use cases flush and never commit.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from app import clock, credentials, history
from app.auth import access
from app.auth.permissions import Function, Level
from app.checkout import services as checkout
from app.checkout.acquirer import Card
from app.checkout.models import CardTransaction, CheckoutOrder
from app.credit.reject_models import RejectCategory, RejectedCard, RejectedIp
from app.db import db, insert_ignoring_conflict
from app.errors import InvalidInput
from app.spreadsheets import cell_text, read_xlsx

UNSCOPED = {"unscoped": True}
NO_RIGHT = "您沒有修改拒絕名單的權限"
CARD_REFUSED = "此信用卡卡號無法於本商店進行交易"  # the seed: 該卡號將無法於您的商店進行交易
IP_REFUSED = "您目前的 IP 無法於本商店進行交易"  # the seed: 該 IP 將無法於您的商店進行交易
BAD_CARD = "請輸入 12 至 19 位數字的信用卡卡號"
BAD_IP = "請輸入有效的 IP 位址"
BAD_CATEGORY = "請選擇問題類別（盜刷、爭議款、異常交易、其他）"
CARD_LISTED = "此卡號已在拒絕名單中"
IP_LISTED = "此 IP 已在拒絕名單中"
NO_DIGEST = "此筆交易未保存卡號資料，無法列入拒絕名單"
CARD_HEADERS = ["信用卡卡號", "問題類別"]
IP_HEADERS = ["IP", "問題類別"]
MAX_ROWS = 1000


def card_number(text: str) -> str:
    digits = "".join(ch for ch in (text or "") if ch not in " -")
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        raise InvalidInput(BAD_CARD, fields={"card_number": BAD_CARD})
    return digits


def ip_text(text: str) -> str:
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        raise InvalidInput(BAD_IP, fields={"ip": BAD_IP}) from None


def category_of(text: str) -> RejectCategory:
    category = RejectCategory.by_label((text or "").strip())
    if category is None:
        raise InvalidInput(BAD_CATEGORY, fields={"category": BAD_CATEGORY})
    return category


def _check(actor, store) -> None:  # noqa: ANN001
    access.check(actor, store, Function.CREDIT_REJECT_LIST, no_right=NO_RIGHT, level=Level.MODIFY)


def _add_card(store_id: int, digest: str, last4: str, category: RejectCategory) -> RejectedCard:
    new_id = insert_ignoring_conflict(RejectedCard, store_id=store_id, card_digest=digest,
                                      card_last4=last4, category=category, active=True,
                                      declines=0, created_at=clock.now())
    if new_id is None:
        raise InvalidInput(CARD_LISTED, fields={"card_number": CARD_LISTED})
    row = db.session.get(RejectedCard, new_id, execution_options=UNSCOPED)
    assert row is not None
    history.record(row, "reject_card_added", reason=f"****{last4} {category.label}")
    return row


def add_card(actor, store, number: str, category: RejectCategory) -> RejectedCard:  # noqa: ANN001
    _check(actor, store)
    digits = card_number(number)
    if _listed_card(store.id, digits) is not None:
        raise InvalidInput(CARD_LISTED, fields={"card_number": CARD_LISTED})
    return _add_card(store.id, checkout.card_digest(digits), digits[-4:], category)


def add_from_transaction(actor, store, txn: CardTransaction,  # noqa: ANN001
                         category: RejectCategory) -> RejectedCard:
    """【列入拒絕交易卡號】 on a card transaction: its card by the digest kept at payment."""
    _check(actor, store)
    if txn.store_id != store.id or not txn.card_digest:
        raise InvalidInput(NO_DIGEST)
    if _card_row(store.id, [txn.card_digest]) is not None:
        raise InvalidInput(CARD_LISTED)
    return _add_card(store.id, txn.card_digest, txn.card_last4, category)


def add_ip(actor, store, text: str, category: RejectCategory) -> RejectedIp:  # noqa: ANN001
    _check(actor, store)
    ip = ip_text(text)
    new_id = insert_ignoring_conflict(RejectedIp, store_id=store.id, ip=ip, category=category,
                                      active=True, declines=0,
                                      created_at=clock.now())
    if new_id is None:
        raise InvalidInput(IP_LISTED, fields={"ip": IP_LISTED})
    row = db.session.get(RejectedIp, new_id, execution_options=UNSCOPED)
    assert row is not None
    history.record(row, "reject_ip_added", reason=f"{ip} {category.label}")
    return row


def set_active(actor, store, row: RejectedCard | RejectedIp, active: bool) -> bool:  # noqa: ANN001
    _check(actor, store)
    return history.change(row, "reject_entry_switched", {"active": active})


def remove(actor, store, row: RejectedCard | RejectedIp) -> None:  # noqa: ANN001
    _check(actor, store)
    history.record(row, "reject_entry_deleted",
                   reason=f"****{row.card_last4}" if isinstance(row, RejectedCard) else row.ip)
    db.session.execute(delete(type(row)).where(type(row).id == row.id)
                       .execution_options(synchronize_session=False, **UNSCOPED))


@dataclass
class Imported:
    added: int = 0
    skipped: int = 0  # already listed


def import_xlsx(actor, store, data: bytes, *, cards: bool) -> Imported:  # noqa: ANN001
    """整批匯入: every row is checked first; any bad row refuses the whole file (InvalidInput
    listing the rows), nothing stored. Entries already listed are skipped."""
    _check(actor, store)
    headers = CARD_HEADERS if cards else IP_HEADERS
    rows = read_xlsx(data, headers=headers, max_rows=MAX_ROWS)
    problems: list[str] = []
    parsed: list[tuple[str, RejectCategory]] = []
    seen: set[str] = set()
    for row in rows:
        line = row["_row"]
        try:
            value = (card_number if cards else ip_text)(cell_text(row[headers[0]]))
            category = category_of(cell_text(row[headers[1]]))
        except InvalidInput as bad:
            problems.append(f"第 {line} 列：{bad.message}")
            continue
        if value in seen:
            problems.append(f"第 {line} 列：與前面的列重複")
            continue
        seen.add(value)
        parsed.append((value, category))
    if not rows:
        problems.append("檔案中沒有資料列")
    if problems:
        raise InvalidInput("匯入失敗，未儲存任何資料：" + "；".join(problems[:20]))
    result = Imported()
    for value, category in parsed:
        listed = _listed_card(store.id, value) if cards else _ip_row(store.id, value)
        if listed is not None:
            result.skipped += 1
        elif cards:
            _add_card(store.id, checkout.card_digest(value), value[-4:], category)
            result.added += 1
        else:
            add_ip(actor, store, value, category)
            result.added += 1
    return result


# Reading ----------------------------------------------------------------------------------------

def _card_row(store_id: int, digests: list[str]) -> RejectedCard | None:
    return db.session.scalar(select(RejectedCard).where(RejectedCard.store_id == store_id,
                                                        RejectedCard.card_digest.in_(digests))
                             .execution_options(**UNSCOPED))


def _listed_card(store_id: int, number: str) -> RejectedCard | None:
    return _card_row(store_id, credentials.digests(checkout.CARD_DIGEST_KIND, number))


def _ip_row(store_id: int, ip: str) -> RejectedIp | None:
    return db.session.scalar(select(RejectedIp).where(RejectedIp.store_id == store_id,
                                                      RejectedIp.ip == ip)
                             .execution_options(**UNSCOPED))


def cards_query():  # noqa: ANN201
    return select(RejectedCard).order_by(RejectedCard.created_at.desc(), RejectedCard.id.desc())


def ips_query():  # noqa: ANN201
    return select(RejectedIp).order_by(RejectedIp.created_at.desc(), RejectedIp.id.desc())


# The checkout's check -----------------------------------------------------------------------------

def refusal(order: CheckoutOrder, card: Card, ip: str) -> str | None:
    """The message a consumer paying `order` is refused with when the card or the IP is on the
    store's list and switched on (the entry's decline count goes up), else None."""
    row = _listed_card(order.store_id, card.number)
    if row is not None and row.active:
        _count(RejectedCard, row.id)
        return CARD_REFUSED
    try:
        normalised = str(ipaddress.ip_address(ip))
    except ValueError:
        return None
    ip_row = _ip_row(order.store_id, normalised)
    if ip_row is not None and ip_row.active:
        _count(RejectedIp, ip_row.id)
        return IP_REFUSED
    return None


def _count(model, row_id: int) -> None:  # noqa: ANN001
    db.session.execute(update(model).where(model.id == row_id)
                       .values(declines=model.declines + 1)
                       .execution_options(synchronize_session=False, **UNSCOPED))


checkout.PAY_CHECKS.append(refusal)

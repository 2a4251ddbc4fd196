"""The unissued ticket order's calendar, without a database. Every day counts in Taipei dates
from T, the day the card transaction was made (the seed's example: paid 5/1):

- issuable through T+20 (5/21); no longer after;
- the merchant may abandon the authorisation through T+29 (5/30);
- on T+30 (5/31) the platform cancels it (abandons the authorisation);
- 待發行通知信 to the finance contacts on T+7 (5/8) and T+19 (5/20) while still unissued.

A reminder missed while no job ran is sent late only while it still means something: the T+7
one until the T+19 one is due, the T+19 one until the last issuable day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from app.unissued.models import TicketOrderState

ISSUE_DAYS = 20
ABANDON_DAYS = 29
CANCEL_DAYS = 30
REMINDER_DAYS = (7, 19)

NOT_ISSUABLE = "訂單 {no} 已超過發行期限（{deadline:%Y/%m/%d} 前須完成發行），無法發行"
NOT_UNISSUED = "訂單 {no} {state}，無法發行"
ABANDON_TOO_LATE = "已超過放棄授權期限（{deadline:%Y/%m/%d}），系統將自動取消授權"
NOT_ABANDONABLE = "此訂單{state}，無法放棄授權"

STATE_LABELS = {
    TicketOrderState.UNISSUED: "未發行",
    TicketOrderState.ISSUED: "已發行",
    TicketOrderState.ABANDONED: "已放棄授權",
    TicketOrderState.CANCELLED: "逾期已取消授權",
}


def issue_deadline(paid_on: date) -> date:
    return paid_on + timedelta(days=ISSUE_DAYS)


def abandon_deadline(paid_on: date) -> date:
    return paid_on + timedelta(days=ABANDON_DAYS)


def cancel_day(paid_on: date) -> date:
    return paid_on + timedelta(days=CANCEL_DAYS)


def issuable(state: TicketOrderState, paid_on: date, today: date) -> bool:
    return state is TicketOrderState.UNISSUED and today <= issue_deadline(paid_on)


def abandonable(state: TicketOrderState, paid_on: date, today: date) -> bool:
    return state is TicketOrderState.UNISSUED and today <= abandon_deadline(paid_on)


def due_for_cancel(state: TicketOrderState, paid_on: date, today: date) -> bool:
    return state is TicketOrderState.UNISSUED and today >= cancel_day(paid_on)


def status_label(state: TicketOrderState, paid_on: date, today: date) -> str:
    """What the list shows: 可發行 / 逾期未發行 for an unissued order, else its end."""
    if state is TicketOrderState.UNISSUED:
        return "可發行" if issuable(state, paid_on, today) else "逾期未發行"
    return STATE_LABELS[state]


def reminder_due(paid_on: date, today: date, *, sent_7: bool, sent_19: bool) -> int | None:
    """Which 待發行通知信 (7 or 19) an unissued order paid on `paid_on` is owed today, if any."""
    if today > issue_deadline(paid_on):
        return None
    if today >= paid_on + timedelta(days=19):
        return None if sent_19 else 19
    if today >= paid_on + timedelta(days=7):
        return None if sent_7 else 7
    return None


def refusal(order_no: str, state: TicketOrderState, paid_on: date, today: date) -> str | None:
    """Why a row of an issuance file may not issue this ticket order; None when it may."""
    if state is not TicketOrderState.UNISSUED:
        return NOT_UNISSUED.format(no=order_no, state=STATE_LABELS[state])
    if not issuable(state, paid_on, today):
        return NOT_ISSUABLE.format(no=order_no, deadline=issue_deadline(paid_on))
    return None


# The issuance file: ItemName → products ------------------------------------------------------

_LINE = re.compile(r"^(?P<name>.+?)\s*[xX×＊*]\s*(?P<qty>[0-9]{1,4})$")


@dataclass(frozen=True)
class Line:
    name: str
    quantity: int


def item_lines(item_name: str) -> list[Line]:
    """The order's ItemName as lines (`#` separates them, as AioCheckOut's): `名稱 x 2` is two
    of 名稱; a line without a count is one."""
    lines = []
    for raw in item_name.split("#"):
        text = " ".join(raw.split())
        if not text:
            continue
        found = _LINE.match(text)
        if found and int(found["qty"]) > 0:
            lines.append(Line(found["name"].strip(), int(found["qty"])))
        else:
            lines.append(Line(text, 1))
    return lines


def issuance_rows(*, order_no: str, name: str, mobile: str, email: str, item_name: str,
                  products: dict[str, int]) -> list[dict[str, object]]:
    """The issuance-file rows of one order: one per line of its ItemName, the 商品編號 filled
    when the line names exactly one listed product (`products`: name → number) and the count
    taken from `x N`; otherwise one row with the 商品編號 and 數量 left for the merchant. The
    item name goes to the reference column either way."""
    lines = item_lines(item_name)
    if not lines or any(line.name not in products for line in lines):
        return [{"product_id": None, "quantity": None, "merchant_order_no": order_no,
                 "purchaser_name": name, "mobile": mobile, "email": email or None,
                 "product_name": item_name}]
    return [{"product_id": products[line.name], "quantity": line.quantity,
             "merchant_order_no": order_no, "purchaser_name": name, "mobile": mobile,
             "email": email or None, "product_name": line.name} for line in lines]

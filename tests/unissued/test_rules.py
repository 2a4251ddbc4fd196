"""The unissued ticket order's calendar (the seed's example: paid 5/1) and the issuance file's
rows, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from app.unissued import rules
from app.unissued.models import TicketOrderState as S

T = date(2026, 5, 1)


@pytest.mark.parametrize(("today", "issuable", "abandonable", "cancel", "label"), [
    (date(2026, 5, 1), True, True, False, "可發行"),
    (date(2026, 5, 21), True, True, False, "可發行"),  # T+20: the last issuing day
    (date(2026, 5, 22), False, True, False, "逾期未發行"),
    (date(2026, 5, 30), False, True, False, "逾期未發行"),  # T+29: the last day to abandon
    (date(2026, 5, 31), False, False, True, "逾期未發行"),  # T+30: the platform cancels
    (date(2026, 6, 15), False, False, True, "逾期未發行"),  # a late job still cancels
])
def test_the_seeds_calendar(today, issuable, abandonable, cancel, label) -> None:  # noqa: ANN001
    assert rules.issuable(S.UNISSUED, T, today) is issuable
    assert rules.abandonable(S.UNISSUED, T, today) is abandonable
    assert rules.due_for_cancel(S.UNISSUED, T, today) is cancel
    assert rules.status_label(S.UNISSUED, T, today) == label


def test_the_seeds_deadlines() -> None:
    assert (rules.issue_deadline(T), rules.abandon_deadline(T), rules.cancel_day(T)) == (
        date(2026, 5, 21), date(2026, 5, 30), date(2026, 5, 31))


@pytest.mark.parametrize("state", [S.ISSUED, S.ABANDONED, S.CANCELLED])
def test_an_order_that_ended_is_neither_issuable_abandonable_nor_cancelled(state) -> None:  # noqa: ANN001
    assert not rules.issuable(state, T, T)
    assert not rules.abandonable(state, T, T)
    assert not rules.due_for_cancel(state, T, date(2026, 6, 30))
    assert rules.status_label(state, T, T) == rules.STATE_LABELS[state]


@pytest.mark.parametrize(("today", "sent_7", "sent_19", "due"), [
    (date(2026, 5, 7), False, False, None),
    (date(2026, 5, 8), False, False, 7),  # 滿 7 天: the seed's 5/8
    (date(2026, 5, 8), True, False, None),
    (date(2026, 5, 12), False, False, 7),  # caught up after a missed day
    (date(2026, 5, 19), True, False, None),
    (date(2026, 5, 20), True, False, 19),  # 滿 19 天
    (date(2026, 5, 20), False, False, 19),  # the T+7 one is moot by then
    (date(2026, 5, 20), True, True, None),
    (date(2026, 5, 21), True, False, 19),
    (date(2026, 5, 22), True, False, None),  # no longer issuable: no reminder to issue
])
def test_reminders(today, sent_7, sent_19, due) -> None:  # noqa: ANN001
    assert rules.reminder_due(T, today, sent_7=sent_7, sent_19=sent_19) == due


def test_why_a_file_row_may_not_issue_an_order() -> None:
    assert rules.refusal("A1", S.UNISSUED, T, date(2026, 5, 21)) is None
    assert rules.refusal("A1", S.UNISSUED, T, date(2026, 5, 22)) == (
        "訂單 A1 已超過發行期限（2026/05/21 前須完成發行），無法發行")
    assert rules.refusal("A1", S.ABANDONED, T, T) == "訂單 A1 已放棄授權，無法發行"
    assert rules.refusal("A1", S.ISSUED, T, T) == "訂單 A1 已發行，無法發行"


@pytest.mark.parametrize(("item_name", "lines"), [
    ("咖啡券 x 2", [("咖啡券", 2)]),
    ("咖啡券 x2#甜點券 X 3", [("咖啡券", 2), ("甜點券", 3)]),
    ("咖啡券×1# #甜點券", [("咖啡券", 1), ("甜點券", 1)]),
    ("大 x 小 x 4", [("大 x 小", 4)]),
    ("咖啡券 x 0", [("咖啡券 x 0", 1)]),
    ("", []),
])
def test_item_lines(item_name, lines) -> None:  # noqa: ANN001
    assert [(line.name, line.quantity) for line in rules.item_lines(item_name)] == lines


def test_issuance_rows_fill_the_product_when_every_line_names_one() -> None:
    products = {"咖啡券": 11, "甜點券": 12}
    filled = rules.issuance_rows(order_no="A1", name="王", mobile="0912345678", email="",
                                 item_name="咖啡券 x 2#甜點券 x 1", products=products)
    assert [(r["product_id"], r["quantity"], r["merchant_order_no"], r["email"]) for r in filled] == [
        (11, 2, "A1", None), (12, 1, "A1", None)]
    unknown = rules.issuance_rows(order_no="A2", name="王", mobile="0912345678", email="a@b.tw",
                                  item_name="咖啡券 x 2#神秘券 x 1", products=products)
    assert len(unknown) == 1
    assert (unknown[0]["product_id"], unknown[0]["quantity"], unknown[0]["product_name"]) == (
        None, None, "咖啡券 x 2#神秘券 x 1")

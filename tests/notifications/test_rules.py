"""The life of a message as a table: every move from every status, allowed or not, and what
each delivery report does at each status."""

from __future__ import annotations

import pytest

from app.history import ACTION_LABELS
from app.notifications import rules
from app.notifications.models import MessageStatus
from app.notifications.rules import Report

Q, S, R, D, F = (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.RECORDED,
                 MessageStatus.DELIVERED, MessageStatus.FAILED)

# (from, to): allowed. Every pair of statuses appears once.
MOVES = {
    (Q, Q): True, (Q, S): True, (Q, R): True, (Q, D): False, (Q, F): True,
    (S, Q): False, (S, S): False, (S, R): False, (S, D): True, (S, F): True,
    (R, Q): False, (R, S): False, (R, R): False, (R, D): False, (R, F): False,
    (D, Q): False, (D, S): False, (D, R): False, (D, D): False, (D, F): False,
    (F, Q): False, (F, S): False, (F, R): False, (F, D): False, (F, F): False,
}


def test_the_table_names_every_pair_of_statuses():
    assert set(MOVES) == {(a, b) for a in MessageStatus for b in MessageStatus}


@pytest.mark.parametrize(("current", "new"), sorted(MOVES, key=lambda m: (m[0].value, m[1].value)))
def test_which_moves_are_allowed(current, new):
    assert rules.allowed(current, new) is MOVES[(current, new)]
    if MOVES[(current, new)]:
        assert rules.check(current, new) is new
    else:
        with pytest.raises(rules.IllegalMove):
            rules.check(current, new)


def test_recorded_delivered_and_failed_are_final_and_only_failed_is_offered_again():
    assert rules.FINAL == {R, D, F}
    assert [s for s in MessageStatus if rules.may_resend(s)] == [F]


# (status, report) → the new status, or None: nothing changes.
REPORTS = {
    (Q, Report.ON_ITS_WAY): None, (Q, Report.DELIVERED): None, (Q, Report.FAILED): F,
    (S, Report.ON_ITS_WAY): None, (S, Report.DELIVERED): D, (S, Report.FAILED): F,
    (R, Report.ON_ITS_WAY): None, (R, Report.DELIVERED): None, (R, Report.FAILED): None,
    (D, Report.ON_ITS_WAY): None, (D, Report.DELIVERED): None, (D, Report.FAILED): None,
    (F, Report.ON_ITS_WAY): None, (F, Report.DELIVERED): None, (F, Report.FAILED): None,
}


def test_the_report_table_names_every_status_and_report():
    assert set(REPORTS) == {(s, r) for s in MessageStatus for r in Report}


@pytest.mark.parametrize(("current", "report"),
                         sorted(REPORTS, key=lambda k: (k[0].value, k[1].value)))
def test_a_report_only_moves_a_message_forward(current, report):
    """A report again (delivered twice), a late one (failed after delivered) or a contrary one
    changes nothing: replays are harmless."""
    assert rules.after_report(current, report) is REPORTS[(current, report)]


def test_the_gateway_and_dsn_words_map_to_reports():
    assert rules.GATEWAY_STATUSES["delivered"] is Report.DELIVERED
    assert {w for w, r in rules.GATEWAY_STATUSES.items() if r is Report.FAILED} == {
        "failed", "undelivered", "rejected", "expired"}
    assert rules.GATEWAY_STATUSES["sent"] is Report.ON_ITS_WAY
    assert rules.DSN_ACTIONS["failed"] is Report.FAILED
    assert rules.DSN_ACTIONS["delayed"] is rules.DSN_ACTIONS["relayed"] is Report.ON_ITS_WAY
    assert rules.DSN_ACTIONS["delivered"] is Report.DELIVERED


def test_each_outcome_has_a_history_action_with_a_label():
    assert set(rules.OUTCOME_ACTIONS) == {D, F}
    assert all(action in ACTION_LABELS for action in rules.OUTCOME_ACTIONS.values())
    assert ACTION_LABELS["notice_failed"] == "通知發送失敗"


def test_every_status_has_words_and_a_badge_colour():
    assert D.label == "已送達" and D.colour == "success" and F.colour == "danger"
    assert len({s.colour for s in MessageStatus}) == len(MessageStatus)

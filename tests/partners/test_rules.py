"""The relation's state machine, move by move (the table in app/partners/rules.py)."""

import pytest

from app.partners import rules
from app.partners.rules import Refused, RelationState

OPEN = RelationState("open")
BY_ISSUER = RelationState("dissolved", "issuer", False)
BY_PARTNER_BLOCKED = RelationState("dissolved", "partner", True)
BY_PARTNER_UNBLOCKED = RelationState("dissolved", "partner", False)


@pytest.mark.parametrize(("move", "before", "after"), [
    (rules.issuer_open, OPEN, OPEN),
    (rules.issuer_open, BY_ISSUER, OPEN),
    (rules.issuer_open, BY_PARTNER_UNBLOCKED, OPEN),
    (rules.issuer_dissolve, OPEN, BY_ISSUER),
    (rules.issuer_dissolve, BY_ISSUER, BY_ISSUER),
    (rules.issuer_dissolve, BY_PARTNER_BLOCKED, BY_PARTNER_BLOCKED),
    (rules.partner_dissolve, OPEN, BY_PARTNER_BLOCKED),
    (rules.operator_unblock, BY_PARTNER_BLOCKED, BY_PARTNER_UNBLOCKED),
])
def test_allowed_moves(move, before, after):
    assert move(before) == after


@pytest.mark.parametrize(("move", "before", "message"), [
    (rules.issuer_open, BY_PARTNER_BLOCKED, rules.BLOCKED),
    (rules.partner_dissolve, BY_ISSUER, rules.ALREADY_DISSOLVED),
    (rules.partner_dissolve, BY_PARTNER_BLOCKED, rules.ALREADY_DISSOLVED),
    (rules.partner_dissolve, BY_PARTNER_UNBLOCKED, rules.ALREADY_DISSOLVED),
    (rules.operator_unblock, OPEN, rules.NOT_BLOCKED),
    (rules.operator_unblock, BY_ISSUER, rules.NOT_BLOCKED),
    (rules.operator_unblock, BY_PARTNER_UNBLOCKED, rules.NOT_BLOCKED),
])
def test_refused_moves(move, before, message):
    with pytest.raises(Refused) as refused:
        move(before)
    assert refused.value.message == message


def test_blocked_message_is_the_seeds_wording():
    assert rules.BLOCKED == "此商店已由對方解除關聯，需經對方同意後請聯繫所屬業務解除封鎖"


def test_history_values_are_shown_in_words():
    assert rules.value_label("status", "open") == "開啟"
    assert rules.value_label("status", "dissolved") == "解除關聯"
    assert rules.value_label("dissolved_by", "partner") == "可核銷商店"
    assert rules.value_label("blocked", True) == "是"
    assert rules.value_label("dissolved_by", None) == "—"
    assert rules.value_label("partner_stores", ["9000001", "9000002"]) == "9000001、9000002"
    assert rules.field_label("status") == "關聯狀態"

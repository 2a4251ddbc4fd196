"""The ticket action table and `perform`: one row per action, the same answers as the status
machine, reasons as the table says, and the after-move reactions every process hears."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app import clock, create_app
from app.counter.services import BY_ACTION
from app.db import db
from app.errors import InvalidInput
from app.history import HistoryEntry
from app.tickets import actions, lifecycle, reactions
from app.tickets.actions import ACTIONS, Reason
from app.tickets.lifecycle import Action, Facts
from app.tickets.status import TicketStatus as S
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime
CLERK_ACTIONS = {Action.REDEEM, Action.CANCEL_REDEMPTION, Action.RETURN, Action.CANCEL_RETURN}


def test_one_row_per_clerk_action_and_one_counter_page_each():
    assert set(ACTIONS) == CLERK_ACTIONS
    for key, action in ACTIONS.items():
        assert action.key is key and BY_ACTION[key].action is action
        assert action.history in {"redeemed", "redemption_cancelled", "returned", "return_cancelled"}
        assert action.message.endswith("票券狀態已變更")


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("kind", ["pickup", "gift"])
@pytest.mark.parametrize("key", sorted(CLERK_ACTIONS, key=lambda a: a.value))
def test_applies_is_the_status_machines_answer(status, kind, key):
    at = T(2026, 7, 1, 12, 0)
    facts = Facts(status=status, kind=kind, face_value=100, expires_on=date(2026, 12, 31),
                  issued_at=T(2026, 7, 1, 9, 0), redeemed_at=T(2026, 7, 1, 10, 0),
                  returned_at=T(2026, 7, 1, 10, 0))
    decide = {Action.REDEEM: lifecycle.redeem, Action.CANCEL_REDEMPTION: lifecycle.cancel_redemption,
              Action.RETURN: lifecycle.return_ticket, Action.CANCEL_RETURN: lifecycle.cancel_return}[key]
    assert actions.applies(key, facts, at) is isinstance(decide(facts, at), lifecycle.Move)


def test_facts_of_a_ticket_and_of_a_row_agree(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    row = db.session.execute(select(type(ticket).__table__).where(
        type(ticket).__table__.c.id == ticket.id)).one()
    assert Facts.of(ticket) == Facts.of(row)
    assert Facts.of(ticket, status=S.USED).status is S.USED


@pytest.mark.parametrize(("key", "typed", "refused"), [
    (Action.RETURN, "", "請輸入退貨原因"),
    (Action.RETURN, "x" * 501, "原因最多 500 字"),
    (Action.CANCEL_RETURN, "  ", "請輸入取消退貨原因"),
])
def test_a_required_reason_is_asked_for(key, typed, refused):
    assert ACTIONS[key].reason is Reason.REQUIRED
    with pytest.raises(InvalidInput, match=refused):
        ACTIONS[key].clean_reason(typed)


def test_an_optional_reason_may_be_empty_and_is_cut_at_500():
    action = ACTIONS[Action.CANCEL_REDEMPTION]
    assert action.reason is Reason.OPTIONAL and action.clean_reason(None) == ""
    assert len(action.clean_reason("原" * 600)) == 500


def test_perform_writes_the_tables_history_and_answers_its_message(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    steps = [(Action.REDEEM, ""), (Action.CANCEL_REDEMPTION, "按錯"), (Action.RETURN, "客訴"),
             (Action.CANCEL_RETURN, "客人改變主意")]
    for key, reason in steps:
        done = actions.perform(key, owner, store, ticket, reason=reason, seen=ticket.status)
        db.session.commit()
        assert done.message == ACTIONS[key].message
    entries = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == ticket.id,
        HistoryEntry.action != "issued")
        .order_by(HistoryEntry.id)).all()
    assert [(e.action, e.reason) for e in entries] == [
        (ACTIONS[k].history, r) for k, r in steps]
    assert ticket.status is S.UNUSED


def test_a_stale_card_is_shown_again_rather_than_acted_on(ctx):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    actions.perform(Action.REDEEM, owner, store, ticket)
    actions.perform(Action.CANCEL_REDEMPTION, owner, store, ticket)
    db.session.commit()
    # the clerk's card said 已使用; the ticket is unused again and may be returned: look again
    with pytest.raises(actions.CardStale, match="目前為「未使用」"):
        actions.perform(Action.RETURN, owner, store, ticket, seen=S.USED, reason="客訴")


def test_every_process_hears_the_features_reactions():
    create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})
    single, bulk = reactions.registered()
    names = {f"{r.__module__}.{r.__name__}" for r in (*single, *bulk)}
    assert {"app.transfers.services._ticket_moved", "app.return_applications.services._returned",
            "app.escrow.ledger._moved_past_escrow_end", "app.escrow.ledger._expired"} <= names


def test_a_reaction_that_fails_rolls_the_move_back(ctx, monkeypatch):
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)

    def broken(moved: reactions.Moved) -> None:
        raise RuntimeError("reaction failed")

    monkeypatch.setattr(reactions, "_single", [*reactions._single, broken])
    with pytest.raises(RuntimeError):
        actions.perform(Action.REDEEM, owner, store, ticket)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(type(ticket), ticket.id).status is S.UNUSED

"""重新送出: the operator queues a release or refund the bank rejected again; the next sync sends
it under a new key, and the bank's acknowledgement finalises the ticket and writes the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.db import db
from app.escrow import resend
from app.escrow.jobs import run_sync
from app.escrow.models import BankInstruction, InstructionStatus
from app.history import Actor, HistoryEntry, set_actor
from app.tickets import services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.concurrency import Ready, run_at_once
from tests.escrow.conftest import BANK_KEY
from tests.escrow.helpers import at, day, history, instructions, keys_per_entry, ledger, reload
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue


def _state() -> tuple:
    """Everything a refused resend must leave as it was."""
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(BankInstruction)),
            db.session.scalar(select(func.count()).select_from(HistoryEntry)))


@pytest.fixture
def rejected(ctx, bank):
    """7/2: a release and a refund (fee 30), both rejected by the bank; another ticket redeemed."""
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, _ = ready_store()
    redeemed, returned, fine = issue(owner, store, pickup, quantity=3)
    at(2026, 6, 30, 1, 0)
    run_sync(day(6, 30))
    at(2026, 6, 30, 10, 0)
    services.redeem(owner, store, redeemed)
    services.redeem(owner, store, fine)
    services.return_ticket(owner, store, returned, reason="顧客不要了", fee=30)
    db.session.commit()
    bank.control(reject_serials=[redeemed.serial, returned.serial])
    at(2026, 7, 1, 1, 0)
    run_sync(day(7, 1))
    assert reload(redeemed).status is S.REDEEMING and reload(returned).status is S.RETURNING
    return redeemed, returned, fine, bank


def test_a_resent_release_and_refund_go_with_the_next_sync(rejected):
    redeemed, returned, fine, bank = rejected
    bank.control(reject_serials=[])  # the problem was fixed at the bank
    at(2026, 7, 1, 9, 0)
    set_actor(Actor(None, "營運人員 op0001", None, None, "127.0.0.1"))
    old_release, old_refund = instructions(redeemed)[-1], instructions(returned)[-1]
    done = resend.resend(old_release.id)
    resend.resend(old_refund.id)
    db.session.commit()
    set_actor(None)
    assert done.key == f"release:{redeemed.id}:2" and done.serial == redeemed.serial
    assert [(i.key, i.status) for i in instructions(redeemed)][-2:] == [
        (f"release:{redeemed.id}:1", InstructionStatus.REJECTED),
        (f"release:{redeemed.id}:2", InstructionStatus.PENDING)]
    refund = instructions(returned)[-1]
    assert (refund.amount, refund.fee, refund.run_id) == (120, 30, old_refund.run_id)
    [note] = history(redeemed, "bank_resend")
    assert note.actor_label == "營運人員 op0001" and redeemed.serial in note.reason
    assert "銀行先前拒絕" in note.reason and f"release:{redeemed.id}:1" in note.reason
    assert reload(redeemed).status is S.REDEEMING  # nothing moves before the bank answers

    at(2026, 7, 2, 1, 0)
    run = run_sync(day(7, 2))
    assert run.counts["release"]["acknowledged"] == 1 and run.counts["refund"]["acknowledged"] == 1
    assert reload(redeemed).status is S.REDEEMED and reload(returned).status is S.RETURNED
    assert ledger(redeemed) == [("deposit", 150), ("release", 150)]
    assert ledger(returned) == [("deposit", 150), ("refund", 120), ("handling_fee", 30)]
    assert ledger(fine) == [("deposit", 150), ("release", 150)]
    old = db.session.get(BankInstruction, old_release.id)
    assert old.status is InstructionStatus.REJECTED and old.answer  # the rejection stays on record
    accepted = [e for e in bank.entries(redeemed.serial) if e["answer"]["accepted"]]
    assert [e["key"] for e in accepted] == [f"deposit:{redeemed.id}:1", f"release:{redeemed.id}:2"]
    assert max(keys_per_entry(bank.entries()).values()) == 2  # a rejected key and the resent one


def test_a_resend_rejected_again_can_be_resent_again(rejected):
    redeemed, _, _, bank = rejected
    at(2026, 7, 1, 9, 0)
    resend.resend(instructions(redeemed)[-1].id)
    db.session.commit()
    at(2026, 7, 2, 1, 0)
    run_sync(day(7, 2))  # still refused at the bank
    latest = instructions(redeemed)[-1]
    assert latest.status is InstructionStatus.REJECTED and latest.key.endswith(":2")
    assert resend.resendable(instructions(redeemed)) == {latest.id}
    bank.control(reject_serials=[])
    assert resend.resend(latest.id).key == f"release:{redeemed.id}:3"
    db.session.commit()
    at(2026, 7, 3, 1, 0)
    run_sync(day(7, 3))
    assert reload(redeemed).status is S.REDEEMED


def test_refused_resends_say_why_and_change_nothing(rejected):
    redeemed, returned, fine, bank = rejected
    at(2026, 7, 1, 9, 0)
    acknowledged = instructions(fine)[-1]
    deposit = instructions(redeemed)[0]
    rejected_release = instructions(redeemed)[-1]
    before = _state()
    cases = [(acknowledged.id, "只有銀行拒絕的交易可以重新送出"),
             (deposit.id, "下一次同步自動重新送出"),
             (999999, "查無此銀行交易")]
    for instruction_id, message in cases:
        with pytest.raises(resend.ResendRefused, match=message):
            resend.resend(instruction_id)
        db.session.rollback()
        assert _state() == before

    resend.resend(rejected_release.id)
    db.session.commit()
    before = _state()
    with pytest.raises(resend.ResendRefused, match="已重新送出過"):
        resend.resend(rejected_release.id)  # idempotent: the second click queues nothing
    db.session.rollback()
    assert _state() == before


def test_a_ticket_that_moved_on_is_not_resent(rejected):
    _, returned, _, _ = rejected
    rejected_refund = instructions(returned)[-1]
    # the ticket moved on meanwhile (as if settled with the bank another way)
    db.session.execute(update(Ticket).where(Ticket.id == returned.id).values(status=S.RETURNED)
                       .execution_options(unscoped=True))
    db.session.commit()
    before = _state()
    with pytest.raises(resend.ResendRefused, match="已不在退貨中"):
        resend.resend(rejected_refund.id)
    db.session.rollback()
    assert _state() == before and resend.resendable([rejected_refund]) == set()


def test_two_resends_of_the_same_entry_queue_one(rejected, monkeypatch):
    """The second of two clicks at once read the state before the first committed: it computes
    the same key, and the unique key lets one INSERT through."""
    redeemed, *_ = rejected
    old = instructions(redeemed)[-1]
    first = resend.resend(old.id)
    monkeypatch.setattr(resend, "_latest_id", lambda inst: old.id)  # the new row unseen
    monkeypatch.setattr(resend, "_attempts", lambda inst: 1)
    with pytest.raises(resend.ResendRefused, match="已由其他人重新送出"):
        resend.resend(old.id)
    db.session.commit()
    assert [i.key for i in instructions(redeemed)].count(first.key) == 1
    assert len(history(redeemed, "bank_resend")) == 1


@pytest.mark.postgres
def test_concurrent_resends_on_postgres_queue_one(pg_app, simulator):
    pg_app.config.update(ESCROW_BANK_URL=simulator.url, ESCROW_BANK_KEY=BANK_KEY)
    simulator.control(require_deposit=True)
    with pg_app.app_context():
        at(2026, 6, 29, 9, 0)
        store, owner, pickup, _ = ready_store()
        [ticket] = issue(owner, store, pickup)
        at(2026, 6, 30, 1, 0)
        run_sync(day(6, 30))
        at(2026, 6, 30, 10, 0)
        services.redeem(owner, store, ticket)
        db.session.commit()
        simulator.control(reject_serials=[ticket.serial])
        at(2026, 7, 1, 1, 0)
        run_sync(day(7, 1))
        rejected_id = instructions(ticket)[-1].id
        ticket_id = ticket.id
        db.session.remove()

    def click(_: int, ready: Ready) -> str:
        ready()
        return resend.resend(rejected_id).key

    outcomes = run_at_once(pg_app, click, range(4))
    assert [o for o in outcomes if isinstance(o, str)] == [f"release:{ticket_id}:2"]
    assert all("重新送出" in str(o) for o in outcomes if not isinstance(o, str))
    with pg_app.app_context():
        keys = db.session.scalars(select(BankInstruction.key).where(
            BankInstruction.ticket_id == ticket_id).order_by(BankInstruction.id)).all()
        assert keys == [f"deposit:{ticket_id}:1", f"release:{ticket_id}:1", f"release:{ticket_id}:2"]
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.action == "bank_resend")) == 1

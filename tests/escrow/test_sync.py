"""The nightly bank escrow sync against the simulated bank on loopback: what is sent which
night, the tickets' last steps, the ledger, rejections, the bank down, crashes and re-runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock, jobs
from app.db import db
from app.errors import InvalidInput
from app.escrow import sync
from app.escrow.bank import BankEntry, BankUnavailable, HttpEscrowBank
from app.escrow.jobs import nightly_sync, run_sync, sweep_sync_runs, sync_night
from app.escrow.models import (
    BankInstruction,
    BankSyncRun,
    InstructionKind,
    InstructionStatus,
    SyncRunStatus,
)
from app.tickets import actions, services
from app.tickets.status import TicketStatus as S
from tests.escrow.conftest import BANK_KEY
from tests.escrow.helpers import T, at, day, history, instructions, keys_per_entry, ledger, reload
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue


@pytest.fixture
def world(ctx, bank):
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, gift = ready_store()
    return store, owner, pickup, gift, bank


def _kinds(ticket) -> list[tuple[str, str]]:
    return [(i.kind.value, i.status.value) for i in instructions(ticket)]


# The 7/1 issue-and-return case -----------------------------------------------------------------

def test_issued_and_returned_the_same_day_is_refunded_on_day_plus_two(world):
    store, owner, pickup, _, bank = world
    at(2026, 7, 1, 9, 0)
    [ticket] = issue(owner, store, pickup)
    at(2026, 7, 1, 20, 0)
    services.return_ticket(owner, store, ticket, reason="顧客不要了", fee=30)
    db.session.commit()

    at(2026, 7, 2, 1, 0)
    run = run_sync(day(7, 2))
    assert run.status is SyncRunStatus.DONE
    ticket = reload(ticket)
    assert _kinds(ticket) == [("deposit", "acknowledged")]  # only the deposit went on 7/2
    assert ticket.status is S.RETURN_PENDING
    assert ledger(ticket) == [("deposit", 150)]
    at(2026, 7, 2, 10, 0)
    with pytest.raises(actions.TicketRefused, match="已超過可取消的時間"):
        services.cancel_return(owner, store, ticket, reason="改變心意")
    db.session.rollback()

    at(2026, 7, 3, 1, 0)
    run = run_sync(day(7, 3))
    assert run.status is SyncRunStatus.DONE
    ticket = reload(ticket)
    assert ticket.status is S.RETURNED
    refund = instructions(ticket)[1]
    assert (refund.kind, refund.amount, refund.fee, refund.status) == (
        InstructionKind.REFUND, 120, 30, InstructionStatus.ACKNOWLEDGED)
    assert refund.bank_ref.startswith("ESB") and refund.sent_at and refund.answered_at
    assert ledger(ticket) == [("deposit", 150), ("refund", 120), ("handling_fee", 30)]
    assert run.counts["refund"] == {"sent": 1, "resent": 0, "acknowledged": 1, "rejected": 0}
    [sent] = history(ticket, "sent_to_bank")
    [acked] = history(ticket, "bank_acknowledged")
    assert (sent.from_status, sent.to_status) == ("return_pending", "returning")
    assert (acked.from_status, acked.to_status) == ("returning", "returned")
    assert f"#{run.id}" in sent.reason and "2026/07/03" in sent.reason
    [entry] = [e for e in bank.entries(ticket.serial) if e["entry"]["kind"] == "refund"]
    assert entry["entry"] | {"key": None} == {"key": None, "kind": "refund", "ticket_serial": ticket.serial,
                                              "merchant_code": store.merchant_code, "amount": 120, "fee": 30}


def test_a_redemption_goes_the_next_night_after_its_deposit_and_is_released(world):
    store, owner, pickup, _, bank = world
    at(2026, 7, 1, 9, 0)
    [ticket, late] = issue(owner, store, pickup, quantity=2)
    at(2026, 7, 1, 10, 0)
    services.redeem(owner, store, ticket)
    db.session.commit()
    at(2026, 7, 2, 0, 30)  # after midnight: still cancellable on 7/2, so not sent on 7/2
    services.redeem(owner, store, late)
    db.session.commit()

    at(2026, 7, 2, 1, 0)
    run = run_sync(day(7, 2))
    ticket, late = reload(ticket), reload(late)
    assert run.status is SyncRunStatus.DONE
    assert ticket.status is S.REDEEMED
    assert [(h.from_status, h.to_status) for h in history(ticket) if h.action in ("sent_to_bank", "bank_acknowledged")] == [
        ("used", "redeeming"), ("redeeming", "redeemed")]
    assert _kinds(ticket) == [("deposit", "acknowledged"), ("release", "acknowledged")]
    assert ledger(ticket) == [("deposit", 150), ("release", 150)]
    assert late.status is S.USED and _kinds(late) == [("deposit", "acknowledged")]
    assert run.counts["deposit"]["acknowledged"] == 2 and run.counts["release"]["acknowledged"] == 1

    at(2026, 7, 3, 1, 0)
    run_sync(day(7, 3))
    late = reload(late)
    assert late.status is S.REDEEMED and ledger(late) == [("deposit", 150), ("release", 150)]
    assert keys_per_entry(bank.entries()) == {(ticket.serial, "deposit"): 1, (ticket.serial, "release"): 1,
                                              (late.serial, "deposit"): 1, (late.serial, "release"): 1}


def test_gift_vouchers_are_finalised_without_the_bank(world):
    store, owner, _, gift, bank = world
    at(2026, 7, 1, 9, 0)
    used, returned, today = issue(owner, store, gift, quantity=3)
    services.redeem(owner, store, used)
    services.return_ticket(owner, store, returned, reason="活動取消")
    db.session.commit()
    at(2026, 7, 2, 0, 10)
    services.redeem(owner, store, today)
    db.session.commit()

    at(2026, 7, 2, 1, 0)
    run = run_sync(day(7, 2))
    assert run.status is SyncRunStatus.DONE
    assert reload(used).status is S.REDEEMED and reload(returned).status is S.RETURNED
    assert reload(today).status is S.USED  # its day is not over
    assert [(h.from_status, h.to_status) for h in history(used, "finalised")] == [("used", "redeemed")]
    assert [(h.from_status, h.to_status) for h in history(returned, "finalised")] == [
        ("return_pending", "returned")]
    assert run.counts["gift"] == {"redeemed": 1, "returned": 1}
    assert db.session.scalar(select(func.count()).select_from(BankInstruction)) == 0
    assert bank.sim.received == [] and ledger(used) == []


# Idempotency and crashes ------------------------------------------------------------------------

def test_a_second_run_the_same_night_does_nothing_and_a_forced_one_sends_nothing_twice(world):
    store, owner, pickup, _, bank = world
    at(2026, 7, 1, 9, 0)
    [ticket] = issue(owner, store, pickup)
    services.redeem(owner, store, ticket)
    db.session.commit()
    at(2026, 7, 2, 1, 0)
    first = run_sync(day(7, 2))
    again = sync_night(day(7, 2))
    assert not again.ran and again.run.id == first.id
    forced = run_sync(day(7, 2), trigger="manual", force=True)
    assert forced.id != first.id and forced.status is SyncRunStatus.DONE
    assert forced.counts["deposit"]["sent"] == 0 and forced.counts["release"]["sent"] == 0
    assert len(bank.sim.received) == 2
    assert ledger(reload(ticket)) == [("deposit", 150), ("release", 150)]


def _three_tickets_sent_tonight(world):
    """Deposits held since 6/30; on 7/1 two redemptions and a return with a fee."""
    store, owner, pickup, _, _ = world
    tickets = issue(owner, store, pickup, quantity=3)
    at(2026, 6, 30, 1, 0)
    assert run_sync(day(6, 30)).status is SyncRunStatus.DONE
    at(2026, 7, 1, 10, 0)
    services.redeem(owner, store, tickets[0])
    services.redeem(owner, store, tickets[1])
    services.return_ticket(owner, store, tickets[2], reason="瑕疵", fee=50)
    db.session.commit()
    at(2026, 7, 2, 1, 0)
    return tickets


def _assert_each_finalised_once(tickets, bank):
    redeemed_a, redeemed_b, returned = (reload(t) for t in tickets)
    assert (redeemed_a.status, redeemed_b.status, returned.status) == (S.REDEEMED, S.REDEEMED, S.RETURNED)
    for t in (redeemed_a, redeemed_b):
        assert ledger(t) == [("deposit", 150), ("release", 150)]
        assert len(history(t, "bank_acknowledged")) == 1
    assert ledger(returned) == [("deposit", 150), ("refund", 100), ("handling_fee", 50)]
    assert len(history(returned, "bank_acknowledged")) == 1
    # the bank holds one key per entry and moved every ticket's money once
    assert set(keys_per_entry(bank.entries()).values()) == {1}
    for t in (redeemed_a, redeemed_b):
        assert len(bank.sim.accepted(t.serial, "release")) == 1
    assert len(bank.sim.accepted(returned.serial, "refund")) == 1
    for t in (redeemed_a, redeemed_b, returned):
        assert all(i.status is InstructionStatus.ACKNOWLEDGED for i in instructions(t))


@pytest.mark.parametrize("crashing", [InstructionKind.RELEASE, InstructionKind.REFUND])
def test_a_crash_after_the_bank_answered_is_resumed_with_the_same_keys(world, monkeypatch, crashing):
    tickets = _three_tickets_sent_tonight(world)
    bank = world[-1]
    real = sync._finalise

    def crash(night, kind, acknowledged):  # noqa: ANN001
        if kind is crashing:
            raise RuntimeError("worker killed while finalising")
        return real(night, kind, acknowledged)

    monkeypatch.setattr(sync, "_finalise", crash)
    failed = run_sync(day(7, 2))
    assert failed.status is SyncRunStatus.FAILED and "worker killed" in failed.error
    crashed = [t for t in tickets if instructions(t)[-1].kind is crashing]
    for t in crashed:  # the bank has it, we have no answer on record: nothing finalised
        assert instructions(t)[-1].status is InstructionStatus.PENDING
        assert reload(t).status in (S.REDEEMING, S.RETURNING) and len(ledger(t)) == 1
    sent_keys = [instructions(t)[-1].key for t in crashed]

    monkeypatch.setattr(sync, "_finalise", real)
    resumed = run_sync(day(7, 2), trigger="manual", force=True)
    assert resumed.status is SyncRunStatus.DONE
    assert resumed.counts[crashing.value]["resent"] == len(crashed)
    for key in sent_keys:
        assert bank.sim.received_count(key) == 2  # sent again with the same key
    _assert_each_finalised_once(tickets, bank)


def test_answers_lost_on_the_way_back_are_resent_with_the_same_keys(world, monkeypatch):
    tickets = _three_tickets_sent_tonight(world)
    bank = world[-1]
    real_submit = HttpEscrowBank.submit
    lost: list[str] = []

    def submit_then_lose(self, entries):  # noqa: ANN001
        real_submit(self, entries)  # the bank booked them; the answer is lost
        lost.extend(e.key for e in entries)
        raise BankUnavailable("連線中斷")

    monkeypatch.setattr(HttpEscrowBank, "submit", submit_then_lose)
    failed = run_sync(day(7, 2))
    assert failed.status is SyncRunStatus.FAILED and "連線中斷" in failed.error
    assert failed.counts["release"]["sent"] == 2
    monkeypatch.setattr(HttpEscrowBank, "submit", real_submit)

    at(2026, 7, 3, 1, 0)  # the next night picks them up
    resumed = run_sync(day(7, 3))
    assert resumed.status is SyncRunStatus.DONE
    assert all(bank.sim.received_count(key) == 2 for key in lost)
    _assert_each_finalised_once(tickets, bank)


def test_a_crash_before_sending_leaves_pending_entries_that_are_sent_once(world, monkeypatch):
    tickets = _three_tickets_sent_tonight(world)
    bank = world[-1]

    def never_sent(self, entries):  # noqa: ANN001
        raise RuntimeError("killed before the request left")

    monkeypatch.setattr(HttpEscrowBank, "submit", never_sent)
    assert run_sync(day(7, 2)).status is SyncRunStatus.FAILED
    assert reload(tickets[0]).status is S.REDEEMING
    monkeypatch.undo()
    assert run_sync(day(7, 2), trigger="manual", force=True).status is SyncRunStatus.DONE
    assert all(bank.sim.received_count(instructions(t)[-1].key) == 1 for t in tickets)
    _assert_each_finalised_once(tickets, bank)


def test_a_run_left_running_by_a_dead_process_is_taken_over_later(world):
    tickets = _three_tickets_sent_tonight(world)
    bank = world[-1]
    dead = BankSyncRun(business_day=day(7, 2), status=SyncRunStatus.RUNNING, trigger="schedule",
                       started_at=T(2026, 7, 2, 1, 0), counts={}, error="",
                       lease_until=T(2026, 7, 2, 1, 0) + jobs.LEASE)  # last renewed at 01:00
    db.session.add(dead)
    db.session.commit()
    at(2026, 7, 2, 1, 1)
    outcome = sync_night(day(7, 2), "manual", force=True)
    assert not outcome.ran and outcome.run.id == dead.id  # its lease holds: it may be running
    clock.move(jobs.LEASE)  # not renewed for longer than the lease: its process died
    outcome = sync_night(day(7, 2), "manual", force=True)
    assert outcome.ran and outcome.run.status is SyncRunStatus.DONE
    db.session.expire_all()
    assert db.session.get(BankSyncRun, dead.id).status is SyncRunStatus.FAILED
    _assert_each_finalised_once(tickets, bank)


# Rejections and the bank down -------------------------------------------------------------------

def test_a_rejected_release_leaves_the_ticket_visibly_redeeming(world):
    store, owner, pickup, _, bank = world
    [ticket, other] = issue(owner, store, pickup, quantity=2)
    at(2026, 6, 30, 1, 0)
    run_sync(day(6, 30))
    at(2026, 7, 1, 10, 0)
    services.redeem(owner, store, ticket)
    services.redeem(owner, store, other)
    db.session.commit()
    bank.control(reject_serials=[ticket.serial])

    at(2026, 7, 2, 1, 0)
    run = run_sync(day(7, 2))
    assert run.status is SyncRunStatus.DONE
    assert run.counts["release"] == {"sent": 2, "resent": 0, "acknowledged": 1, "rejected": 1}
    ticket = reload(ticket)
    assert ticket.status is S.REDEEMING and reload(other).status is S.REDEEMED
    release = instructions(ticket)[-1]
    assert release.status is InstructionStatus.REJECTED and ticket.serial in release.answer
    assert ledger(ticket) == [("deposit", 150)]
    [note] = history(ticket, "bank_rejected")
    assert ticket.serial in note.reason and "核銷撥付" in note.reason

    at(2026, 7, 3, 1, 0)  # later nights neither resend nor finalise it
    run_sync(day(7, 3))
    assert reload(ticket).status is S.REDEEMING and len(instructions(ticket)) == 2


def test_a_rejected_deposit_holds_back_the_release_and_is_tried_again(world):
    store, owner, pickup, _, bank = world
    [ticket] = issue(owner, store, pickup)
    services.redeem(owner, store, ticket)
    db.session.commit()
    bank.control(reject_serials=[ticket.serial])
    at(2026, 6, 30, 1, 0)
    run_sync(day(6, 30))
    assert _kinds(ticket) == [("deposit", "rejected")] and reload(ticket).status is S.USED
    bank.control(reject_serials=[])
    at(2026, 7, 1, 1, 0)
    run_sync(day(7, 1))
    assert [i.key for i in instructions(ticket)] == [f"deposit:{ticket.id}:1", f"deposit:{ticket.id}:2",
                                                     f"release:{ticket.id}:1"]
    assert reload(ticket).status is S.REDEEMED


def test_the_bank_down_fails_the_run_and_the_next_run_resumes(world):
    store, owner, pickup, _, bank = world
    tickets = _three_tickets_sent_tonight(world)
    bank.control(fail=True)
    run = run_sync(day(7, 2))
    assert run.status is SyncRunStatus.FAILED and "503" in run.error and run.finished_at
    statuses = [reload(t).status for t in tickets]
    assert statuses == [S.REDEEMING, S.REDEEMING, S.RETURNING]
    assert all(instructions(t)[-1].status is InstructionStatus.PENDING for t in tickets)
    assert all(instructions(t)[-1].sent_at is not None for t in tickets[:2])

    bank.control(fail=False)
    at(2026, 7, 3, 1, 0)
    run = run_sync(day(7, 3))
    assert run.status is SyncRunStatus.DONE
    assert run.counts["release"]["resent"] == 2 and run.counts["refund"]["resent"] == 1
    _assert_each_finalised_once(tickets, bank)


def test_no_bank_configured_fails_only_when_there_is_something_to_send(ctx, app):
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, gift = ready_store()
    [g] = issue(owner, store, gift)
    services.redeem(owner, store, g)
    db.session.commit()
    at(2026, 6, 30, 1, 0)
    assert run_sync(day(6, 30)).status is SyncRunStatus.DONE  # gifts need no bank
    issue(owner, store, pickup)
    at(2026, 7, 1, 1, 0)
    run = run_sync(day(7, 1))
    assert run.status is SyncRunStatus.FAILED and "ESCROW_BANK_URL" in run.error


def test_a_run_for_a_future_day_is_refused(world):
    at(2026, 7, 1, 10, 0)
    with pytest.raises(InvalidInput):
        run_sync(day(7, 2))


# The schedule -------------------------------------------------------------------------------------

def test_the_nightly_job_syncs_the_slots_taipei_day_and_raises_on_failure(world):
    store, owner, pickup, _, bank = world
    [ticket] = issue(owner, store, pickup)
    at(2026, 7, 2, 1, 0)
    run_id = nightly_sync(T(2026, 7, 2, 1, 0).isoformat())  # 2026-07-01T17:00:00+00:00
    run = db.session.get(BankSyncRun, run_id)
    assert run.business_day == day(7, 2) and run.trigger == "schedule"
    assert _kinds(ticket) == [("deposit", "acknowledged")]
    bank.control(fail=True)
    issue(owner, store, pickup)
    at(2026, 7, 3, 1, 0)
    with pytest.raises(sync.SyncFailed, match="503"):
        nightly_sync(T(2026, 7, 3, 1, 0).isoformat())


def test_the_scheduler_runs_the_sync_at_01_00_taipei(world):
    from app import jobs

    store, owner, pickup, _, bank = world
    [ticket] = issue(owner, store, pickup)
    at(2026, 7, 2, 1, 0, 30)
    assert "escrow_sync" in jobs.tick()
    db.session.expire_all()
    run = db.session.scalar(select(BankSyncRun))
    assert run.business_day == day(7, 2) and run.status is SyncRunStatus.DONE
    assert _kinds(ticket) == [("deposit", "acknowledged")]


def test_the_http_bank_sends_the_key_and_never_leaks_it(app, bank):
    entry = BankEntry(key="deposit:1:1", kind="deposit", ticket_serial="A1",
                           merchant_code="9000001", amount=100)
    [answer] = HttpEscrowBank(bank.url, BANK_KEY, 5).submit([entry])
    assert answer.accepted and answer.key == "deposit:1:1"
    with pytest.raises(BankUnavailable, match="401") as refused:
        HttpEscrowBank(bank.url, "wrong-key", 5).submit([entry])
    assert "wrong-key" not in str(refused.value)
    with pytest.raises(BankUnavailable, match="無法連線"):
        HttpEscrowBank("http://127.0.0.1:9", BANK_KEY, 2).submit([entry])


# Rule j: a night whose worker died (its lease ran out) -------------------------------------------

class Killed(BaseException):
    """kill -9 of the worker: no except clause of the job runs."""


def _sweep() -> int:
    return sweep_sync_runs(clock.now().isoformat())


def _runs() -> list[BankSyncRun]:
    db.session.expire_all()
    return list(db.session.scalars(select(BankSyncRun).where(BankSyncRun.business_day == day(7, 2))
                                   .order_by(BankSyncRun.id)))


def test_rule_j_a_night_whose_worker_died_is_failed_and_run_again_by_the_sweeper(world, monkeypatch):
    tickets = _three_tickets_sent_tonight(world)
    bank = world[-1]
    real_submit = HttpEscrowBank.submit

    def booked_then_killed(self, entries):  # noqa: ANN001, ANN202
        answers = real_submit(self, entries)
        if entries[0].kind == "release":
            raise Killed  # the bank booked the releases; their answers die with the worker
        return answers

    monkeypatch.setattr(HttpEscrowBank, "submit", booked_then_killed)
    with pytest.raises(Killed):
        run_sync(day(7, 2))
    db.session.rollback()
    monkeypatch.setattr(HttpEscrowBank, "submit", real_submit)
    [dead] = _runs()
    assert dead.status is SyncRunStatus.RUNNING  # 執行中, and nothing would ever end it

    assert _sweep() == 0  # its lease holds: it may be running
    clock.move(jobs.LEASE + timedelta(seconds=1))
    assert _sweep() == 1  # failed, and the night runs again (inline, after the sweeper's commit)
    dead, again = _runs()
    assert (dead.status, dead.lease_until) == (SyncRunStatus.FAILED, None)
    assert sync.ABANDONED_RETRY in dead.error
    assert (again.status, again.trigger, again.attempts) == (SyncRunStatus.DONE, "retry", 2)
    assert again.counts["release"]["resent"] == 2  # the booked releases, again with their keys
    _assert_each_finalised_once(tickets, bank)
    clock.move(jobs.LEASE * 3)
    assert _sweep() == 0 and len(_runs()) == 2


def test_rule_j_a_night_that_died_every_time_is_failed_for_the_operator(world):
    at(2026, 7, 2, 1, 0)
    db.session.add(BankSyncRun(business_day=day(7, 2), status=SyncRunStatus.RUNNING,
                               trigger="retry", started_at=clock.now(), counts={}, error="",
                               attempts=jobs.MAX_ATTEMPTS, lease_until=jobs.lease_end()))
    db.session.commit()
    clock.move(jobs.LEASE + timedelta(seconds=1))
    assert _sweep() == 0  # not run again
    [dead] = _runs()
    assert dead.status is SyncRunStatus.FAILED
    assert dead.error == sync.ABANDONED_FINAL.format(jobs.MAX_ATTEMPTS)
    assert "請至營運後台重新執行" in dead.error

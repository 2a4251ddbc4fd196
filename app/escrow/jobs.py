"""Job entry points of the bank escrow sync: the nightly run (app.schedule "escrow_sync"), the
operator's forced re-run (the same `sync_night`, from the escrow page), and the sweeper that
fails a run whose process died and runs its night again.

The steps are in `app.escrow.sync` and never commit; here each one is committed before anything
goes to the bank (see that module's docstring: committing first is what makes a crash safe).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from flask import current_app

from app import clock, jobs
from app.db import db, in_chunks
from app.escrow import sync
from app.escrow.bank import BankUnavailable, EscrowBank, bank_for
from app.escrow.models import BankSyncRun, InstructionKind, SyncRunStatus
from app.escrow.sync import KIND_ORDER, Night, Outcome, SyncFailed

log = logging.getLogger(__name__)


def nightly_sync(slot: str) -> int:
    """Sync the night of the slot's Taipei date (01:00: what happened before its 00:00).

    Returns the run's id. A failed run raises, so the scheduled run is recorded as failed too;
    a night another worker already has is left to it.
    """
    day = clock.business_day(datetime.fromisoformat(slot))
    outcome = sync_night(day, trigger="schedule")
    if outcome.ran and outcome.run.status is SyncRunStatus.FAILED:
        raise SyncFailed(f"價金保管同步 #{outcome.run.id} 失敗：{outcome.run.error}")
    return outcome.run.id


def run_sync(business_day: date, trigger: str = "schedule", *, force: bool = False,
             bank: EscrowBank | None = None) -> BankSyncRun:
    """Run the sync for one night; the run it made, or the run that already had the night.
    Never raises for the bank: a failure is the run's FAILED status."""
    return sync_night(business_day, trigger, force=force, bank=bank).run


def sync_night(day: date, trigger: str = "schedule", *, force: bool = False,
               bank: EscrowBank | None = None, attempt: int = 1) -> Outcome:
    sync.check_day(day)
    db.session.commit()  # start from a fresh transaction, so the night's lock comes first
    run_id = sync.claim_night(day, trigger, force, attempt)
    db.session.commit()
    if run_id is None:
        run = sync.latest_run(day)
        assert run is not None
        return Outcome(run, ran=False)
    night = Night(run_id, day, bank or bank_for(current_app))
    try:
        _run(night)
    except jobs.LeaseLost:
        db.session.rollback()  # taken as dead meanwhile; whoever took it resumes from the commits
        log.warning("bank escrow sync %s: run %s lost its lease", day, run_id)
    except BankUnavailable as exc:
        db.session.rollback()
        _finish(night, SyncRunStatus.FAILED, f"銀行無法處理：{exc}")
    except Exception as exc:  # recorded on the run; the next run resumes from what was committed
        db.session.rollback()
        log.exception("bank escrow sync %s failed", day)
        _finish(night, SyncRunStatus.FAILED, f"執行中斷：{type(exc).__name__}: {exc}"[:2000])
    run = db.session.get(BankSyncRun, run_id)
    assert run is not None
    return Outcome(run, ran=True)


def _commit(night: Night) -> None:
    db.session.commit()
    night.committed()


def _finish(night: Night, status: SyncRunStatus, error: str = "") -> None:
    night.finish(status, error)
    _commit(night)


def _run(night: Night) -> None:
    night.finalise_gifts()
    _commit(night)
    for kind in KIND_ORDER:
        _send(night, kind, resume=True)
    night.write_deposits()
    _commit(night)
    night.write_period_deposits()
    _commit(night)
    _send(night, InstructionKind.DEPOSIT)
    # Releases and refunds need the deposit the bank now holds; both are written (tickets
    # moved to redeeming / returning) before either is sent.
    night.write_moves(InstructionKind.RELEASE)
    _commit(night)
    night.write_period_releases()
    _commit(night)
    night.write_moves(InstructionKind.REFUND)
    _commit(night)
    night.write_period_refunds()
    _commit(night)
    _send(night, InstructionKind.RELEASE)
    _send(night, InstructionKind.REFUND)
    night.queue_payout_notices()  # sent by the outbox after this commit
    _commit(night)
    _finish(night, SyncRunStatus.DONE)


def _send(night: Night, kind: InstructionKind, *, resume: bool = False) -> None:
    """Send the PENDING instructions of one kind in chunks: each chunk on record (committed)
    before it goes, its answers recorded (committed) when they come back."""
    ids = night.pending_ids(kind, resume=resume)
    db.session.commit()
    for chunk_ids in in_chunks(ids, sync.CHUNK):
        chunk = night.mark_sent(chunk_ids)
        if chunk is None:
            continue
        _commit(night)  # what goes out is on record before it goes
        sent = {"sent": len(chunk.entries), "resent": len(chunk.entries) if resume else 0}
        try:
            answers = night.bank.submit(chunk.entries)
        except BankUnavailable:
            night.save_counts({kind.value: sent})  # tried: they stay PENDING, sent_at set
            _commit(night)
            raise
        night.record(kind, chunk.pending, answers, sent)
        _commit(night)


def sweep_sync_runs(slot: str) -> int:
    """Every minute: runs whose lease ran out (their process died mid-night) are failed with the
    reason, and their night runs again (idempotent: it resumes what was committed) unless it
    already failed MAX_ATTEMPTS times. Returns how many nights were queued again."""
    again = [run.id for run in jobs.abandoned(BankSyncRun, BankSyncRun.status == SyncRunStatus.RUNNING)
             if sync.return_abandoned(run)]
    for run_id in again:
        jobs.enqueue(resume_night, run_id)
    db.session.commit()
    return len(again)


def resume_night(run_id: int) -> int | None:
    """Run the night of a run the sweeper found dead, as its next attempt, unless a later run of
    that night exists (the operator's re-run, or another sweeper's). The new run's id."""
    dead = db.session.get(BankSyncRun, run_id)
    if dead is None:
        return None
    latest = sync.latest_run(dead.business_day)
    if latest is None or latest.id != dead.id:
        return None
    return sync_night(dead.business_day, trigger="retry", force=True,
                      attempt=dead.attempts + 1).run.id

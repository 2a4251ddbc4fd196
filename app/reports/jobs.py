"""Job entry points of the report exports: write one export's file, delete old ones, and (every
minute) take back exports whose job died. Each reloads by id, calls the services, and commits."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import update

from app import jobs
from app.db import db
from app.reports import export, figures
from app.reports.models import ExportJob, ExportStatus

log = logging.getLogger(__name__)


def run_export(job_id: int) -> None:
    """Write an export's file. A second run of a finished or running export does nothing; one
    whose worker died is queued again by `sweep_exports`, and its file written from scratch."""
    job = export.claim(job_id)
    db.session.commit()
    if job is None:
        return
    attempt = job.attempts
    name = export.new_file_name(job)
    path = export.export_folder() / name
    try:
        written = export.write_report_xlsx(
            job.report, job.params, job.store_id, job.account_id, path,
            on_progress=lambda rows: _progress(job_id, attempt, rows))
        export.finish(job_id, attempt, ExportStatus.DONE, file_name=name, rows_written=written)
        db.session.commit()
    except jobs.LeaseLost:
        db.session.rollback()
        path.unlink(missing_ok=True)
        log.warning("export %s: attempt %s lost its lease; its file was discarded", job_id, attempt)
    except Exception as exc:  # noqa: BLE001 - recorded on the export for the merchant to see
        db.session.rollback()
        path.unlink(missing_ok=True)
        current_app.logger.exception("export %s failed", job_id)
        try:
            export.finish(job_id, attempt, ExportStatus.FAILED, error=export.failure_message(exc))
            db.session.commit()
        except jobs.LeaseLost:
            db.session.rollback()


def _progress(job_id: int, attempt: int, written: int) -> None:
    """Progress and a renewed lease, in a short transaction of their own, so the page sees them
    while the export's read is still open. LeaseLost when the export was taken back."""
    table = ExportJob.__table__
    with db.engine.begin() as conn:
        held = conn.execute(
            update(table).where(table.c.id == job_id, table.c.status == ExportStatus.RUNNING,
                                table.c.attempts == attempt)
            .values(rows_written=written, lease_until=jobs.lease_end())).rowcount
    if not held:
        raise jobs.LeaseLost(f"export {job_id} attempt {attempt}")


def prune_exports(slot: str) -> int:
    """Daily: delete export files (and rows) older than KEEP_FILES before the slot."""
    deleted = export.forget_before(datetime.fromisoformat(slot) - export.KEEP_FILES)
    db.session.commit()
    return deleted


def sweep_exports(slot: str) -> int:
    """Every minute: exports whose lease ran out (their job died) are queued again, or failed
    after MAX_ATTEMPTS. Safe to run twice or in parallel. Returns how many were queued again."""
    working = ExportJob.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING))
    queued = [job.id for job in jobs.abandoned(ExportJob, working) if export.return_abandoned(job)]
    for job_id in queued:
        jobs.enqueue(run_export, job_id)
    db.session.commit()
    return len(queued)


def fold_figures(slot: str) -> None:
    """Move the daily figures' pending changes into their totals (app.reports.figures). Safe at
    any moment and from any number of workers at once; the slot is not needed."""
    figures.fold()
    db.session.commit()

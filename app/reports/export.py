"""Excel downloads of report queries (docs/reports.md: "Download Excel" of the current query).

Each report registers a builder: given the scope and the query parameters it checks them
(raising InvalidInput, e.g. for a range over three months) and returns a `Sheet` whose rows are
read lazily from the database in chunks, so memory stays flat however many rows there are. A
small result is streamed back at once; a large one becomes an `ExportJob` that a background
job (`app.reports.jobs.run_export`) writes to a file, showing its progress and a download link
when done. The job holds the export under a lease (`app.jobs`) renewed with each progress
update; one whose worker died is written again from scratch, or failed, by the sweeper.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Row, Select, select, update

from app import clock, jobs
from app import columns as column_spec
from app.columns import Column
from app.db import db
from app.errors import DomainError
from app.reports import scope as report_scope
from app.reports.models import ExportJob, ExportStatus

INLINE_MAX_ROWS = 5_000  # more rows than this are written by a background job
PROGRESS_EVERY = 2_000  # rows between progress updates of a running export
KEEP_FILES = timedelta(days=7)
FAILED = "產生 Excel 失敗，請稍後再試"
ABANDONED = "產生 Excel 時系統程序中斷，請重新匯出"


@dataclass(frozen=True)
class Sheet:
    title: str  # 票券報表 …; the file is named after it and the date
    columns: Sequence[Column]  # the report's column spec (the same its page shows)
    lines: Callable[[], Iterable[Any]]  # the query's rows, lazy: read in chunks (yield_per)
    count: Callable[[], int]

    @property
    def filename(self) -> str:
        return f"{self.title}_{clock.business_day():%Y%m%d}.xlsx"

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def rows(self) -> Iterator[list[Any]]:
        """Every line's cells."""
        return column_spec.sheet_rows(self.columns, self.lines())


YIELD_PER = 2_000  # rows read at a time by an export


def streamed(stmt: Select, to_line: Callable[[Row], Any]) -> Iterator[Any]:
    """The statement's rows as lines, read YIELD_PER rows at a time (a sheet's `lines`)."""
    for row in db.session.execute(stmt.execution_options(yield_per=YIELD_PER)):
        yield to_line(row)


Builder = Callable[[report_scope.ReportScope, Mapping[str, str]], Sheet]
REPORTS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Make a report exportable under `name` (its builder is also what its page uses)."""
    def decorate(builder: Builder) -> Builder:
        REPORTS[name] = builder
        return builder
    return decorate


def builder_for(report: str) -> Builder:
    _load_reports()
    try:
        return REPORTS[report]
    except KeyError:
        raise DomainError("查無此報表") from None


# The modules whose builders register themselves; a job process may not have imported them.
REPORT_MODULES: tuple[str, ...] = (
    "app.reports.tickets", "app.reports.circulation", "app.reports.cross_store", "app.reports.branch",
)


def _load_reports() -> None:
    from importlib import import_module

    for module in REPORT_MODULES:
        import_module(module)


def plain_params(params: Mapping[str, object]) -> dict[str, str | list[str]]:
    """The query as a JSON-safe dict (multi-valued fields kept as lists)."""
    getlist = getattr(params, "getlist", None)
    out: dict[str, str | list[str]] = {}
    for key in params:
        if key in ("csrf_token", "page", "export"):
            continue
        values = getlist(key) if getlist else params[key]
        if isinstance(values, list | tuple):
            values = [str(v) for v in values]
            out[key] = values[0] if len(values) == 1 else values
        else:
            out[key] = str(values)
    return out


class ParamView(Mapping[str, str]):
    """Stored parameters read like request.args: `get` gives the first value, `getlist` all."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> str:
        value = self._data[key]
        return value[0] if isinstance(value, list) and value else str(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def getlist(self, key: str) -> list[str]:
        value = self._data.get(key)
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def export_folder() -> Path:
    folder = Path(current_app.config.get("EXPORT_FOLDER")
                  or Path(current_app.instance_path) / "exports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


EXPORT_JOB = "app.reports.jobs:run_export"  # by path: the job module imports this one


def start(report: str, params: Mapping[str, object], scope: report_scope.ReportScope,
          sheet: Sheet, total: int) -> ExportJob:
    """Queue a background export of a large query (the caller commits)."""
    job = ExportJob(store_id=scope.acting_store_id, account_id=scope.account_id, report=report,
                    params=plain_params(params), title=sheet.title, total_rows=total,
                    lease_until=jobs.lease_end())
    db.session.add(job)
    db.session.flush()
    jobs.enqueue(EXPORT_JOB, job.id)
    return job


def write_report_xlsx(report: str, params: Mapping[str, object], store_id: int, account_id: int,
                      out_path: Path, *, on_progress: Callable[[int], None] | None = None) -> int:
    """Write the whole query to `out_path`; the number of data rows written. `on_progress` is
    told the count every PROGRESS_EVERY rows."""
    view = params if hasattr(params, "getlist") else ParamView(params)
    scope = report_scope.for_job(account_id, store_id, view)
    sheet = builder_for(report)(scope, view)
    written = 0

    def lines() -> Iterator[Any]:
        nonlocal written
        for line in sheet.lines():
            yield line
            written += 1
            if on_progress is not None and written % PROGRESS_EVERY == 0:
                on_progress(written)

    with open(out_path, "wb") as out:
        column_spec.write_xlsx(out, sheet.columns, lines(), sheet_title=sheet.title[:31])
    return written


# What the export job does (it commits; these flush) ------------------------------------------

def _unscoped(stmt):  # noqa: ANN001, ANN202 - jobs act on the export they were given, any store
    return stmt.execution_options(unscoped=True, synchronize_session=False)


def claim(job_id: int) -> ExportJob | None:
    """Queued → running (compare-and-set), counting the attempt and taking the lease; the
    export, or None when it is not queued (done, running elsewhere, failed)."""
    attempt = db.session.execute(_unscoped(
        update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == ExportStatus.QUEUED)
        .values(status=ExportStatus.RUNNING, started_at=clock.now(), rows_written=0,
                attempts=ExportJob.attempts + 1, lease_until=jobs.lease_end())
        .returning(ExportJob.attempts))).scalar_one_or_none()
    if attempt is None:
        return None
    return db.session.scalar(select(ExportJob).where(ExportJob.id == job_id)
                             .execution_options(unscoped=True, populate_existing=True))


def new_file_name(job: ExportJob) -> str:
    """A fresh, unguessable file name for one attempt (its prefix is the export's id)."""
    return f"{job.id}-{secrets.token_urlsafe(12)}.xlsx"


def finish(job_id: int, attempt: int, status: ExportStatus, **values: object) -> None:
    """The attempt's last write: a compare-and-set on (running, attempt), or LeaseLost."""
    done = db.session.execute(_unscoped(
        update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == ExportStatus.RUNNING,
                                ExportJob.attempts == attempt)
        .values(status=status, finished_at=clock.now(), lease_until=None, **values))).rowcount
    if not done:
        raise jobs.LeaseLost(f"export {job_id} attempt {attempt}")


def failure_message(exc: Exception) -> str:
    return exc.message if isinstance(exc, DomainError) else FAILED


def discard_partial_files(job_id: int, keep: str = "") -> None:
    """Delete what a dead attempt of this export left half-written."""
    for path in export_folder().glob(f"{job_id}-*.xlsx"):
        if path.name != keep:
            path.unlink(missing_ok=True)


def return_abandoned(job: ExportJob) -> bool:
    """An export whose lease ran out (`app.jobs.abandoned`): its job died. Running: its partial
    file is deleted and it is queued again (the file is written from scratch), or failed with
    ABANDONED after MAX_ATTEMPTS. Queued: its job never started, so it is queued again as it
    is. True when the caller must enqueue EXPORT_JOB."""
    seen = job.status
    working = ExportJob.status == seen
    if seen is ExportStatus.QUEUED:
        return jobs.take_back(job, working, lease_until=jobs.lease_end())
    again = job.attempts < jobs.MAX_ATTEMPTS
    values = (dict(status=ExportStatus.QUEUED, rows_written=0, lease_until=jobs.lease_end()) if again
              else dict(status=ExportStatus.FAILED, error=ABANDONED, finished_at=clock.now(),
                        lease_until=None))
    if not jobs.take_back(job, working, **values):
        return False  # finished, or taken by another sweeper, meanwhile
    discard_partial_files(job.id)
    return again


def file_of(job: ExportJob) -> Path | None:
    if job.status is not ExportStatus.DONE or not job.file_name:
        return None
    path = export_folder() / job.file_name
    return path if path.is_file() else None


def forget_before(cutoff: datetime) -> int:
    """Delete the exports created before `cutoff`, with their files (the caller commits)."""
    old = db.session.scalars(select(ExportJob).where(ExportJob.created_at < cutoff)
                             .execution_options(unscoped=True)).all()
    for job in old:
        if job.file_name:
            (export_folder() / job.file_name).unlink(missing_ok=True)
        db.session.delete(job)
    return len(old)

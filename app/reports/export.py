"""Excel downloads of report queries (domain §10: "Download Excel" of the current query).

Each report registers a builder: given the scope and the query parameters it checks them
(raising InvalidInput, e.g. for a range over three months) and returns a `Sheet` whose rows are
read lazily from the database in chunks, so memory stays flat however many rows there are. A
small result is streamed back at once; a large one becomes an `ExportJob` that a background
job writes to a file, showing its progress and a download link when done.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Row, Select, select, update

from app import clock
from app import columns as column_spec
from app.columns import Column
from app.db import db
from app.errors import DomainError
from app.reports import scope as report_scope
from app.reports.models import ExportJob, ExportStatus

INLINE_MAX_ROWS = 5_000  # more rows than this are written by a background job
PROGRESS_EVERY = 2_000  # rows between progress updates of a running export
STALE_AFTER = timedelta(minutes=30)  # a running export older than this was lost with its worker
KEEP_FILES = timedelta(days=7)
FAILED = "產生 Excel 失敗，請稍後再試"


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


def start(report: str, params: Mapping[str, object], scope: report_scope.ReportScope,
          sheet: Sheet, total: int) -> ExportJob:
    """Queue a background export of a large query (the caller commits)."""
    from app.jobs import enqueue

    job = ExportJob(store_id=scope.acting_store_id, account_id=scope.account_id, report=report,
                    params=plain_params(params), title=sheet.title, total_rows=total)
    db.session.add(job)
    db.session.flush()
    enqueue(run_export, job.id)
    return job


def _counting(rows: Iterable[Any], job_id: int | None) -> Iterator[Any]:
    written = 0
    for row in rows:
        yield row
        written += 1
        if job_id is not None and written % PROGRESS_EVERY == 0:
            _progress(job_id, written)


def _progress(job_id: int, written: int) -> None:
    """Progress goes through its own short transaction, so the page sees it while the export's
    read is still open."""
    with db.engine.begin() as conn:
        conn.execute(update(ExportJob.__table__).where(ExportJob.__table__.c.id == job_id)
                     .values(rows_written=written))


def write_report_xlsx(report: str, params: Mapping[str, object], store_id: int, account_id: int,
                      out_path: Path, *, job_id: int | None = None) -> int:
    """Write the whole query to `out_path`; the number of data rows written."""
    view = params if hasattr(params, "getlist") else ParamView(params)
    scope = report_scope.for_job(account_id, store_id, view)
    sheet = builder_for(report)(scope, view)
    written = 0

    def lines() -> Iterator[Any]:
        nonlocal written
        for line in _counting(sheet.lines(), job_id):
            written += 1
            yield line

    with open(out_path, "wb") as out:
        column_spec.write_xlsx(out, sheet.columns, lines(), sheet_title=sheet.title[:31])
    return written


def _claim(job_id: int) -> ExportJob | None:
    now = clock.now()
    claimed = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id,
               (ExportJob.status == ExportStatus.QUEUED)
               | ((ExportJob.status == ExportStatus.RUNNING) & (ExportJob.started_at < now - STALE_AFTER)))
        .values(status=ExportStatus.RUNNING, started_at=now, rows_written=0)
        .execution_options(unscoped=True, synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    return db.session.scalar(select(ExportJob).where(ExportJob.id == job_id)
                             .execution_options(unscoped=True))


def run_export(job_id: int) -> None:
    """Job: write an export's file. A second run of a finished or running export does nothing;
    one left running by a lost worker is taken over after STALE_AFTER."""
    job = _claim(job_id)
    if job is None:
        return
    name = f"{job.id}-{secrets.token_urlsafe(12)}.xlsx"
    path = export_folder() / name
    try:
        written = write_report_xlsx(job.report, job.params, job.store_id, job.account_id, path,
                                    job_id=job.id)
    except Exception as exc:  # noqa: BLE001 - recorded on the export for the merchant to see
        db.session.rollback()
        path.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, DomainError) else FAILED
        current_app.logger.exception("export %s failed", job_id)
        _finish(job_id, ExportStatus.FAILED, error=message)
        return
    _finish(job_id, ExportStatus.DONE, file_name=name, rows_written=written)


def _finish(job_id: int, status: ExportStatus, **values: object) -> None:
    db.session.execute(
        update(ExportJob).where(ExportJob.id == job_id)
        .values(status=status, finished_at=clock.now(), **values)
        .execution_options(unscoped=True, synchronize_session=False))
    db.session.commit()


def file_of(job: ExportJob) -> Path | None:
    if job.status is not ExportStatus.DONE or not job.file_name:
        return None
    path = export_folder() / job.file_name
    return path if path.is_file() else None


def prune(slot: str | None = None) -> None:
    """Scheduled: delete export files (and rows) older than KEEP_FILES."""
    cutoff = clock.now() - KEEP_FILES
    old = db.session.scalars(select(ExportJob).where(ExportJob.created_at < cutoff)
                             .execution_options(unscoped=True)).all()
    for job in old:
        if job.file_name:
            (export_folder() / job.file_name).unlink(missing_ok=True)
        db.session.delete(job)
    db.session.commit()

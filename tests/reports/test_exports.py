"""Background Excel exports (docs/reports.md): a query larger than INLINE_MAX_ROWS becomes an
ExportJob written by a job (inline in tests), with a progress page, a download link and the
list of exports; another account's or store's export is 404; a failure is recorded with its
message; old files are pruned. Driven through the ticket report (tests/reports/ticket_world.py).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from app import clock
from app import jobs as app_jobs
from app.db import db
from app.errors import DomainError
from app.reports import export
from app.reports import jobs as export_jobs
from app.reports import tickets as report
from app.reports.models import ExportJob, ExportStatus
from tests.reports.ticket_world import BY_ISSUE, SINCE_SEPTEMBER, build_ticket_world, client_for

PARAMS = {"mode": "date", **SINCE_SEPTEMBER, "cols": ["holder"]}


@pytest.fixture
def tw(app, ctx, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    app.config["EXPORT_FOLDER"] = str(tmp_path / "exports")
    monkeypatch.setattr(export, "INLINE_MAX_ROWS", 3)
    return build_ticket_world()


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def sheet(data: bytes) -> list[list[object]]:
    return [list(r) for r in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)]


def download(client, job_id: int):  # noqa: ANN001, ANN201
    """GET the export's file; the response is closed (send_file holds the file open until then)."""
    response = client.get(f"/reports/exports/{job_id}/download")
    response.get_data()  # read it all (it stays readable as response.data), then let the file go
    response.close()
    return response


def jobs() -> list[ExportJob]:
    db.session.expire_all()
    return list(db.session.scalars(select(ExportJob).order_by(ExportJob.id).execution_options(unscoped=True)))


def start(client, params: dict = PARAMS):  # noqa: ANN001, ANN201
    response = client.get("/reports/tickets/export", query_string=params)
    assert response.status_code == 303, text(response)[:300]
    return response


def test_a_large_query_is_written_in_the_background(app, tw):
    client = client_for(app, "rowner01")
    response = start(client)
    [job] = jobs()
    assert response.headers["Location"].endswith(f"/reports/exports/{job.id}")
    assert (job.store_id, job.account_id, job.report, job.title) == (tw.store.id, tw.owner.id, "tickets", "票券報表")
    assert job.params == {"mode": "date", **SINCE_SEPTEMBER, "cols": "holder"}
    assert (job.status, job.total_rows, job.rows_written, job.error) == (ExportStatus.DONE, 9, 9, "")
    assert (export.export_folder() / job.file_name).is_file()

    page = text(client.get(response.headers["Location"]))
    assert 'data-status="done"' in page and "Excel 已產生，共 9 筆" in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    got = download(client, job.id)
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    rows = sheet(got.data)
    assert rows[0] == ["票券序號", "商品名稱", "面額", "票券狀態", "詳細狀態", "發行日期",
                       "持票人姓名", "持票人手機", "持票人 Email"]
    assert [r[0] for r in rows[1:]] == tw.serials(*BY_ISSUE)
    listing = text(client.get("/reports/exports/"))
    assert "票券報表" in listing and f"/reports/exports/{job.id}/download" in listing


def test_a_small_query_is_downloaded_at_once(app, tw):
    response = client_for(app, "rowner01").get("/reports/tickets/export", query_string={
        "mode": "serial", "serial": tw.t["a1"].serial})
    assert response.status_code == 200 and len(sheet(response.data)) == 2
    assert jobs() == []


def test_progress_while_running(app, tw):
    job = ExportJob(store_id=tw.store.id, account_id=tw.owner.id, report="tickets", params=PARAMS,
                    title="票券報表", status=ExportStatus.RUNNING, total_rows=9, rows_written=3,
                    started_at=clock.now())
    db.session.add(job)
    db.session.commit()
    client = client_for(app, "rowner01")
    fragment = text(client.get(f"/reports/exports/{job.id}/progress", headers={"HX-Request": "true"}))
    assert 'data-status="running"' in fragment and 'hx-trigger="every 1s"' in fragment
    assert "產生中：3 / 9 筆" in fragment and 'aria-valuenow="33"' in fragment
    assert download(client, job.id).status_code == 404  # no file yet


def test_progress_is_written_while_the_rows_stream(app, tw, monkeypatch):
    seen: list[int] = []
    real = export_jobs._progress
    monkeypatch.setattr(export, "PROGRESS_EVERY", 4)
    monkeypatch.setattr(export_jobs, "_progress", lambda job_id, attempt, written: (
        seen.append(written), real(job_id, attempt, written)))
    start(client_for(app, "rowner01"))
    assert seen == [4, 8] and jobs()[0].rows_written == 9


def test_the_job_keeps_the_branch_restriction(app, tw, monkeypatch):
    monkeypatch.setattr(export, "INLINE_MAX_ROWS", 1)
    client = client_for(app, "rclerk01")
    start(client, {**PARAMS, "branch": tw.r002.id, "cols": []})
    [job] = jobs()
    assert job.total_rows == 2 and job.status is ExportStatus.DONE
    rows = sheet(download(client, job.id).data)
    assert [r[0] for r in rows[1:]] == tw.serials("d1", "a1")


def test_another_accounts_or_stores_export_is_404(app, tw):
    start(client_for(app, "rowner01"))
    [job] = jobs()
    for username in ("rviewer01", "rother01"):  # same store, other account; another store
        client = client_for(app, username)
        for url in (f"/reports/exports/{job.id}", f"/reports/exports/{job.id}/progress",
                    f"/reports/exports/{job.id}/download"):
            response = client.get(url)
            response.get_data()
            response.close()
            assert response.status_code == 404, (username, url)
        assert f"/reports/exports/{job.id}" not in text(client.get("/reports/exports/"))


@pytest.mark.parametrize(("error", "message"), [
    (RuntimeError("disk on fire"), "產生 Excel 失敗，請稍後再試"),
    (DomainError("查無此分店"), "查無此分店"),
])
def test_a_failure_is_recorded_with_its_message(app, tw, monkeypatch, error, message):
    def broken(scope, query):  # noqa: ANN001, ANN202
        raise error
        yield  # a generator, like the real one

    monkeypatch.setattr(report, "stream_rows", broken)
    client = client_for(app, "rowner01")
    response = start(client)
    [job] = jobs()
    assert (job.status, job.error, job.file_name) == (ExportStatus.FAILED, message, "")
    assert list(export.export_folder().iterdir()) == []  # the partial file is gone
    page = text(client.get(response.headers["Location"]))
    assert 'data-testid="export-error"' in page and message in page
    assert download(client, job.id).status_code == 404


def test_a_finished_export_is_not_run_twice(app, tw):
    start(client_for(app, "rowner01"))
    [job] = jobs()
    export_jobs.run_export(job.id)
    [again] = jobs()
    assert (again.file_name, again.finished_at) == (job.file_name, job.finished_at)
    assert len(list(export.export_folder().iterdir())) == 1


def test_prune_deletes_old_files_and_rows(app, tw):
    client = client_for(app, "rowner01")
    start(client)
    clock.freeze(clock.now() + timedelta(days=6))
    start(client)
    old, recent = jobs()
    clock.freeze(clock.now() + timedelta(days=2))  # old is 8 days old, recent 2
    export_jobs.prune_exports(clock.now().isoformat())
    assert [j.id for j in jobs()] == [recent.id]
    assert sorted(p.name for p in export.export_folder().iterdir()) == [recent.file_name]
    assert download(client, old.id).status_code == 404
    assert download(client, recent.id).status_code == 200


# Rule j: an export whose job died (its lease ran out) ------------------------------------------

PAST_THE_LEASE = app_jobs.LEASE + timedelta(seconds=1)


def _held_then_claimed(app, monkeypatch) -> ExportJob:  # noqa: ANN001
    """An export a worker claimed and died writing: the claim committed, half a file left."""
    with monkeypatch.context() as held:
        held.setattr(app_jobs, "enqueue", lambda *args, **kwargs: None)
        start(client_for(app, "rowner01"))
    [job] = jobs()
    assert export.claim(job.id) is not None
    db.session.commit()
    (export.export_folder() / f"{job.id}-deadbeef.xlsx").write_bytes(b"PK half a file")
    return job


def _sweep() -> int:
    return export_jobs.sweep_exports(clock.now().isoformat())


def test_rule_j_an_export_left_running_by_a_dead_worker_is_written_again(app, tw, monkeypatch):
    job = _held_then_claimed(app, monkeypatch)
    assert _sweep() == 0  # the lease holds: it may be writing
    clock.freeze(clock.now() + PAST_THE_LEASE)
    assert _sweep() == 1  # queued again; the job runs (inline) after the sweeper's commit
    [done] = jobs()
    assert (done.status, done.attempts, done.lease_until) == (ExportStatus.DONE, 2, None)
    assert [p.name for p in export.export_folder().iterdir()] == [done.file_name]  # no half file
    assert len(sheet(download(client_for(app, "rowner01"), job.id).data)) == 10


def test_rule_j_an_export_whose_job_dies_every_time_fails_with_the_reason(app, tw, monkeypatch):
    job = _held_then_claimed(app, monkeypatch)
    monkeypatch.setattr(app_jobs, "enqueue", lambda *args, **kwargs: None)  # they die too
    for attempt in range(2, app_jobs.MAX_ATTEMPTS + 2):
        clock.freeze(clock.now() + PAST_THE_LEASE)
        assert _sweep() == (1 if attempt <= app_jobs.MAX_ATTEMPTS else 0)
        if attempt <= app_jobs.MAX_ATTEMPTS:
            assert export.claim(job.id).attempts == attempt
            db.session.commit()
    [failed] = jobs()
    assert (failed.status, failed.error) == (ExportStatus.FAILED, export.ABANDONED)
    assert list(export.export_folder().iterdir()) == []
    assert export.ABANDONED in text(client_for(app, "rowner01").get(f"/reports/exports/{job.id}"))


def test_rule_j_an_attempt_whose_export_was_taken_back_stops_and_keeps_nothing(app, tw, monkeypatch):
    real = export_jobs._progress
    monkeypatch.setattr(export, "PROGRESS_EVERY", 4)

    def taken_back_then_progress(job_id, attempt, written):  # noqa: ANN001, ANN202
        with db.engine.begin() as conn:  # the sweeper, elsewhere, while this attempt writes
            conn.execute(update(ExportJob.__table__).where(ExportJob.__table__.c.id == job_id)
                         .values(status=ExportStatus.QUEUED))
        real(job_id, attempt, written)

    monkeypatch.setattr(export_jobs, "_progress", taken_back_then_progress)
    start(client_for(app, "rowner01"))
    [job] = jobs()
    assert (job.status, job.file_name, job.attempts) == (ExportStatus.QUEUED, "", 1)
    assert list(export.export_folder().iterdir()) == []  # its file went with it

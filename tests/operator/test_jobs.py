from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.auth.models import LoginEvent
from app.db import db
from app.jobs import ScheduledRun
from tests.operator.helpers import operator_logged_in


def test_jobs_page_lists_the_schedule_and_recent_runs(client, ctx):
    operator_logged_in(client)
    db.session.add(ScheduledRun(name="prune_login_events", slot=clock.now(), status="failed",
                                error="RuntimeError('boom')"))
    db.session.commit()
    response = client.get("/operator/jobs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "prune_login_events" in html and "30 3 * * *" in html
    assert "每日 03:30 刪除一年以前的登入歷程" in html
    assert "立即執行" in html and "/operator/jobs/prune_login_events/run" in html
    assert 'data-status="failed"' in html and "boom" in html


def test_run_now_records_a_done_run_and_does_the_work(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    operator = operator_logged_in(client)
    db.session.add(LoginEvent(at=clock.now() - timedelta(days=400), username="old", success=True))
    db.session.add(LoginEvent(at=clock.now() - timedelta(days=10), username="recent",
                              success=True))
    db.session.commit()
    response = client.post("/operator/jobs/prune_login_events/run")
    assert response.status_code == 303
    assert response.headers["Location"] == "/operator/jobs"
    db.session.expire_all()
    run = db.session.scalar(select(ScheduledRun))
    assert (run.name, run.status, run.trigger) == ("prune_login_events", "done", "manual")
    assert run.requested_by_id == operator.id and run.finished_at is not None
    kept = set(db.session.scalars(select(LoginEvent.username)))
    assert "old" not in kept and {"recent", "op0001"} <= kept
    html = client.get("/operator/jobs").get_data(as_text=True)
    assert "排程作業 prune_login_events 已執行完成" in html and 'data-status="done"' in html


def test_run_now_of_an_unknown_job_is_not_found(client, ctx):
    operator_logged_in(client)
    assert client.post("/operator/jobs/no_such_job/run").status_code == 404
    assert client.get("/operator/jobs/prune_login_events/run").status_code == 405
    assert db.session.scalar(select(func.count(ScheduledRun.id))) == 0

"""Saved filters' services on a real database (SQLite, and PostgreSQL for the constraint): save,
list, find, delete; the name, the limit, and whose filters an account sees."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import history
from app.db import db
from app.errors import InvalidInput
from app.saved_filters import rules, services
from app.saved_filters.models import SavedFilter
from tests.factories import make_account, make_operator, make_saved_filter, make_store, make_sub

KEYS = ("mode", "q", "start", "end", "status")
TODAY = date(2026, 11, 21)
REPORT = "reports.tickets"


def _save(account, store, name, pairs=(("mode", "date"), ("q", "1")), **options):  # noqa: ANN001, ANN202
    return services.save(account, store, options.pop("report", REPORT), name, list(pairs), KEYS,
                         today=TODAY, **options)


def _world():  # noqa: ANN202
    store = make_store()
    return store, make_account(store), make_sub(store)


def test_save_keeps_the_sanitised_query_and_writes_history(ctx):
    store, main, _ = _world()
    saved = _save(main, store, " 本月 ", [("mode", "date"), ("page", "4"), ("format", "xlsx"),
                                         ("evil", "1"), ("status", "used"), ("status", "unused")])
    db.session.commit()
    assert (saved.name, saved.report, saved.store_id, saved.account_id) == ("本月", REPORT, store.id, main.id)
    assert saved.query == "mode=date&status=used&status=unused"
    assert saved.created_at is not None
    [entry] = history.entries_for(saved, unscoped=True)
    assert entry.action == "saved_filter_added" and entry.changes["name"] == [None, "本月"]


def test_relative_dates_are_kept_as_offsets_and_applied_as_of_today(ctx):
    store, main, _ = _world()
    saved = _save(main, store, "最近七天", [("start", "2026-11-15"), ("end", "2026-11-21")],
                  relative_dates=True)
    assert saved.query == "start=%40-6&end=%400"
    assert services.applied_query(saved, KEYS, today=date(2026, 12, 1)) == "start=2026-11-25&end=2026-12-01"
    fixed = _save(main, store, "十一月", [("start", "2026-11-01"), ("end", "2026-11-21")])
    assert services.applied_query(fixed, KEYS, today=date(2026, 12, 1)) == "start=2026-11-01&end=2026-11-21"


def test_applied_query_drops_keys_the_page_no_longer_reads(ctx):
    store, main, _ = _world()
    saved = make_saved_filter(main, store, query="mode=date&gone=1&page=2&status=used")
    assert services.applied_query(saved, KEYS, today=TODAY) == "mode=date&status=used"


def test_an_account_sees_only_its_own_filters_of_that_report_and_store(ctx):
    store, main, sub = _world()
    other_store = make_store()
    mine = _save(main, store, "A")
    _save(main, store, "B", report="orders.index")
    subs = _save(sub, store, "A")  # the same name for another account is fine
    elsewhere = make_saved_filter(main, other_store, name="C")
    assert [f.name for f in services.filters_of(main, store, REPORT)] == ["A"]
    assert services.filters_of(sub, store, REPORT) == [subs]
    assert services.find(main, store, mine.id) is mine
    assert services.find(sub, store, mine.id) is None  # a sub-account: only its own
    assert services.find(main, store, subs.id) is None  # the main account: not its sub's either
    assert services.find(main, store, elsewhere.id) is None  # another store's
    assert services.find(main, other_store, elsewhere.id) is elsewhere


def test_an_operator_keeps_filters_without_a_store(ctx):
    operator = make_operator()
    saved = _save(operator, None, "逾期未繳", report="operator.bills_overview")
    assert saved.store_id is None
    assert services.filters_of(operator, None, "operator.bills_overview") == [saved]
    assert services.find(operator, make_store(), saved.id) is None


@pytest.mark.parametrize(("name", "message"), [("", rules.NAME_REQUIRED), ("字" * 31, rules.NAME_TOO_LONG),
                                               ("A", rules.NAME_TAKEN)])
def test_a_bad_or_taken_name_is_refused(ctx, name, message):
    store, main, _ = _world()
    _save(main, store, "A")
    with pytest.raises(InvalidInput) as caught:
        _save(main, store, name)
    assert caught.value.message == message
    assert [f.name for f in services.filters_of(main, store, REPORT)] == ["A"]


def test_twenty_per_account_and_report(ctx):
    store, main, sub = _world()
    for i in range(rules.PER_REPORT):
        _save(main, store, f"F{i:02d}")
    with pytest.raises(InvalidInput) as caught:
        _save(main, store, "one more")
    assert caught.value.message == rules.TOO_MANY
    assert _save(main, store, "other report", report="orders.index").id  # another report has room
    assert _save(sub, store, "sub's own").id  # and so has another account
    assert len(services.filters_of(main, store, REPORT)) == rules.PER_REPORT


def test_delete_removes_it_and_writes_history(ctx):
    store, main, _ = _world()
    saved = _save(main, store, "A")
    filter_id = saved.id
    services.delete(saved)
    db.session.commit()
    assert db.session.get(SavedFilter, filter_id) is None
    actions = db.session.scalars(select(history.HistoryEntry.action).where(
        history.HistoryEntry.subject_type == "saved_filters",
        history.HistoryEntry.subject_id == filter_id)).all()
    assert sorted(actions) == ["saved_filter_added", "saved_filter_deleted"]


def test_postgresql_keeps_one_name_per_account_and_report(pg_app):
    with pg_app.app_context():
        store, main, _ = _world()
        saved = _save(main, store, "A", [("start", "2026-11-15"), ("end", "2026-11-21")],
                      relative_dates=True)
        db.session.commit()
        assert services.filters_of(main, store, REPORT)[0].query == "start=%40-6&end=%400"
        with pytest.raises(InvalidInput):
            _save(main, store, "A")
        db.session.rollback()
        db.session.add(SavedFilter(store_id=store.id, account_id=main.id, report=REPORT, name="A",
                                   query=""))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        assert services.find(main, store, saved.id).name == "A"
        db.session.remove()

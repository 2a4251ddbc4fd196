"""The atomic attempt counter (app.ratelimit.take): fixed windows on the app clock, a count
that refuses past the limit, a success that clears or gives back; the database row without
Redis, Redis INCR with it; 40 concurrent takes allow at most the limit on both."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock, ratelimit
from app.db import db
from app.ratelimit import AttemptCounter, Limit

LIMIT = Limit("test-attempts", 3, 900)
AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # a multiple of 15 minutes


@pytest.mark.parametrize(("at", "seconds", "ends"), [
    (AT, 900, AT + timedelta(minutes=15)),
    (AT + timedelta(minutes=14, seconds=59), 900, AT + timedelta(minutes=15)),
    (AT + timedelta(minutes=15), 900, AT + timedelta(minutes=30)),
    (AT + timedelta(seconds=30), 60, AT + timedelta(minutes=1)),
])
def test_window(at, seconds, ends):
    index, end = ratelimit.window(at, seconds)
    assert end == ends and index == int(at.timestamp()) // seconds


def _counts(app) -> list[bool]:  # noqa: ANN001
    with app.app_context():
        return [ratelimit.take(LIMIT, "user", "10.0.0.1").allowed for _ in range(5)]


def test_take_refuses_past_the_limit_until_the_window_ends_on_the_database(app):
    clock.freeze(AT + timedelta(minutes=3))
    assert _counts(app) == [True, True, True, False, False]
    with app.app_context():
        taken = ratelimit.take(LIMIT, "user", "10.0.0.1")
        assert not taken.allowed and taken.retry_at == AT + timedelta(minutes=15)
        assert ratelimit.take(LIMIT, "user", "10.0.0.2").allowed  # another key
        assert db.session.scalar(select(AttemptCounter.count).order_by(
            AttemptCounter.count.desc()).limit(1)) == 6
    clock.freeze(AT + timedelta(minutes=15))  # the next window: a bounded lock
    assert _counts(app) == [True, True, True, False, False]
    with app.app_context():
        assert ratelimit.prune_counters() == 2  # the first window's two keys
        db.session.commit()


def test_a_success_clears_the_first_counter_and_gives_back_the_others(app):
    other = Limit("test-attempts-ip", 3, 900)
    counters = [(LIMIT, ("user", "ip")), (other, ("ip",))]
    with app.app_context():
        for _ in range(2):
            assert ratelimit.take_each(counters) is None
        ratelimit.succeeded(counters)
        assert [ratelimit.take(LIMIT, "user", "ip").count,
                ratelimit.take(other, "ip").count] == [1, 2]
        for _ in range(2):
            ratelimit.take(LIMIT, "user", "ip")
        refused = ratelimit.take_each(counters)
        assert refused is not None and refused.count == 4
        assert ratelimit.take(other, "ip").count == 3  # the refused attempt did not count there


@pytest.mark.redis
def test_take_counts_in_redis_with_an_expiry(app, redis_url):
    from redis import Redis

    app.config["RATELIMIT_STORAGE_URL"] = redis_url
    assert _counts(app) == [True, True, True, False, False]
    with app.app_context():
        assert db.session.scalar(select(AttemptCounter)) is None  # nothing in the database
    conn = Redis.from_url(redis_url)
    [key] = conn.keys("test-attempts:*")
    assert 900 < conn.ttl(key) <= 960
    with app.app_context():
        ratelimit.clear(LIMIT, "user", "10.0.0.1")
        assert ratelimit.take(LIMIT, "user", "10.0.0.1").count == 1
        ratelimit.give_back(LIMIT, "user", "10.0.0.1")
        ratelimit.give_back(LIMIT, "user", "10.0.0.1")  # never below zero
        assert ratelimit.take(LIMIT, "user", "10.0.0.1").count == 1
    conn.close()


def _race(app, threads: int = 40) -> list[bool]:  # noqa: ANN001
    results: list[bool] = []
    start = threading.Barrier(threads)

    def attempt() -> None:
        with app.app_context():
            start.wait()
            results.append(ratelimit.take(LIMIT, "raced").allowed)
            db.session.remove()

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    return results


@pytest.mark.postgres
def test_forty_concurrent_takes_allow_at_most_the_limit_on_postgresql(pg_app):
    results = _race(pg_app)
    assert len(results) == 40 and results.count(True) == LIMIT.amount
    with pg_app.app_context():
        assert db.session.scalar(select(AttemptCounter.count)) == 40


@pytest.mark.redis
def test_forty_concurrent_takes_allow_at_most_the_limit_on_redis(pg_app, redis_url):
    pg_app.config["RATELIMIT_STORAGE_URL"] = redis_url
    results = _race(pg_app)
    assert len(results) == 40 and results.count(True) == LIMIT.amount

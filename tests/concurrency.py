"""Races on PostgreSQL: actors released at the same moment, each on its own connection.

Why: every race test needs the same scaffolding (one thread per actor, each in its own app
context and so its own session and database connection; a barrier at the race point; the session
committed, rolled back or removed; every thread joined), and scaffolding written by hand loses
things: an exception raised in a thread dies with the thread unless someone collects it. Here it
is written once, so a test says only what each actor does and what must come of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from flask import Flask

from app.db import db
from app.errors import DomainError

A = TypeVar("A")
R = TypeVar("R")
Ready = Callable[[], None]


def run_at_once(app: Flask, work: Callable[[A, Ready], R], args: Sequence[A], *,
                timeout: float = 60) -> list[R | DomainError]:
    """Run `work(arg, ready)` for each of `args`, each in its own thread and app context, and
    give back, in the order of `args`, what each returned or the refusal (DomainError) it raised.

    `work` calls `ready()` at its race point and waits there until every actor has arrived, so
    what it loads before is not part of the race. Its session is committed when it returns,
    rolled back when it raises, then removed. Any other exception, and any actor still running
    after `timeout` seconds, fails the caller once all are joined: none passes silently. An actor
    that ends without reaching `ready()` breaks the barrier, so the others fail at once.
    """
    barrier = threading.Barrier(len(args))
    outcomes: list = [None] * len(args)

    def actor(i: int, arg: A) -> None:
        arrived = False

        def ready() -> None:
            nonlocal arrived
            arrived = True
            barrier.wait(timeout)

        with app.app_context():
            try:
                outcomes[i] = work(arg, ready)
                db.session.commit()
            except BaseException as exc:  # handed back or raised below
                db.session.rollback()
                outcomes[i] = exc
            finally:
                db.session.remove()
                if not arrived:  # the others would wait for it in vain
                    barrier.abort()

    threads = [threading.Thread(target=actor, args=(i, arg), daemon=True) for i, arg in enumerate(args)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if stuck := sum(thread.is_alive() for thread in threads):
        raise AssertionError(f"{stuck} of {len(threads)} actors still running after {timeout}s")
    unexpected = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, DomainError)]
    if unexpected:
        raise BaseExceptionGroup("unexpected errors in concurrent actors", unexpected)
    return outcomes

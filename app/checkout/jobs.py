"""Checkout jobs: entry points taking ids (or the schedule's slot); they reload, call the
services and commit (app.notifications.jobs holds the steps every notice kind takes)."""

from __future__ import annotations

from app import jobs
from app.checkout import notices
from app.notifications.jobs import queue_due_notices, send_claimed_notice


def payment_notices(slot: str) -> int:
    """Every minute: take back tries whose sender died and queue every notice due. Safe to run
    twice: each send claims its try. How many were queued."""
    return queue_due_notices(notices.sweep, notices.due_notice_ids, _queue_send,
                             "payment notices")


def _queue_send(notice_id: int) -> None:
    jobs.enqueue(send_payment_notice, notice_id, retries=(), queue="notifications")


def send_payment_notice(notice_id: int, trigger: str = "auto") -> str:
    """One try of one notice (claim, POST, outcome)."""
    return send_claimed_notice(
        notice_id, trigger, notices.claim, lambda held: notices.deliver(held[1], held[2]),
        lambda held, reply: notices.finish(notice_id, held[0], trigger, reply), "payment notice")

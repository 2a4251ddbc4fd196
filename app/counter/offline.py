"""Syncing what a counter redeemed offline, and the merchant's list of conflicts (離線核銷衝突).

A device that redeemed from its snapshot (app.counter.snapshot) while the network was down
keeps each redemption in a queue — an idempotency key, the ticket id its snapshot gave, its
own time — and replays the queue when the network is back. Each entry goes through the one
redemption the counter uses (`tickets.actions.perform`, its rights, status machine and
compare-and-set), as the logged-in clerk, at the server's time; the device's time and id are
written into the ticket's history. The server never takes the device's word for when: a gift
voucher redeemed offline at 23:55 of its last day and heard of at 00:05 is a conflict
(不在可核銷期間) for the merchant to look at, not a redemption dated by a device clock.

A ticket id alone redeems nothing: ids are not secret, and at the counter a redemption needs the
code, that is the ticket in hand. Each entry carries a proof that the device had the code —
SHA-256 of the entry's key and the normalised code (`possession_proof`), computed when the clerk
redeemed and kept instead of the code — which the server checks against the ticket's code. A
wrong proof is answered as an unknown ticket, so a forged queue cannot redeem a store's tickets
by walking their ids, nor learn which ids it may see; it counts as a failed look-up of the
counter's brute-force guard (`counter.services.find`), whose limit then holds the clerk's
further entries back (sent again later) as it holds the clerk's look-ups.

Each entry is recorded once per (store, key) before anything is done (an INSERT that ignores a
duplicate): a queue replayed twice, or two replays racing, redeem once, and the later replay
is answered what the first was. A refusal is recorded as a conflict with both sides' facts and
shown to the clerk and on the merchant's list. A ticket id no ticket this store may see has
(another store's, a forged one) is a conflict 查無此票券 that says nothing of that ticket.
Services flush; the view commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app import clock, history, ratelimit
from app.auth.models import Account
from app.bounds import BIGINT_MAX, NUL, nul_fields
from app.columns import Column
from app.counter.models import Conflict, OfflineRedemption, Outcome
from app.db import db, insert_ignoring_conflict
from app.errors import DomainError, InvalidInput, Malformed, NotFound
from app.products import access
from app.stores.models import Store
from app.tickets import actions, codes, lifecycle
from app.tickets import services as tickets
from app.tickets.actions import NotAllowedHere, TicketRefused
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

MAX_ENTRIES = 200  # one request's queue; a longer one is sent in parts
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
PROOF_PATTERN = re.compile(r"[0-9a-f]{64}")
BAD_QUEUE = "離線核銷佇列格式不符"
NOT_THIS_CLERK = "此筆離線核銷由其他帳號操作，須由該帳號登入後同步"
UNKNOWN_TICKET = "查無此票券，或此票券不屬於本商店可核銷的範圍"
KEY_REUSED = "此離線核銷的識別碼已用於另一張票券"
HANDLED_ALREADY = "此衝突已標記為已處理"
RETRY = "此筆離線核銷正在處理中，稍後將再同步"

_CONFLICT_OF_REFUSAL = {
    lifecycle.ALREADY_REDEEMED.code: Conflict.REDEEMED_ELSEWHERE,
    lifecycle.ALREADY_RETURNED.code: Conflict.RETURNED,
    lifecycle.EXPIRED.code: Conflict.WINDOW_CLOSED,
    lifecycle.NOT_YET_VALID.code: Conflict.WINDOW_CLOSED,
}


@dataclass(frozen=True)
class Queued:
    """One redemption of a device's queue, as sent."""

    key: str
    ticket_id: int
    offline_at: datetime
    clerk: int
    proof: str  # possession_proof(key, code)
    snapshot_at: datetime | None = None


@dataclass(frozen=True)
class Queue:
    device: str
    entries: tuple[Queued, ...]


# Reading the queue ------------------------------------------------------------------------

def parse_queue(body: Any) -> Queue:
    """The posted queue, or Malformed (400) / InvalidInput (422): the shape is the device's own,
    so anything else — a NUL, a non-integer id, an unknown time — is refused as a whole."""
    try:
        if nul_fields(body):
            raise InvalidInput("輸入內容含有不允許的控制字元（NUL）", code="nul")
    except ValueError:  # nested without end
        raise Malformed("請求內容的 JSON 巢狀層數過多") from None
    if not isinstance(body, dict):
        raise InvalidInput(BAD_QUEUE, code="bad_queue")
    device, raw = body.get("device"), body.get("entries")
    if not isinstance(device, str) or not ID_PATTERN.fullmatch(device):
        raise InvalidInput(f"{BAD_QUEUE}（裝置代號）", code="bad_queue")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ENTRIES:
        raise InvalidInput(f"{BAD_QUEUE}（每次 1 至 {MAX_ENTRIES} 筆）", code="bad_queue")
    return Queue(device, tuple(_entry(item) for item in raw))


def _entry(item: Any) -> Queued:
    if not isinstance(item, dict):
        raise InvalidInput(BAD_QUEUE, code="bad_queue")
    key, ticket_id, clerk = item.get("key"), item.get("ticket_id"), item.get("clerk")
    if not isinstance(key, str) or not ID_PATTERN.fullmatch(key):
        raise InvalidInput(f"{BAD_QUEUE}（識別碼）", code="bad_queue")
    for value in (ticket_id, clerk):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= BIGINT_MAX:
            raise InvalidInput(f"{BAD_QUEUE}（票券或帳號）", code="bad_queue")
    offline_at = _time(item.get("at"))
    if offline_at is None:
        raise InvalidInput(f"{BAD_QUEUE}（時間）", code="bad_queue")
    proof = item.get("proof")
    if not isinstance(proof, str) or not PROOF_PATTERN.fullmatch(proof):
        raise InvalidInput(f"{BAD_QUEUE}（核銷代碼證明）", code="bad_queue")
    snapshot_at = _time(item.get("snapshot_at")) if item.get("snapshot_at") is not None else None
    return Queued(key, ticket_id, offline_at, clerk, proof, snapshot_at)


def possession_proof(key: str, typed: str) -> str:
    """What a device keeps of the code it redeemed: SHA-256 of the entry's key, a colon and the
    normalised code (the page computes it with WebCrypto). The key is new for every entry, so
    a proof only says "this code" to someone who already has the code."""
    return hashlib.sha256(f"{key}:{codes.normalise_code(typed)}".encode()).hexdigest()


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time with its offset, in UTC; None for anything else."""
    if not isinstance(value, str) or len(value) > 40 or NUL in value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None or not 2000 <= at.year <= 2999:
        return None
    return at.astimezone(UTC)


# Replaying --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """What the clerk is told of one entry."""

    key: str
    outcome: str  # "synced" | "conflict" | "skipped"
    message: str
    conflict: str | None = None
    conflict_label: str = ""
    serial: str = ""
    product: str = ""
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "outcome": self.outcome, "message": self.message,
                "conflict": self.conflict, "conflict_label": self.conflict_label,
                "serial": self.serial, "product": self.product, "replayed": self.replayed}


SYNCED_MESSAGE = "離線核銷已同步，票券狀態已變更"


def replay(actor: Account, store: Store, queue: Queue) -> list[Answer]:
    """Replay a device's queue as `actor` in `store`, one entry after the other (module
    docstring). Entries of another clerk are skipped, unrecorded, for that clerk to sync."""
    return [_replay_one(actor, store, queue.device, entry) for entry in queue.entries]


def _replay_one(actor: Account, store: Store, device: str, entry: Queued) -> Answer:
    if entry.clerk != actor.id:
        return Answer(entry.key, "skipped", NOT_THIS_CLERK)
    try:  # the counter's brute-force guard: wrong proofs count as failed look-ups
        ratelimit.check(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, actor.id)
    except ratelimit.TooManyAttempts as refused:
        return Answer(entry.key, "skipped", refused.message)
    now = clock.now()
    unit = access.unit_for(actor, store)
    claimed = insert_ignoring_conflict(
        OfflineRedemption, store_id=store.id, key=entry.key, device_id=device,
        account_id=actor.id, branch_id=unit.branch_id, claimed_ticket_id=entry.ticket_id,
        ticket_id=None, offline_at=entry.offline_at, snapshot_at=entry.snapshot_at,
        received_at=now, outcome=Outcome.CONFLICT, conflict=Conflict.OTHER,
        server_status=None, server_said="")
    if claimed is None:
        return _replayed(store, entry)
    record = db.session.get(OfflineRedemption, claimed)
    ticket = tickets.find_visible_by_id(store, entry.ticket_id)
    if ticket is not None and not hmac.compare_digest(possession_proof(entry.key, ticket.code),
                                                      entry.proof):
        ratelimit.count_failure(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, actor.id)
        ticket = None  # answered as an unknown ticket: nothing is said of it
    if ticket is None:
        _conflict(record, Conflict.UNKNOWN_TICKET, UNKNOWN_TICKET, None)
        return _answer(record)
    record.ticket_id = ticket.id
    try:
        actions.perform(Action.REDEEM, actor, store, ticket, at=now,
                        reason=history_reason(device, entry.offline_at))
    except DomainError as refused:
        _conflict(record, _kind(refused), refused.message, ticket, now)
        history.record(ticket, "offline_redemption_conflict", store_id=ticket.store_id,
                       reason=f"{history_reason(device, entry.offline_at)}：{refused.message}")
        return _answer(record)
    record.outcome, record.conflict = Outcome.SYNCED, None
    record.server_status = ticket.status.value
    db.session.flush()
    return _answer(record)


def history_reason(device: str, offline_at: datetime) -> str:
    """What the ticket's history says of a redemption heard from a device."""
    return f"離線核銷（裝置 {device}，離線時間 {clock.taipei(offline_at):%Y/%m/%d %H:%M:%S}）"


def _kind(refused: DomainError) -> Conflict:
    if isinstance(refused, NotAllowedHere):
        return Conflict.NOT_ALLOWED
    if isinstance(refused, TicketRefused):
        return _CONFLICT_OF_REFUSAL.get(refused.refusal.code, Conflict.OTHER)
    return Conflict.OTHER


def _conflict(record: OfflineRedemption, kind: Conflict, said: str, ticket: Ticket | None,
              at: datetime | None = None) -> None:
    record.outcome, record.conflict, record.server_said = Outcome.CONFLICT, kind, said
    record.server_status = (actions.effective_status(ticket, at).value if ticket is not None
                            else None)
    db.session.flush()


def _replayed(store: Store, entry: Queued) -> Answer:
    """A key already heard (a replay, or a race lost to it): the first answer, nothing done."""
    record = db.session.scalar(
        select(OfflineRedemption).where(OfflineRedemption.store_id == store.id,
                                        OfflineRedemption.key == entry.key))
    if record is None:  # claimed by a request that has since rolled back: send it again
        return Answer(entry.key, "skipped", RETRY)
    if record.claimed_ticket_id != entry.ticket_id:
        return Answer(entry.key, "skipped", KEY_REUSED)
    answer = _answer(record)
    return Answer(**{**answer.__dict__, "replayed": True})


def _answer(record: OfflineRedemption) -> Answer:
    ticket = record.ticket
    serial, product = (ticket.serial, ticket.product.name) if ticket is not None else ("", "")
    if record.outcome is Outcome.SYNCED:
        return Answer(record.key, "synced", SYNCED_MESSAGE, serial=serial, product=product)
    kind = record.conflict or Conflict.OTHER
    return Answer(record.key, "conflict", record.server_said, conflict=kind.value,
                  conflict_label=kind.label, serial=serial, product=product)


# The merchant's list ----------------------------------------------------------------------

def conflicts_query(store: Store, branch_id: int | None, *, handled: bool | None = None) -> Select:
    """The acting store's offline conflicts, newest first; a clerk bound to a branch sees its
    branch's only. `handled`: only handled (True), only open (False), or both (None)."""
    stmt = (select(OfflineRedemption)
            .where(OfflineRedemption.store_id == store.id,
                   OfflineRedemption.outcome == Outcome.CONFLICT)
            .options(selectinload(OfflineRedemption.ticket).selectinload(Ticket.product),
                     selectinload(OfflineRedemption.account),
                     selectinload(OfflineRedemption.branch))
            .order_by(OfflineRedemption.received_at.desc(), OfflineRedemption.id.desc()))
    if branch_id is not None:
        stmt = stmt.where(OfflineRedemption.branch_id == branch_id)
    if handled is True:
        stmt = stmt.where(OfflineRedemption.handled_at.is_not(None))
    elif handled is False:
        stmt = stmt.where(OfflineRedemption.handled_at.is_(None))
    return stmt


def mark_handled(actor: Account, store: Store, record_id: int, branch_id: int | None) -> None:
    """The merchant has dealt with a conflict (處理完畢): a compare-and-set on its not being
    handled yet, with its history; another store's (or another branch's) is a 404."""
    record = db.session.scalar(
        conflicts_query(store, branch_id).where(OfflineRedemption.id == record_id)
        .with_for_update(of=OfflineRedemption))
    if record is None:
        raise NotFound("查無此離線核銷衝突")
    if record.handled_at is not None:
        raise DomainError(HANDLED_ALREADY, code="handled")
    history.change(record, "offline_conflict_handled",
                   {"handled_at": clock.now(), "handled_by_id": actor.id})


def _branch(row: OfflineRedemption) -> str:
    return row.branch.label if row.branch is not None else "總店"


def _ticket_text(row: OfflineRedemption) -> str:
    return row.ticket.serial if row.ticket is not None else f"（票券編號 {row.claimed_ticket_id}）"


COLUMNS: tuple[Column, ...] = (
    Column("received_at", "同步時間", lambda r: r.received_at, format="datetime"),
    Column("conflict", "衝突類型", lambda r: (r.conflict or Conflict.OTHER).label),
    Column("serial", "票券序號", _ticket_text, format="code"),
    Column("product", "商品名稱", lambda r: r.ticket.product.name if r.ticket else ""),
    Column("offline_at", "離線核銷時間（裝置）", lambda r: r.offline_at, format="datetime"),
    Column("device", "裝置代號", lambda r: r.device_id, format="code"),
    Column("clerk", "操作人員", lambda r: r.account.username),
    Column("branch", "核銷分店", _branch),
    Column("server_status", "同步時票券狀態",
           lambda r: TicketStatus(r.server_status) if r.server_status else None, format="status"),
    Column("server_said", "伺服器紀錄", lambda r: r.server_said, width=60),
    Column("snapshot_at", "離線資料時間", lambda r: r.snapshot_at, format="datetime",
           excel_only=True),
    Column("handled_at", "處理時間", lambda r: r.handled_at, format="datetime"),
)

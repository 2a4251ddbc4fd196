"""Bulk load data for the benchmarks (issue 7): N tickets with a realistic spread, fast.

`flask --app app demo-data --tickets 1000000` loads the demo data (idempotent), then this: the
demo issuer (3002607) gets 60 % of the tickets so the benchmarks measure one big tenant, the
demo partner and child stores and four load stores (39000xx) share the rest. Each gets branches with a
bound clerk each, pickup and gift products (some already past their escrow or validity end),
partner stores, and batches over the last 365 days (more recent days busier), each batch one
delivery method, orders of 1–4 tickets.

Every ticket is coherent with the status rules of docs/tickets.md: a redemption or return happens
after issuance (deferred tickets not before their start day), at a branch of the store that
did it (about 2 % of tickets are redeemed by a partner store); `used` / `return_pending` only
until the night's bank sync, `redeeming` / `returning` for a few the bank has not acknowledged,
escrow-expired and expired statuses only past the product's end date; status_changed_at is the
nightly sync or the expiry job where those changed it. Small numbers of transfers (轉贈), return
applications, print runs and ticket history rows ("redeemed" / "returned" for a sample,
"issued" per batch) come with them.

Speed: rows are generated in Python and written per chunk of 50,000 tickets, with binary COPY
(psycopg 3) on a writer thread on PostgreSQL, executemany on SQLite, all in one transaction;
on PostgreSQL the big tables' secondary indexes, unique constraints and foreign keys are
re-created after the load (checking every row), then VACUUM ANALYZE. Ids are assigned here
(the sequences are moved past them at the end), so run it on a database nobody else writes to.
Redemption codes come from a seeded `random.Random` (75 bits each, check character computed
with tables built from `codes.check_character`, so `codes.is_well_formed` holds): fine for
load data, not for real tickets, whose codes come from `secrets`; they are stored as the app
keeps a given code (a keyed digest and the code sealed with the server key, app/credentials.py).
Orders' and transfers' links and pickup codes are derived from the key as issuing does.

Run it once per database: it refuses when its batches (import numbers LOAD-…) exist.
"""

from __future__ import annotations

import math
import queue
import random
import secrets
import string
import threading
import time
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from flask import current_app
from sqlalchemy import select, text, update

from app import clock, credentials
from app.auth.models import Account, AccountGrant, AccountKind
from app.auth.passwords import hash_password
from app.auth.permissions import Function, Level
from app.db import db
from app.issuance.models import Batch
from app.products.models import Product, ProductKind, ProductPartner
from app.reports import figures
from app.settings.models import StoreSettings
from app.stores.models import Branch, DeliveryMethod, PartnerRelation, RedemptionMode, RelationStatus, Store
from app.tickets import codes, sales
from app.tickets.models import Order
from demodata.stores import DEMO_PASSWORD, _settings, _store, load_demo

IMPORT_PREFIX = "LOAD-"
WINDOW_DAYS = 365
CHUNK_TICKETS = 50_000  # rows buffered between COPYs (and between progress lines)
SQLITE_CHUNK = 10_000

# Who issues: (merchant code, name or None for an existing demo store, share of the tickets)
STORES = (  # (the demo installment store issues installment orders, not these tickets)
    ("3002607", None, 0.60),  # the demo issuer: the big tenant the benchmarks log in as
    ("3002608", None, 0.10),  # the demo partner store
    ("3002610", None, 0.06),  # the demo child store
    ("3900001", "壓測連鎖咖啡", 0.06),
    ("3900002", "壓測烘焙坊", 0.06),
    ("3900003", "壓測百貨禮券", 0.06),
    ("3900004", "壓測餐飲集團", 0.06),
)
# Which stores may redeem whose tickets (issuer code → partner codes)
PARTNERS = {
    "3002607": ("3002608", "3900001"),
    "3002608": ("3002607",),
    "3002610": ("3002607",),
    "3900001": ("3002607", "3002608"),
    "3900002": ("3002607",),
    "3900003": ("3002607", "3002608"),
    "3900004": ("3002608",),
}
BRANCHES_PER_STORE = {"3002607": 12}  # others: 4
CITIES = ("台北", "台中", "高雄", "新北", "桃園", "新竹", "台南", "彰化", "嘉義", "屏東", "宜蘭", "花蓮")
# (name, kind, face value, end date relative to today, weight among the store's products)
PRODUCTS = (
    ("咖啡提貨券", ProductKind.PICKUP, 120, 400, 5),
    ("蛋糕提貨券", ProductKind.PICKUP, 680, 200, 3),
    ("餐券", ProductKind.PICKUP, 1000, 30, 2),
    ("週年慶提貨券", ProductKind.PICKUP, 300, -45, 2),
    ("禮盒提貨券", ProductKind.PICKUP, 1500, -150, 1),
    ("來店禮贈品券", ProductKind.GIFT, 50, 90, 2),
    ("生日贈品券", ProductKind.GIFT, 100, -60, 1),
)
GIFT_SHARE = 0.2  # of batches
METHODS = ((DeliveryMethod.IMMEDIATE, 45), (DeliveryMethod.DEFERRED, 10),
           (DeliveryMethod.MERCHANT_PRINT, 15), (DeliveryMethod.PLATFORM_PRINT, 10),
           (DeliveryMethod.IBON, 20))
API_BATCH_SHARE = 0.4  # small batches sent through the API (1–40 tickets)
TICKETS_PER_ORDER = ((1, 60), (2, 22), (3, 10), (4, 8))

P_REDEEM = 0.58  # a ticket is redeemed some time after issuance (exponential delay) ...
REDEEM_MEAN_DAYS = 20
P_RETURN = 0.06  # ... or returned
RETURN_MEAN_DAYS = 8
CROSS_STORE = 0.035  # of redemptions, by a partner store (≈ 2 % of the tickets)
HEAD_OFFICE = 0.3  # of redemptions and returns, by the head office rather than a branch
RETURN_FEE = 0.25  # of in-escrow pickup returns, with a handling fee (10 % of face value)
STUCK_AT_BANK = 0.001  # redemptions / returns the bank has not acknowledged (rejected)
TRANSFER = 0.02  # of electronic pickup orders with a usable ticket
TRANSFER_CANCELLED = 0.15
APPLICATION_ON_RETURN = 0.1  # returned electronic pickup tickets that began as an application
APPLICATION_PENDING = 0.0005  # unused electronic pickup tickets with a pending application
APPLICATION_DECLINED = 0.0003
PRINTED_BATCH = 0.1  # paper batches printed (every ticket once); some reprinted
REPRINTED_BATCH = 0.05
HISTORY_SAMPLE = 0.01  # redeemed / returned tickets with their history entry

SURNAMES = "王李張劉陳楊黃趙吳周徐孫馬朱胡郭何林高羅鄭梁謝宋唐許韓馮鄧曹彭曾蕭田董"
GIVEN = "志明俊傑家豪建宏雅婷怡君淑芬美玲宗翰冠宇承恩詩涵欣怡佳穎子軒柏翰思妤品妍宥廷"
RETURN_REASONS = ("消費者不需要了", "重複購買", "商品缺貨", "消費者申請退貨", "活動取消")
APPLICATION_REASONS = ("買錯商品", "不需要了", "送禮對象無法使用", "重複購買")

SERIAL_CHARS = string.ascii_uppercase + string.digits
_ALPHABET = codes.ALPHABET
_DAY = 86_400
_TAIPEI = 8 * 3600  # Taipei has no daylight saving: local day index = (ts + 8 h) // 1 day
_EPOCH = date(1970, 1, 1)

class AlreadyLoaded(Exception):
    pass


# Columns, in the order rows are built -------------------------------------------------------

BATCH_COLUMNS = ("id", "store_id", "import_no", "delivery_method", "source", "status", "kind",
                 "rows", "error_count", "ticket_count", "issued_count", "error", "platform_id",
                 "rights_statement", "created_by_id", "created_branch_id", "created_at",
                 "started_at", "finished_at", "printed_at")
ORDER_COLUMNS = ("id", "store_id", "batch_id", "order_no", "merchant_order_no", "delivery_method",
                 "purchaser_name", "purchaser_mobile", "purchaser_email", "link_token_digest",
                 "pickup_code_digest", "platform_id", "ticket_count", "amount", "created_at",
                 "secret_salt", "secret_version", "link_token_sealed", "pickup_code_sealed")
TICKET_COLUMNS = ("id", "store_id", "product_id", "order_id", "batch_id", "serial", "code_digest",
                  "kind",
                  "face_value", "delivery_method", "status", "status_changed_at", "issued_at",
                  "valid_from", "expires_on", "holder_name", "holder_mobile", "holder_email",
                  "platform_id", "redeemed_at", "redeemed_by_id", "redeemed_store_id",
                  "redeemed_branch_id", "returned_at", "returned_by_id", "returned_branch_id",
                  "return_fee", "return_reason", "transferred_at", "transfer_id", "printed_at",
                  "print_count", "secret_salt", "secret_version", "code_sealed")
TRANSFER_COLUMNS = ("id", "store_id", "transfer_no", "order_id", "giver_name", "giver_mobile",
                    "giver_email", "recipient_name", "recipient_mobile", "recipient_email",
                    "link_token_digest", "status", "ticket_count", "created_at", "cancelled_at",
                    "cancelled_by_id", "cancel_reason", "secret_salt", "secret_version",
                    "link_token_sealed")
TRANSFER_ITEM_COLUMNS = ("id", "store_id", "transfer_id", "ticket_id", "state", "ended_at")
APPLICATION_COLUMNS = ("id", "store_id", "ticket_id", "order_id", "applicant_name",
                       "applicant_mobile", "applicant_email", "reason", "status", "created_at",
                       "handled_at", "handled_by_id", "decline_reason")
PRINT_RUN_COLUMNS = ("id", "store_id", "kind", "account_id", "actor_label", "batch_id",
                     "ticket_count", "created_at")
PRINTED_TICKET_COLUMNS = ("id", "store_id", "run_id", "ticket_id", "printed_at")
HISTORY_COLUMNS = ("id", "at", "store_id", "actor_id", "actor_label", "actor_store_id",
                   "actor_branch_id", "ip", "subject_type", "subject_id", "action", "changes",
                   "from_status", "to_status", "reason")

# Parents first: each table only refers to tables written before it.
TABLES = (("batches", BATCH_COLUMNS), ("orders", ORDER_COLUMNS), ("transfers", TRANSFER_COLUMNS),
          ("tickets", TICKET_COLUMNS), ("transfer_items", TRANSFER_ITEM_COLUMNS),
          ("return_applications", APPLICATION_COLUMNS), ("print_runs", PRINT_RUN_COLUMNS),
          ("printed_tickets", PRINTED_TICKET_COLUMNS), ("history", HISTORY_COLUMNS))

# Ticket row positions used after the row is built
T_ID, T_STATUS, T_HOLDER, T_REDEEMED_AT = 0, 10, 15, 19
T_RETURNED_AT, T_RETURNED_BY, T_TRANSFERRED_AT, T_TRANSFER_ID, T_PRINTED_AT, T_PRINT_COUNT = (
    23, 24, 28, 29, 30, 31)


# The stores' shape ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """Who acts: an account and the branch it is bound to (None: the head office)."""

    account_id: int
    username: str
    branch_id: int | None


@dataclass(frozen=True)
class ProductPlan:
    id: int
    kind: str
    face_value: int
    end: date
    end_ts: float  # the last instant of the end day (Taipei)
    expiry_ts: float  # when the daily job expired what was left (00:05 the day after)
    weight: int
    partners: bool


@dataclass
class StorePlan:
    id: int
    code: str
    share: float
    owner: Unit
    clerks: list[Unit]  # one per enabled branch, allowed to redeem
    returners: list[Unit]  # those of them also allowed to return
    issuers: list[Unit]  # and to issue
    partner_ids: list[int]
    products: dict[str, list[ProductPlan]]
    applications: bool
    rights_statement: str


@dataclass
class LoadSummary:
    tickets: int = 0
    orders: int = 0
    batches: int = 0
    transfers: int = 0
    return_applications: int = 0
    print_runs: int = 0
    history: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)


def already_loaded() -> bool:
    return db.session.scalar(
        select(Batch.id).where(Batch.import_no.like(f"{IMPORT_PREFIX}%")).limit(1)
        .execution_options(unscoped=True)) is not None


def _find_store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.merchant_code == code))
    if store is None:
        raise RuntimeError(f"store {code} missing: load the demo data first")
    return store


CLERK_GRANTS = {Function.ISSUANCE: Level.MODIFY, Function.REDEEM: Level.MODIFY,
                Function.RETURN: Level.MODIFY, Function.REPORT_TICKETS: Level.VIEW,
                Function.REPORT_BRANCH: Level.VIEW}


def _units(store: Store, password_hash: str,
           branch_count: int) -> tuple[Unit, list[Unit], list[Unit], list[Unit]]:
    """The store's main account; one clerk bound to each enabled branch (created here when
    missing: branches named after cities, clerks `c<merchant code><branch code>` with
    CLERK_GRANTS), who may redeem; those of them who may return; those who may issue."""
    unscoped = {"unscoped": True}
    owner = db.session.scalar(select(Account).where(
        Account.store_id == store.id, Account.kind == AccountKind.MAIN,
        Account.deleted_at.is_(None)).order_by(Account.id).execution_options(**unscoped))
    if owner is None:
        owner = Account(store_id=store.id, kind=AccountKind.MAIN, username=f"load{store.merchant_code}",
                        password_hash=password_hash)
        db.session.add(owner)
    branches = list(db.session.scalars(select(Branch).where(Branch.store_id == store.id)
                                       .order_by(Branch.id).execution_options(**unscoped)))
    prefix = "A" if store.merchant_code == "3002607" else "B"
    taken = {b.code for b in branches}
    for i in range(1, branch_count + 1):
        if len(branches) >= branch_count:
            break
        code = f"{prefix}{i:03d}"
        if code not in taken:
            branch = Branch(store_id=store.id, code=code, name=f"{CITIES[(i - 1) % len(CITIES)]}門市")
            db.session.add(branch)
            branches.append(branch)
    db.session.flush()
    clerks, returners, issuers = [], [], []
    for branch in branches:
        if not branch.enabled:
            continue
        clerk = db.session.scalar(select(Account).where(
            Account.branch_id == branch.id, Account.deleted_at.is_(None)).order_by(Account.id)
            .execution_options(**unscoped))
        if clerk is None:
            clerk = Account(store_id=store.id, kind=AccountKind.SUB, branch_id=branch.id,
                            username=f"c{store.merchant_code}{branch.code}",
                            password_hash=password_hash, remark=f"{branch.code} 店員")
            clerk.grants = [AccountGrant(function=fn.value, level=level)
                            for fn, level in CLERK_GRANTS.items()]
            db.session.add(clerk)
            db.session.flush()
        unit = Unit(clerk.id, clerk.username, branch.id)
        if clerk.may(Function.REDEEM, Level.MODIFY):
            clerks.append(unit)
        if clerk.may(Function.RETURN, Level.MODIFY):
            returners.append(unit)
        if clerk.may(Function.ISSUANCE, Level.MODIFY):
            issuers.append(unit)
    db.session.flush()
    return Unit(owner.id, owner.username, None), clerks, returners, issuers


def _prepare_stores(today: date, window_start: date) -> list[StorePlan]:
    password_hash = hash_password(DEMO_PASSWORD)
    stores: dict[str, Store] = {}
    for code, name, _ in STORES:
        if name is None:
            stores[code] = _find_store(code)
        else:
            stores[code] = _store(code, name, mode=RedemptionMode.REDEEM_AFTER_USE,
                                  tax_id=f"9{code[-7:]}")
            _settings(stores[code], "(02) 2000-0000")
    for code, partner_codes in PARTNERS.items():
        for partner_code in partner_codes:
            issuer, partner = stores[code], stores[partner_code]
            relation = db.session.scalar(select(PartnerRelation).where(
                PartnerRelation.store_id == issuer.id,
                PartnerRelation.partner_store_id == partner.id).execution_options(unscoped=True))
            if relation is None:
                db.session.add(PartnerRelation(store_id=issuer.id, partner_store_id=partner.id))
            elif relation.status is not RelationStatus.OPEN:
                relation.status, relation.dissolved_by, relation.blocked = RelationStatus.OPEN, None, False
    db.session.flush()
    created_at = clock.day_start(window_start - timedelta(days=30))
    plans = []
    for code, _, share in STORES:
        store = stores[code]
        owner, *units = _units(store, password_hash, BRANCHES_PER_STORE.get(code, 4))
        partner_ids = [stores[p].id for p in PARTNERS.get(code, ())]
        products: dict[str, list[ProductPlan]] = {"pickup": [], "gift": []}
        for name, kind, face_value, end_offset, weight in PRODUCTS:
            end = today + timedelta(days=end_offset)
            product = Product(
                store_id=store.id, name=f"【壓測】{name}", kind=kind, face_value=face_value,
                description=f"{name}（壓測資料）", usage_instructions="請於櫃台出示核銷代碼。",
                escrow_end=end if kind is ProductKind.PICKUP else None,
                valid_until=end if kind is ProductKind.GIFT else None,
                listed=end >= today, created_at=created_at, updated_at=created_at)
            product.partner_links = [ProductPartner(partner_store_id=p) for p in partner_ids]
            db.session.add(product)
            db.session.flush()
            products[kind.value].append(ProductPlan(
                product.id, kind.value, face_value, end, clock.day_end(end).timestamp(),
                (clock.day_start(end + timedelta(days=1)) + timedelta(minutes=5)).timestamp(),
                weight, bool(partner_ids)))
        settings = db.session.scalar(select(StoreSettings).where(StoreSettings.store_id == store.id))
        plans.append(StorePlan(store.id, code, share, owner, *units, partner_ids, products,
                               bool(settings and settings.online_return_application),
                               settings.rights_statement if settings else ""))
    db.session.flush()
    return plans


# Fast redemption codes -------------------------------------------------------------------------

class CodeMaker:
    """Redemption codes from a seeded generator: 75 random bits as 15 characters of
    codes.ALPHABET plus the check character. The Damm check over GF(32) is linear, so it is the
    XOR of per-character-pair contributions, tabled once from codes.check_character."""

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits
        value = {c: i for i, c in enumerate(codes.ALPHABET)}
        self._tables = []
        for chunk in range(8):  # characters (0, 1), (2, 3), ... (12, 13), (14,)
            width = 2 if chunk < 7 else 1
            strings, checks = [], []
            for n in range(32 ** width):
                chars = "".join(codes.ALPHABET[(n >> (5 * k)) & 31] for k in range(width))
                body = ["0"] * codes.CODE_BODY  # "0" is zero: it adds nothing to the check
                body[2 * chunk:2 * chunk + width] = chars
                strings.append(chars)
                checks.append(value[codes.check_character("".join(body))])
            self._tables.append((strings, checks))

    def __call__(self) -> str:
        n = self._bits(75)
        (s0, c0), (s1, c1), (s2, c2), (s3, c3), (s4, c4), (s5, c5), (s6, c6), (s7, c7) = self._tables
        a, b, c, d = n & 1023, (n >> 10) & 1023, (n >> 20) & 1023, (n >> 30) & 1023
        e, f, g, h = (n >> 40) & 1023, (n >> 50) & 1023, (n >> 60) & 1023, n >> 70
        return (s0[a] + s1[b] + s2[c] + s3[d] + s4[e] + s5[f] + s6[g] + s7[h]
                + _ALPHABET[c0[a] ^ c1[b] ^ c2[c] ^ c3[d] ^ c4[e] ^ c5[f] ^ c6[g] ^ c7[h]])


# Writing -------------------------------------------------------------------------------------

def _next_ids() -> dict[str, int]:
    return {name: (db.session.scalar(text(f"SELECT max(id) FROM {name}")) or 0) + 1
            for name, _ in TABLES}


class Writer:
    """Writes chunks of rows, parents first. SQLite: executemany, at once. PostgreSQL: binary
    COPY on a thread of its own, so the server stores one chunk while the next is generated
    (the main thread leaves the connection alone until `close`)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.connection = db.session.connection()
        self.error: BaseException | None = None
        if dialect == "postgresql":
            self.raw = self.connection.connection.driver_connection
            self.types = {name: self._types(name, columns) for name, columns in TABLES}
            self.queue: queue.Queue[dict[str, list] | None] = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="loadgen-copy", daemon=True)
            self.thread.start()

    def _types(self, table: str, columns: Sequence[str]) -> list[int]:
        oids = dict(self.connection.execute(text(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
            "AND attnum > 0 AND NOT attisdropped"), {"t": table}).all())
        return [oids[c] for c in columns]

    def write(self, buffers: dict[str, list]) -> None:
        if self.dialect != "postgresql":
            for name, columns in TABLES:
                table, rows = db.metadata.tables[name], buffers[name]
                for start in range(0, len(rows), SQLITE_CHUNK):
                    self.connection.execute(table.insert(), [
                        dict(zip(columns, row, strict=True)) for row in rows[start:start + SQLITE_CHUNK]])
            return
        if self.error is not None:
            raise self.error
        self.queue.put(buffers)

    def close(self) -> None:
        if self.dialect == "postgresql":
            self.queue.put(None)
            self.thread.join()
            if self.error is not None:
                raise self.error

    def _run(self) -> None:
        while (buffers := self.queue.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the generator never blocks; close() raises
            try:
                self._copy(buffers)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.error = exc

    def _copy(self, buffers: dict[str, list]) -> None:
        with self.raw.cursor() as cursor:
            for name, columns in TABLES:
                rows = buffers[name]
                if not rows:
                    continue
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(self.types[name])
                    for row in rows:
                        copy.write_row(row)


DEFERRED_TABLES = ("tickets", "orders")
FIGURE_TRIGGER_TABLES = ("tickets", "orders")  # app.reports.figures' triggers


def _defer_constraints() -> list[str]:
    """PostgreSQL: drop the big tables' foreign keys, unique constraints and secondary indexes
    for the load; returns the statements that re-create them (run by `_finish`, in the same
    transaction). One build after the load is several times faster than maintaining them row
    by row; the re-created constraints check every loaded row. The tables stay locked (ACCESS
    EXCLUSIVE) until the commit."""
    tables = ", ".join(f"'{t}'::regclass" for t in DEFERRED_TABLES)
    constraints = db.session.execute(text(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
        f"FROM pg_constraint WHERE conrelid IN ({tables}) AND contype IN ('u', 'f') "
        "ORDER BY contype DESC, conname")).all()  # unique before foreign keys
    indexes = db.session.execute(text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        f"WHERE i.indrelid IN ({tables}) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "ORDER BY c.relname")).all()
    for table, name, _, _ in constraints:
        db.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        db.session.execute(text(f'DROP INDEX "{name}"'))
    return ([definition for _, definition in indexes]
            + [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
               for table, name, _, definition in constraints])


def _finish(dialect: str, recreate: list[str], echo: Callable[[str], None]) -> None:
    if dialect != "postgresql":
        return
    started = time.perf_counter()
    db.session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for statement in recreate:
        db.session.execute(text(statement))
    echo(f"  {len(recreate)} indexes and constraints re-created "
         f"({time.perf_counter() - started:.1f} s)")
    for name, _ in TABLES:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {name}))"))


# Generating ------------------------------------------------------------------------------------

def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _taipei_day(ts: float) -> int:
    return int((ts + _TAIPEI) // _DAY)


@dataclass
class BatchPlan:
    store: StorePlan
    method: DeliveryMethod
    api: bool
    size: int
    issued_ts: float


class Generator:
    def __init__(self, plans: list[StorePlan], n: int, seed: int, dialect: str,
                 echo: Callable[[str], None]) -> None:
        self.plans = {p.id: p for p in plans}
        self.store_list = plans
        self.n = n
        self.rng = random.Random(seed)
        self.dialect = dialect
        self.echo = echo
        self.code = CodeMaker(self.rng)
        now = clock.now()
        self.now_ts = now.timestamp()
        self.today = _taipei_day(self.now_ts)
        first_day = clock.business_day(now) - timedelta(days=WINDOW_DAYS)
        self.window_start_ts = clock.day_start(first_day).timestamp()
        self.ids = _next_ids()
        self.buffers: dict[str, list] = {name: [] for name, _ in TABLES}
        self.summary = LoadSummary()
        self.statuses: dict[str, int] = {}
        self.first_issued: dict[int, float] = {}
        self.operator_id = db.session.scalar(select(Account.id).where(
            Account.kind == AccountKind.OPERATOR).order_by(Account.id))
        self.order_nos: set[str] = set(db.session.scalars(text("SELECT order_no FROM orders")))
        self.key_version = credentials.current_version()
        self.key = credentials.key(self.key_version)
        self.pickup_digests: set[str] = set(db.session.scalars(
            text("SELECT pickup_code_digest FROM orders WHERE pickup_code_digest IS NOT NULL")))
        self.serial_days: set[str] = set(db.session.scalars(
            text("SELECT DISTINCT substr(serial, 1, 13) FROM tickets")))
        self.buffered_tickets = 0

    def _id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    # the plan: batches sorted by time, so ids grow with issued_at as in real life
    def plan_batches(self) -> list[BatchPlan]:
        rng = self.rng
        methods, method_weights = zip(*METHODS, strict=True)
        stores = self.store_list
        weights = [s.share for s in stores]
        batches, total = [], 0
        span = self.now_ts - self.window_start_ts
        scale = min(1.0, self.n / 200_000)  # small loads: smaller batches, so still spread out
        while total < self.n:
            store = rng.choices(stores, weights)[0]
            method = rng.choices(methods, method_weights)[0]
            api = rng.random() < API_BATCH_SHARE and method.delivery_type.value == "electronic"
            size = rng.randint(1, 40) if api else int(rng.triangular(50, codes.MAX_TICKETS_PER_BATCH, 300))
            size = max(1, int(size * scale))
            size = min(size, self.n - total)
            # busier lately: density grows linearly from 1 to 2 over the window
            x = -1 + math.sqrt(1 + 3 * rng.random())
            day_ts = self.window_start_ts + x * span
            day = _taipei_day(day_ts)
            ts = day * _DAY - _TAIPEI + rng.uniform(8 * 3600, 22 * 3600)  # 08:00–22:00 Taipei
            if ts >= self.now_ts:
                ts = self.now_ts - rng.uniform(60, 3600)
            batches.append(BatchPlan(store, method, api, size, ts))
            total += size
        batches.sort(key=lambda b: b.issued_ts)
        return batches

    def run(self) -> LoadSummary:
        started = time.perf_counter()
        batches = self.plan_batches()
        self.echo(f"  {len(batches):,} batches planned over {WINDOW_DAYS} days")
        recreate = _defer_constraints() if self.dialect == "postgresql" else []
        if self.dialect == "postgresql":  # the daily figures are recounted once at the end
            for table in FIGURE_TRIGGER_TABLES:
                db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        self.writer = Writer(self.dialect)
        try:
            next_report = CHUNK_TICKETS
            for plan in batches:
                self._batch(plan)
                if self.buffered_tickets >= CHUNK_TICKETS:
                    self._flush()
                if self.summary.tickets >= next_report:
                    elapsed = time.perf_counter() - started
                    self.echo(f"  {self.summary.tickets:>9,} / {self.n:,} tickets "
                              f"({elapsed:.1f} s, {self.summary.tickets / elapsed:,.0f}/s)")
                    next_report += CHUNK_TICKETS
            self._flush()
        finally:
            self.writer.close()  # waits for the last chunk (raises what the writer raised)
        self.echo(f"  rows written ({time.perf_counter() - started:.1f} s)")
        for product_id, ts in self.first_issued.items():  # the loader's own products only
            db.session.execute(update(Product).where(Product.id == product_id)
                               .values(first_issued_at=_dt(ts)))
        _finish(self.dialect, recreate, self.echo)
        if self.dialect == "postgresql":
            started_figures = time.perf_counter()
            for table in FIGURE_TRIGGER_TABLES:
                db.session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            figures.recount()
            self.echo(f"  daily figures recounted ({time.perf_counter() - started_figures:.1f} s)")
        started_counters = time.perf_counter()
        sales.recount(sorted(self.plans))  # 商品銷量 of the new tickets
        self.echo(f"  product sales counted ({time.perf_counter() - started_counters:.1f} s)")
        self.summary.statuses = dict(sorted(self.statuses.items()))
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _flush(self) -> None:
        self.writer.write(self.buffers)
        self.buffers = {name: [] for name, _ in TABLES}
        self.buffered_tickets = 0

    # one batch: its orders and tickets, then transfers, applications and prints
    def _batch(self, plan: BatchPlan) -> None:
        rng = self.rng
        rnd = rng.random
        store = plan.store
        issued_ts = plan.issued_ts
        issued_at = _dt(issued_ts)
        issue_day = _taipei_day(issued_ts)
        issue_date = _EPOCH + timedelta(days=issue_day)
        ymd = issue_date.strftime("%Y%m%d")
        kind = "gift" if rnd() < GIFT_SHARE else "pickup"
        products = [p for p in store.products[kind] if p.end_ts > issued_ts + _DAY]
        if not products:  # every gift product ended: issue pickup vouchers
            kind = "pickup"
            products = [p for p in store.products[kind] if p.end_ts > issued_ts + _DAY]
        product_cum = list(accumulate(p.weight for p in products))
        method = plan.method
        method_value = method.value
        electronic = method.delivery_type.value == "electronic"
        paper = method.delivery_type.value == "paper"
        cvs = method.delivery_type.value == "cvs"
        platform_id = f"PF{store.code}" if plan.api and rnd() < 0.3 else None
        batch_id = self._id("batches")
        creator = store.owner if rnd() < 0.8 or not store.issuers else rng.choice(store.issuers)
        while True:
            prefix = "".join(rng.choices(SERIAL_CHARS, k=codes.SERIAL_PREFIX))
            serial_day = prefix + ymd
            if serial_day not in self.serial_days:
                self.serial_days.add(serial_day)
                break
        ticket_rows: list[list] = []
        index = 0
        remaining = plan.size
        order_sizes, order_weights = zip(*TICKETS_PER_ORDER, strict=True)
        order_cum = list(accumulate(order_weights))
        while remaining:
            quantity = min(remaining, order_sizes[bisect(order_cum, rnd() * order_cum[-1])])
            remaining -= quantity
            product = products[bisect(product_cum, rnd() * product_cum[-1])]
            order_id = self._id("orders")
            self.summary.orders += 1
            name, mobile, email = self._person(order_id, paper)
            while True:
                order_no = f"ECT{ymd}{int(rnd() * 100_000_000):08d}"
                if order_no not in self.order_nos:
                    self.order_nos.add(order_no)
                    break
            while True:  # 12-digit pickup codes: skip the rare one already taken
                secret = Order.new_secret_values(link=electronic, pickup=cvs)
                if secret["pickup_code_digest"] not in self.pickup_digests:
                    break
            if cvs:
                self.pickup_digests.add(secret["pickup_code_digest"])
            self.buffers["orders"].append((
                order_id, store.id, batch_id, order_no, f"LD{order_id:010d}", method_value,
                name, mobile, email, secret["link_token_digest"], secret["pickup_code_digest"],
                platform_id, quantity, product.face_value * quantity, issued_at,
                secret["secret_salt"], secret["secret_version"], None, None))
            valid_from = None
            valid_from_ts = 0.0
            if method is DeliveryMethod.DEFERRED:
                valid_from = issue_date + timedelta(days=rng.randint(1, 30))
                valid_from_ts = ((valid_from - _EPOCH).days * _DAY) - _TAIPEI
            order_rows = []
            for _ in range(quantity):
                row = self._ticket(store, product, order_id, batch_id, f"{serial_day}{index:03d}",
                                   kind, method_value, issued_ts, issued_at, valid_from,
                                   valid_from_ts, name, mobile, email, platform_id)
                index += 1
                order_rows.append(row)
            if electronic and kind == "pickup" and rnd() < TRANSFER:
                self._transfer(store, order_id, order_rows, issued_ts, (name, mobile, email))
            if electronic and kind == "pickup" and store.applications:
                self._applications(store, order_id, order_rows, issued_ts)
            ticket_rows.extend(order_rows)
        printed_ts = None
        if paper and rnd() < PRINTED_BATCH:
            printed_ts = self._print(store, batch_id, method, ticket_rows, issued_ts)
        self.buffers["tickets"].extend(ticket_rows)
        self.buffered_tickets += len(ticket_rows)
        self.buffers["batches"].append((
            batch_id, store.id, f"{IMPORT_PREFIX}{batch_id:08d}", method_value,
            "api" if plan.api else "upload", "succeeded", kind, [], 0, len(ticket_rows),
            len(ticket_rows), "", platform_id, store.rights_statement if kind == "pickup" else "",
            creator.account_id, creator.branch_id, _dt(issued_ts - rng.uniform(60, 1800)),
            _dt(issued_ts - 1), issued_at, _dt(printed_ts) if printed_ts and method is
            DeliveryMethod.PLATFORM_PRINT else None))
        self._history(store.id, creator, issued_ts, "batches", batch_id, "issued", "issuing",
                      "succeeded", "", {"tickets": [None, len(ticket_rows)]})
        for product_id in {r[2] for r in ticket_rows}:
            if product_id not in self.first_issued:
                self.first_issued[product_id] = issued_ts
        self.summary.batches += 1
        self.summary.tickets += len(ticket_rows)

    def _person(self, seq: int, paper: bool) -> tuple[str, str, str]:
        rnd = self.rng.random
        name = (SURNAMES[int(rnd() * len(SURNAMES))] + GIVEN[int(rnd() * len(GIVEN))]
                + GIVEN[int(rnd() * len(GIVEN))])
        if paper and rnd() < 0.5:
            return name, "", ""
        mobile = f"09{int(rnd() * 100_000_000):08d}"
        email = f"user{seq}@example.com" if rnd() < 0.6 else ""
        return name, mobile, email

    def _unit(self, store: StorePlan, *, returning: bool = False) -> Unit:
        r = self.rng.random()
        clerks = store.returners if returning else store.clerks
        if not clerks or r < HEAD_OFFICE:
            return store.owner
        # r is uniform on [HEAD_OFFICE, 1) here
        return clerks[min(len(clerks) - 1, int((r - HEAD_OFFICE) / (1 - HEAD_OFFICE) * len(clerks)))]

    def _ticket(self, store: StorePlan, product: ProductPlan, order_id: int, batch_id: int,
                serial: str, kind: str, method_value: str, issued_ts: float, issued_at: datetime,
                valid_from: date | None, valid_from_ts: float, name: str, mobile: str,
                email: str, platform_id: str | None) -> list:
        rng = self.rng
        rnd = rng.random
        ticket_id = self._id("tickets")
        pickup = kind == "pickup"
        status = "unused"
        changed_ts = issued_ts
        redeemed_at = redeemed_by = redeemed_store = redeemed_branch = None
        returned_at = returned_by = returned_branch = fee = None
        reason = ""
        end_ts = product.end_ts
        r = rnd()
        if r < P_REDEEM + P_RETURN:
            redeeming = r < P_REDEEM
            ev = issued_ts + 60 + rng.expovariate(1 / ((REDEEM_MEAN_DAYS if redeeming
                                                        else RETURN_MEAN_DAYS) * _DAY))
            if redeeming and valid_from_ts and ev < valid_from_ts:
                ev = valid_from_ts + rng.uniform(8 * 3600, 22 * 3600)
            if ev < self.now_ts and (pickup or ev <= end_ts):
                day = _taipei_day(ev)
                sync_ts = (day + 1) * _DAY - _TAIPEI + 3600 + rnd() * 600  # next 01:00 Taipei
                late = ev > end_ts  # pickup after its escrow end: no bank step
                if redeeming:
                    status = self._after_event(
                        late, day, sync_ts, pickup, "used_after_expiry", "used", "redeeming", "redeemed")
                    cross = product.partners and rnd() < CROSS_STORE
                    doer = self.plans[rng.choice(store.partner_ids)] if cross else store
                    unit = self._unit(doer)
                    redeemed_at, redeemed_by = _dt(ev), unit.account_id
                    redeemed_store, redeemed_branch = doer.id, unit.branch_id
                else:
                    status = self._after_event(
                        late, day, sync_ts, pickup, "returned_escrow_expired", "return_pending",
                        "returning", "returned")
                    unit = self._unit(store, returning=True)
                    returned_at, returned_by, returned_branch = _dt(ev), unit.account_id, unit.branch_id
                    reason = RETURN_REASONS[int(rnd() * len(RETURN_REASONS))]
                    if pickup and not late and rnd() < RETURN_FEE:
                        fee = product.face_value // 10
                changed_ts = ev if status in ("used", "return_pending", "used_after_expiry",
                                              "returned_escrow_expired") else sync_ts
                if rnd() < HISTORY_SAMPLE:  # the transition itself, before any nightly sync
                    if redeeming:
                        action, to = "redeemed", "used_after_expiry" if late else "used"
                    else:
                        action, to = "returned", "returned_escrow_expired" if late else "return_pending"
                    self._history(store.id, unit, ev, "tickets", ticket_id, action,
                                  "unused_escrow_expired" if late else "unused", to, reason, {},
                                  actor_store=redeemed_store or store.id)
        if status == "unused" and self.now_ts > end_ts:
            status = "unused_escrow_expired" if pickup else "expired"
            changed_ts = product.expiry_ts
        self.statuses[status] = self.statuses.get(status, 0) + 1
        code, salt = self.code(), f"{self.rng.getrandbits(128):032x}"
        return [ticket_id, store.id, product.id, order_id, batch_id, serial,
                credentials.digest(self.key, "code", code),
                kind, product.face_value, method_value, status,
                issued_at if changed_ts == issued_ts else _dt(changed_ts), issued_at, valid_from,
                product.end, name, mobile, email, platform_id, redeemed_at, redeemed_by,
                redeemed_store, redeemed_branch, returned_at, returned_by, returned_branch, fee,
                reason, None, None, None, 0, salt, self.key_version,
                credentials.seal(self.key, f"code:{salt}", code)]

    def _after_event(self, late: bool, day: int, sync_ts: float, pickup: bool, late_status: str,
                     fresh: str, at_bank: str, final: str) -> str:
        """The status after a redemption or return, given where the nightly sync has got to."""
        if late and pickup:
            return late_status
        if day >= self.today or sync_ts > self.now_ts:
            return fresh  # tonight's sync has not run yet
        if pickup and ((day == self.today - 1 and self.rng.random() < 0.2)
                       or self.rng.random() < STUCK_AT_BANK):
            return at_bank
        return final

    def _transfer(self, store: StorePlan, order_id: int, rows: list[list], issued_ts: float,
                  giver: tuple[str, str, str]) -> None:
        rng = self.rng
        usable = [r for r in rows if r[T_STATUS] in ("unused", "unused_escrow_expired", "used",
                                                     "redeeming", "redeemed", "used_after_expiry")]
        if not usable:
            return
        given = rng.sample(usable, rng.randint(1, len(usable)))
        limit = min([self.now_ts] + [r[T_REDEEMED_AT].timestamp() for r in given if r[T_REDEEMED_AT]])
        if limit - issued_ts < 120:
            return
        at_ts = issued_ts + rng.uniform(0.05, 0.9) * (limit - issued_ts)
        transfer_id = self._id("transfers")
        recipient = self._person(transfer_id, False)
        cancelled = (all(r[T_REDEEMED_AT] is None for r in given)
                     and rng.random() < TRANSFER_CANCELLED)
        cancelled_ts = at_ts + rng.uniform(0.1, 0.9) * (self.now_ts - at_ts) if cancelled else None
        for row in given:
            item_state = "cancelled" if cancelled else "given"
            if not cancelled:
                row[T_HOLDER:T_HOLDER + 3] = recipient
                row[T_TRANSFERRED_AT], row[T_TRANSFER_ID] = _dt(at_ts), transfer_id
            self.buffers["transfer_items"].append((
                self._id("transfer_items"), store.id, transfer_id, row[T_ID], item_state,
                _dt(cancelled_ts) if cancelled_ts else None))
        day = _EPOCH + timedelta(days=_taipei_day(at_ts))
        salt = credentials.new_salt()
        self.buffers["transfers"].append((
            transfer_id, store.id, f"TR{day:%Y%m%d}{transfer_id:08d}", order_id, *giver,
            *recipient, credentials.digest(
                self.key, "transfer-link", codes.derive_link_token(self.key, "transfer", salt)),
            "cancelled" if cancelled else "active",
            len(given), _dt(at_ts), _dt(cancelled_ts) if cancelled_ts else None,
            store.owner.account_id if cancelled else None, "消費者要求取消轉贈" if cancelled else "",
            salt, self.key_version, None))
        self.summary.transfers += 1

    def _applications(self, store: StorePlan, order_id: int, rows: list[list],
                      issued_ts: float) -> None:
        rng = self.rng
        for row in rows:
            status = row[T_STATUS]
            r = rng.random()
            if status in ("return_pending", "returning", "returned") and r < APPLICATION_ON_RETURN:
                handled = row[T_RETURNED_AT]
                lead = min(3 * _DAY, handled.timestamp() - issued_ts) * rng.uniform(0.05, 1)
                created, outcome, decline = _dt(handled.timestamp() - lead), "returned", ""
                handled_by = row[T_RETURNED_BY]
            elif status == "unused" and r < APPLICATION_PENDING:
                created = _dt(max(issued_ts + 60, self.now_ts - rng.uniform(0, 5 * _DAY)))
                outcome, handled, handled_by, decline = "pending", None, None, ""
            elif status == "unused" and r < APPLICATION_PENDING + APPLICATION_DECLINED:
                created_ts = issued_ts + rng.uniform(0.1, 0.8) * (self.now_ts - issued_ts)
                created = _dt(created_ts)
                handled = _dt(created_ts + rng.uniform(0.05, 0.2) * (self.now_ts - created_ts))
                outcome, handled_by, decline = "declined", store.owner.account_id, "依商品約定不予退貨"
            else:
                continue
            self.buffers["return_applications"].append((
                self._id("return_applications"), store.id, row[T_ID], order_id, *row[T_HOLDER:T_HOLDER + 3],
                rng.choice(APPLICATION_REASONS), outcome, created, handled, handled_by, decline))
            self.summary.return_applications += 1

    def _print(self, store: StorePlan, batch_id: int, method: DeliveryMethod, rows: list[list],
               issued_ts: float) -> float:
        """One print run of every ticket of the batch (and, for a few, a reprint of some)."""
        rng = self.rng
        platform = method is DeliveryMethod.PLATFORM_PRINT
        first_ts = issued_ts + rng.uniform(600, 7200)
        if first_ts >= self.now_ts:
            first_ts = (issued_ts + self.now_ts) / 2
        runs = [(first_ts, rows)]
        if rng.random() < REPRINTED_BATCH:
            runs.append(((first_ts + self.now_ts) / 2, rows[:5]))
        for at_ts, printed in runs:
            run_id = self._id("print_runs")
            account, label = ((self.operator_id, "營運後台") if platform
                              else (store.owner.account_id, store.owner.username))
            at = _dt(at_ts)
            self.buffers["print_runs"].append((
                run_id, store.id, "platform" if platform else "merchant", account, label,
                batch_id if platform else None, len(printed), at))
            for row in printed:
                self.buffers["printed_tickets"].append(
                    (self._id("printed_tickets"), store.id, run_id, row[T_ID], at))
                row[T_PRINTED_AT] = row[T_PRINTED_AT] or at
                row[T_PRINT_COUNT] += 1
            self.summary.print_runs += 1
        return first_ts

    def _history(self, store_id: int, unit: Unit, at_ts: float, subject_type: str,
                 subject_id: int, action: str, from_status: str, to_status: str, reason: str,
                 changes: dict, actor_store: int | None = None) -> None:
        self.buffers["history"].append((
            self._id("history"), _dt(at_ts), store_id, unit.account_id, unit.username,
            actor_store or store_id, unit.branch_id, "", subject_type, subject_id, action,
            changes, from_status, to_status, reason))
        self.summary.history += 1


def load_tickets(n: int, *, seed: int | None = None,
                 echo: Callable[[str], None] = print) -> LoadSummary:
    """Load the demo data if missing, then `n` tickets and what goes with them; commit, and
    VACUUM ANALYZE on PostgreSQL. Raises AlreadyLoaded when this database has them already."""
    if n < 1:
        raise ValueError("n must be positive")
    if already_loaded():
        raise AlreadyLoaded(
            "this database already holds bulk load data (batches LOAD-…); "
            "load into a fresh database (flask db upgrade on an empty one)")
    dialect = db.engine.dialect.name
    started = time.perf_counter()
    previous_mode = current_app.config.get("JOBS_MODE")
    current_app.config["JOBS_MODE"] = "inline"  # the demo batches are issued in this process
    try:
        load_demo()
        db.session.commit()
    finally:
        current_app.config["JOBS_MODE"] = previous_mode
    seed = secrets.randbits(64) if seed is None else seed
    echo(f"Loading {n:,} tickets (seed {seed}) into {dialect}…")
    today = clock.business_day()
    plans = _prepare_stores(today, today - timedelta(days=WINDOW_DAYS))
    summary = Generator(plans, n, seed, dialect, echo).run()
    db.session.commit()
    if dialect == "postgresql":
        started_vacuum = time.perf_counter()
        # VACUUM as autovacuum soon would (visibility map for index-only scans, hint bits),
        # so the benchmarks measure a settled database and no autovacuum runs beside them.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name, _ in TABLES:
                conn.execute(text(f"VACUUM (ANALYZE) {name}"))
            conn.execute(text("ANALYZE"))
        echo(f"  VACUUM ANALYZE ({time.perf_counter() - started_vacuum:.1f} s)")
    summary.seconds = time.perf_counter() - started
    return summary


def describe(summary: LoadSummary) -> Sequence[str]:
    lines = [f"Loaded {summary.tickets:,} tickets, {summary.orders:,} orders, "
             f"{summary.batches:,} batches in {summary.seconds:.1f} s",
             f"  transfers {summary.transfers:,}, return applications "
             f"{summary.return_applications:,}, print runs {summary.print_runs:,}, "
             f"history rows {summary.history:,}"]
    lines += [f"  {status:<24} {count:>9,}" for status, count in summary.statuses.items()]
    return lines

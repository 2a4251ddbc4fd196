"""The reports' read replica (REPORTS_DATABASE_URL, app.db.RoutingSession) on PostgreSQL.

The replica is a second database cloned from the primary (CREATE DATABASE … TEMPLATE), then
the two drift apart as a lagging replica would: the primary gets a redemption the replica has
not seen, and the replica gets a marker only it holds (its products renamed). Statements are
counted per engine. The reports, their Excel (inline and in the background) and the home
figures read the replica; the counter, the ticket page, logging in, the export's own rows and
every write read and write the primary; tenancy holds on the replica; without the setting
everything reads the primary."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import InternalError

from app import create_app
from app.db import REPORTS_BIND, db
from app.products.models import Product
from app.reports import export
from app.reports.models import ExportJob, ExportStatus
from app.tenancy import StoreScope, set_scope
from app.tickets.models import Ticket
from tests.conftest import PG_URL, CsrfClient, base_config, empty_pg
from tests.counter.helpers import act, reload
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres

MARK = "副本標記商品"  # the replica's name of the store's product
OTHER_MARK = "副本他店商品"  # … and of the other store's


@pytest.fixture
def clone_primary(pg_database_url: str) -> Iterator[Callable[[], str]]:
    """`clone()`: a copy of the primary test database as it is now, named after
    ECTIX_TEST_PG_URL's database (`<name>_replica_<random>`); dropped after the test."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []
    source = urlsplit(pg_database_url).path.lstrip("/")

    def clone() -> str:
        name = f"{urlsplit(PG_URL).path.lstrip('/')}_replica_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            # TEMPLATE needs the source without sessions: end any a disposed pool left behind
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": source})
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        made.append(name)
        return urlsplit(pg_database_url)._replace(path=f"/{name}").geturl()

    try:
        yield clone
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def world(pg_app: Flask, clone_primary: Callable[[], str]) -> Iterator[dict]:
    """Two stores with tickets on the primary, cloned to the replica; then the replica renames
    both stores' products (its marker). Yields the ids and the replica's URL."""
    with pg_app.app_context():
        store, owner, pickup, gift = ready_store("rpowner01")
        tickets = issue(owner, store, pickup, quantity=3)
        other, other_owner, other_pickup, _ = ready_store("rpother01")
        other_tickets = issue(other_owner, other, other_pickup, quantity=2)
        ids = {"store": store.id, "product": pickup.id, "product_name": pickup.name,
               "gift_name": gift.name,
               "other": other.id, "other_product": other_pickup.id,
               "tickets": [(t.id, t.serial, t.code, t.status.value) for t in tickets],
               "other_serials": [t.serial for t in other_tickets]}
        db.session.remove()
        db.engine.dispose()  # CREATE DATABASE … TEMPLATE needs the source without connections
    ids["replica_url"] = url = clone_primary()
    writer = create_engine(url)
    with writer.begin() as conn:
        conn.execute(text("UPDATE products SET name = :n WHERE id = :id"),
                     {"n": MARK, "id": ids["product"]})
        conn.execute(text("UPDATE products SET name = :n WHERE id = :id"),
                     {"n": OTHER_MARK, "id": ids["other_product"]})
    writer.dispose()
    yield ids


@pytest.fixture
def replica_app(world: dict, pg_database_url: str, tmp_path) -> Iterator[Flask]:  # noqa: ANN001
    application = create_app(base_config(pg_database_url) | {
        "REPORTS_DATABASE_URL": world["replica_url"], "EXPORT_FOLDER": str(tmp_path / "exports")})
    application.test_client_class = CsrfClient
    yield application
    with application.app_context():
        db.engines[REPORTS_BIND].dispose()
    empty_pg(application)


@contextmanager
def counting(app: Flask) -> Iterator[dict[str, list[str]]]:
    """The statements each engine runs meanwhile: {"primary": [...], "replica": [...]}."""
    with app.app_context():
        engines = {"primary": db.engines[None], "replica": db.engines[REPORTS_BIND]}
    seen: dict[str, list[str]] = {name: [] for name in engines}
    listeners = []
    for name, engine in engines.items():
        def listen(conn, cursor, statement, *args, _name=name):  # noqa: ANN001, ANN002, ANN202
            seen[_name].append(statement)
        event.listen(engine, "before_cursor_execute", listen)
        listeners.append((engine, listen))
    try:
        yield seen
    finally:
        for engine, listen in listeners:
            event.remove(engine, "before_cursor_execute", listen)


def only_reads(statements: list[str]) -> bool:
    return all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)


def xlsx(data: bytes) -> list[dict[str, object]]:
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_reports_read_the_replica_and_the_counter_the_primary(replica_app, world, monkeypatch):
    client = replica_app.test_client()
    first_id, first_serial, first_code, first_status = world["tickets"][0]
    serials = {serial for _id, serial, _code, _status in world["tickets"]}
    with counting(replica_app) as seen:
        login(client, "rpowner01")
        with replica_app.app_context():
            first = db.session.get(Ticket, first_id)
            done = act(client, "redeem", first)
        assert done.status_code == 200
        assert seen["replica"] == []  # logging in and the redemption: the primary only
    with replica_app.app_context():
        redeemed = reload(first).status  # on the primary
    assert redeemed.value != first_status

    with counting(replica_app) as seen:
        page = client.get("/reports/tickets").get_data(as_text=True)
    assert MARK in page and world["product_name"] not in page  # the replica's rows
    assert OTHER_MARK not in page and not any(s in page for s in world["other_serials"])
    assert seen["replica"] and only_reads(seen["replica"])

    with counting(replica_app) as seen:
        rows = xlsx(client.get("/reports/tickets/export").data)
    assert {r["票券序號"] for r in rows} == serials  # the store's own tickets, none of the other's
    assert {r["商品名稱"] for r in rows} == {MARK}
    lagging = next(r for r in rows if r["票券序號"] == first_serial)
    assert lagging["詳細狀態"] == "未使用"  # the replica has not seen the redemption yet
    assert seen["replica"] and only_reads(seen["replica"])

    # the ticket page is where the counter card leads: the primary, with the redemption
    with counting(replica_app) as seen:
        detail = client.get(f"/tickets/{first_serial}").get_data(as_text=True)
    assert redeemed.label in detail and world["product_name"] in detail and MARK not in detail
    assert seen["replica"] == []

    with counting(replica_app) as seen:
        assert client.get("/home").status_code == 200
    assert seen["replica"] and only_reads(seen["replica"])  # the dashboard's figures

    # a background export: its row is written on the primary, its lines read on the replica
    monkeypatch.setattr(export, "INLINE_MAX_ROWS", 1)
    with counting(replica_app) as seen:
        started = client.get("/reports/tickets/export")
    assert started.status_code == 303
    assert seen["replica"] and only_reads(seen["replica"])
    assert any(s.lstrip().startswith("INSERT INTO export_jobs") for s in seen["primary"])
    with replica_app.app_context():
        job = db.session.scalar(select(ExportJob).execution_options(unscoped=True))
        assert job is not None and job.status is ExportStatus.DONE and job.rows_written == 3
        job_id = job.id
    download = client.get(f"/reports/exports/{job_id}/download")
    rows = xlsx(download.data)
    download.close()  # send_file's handle
    assert {r["票券序號"] for r in rows} == serials and {r["商品名稱"] for r in rows} == {MARK}
    replica = create_engine(world["replica_url"])
    with replica.connect() as conn:  # nothing was written there
        assert conn.scalar(text("SELECT count(*) FROM export_jobs")) == 0
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE status <> 'unused'")) == 0
    replica.dispose()


def test_tenancy_holds_on_the_replica(replica_app, world):
    with replica_app.app_context(), counting(replica_app) as seen:
        set_scope(StoreScope(world["store"]))
        tickets = db.session.scalars(select(Ticket).execution_options(replica=True)).all()
        names = db.session.scalars(select(Product.name).execution_options(replica=True)).all()
        assert {t.store_id for t in tickets} == {world["store"]} and len(tickets) == 3
        assert sorted(names) == sorted([MARK, world["gift_name"]])  # not the other store's
        assert len(seen["replica"]) == 2 and only_reads(seen["replica"])


def test_a_transaction_that_wrote_and_an_unsafe_request_read_the_primary(replica_app, world):
    marked = select(Product.name).where(Product.id == world["product"]).execution_options(
        unscoped=True, replica=True)
    with replica_app.app_context():
        assert db.session.scalar(marked) == MARK
        db.session.get(Product, world["product"]).name = "改名"  # flushed before the next read
        assert db.session.scalar(marked) == "改名"  # the primary, in the same transaction
        db.session.rollback()
        assert db.session.scalar(marked) == MARK  # a new transaction: the replica again
        locked = select(Product.name).where(Product.id == world["product"]).with_for_update()
        assert db.session.scalar(locked.execution_options(unscoped=True, replica=True)) \
            == world["product_name"]  # a lock is a write's: the primary
        assert db.session.scalar(marked) == world["product_name"]  # and the rest of it too
        db.session.rollback()
        with pytest.raises(InternalError, match="read-only transaction"):
            with db.engines[REPORTS_BIND].begin() as conn:  # the replica refuses writes
                conn.execute(text("UPDATE products SET name = 'x'"))
        db.session.remove()
    with replica_app.test_request_context("/reports/tickets", method="POST"):
        assert db.session.scalar(marked) == world["product_name"]  # answering a change
        db.session.remove()
    with replica_app.test_request_context("/reports/tickets", method="GET"):
        assert db.session.scalar(marked) == MARK
        db.session.remove()


def test_without_the_setting_everything_reads_the_primary(pg_app, world):
    first_id, first_serial, _code, _status = world["tickets"][0]
    client = pg_app.test_client()
    login(client, "rpowner01")
    with pg_app.app_context():
        assert REPORTS_BIND not in db.engines
        act(client, "redeem", db.session.get(Ticket, first_id))
        status = reload(db.session.get(Ticket, first_id)).status
    rows = xlsx(client.get("/reports/tickets/export").data)
    assert {r["商品名稱"] for r in rows} == {world["product_name"]}
    assert next(r for r in rows if r["票券序號"] == first_serial)["詳細狀態"] == status.label != "未使用"

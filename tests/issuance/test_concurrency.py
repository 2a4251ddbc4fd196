"""PostgreSQL: two batches sharing a merchant order number confirmed at the same moment (rule e).
The confirms are serialised on the store's row: one is queued and issued, the other sees the
first and gets the row error; neither fails in the job."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import Account
from app.db import db
from app.issuance import services
from app.issuance.models import Batch, BatchStatus
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod, Store
from app.tickets.models import Ticket
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store, rows

pytestmark = pytest.mark.postgres


def test_rule_e_two_confirms_at_once_one_is_queued_the_other_gets_the_row_error(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        ids = [services.prepare_batch(owner, store, import_no=import_no,
                                      method=DeliveryMethod.IMMEDIATE, kind=ProductKind.PICKUP,
                                      rows=rows(pickup, count=3)).id
               for import_no in ("AT1", "AT2")]
        db.session.commit()
        store_id, owner_id = store.id, owner.id
        db.session.remove()

    def confirm(batch_id: int, ready: Ready) -> services.Confirmation:
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        batch = db.session.get(Batch, batch_id)
        ready()
        return services.confirm_batch(account, store, batch)

    outcomes = run_at_once(pg_app, confirm, ids, timeout=30)
    assert sorted(o.value for o in outcomes) == ["order_nos_taken", "queued"]
    with pg_app.app_context():
        batches = {b.import_no: b for b in db.session.scalars(select(Batch))}
        winner = "AT1" if outcomes[0] is services.Confirmation.QUEUED else "AT2"
        loser = batches["AT2" if winner == "AT1" else "AT1"]
        assert batches[winner].status is BatchStatus.SUCCEEDED
        assert loser.status is BatchStatus.PREVIEW and loser.error_count == 3
        assert {r["errors"]["廠商訂單編號"] for r in loser.rows} == {
            f"廠商訂單編號已使用於匯入單號 {winner}"}
        assert len(db.session.scalars(select(Ticket)).all()) == 3

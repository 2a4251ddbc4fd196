"""How long a 1000-ticket batch takes from confirm to success (target: under 2 seconds).

The web side prepares and confirms the batch (as the confirm button does); the job goes through
Redis to a separate `python worker.py`; the clock stops when the batch reads `succeeded`.
"""

from __future__ import annotations

import time

from bench.support import REDIS_URL, fresh_database, stats, wait_for_batch, worker

RUNS = 5
TARGET_SECONDS = 2.0


def run() -> list[dict]:
    from app import create_app
    from app.db import db
    from app.issuance import services
    from app.issuance.models import Batch
    from app.products.models import ProductKind
    from app.stores.models import DeliveryMethod
    from bench.fixtures import issuer_with_product, rows

    samples: list[float] = []
    with fresh_database() as url, worker(url):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL,
                          "JOBS_MODE": "rq"})
        with app.app_context():
            store, owner, product = issuer_with_product()
            for run_no in range(RUNS):
                batch = services.prepare_batch(
                    owner, store, import_no=f"BENCH{run_no}", method=DeliveryMethod.IMMEDIATE,
                    kind=ProductKind.PICKUP,
                    rows=rows(product, count=100, quantity=10, prefix=f"R{run_no}N"))
                db.session.commit()
                start = time.perf_counter()
                services.confirm_batch(owner, store, batch)
                db.session.commit()
                elapsed = wait_for_batch(Batch, batch.id, start)
                samples.append(elapsed)
                print(f"  run {run_no + 1}: {elapsed:.3f} s", flush=True)
            db.session.remove()
            db.engine.dispose()
    s = stats(samples)
    return [
        {"name": "issuance: 1000-ticket batch, confirm→success (median)", "value": s["median"],
         "unit": "s", "target": TARGET_SECONDS, "samples": samples},
        {"name": "issuance: 1000-ticket batch, confirm→success (max)", "value": s["max"],
         "unit": "s", "target": None},
    ]

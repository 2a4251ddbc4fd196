"""How long a 1000-order installment upload takes from confirm to done (target: under 3 seconds).

The file is the real template (上傳發行訂單's 範例模板格式) filled with 1000 orders and read by the
upload's guarded reader; the web side previews and confirms the batch (as the page's buttons
do); the job goes through Redis to a separate `python worker.py`, which writes the 1000 orders
and their 12,000 periods (the contract's 12 periods each); the clock stops when the batch reads
`succeeded`. The upload → preview step (read and check the file) is recorded beside it.
"""

from __future__ import annotations

import io
import time

from bench.support import REDIS_URL, fresh_database, stats, wait_for_batch, worker

RUNS = 5
ORDERS = 1000
PERIODS = 12
TARGET_SECONDS = 3.0


def _upload_file(run_no: int) -> bytes:
    from openpyxl import load_workbook

    from app.installments.issue_views import TEMPLATE
    from app.issuance.template import build_workbook

    wb = load_workbook(io.BytesIO(build_workbook(TEMPLATE)))
    ws = wb[TEMPLATE.sheet]
    ws.delete_rows(2, ws.max_row)
    for i in range(ORDERS):
        ws.append([f"R{run_no}N{i:05d}", 12000 + i, f"測試{i}", "0912345678", f"b{i}@example.com",
                   None])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run() -> list[dict]:
    from app import create_app
    from app.db import db
    from app.installments import issuing
    from app.installments.issue_views import TEMPLATE
    from app.installments.models import InstallmentBatch, InstallmentPeriod
    from app.issuance.template import read_rows
    from bench.fixtures import installment_issuer

    samples: list[float] = []
    previews: list[float] = []
    with fresh_database() as url, worker(url):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL,
                          "JOBS_MODE": "rq"})
        with app.app_context():
            store, owner = installment_issuer(period_count=PERIODS)
            for run_no in range(RUNS):
                data = _upload_file(run_no)
                started = time.perf_counter()
                batch = issuing.prepare_batch(owner, store, import_no=f"BENCH{run_no}",
                                              rows=read_rows(TEMPLATE, data))
                db.session.commit()
                previews.append(time.perf_counter() - started)
                if not issuing.batch_is_issuable(batch):
                    raise RuntimeError(f"the bench file has wrong rows: {batch.error_count}")
                start = time.perf_counter()
                issuing.confirm_batch(owner, store, batch)
                db.session.commit()
                elapsed = wait_for_batch(InstallmentBatch, batch.id, start)
                samples.append(elapsed)
                print(f"  run {run_no + 1}: upload→preview {previews[-1]:.3f} s, "
                      f"confirm→done {elapsed:.3f} s", flush=True)
            periods = db.session.query(InstallmentPeriod).count()
            if periods != RUNS * ORDERS * PERIODS:
                raise RuntimeError(f"{periods} periods written, {RUNS * ORDERS * PERIODS} expected")
            db.session.remove()
            db.engine.dispose()
    s = stats(samples)
    return [
        {"name": "installments: 1000-order upload (12 periods each), confirm→done (median)",
         "value": s["median"], "unit": "s", "target": TARGET_SECONDS, "samples": samples},
        {"name": "installments: 1000-order upload (12 periods each), confirm→done (max)",
         "value": s["max"], "unit": "s", "target": None},
        {"name": "installments: 1000-order upload, read and check the file (median)",
         "value": stats(previews)["median"], "unit": "s", "target": None, "samples": previews},
    ]

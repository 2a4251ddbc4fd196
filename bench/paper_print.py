"""How long a 1000-ticket paper print takes (target: under 5 seconds): 列印所選 of a whole
1000-ticket merchant-print batch, from the service call (lock the tickets, record the run, 1000
PrintedTicket rows and history entries, one UPDATE) through the PDF (1000 pages: QR code, code,
serial, the store's layout) to the commit, on PostgreSQL.

Also recorded: the PDF alone, and the first print of a fresh process (which reads the CJK font).
The first run's PDF is checked with pdfinfo / pdftotext when poppler-utils is installed: 1000
pages, every serial.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.support import fresh_database, stats

RUNS = 5
TICKETS = 1000
TARGET_SECONDS = 5.0


def _check(data: bytes, serials: list[str]) -> None:
    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        print("  (poppler-utils not installed: page count not checked)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "print.pdf"
        path.write_bytes(data)
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
    missing = [s for s in serials if s.encode() not in text]
    if pages != len(serials) or missing:
        raise RuntimeError(f"the PDF has {pages} pages and lacks {len(missing)} serials")
    print(f"  checked: {pages} pages, every serial in the text")


def run() -> list[dict]:
    from sqlalchemy import select

    from app import create_app
    from app.db import db
    from app.issuance import services as issuance
    from app.printing import services
    from app.products.models import ProductKind
    from app.stores.models import DeliveryMethod
    from app.tickets.models import Ticket
    from bench.fixtures import issuer_with_product, rows

    totals: list[float] = []
    renders: list[float] = []
    load_before = os.getloadavg()[0]
    with fresh_database() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_MODE": "inline"})
        with app.app_context():
            store, owner, product = issuer_with_product()
            batch = issuance.prepare_batch(
                owner, store, import_no="PRINT1", method=DeliveryMethod.MERCHANT_PRINT,
                kind=ProductKind.PICKUP, rows=rows(product, count=100, quantity=10, prefix="P"))
            db.session.commit()
            issuance.confirm_batch(owner, store, batch)
            db.session.commit()
            ids = list(db.session.scalars(select(Ticket.id).where(Ticket.batch_id == batch.id)))
            if len(ids) != TICKETS:
                raise RuntimeError(f"issued {len(ids)} tickets, expected {TICKETS}")
            for run_no in range(RUNS):
                db.session.expire_all()
                start = time.perf_counter()
                job = services.print_tickets(owner, store, ids)
                rendered = time.perf_counter()
                data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
                render = time.perf_counter() - rendered
                db.session.commit()
                elapsed = time.perf_counter() - start
                totals.append(elapsed)
                renders.append(render)
                print(f"  run {run_no + 1}: {elapsed:.3f} s (PDF {render:.3f} s, "
                      f"{len(data) / 1e6:.1f} MB)", flush=True)
                if run_no == 0:
                    _check(data, [t.serial for t in job.tickets])
            db.session.remove()
            db.engine.dispose()
    s, r = stats(totals), stats(renders)
    load = {"load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cores": os.cpu_count()}  # other work on the machine slows every figure
    return [
        {"name": "print: 1000-ticket merchant print → PDF, recorded (median)", "value": s["median"],
         "unit": "s", "target": TARGET_SECONDS, "samples": totals, **load},
        {"name": "print: 1000-ticket merchant print → PDF (max)", "value": s["max"], "unit": "s",
         "target": None},
        {"name": "print: first print of a fresh process (reads the CJK font)", "value": totals[0],
         "unit": "s", "target": TARGET_SECONDS},
        {"name": "print: 1000-page PDF alone (median)", "value": r["median"], "unit": "s",
         "target": None, "samples": renders},
    ]

"""Builders and PDF tools for the printing tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select

from app.db import db
from app.printing.models import PrintedTicket, PrintRun
from app.stores.models import DeliveryMethod
from tests.conftest import service_missing
from tests.tickets.helpers import issue

MERCHANT = DeliveryMethod.MERCHANT_PRINT
PLATFORM = DeliveryMethod.PLATFORM_PRINT
CVS = DeliveryMethod.IBON
ELECTRONIC = DeliveryMethod.IMMEDIATE

TOOLS = {"pdftotext": "poppler-utils", "pdftoppm": "poppler-utils", "pdfinfo": "poppler-utils",
         "pdfimages": "poppler-utils", "pdffonts": "poppler-utils", "zbarimg": "zbar-tools"}


def paper_tickets(owner, store, product, quantity: int = 2, method=MERCHANT):  # noqa: ANN001, ANN201
    """Merchant-print (or other) tickets issued through the real issuance service."""
    return issue(owner, store, product, quantity, method)


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            service_missing(f"{tool} not installed (apt-get install {TOOLS.get(tool, tool)})")


def _write(data: bytes, tmp_path: Path, name: str = "out.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pdf_text(data: bytes, tmp_path: Path, *, first: int | None = None, last: int | None = None) -> str:
    need("pdftotext")
    path = _write(data, tmp_path)
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *pages, str(path), "-"], check=True,
                          capture_output=True, timeout=120).stdout.decode("utf-8")


def page_count(data: bytes, tmp_path: Path) -> int:
    need("pdfinfo")
    out = subprocess.run(["pdfinfo", str(_write(data, tmp_path))], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def pdf_fonts(data: bytes, tmp_path: Path) -> str:
    need("pdffonts")
    return subprocess.run(["pdffonts", str(_write(data, tmp_path))], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def images(data: bytes, tmp_path: Path) -> tuple[int, int]:
    """(how many times images are drawn, how many distinct image objects) per `pdfimages`."""
    need("pdfimages")
    out = subprocess.run(["pdfimages", "-list", str(_write(data, tmp_path))], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return len(rows), len({(row[10], row[11]) for row in rows})


def decode_png(path: Path) -> list[str]:
    need("zbarimg")
    done = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, timeout=60)
    return done.stdout.decode("utf-8").split()


def qr_codes(data: bytes, tmp_path: Path, *, first: int = 1, last: int = 1) -> list[list[str]]:
    """The QR codes on each page from `first` to `last`, read by zbarimg at 150 dpi."""
    need("pdftoppm", "zbarimg")
    path = _write(data, tmp_path)
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", str(first), "-l", str(last), str(path),
                    str(prefix)], check=True, capture_output=True, timeout=120)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == last - first + 1
    return [decode_png(png) for png in pngs]


def runs() -> list[PrintRun]:
    db.session.expire_all()
    return list(db.session.scalars(select(PrintRun).order_by(PrintRun.id)))


def printed_rows(ticket_id: int | None = None) -> list[PrintedTicket]:
    stmt = select(PrintedTicket).order_by(PrintedTicket.id)
    if ticket_id is not None:
        stmt = stmt.where(PrintedTicket.ticket_id == ticket_id)
    return list(db.session.scalars(stmt))

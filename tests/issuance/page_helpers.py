"""Helpers for the issuance page and API tests: files built from the real template, uploads."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.db import db
from app.issuance.models import Batch
from app.issuance.template import ISSUANCE_SHEET, template_workbook
from app.products.models import Product
from app.tickets.models import Ticket


def row(product: Product, order_no: str, *, quantity: int = 1, name: str = "王小明",
        mobile: str = "0912345678", email: str = "buyer@example.com",
        start: str | None = None) -> list[object]:
    """One data row in the template's column order."""
    return [product.id, quantity, order_no, name, mobile, email, start]


def template_file(rows: Iterable[Sequence[object]]) -> bytes:
    """The downloadable template with its sample rows replaced by `rows`, as a user fills it."""
    wb = load_workbook(io.BytesIO(template_workbook()))
    ws = wb[ISSUANCE_SHEET]
    ws.delete_rows(2, ws.max_row)
    for values in rows:
        ws.append(list(values))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def multipart(fields: dict[str, str], file_field: str, data: bytes,
              filename: str) -> tuple[bytes, str]:
    """A multipart/form-data body built in memory (the test client spools a large body to a
    temporary file it never closes, which warnings-as-errors would report)."""
    boundary = "----ectix-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(client, data: bytes, *, import_no: str = "IMP001", method: str = "electronic:immediate",
           kind: str = "pickup", filename: str = "發行資料.xlsx",
           delivery_type: str | None = None):  # noqa: ANN001, ANN201
    body, content_type = multipart(
        {"delivery_type": delivery_type or method.split(":")[0], "method": method, "kind": kind,
         "import_no": import_no}, "file", data, filename)
    return client.post("/issuance/upload", data=body, content_type=content_type)


def count(model) -> int:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def batches() -> int:
    return count(Batch)


def tickets() -> int:
    return count(Ticket)


def only_batch() -> Batch:
    db.session.expire_all()
    return db.session.scalars(select(Batch)).one()

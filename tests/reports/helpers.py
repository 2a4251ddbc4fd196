"""Readers for the report tests: the scope an account would get, page figures, Excel rows."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from app.auth.models import Account
from app.auth.services import scope_for
from app.db import db
from app.reports import scope as report_scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def scope_of(username: str, **params: object) -> report_scope.ReportScope:
    """The report scope of `username` acting as its own store, for these query parameters."""
    account = db.session.scalar(select(Account).where(Account.username == username)
                                .execution_options(unscoped=True))
    acting, tenancy = scope_for(account, None)
    return report_scope.build(account, acting, tenancy.readable_store_ids,
                              {k: str(v) for k, v in params.items()})


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def rows_with(body: str, testid: str) -> list[str]:
    """The HTML of each <tr data-testid="..."> row."""
    return re.findall(rf'<tr[^>]*data-testid="{testid}"[^>]*>.*?</tr>', body, re.S)


def cell(row_html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)<', row_html, re.S)
    assert found, f"no {testid} in {row_html[:200]}"
    return found.group(1).strip()


def attr(row_html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', row_html)
    assert found
    return found.group(1)


def query_error(body: str) -> str:
    found = re.search(r'data-testid="query-error">(.*?)</div>', body, re.S)
    return found.group(1).strip() if found else ""


def xlsx_rows(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [[("" if v is None else v) for v in row] for row in sheet.iter_rows(values_only=True)]

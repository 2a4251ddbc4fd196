"""Server-side pagination for every list, keeping the statement's store scope in its count.

Flask-SQLAlchemy's `db.paginate` counts with a new statement that drops the original's
execution options, so a list read with `readable=True` (a parent reading its children) or
`unscoped=True` (a partner's side of a relation) would be counted under the default scope and
report the wrong total. This count carries the options over.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import lazyload

from app.bounds import INT_MAX, whole_number
from app.db import db


class ScopedPagination(SelectPagination):
    def _query_count(self) -> int:
        inner: Select = self._query_args["select"]
        sub = inner.options(lazyload("*")).order_by(None).subquery()
        stmt = select(func.count()).select_from(sub).execution_options(
            **inner.get_execution_options())
        return self._query_args["session"].execute(stmt).scalar() or 0


def paginate(stmt: Select, *, per_page: int | None = None,
             max_per_page: int | None = None) -> SelectPagination:
    """A page of `stmt` (page number from `?page=`), counted under the same scope."""
    return ScopedPagination(select=stmt, session=db.session(), page=page_number(),
                            per_page=per_page or current_app.config["PAGE_SIZE"],
                            max_per_page=max_per_page, error_out=False, count=True)


def count(stmt: Select) -> int:
    """How many rows `stmt` selects, under the same scope."""
    sub = stmt.options(lazyload("*")).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(sub).execution_options(
        **stmt.get_execution_options())) or 0


class RowPagination(ScopedPagination):
    """A page of a multi-column statement: its rows, not only the first column of each. Given
    `total`, the rows are not counted again (a report whose summary already counted them)."""

    def _query_count(self) -> int:
        total = self._query_args.get("total")
        return super()._query_count() if total is None else total

    def _query_items(self) -> list[Row]:
        stmt = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(stmt).all())


def paginate_rows(stmt: Select | Callable[[int], Select], *, total: int | None = None,
                  per_page: int | None = None) -> RowPagination:
    """`paginate` for a statement of several columns (page number from `?page=`): the rows a
    list's columns read, the same ones its Excel writes. `stmt` may be a function of how many
    rows the page needs from the top (page × size), for a statement that can stop early."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    page = page_number()
    if callable(stmt):
        stmt = stmt(page * per_page)
    return RowPagination(select=stmt, session=db.session(), page=page, per_page=per_page,
                         max_per_page=None, error_out=False, count=True, total=total)


def page_number() -> int:
    """`?page=` as Flask-SQLAlchemy reads it: a positive whole number (within an `Integer`
    column's range, so its offset stays within PostgreSQL's), else 1."""
    return whole_number(request.args.get("page", 1), 1, INT_MAX) or 1

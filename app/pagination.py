"""Server-side pagination for every list, keeping the statement's store scope in its count.

Flask-SQLAlchemy's `db.paginate` counts with a new statement that drops the original's
execution options, so a list read with `readable=True` (a parent reading its children) or
`unscoped=True` (a partner's side of a relation) would be counted under the default scope and
report the wrong total. This count carries the options over.
"""

from __future__ import annotations

from flask import current_app
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import Select, func, select
from sqlalchemy.orm import lazyload

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
    return ScopedPagination(select=stmt, session=db.session(), page=None,
                            per_page=per_page or current_app.config["PAGE_SIZE"],
                            max_per_page=max_per_page, error_out=False, count=True)


def count(stmt: Select) -> int:
    """How many rows `stmt` selects, under the same scope."""
    sub = stmt.options(lazyload("*")).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(sub).execution_options(
        **stmt.get_execution_options())) or 0

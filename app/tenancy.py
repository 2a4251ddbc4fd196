"""Tenancy: every merchant-owned row belongs to a store and is reached only through it.

Models that carry a store mix in `StoreScoped`. While a merchant request is being served, every
ORM SELECT, UPDATE and DELETE on such a model is filtered to the acting store automatically (see
`_scope_statement`), so the unscoped query is the one that takes extra words to write:
`.execution_options(unscoped=True)` for deliberate cross-store reads (an operator, a partner
store looking up a granted ticket), or `readable=True` for a parent store reading its children.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from flask import abort, g, has_app_context
from sqlalchemy import ForeignKey, event, select
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    with_loader_criteria,
)

from app.db import db


class StoreScoped:
    """Mixin: the model's `store_id` names its owning store (a model may redeclare it, e.g.
    nullable, but must keep the name)."""

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)



@dataclass(frozen=True)
class StoreScope:
    """The stores a request may act on (one) and read (that one, plus children for a parent)."""

    acting_store_id: int
    readable_store_ids: frozenset[int] = field(default_factory=frozenset)

    def can_read(self, store_id: int | None) -> bool:
        return store_id == self.acting_store_id or store_id in self.readable_store_ids

    def can_act(self, store_id: int | None) -> bool:
        return store_id == self.acting_store_id


def set_scope(scope: StoreScope | None) -> None:
    g.store_scope = scope


def current_scope() -> StoreScope | None:
    if not has_app_context():
        return None
    return g.get("store_scope")


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria of the parent statement already travel with these loads
    opts = state.execution_options
    if opts.get("unscoped"):
        return
    scope = current_scope()
    if scope is None:
        return
    if opts.get("readable") and state.is_select:
        ids = tuple(sorted({scope.acting_store_id, *scope.readable_store_ids}))
    else:
        ids = (scope.acting_store_id,)
    state.statement = state.statement.options(
        with_loader_criteria(
            StoreScoped, lambda cls: cls.store_id.in_(ids), include_aliases=True
        )
    )


M = TypeVar("M")


def get_owned_or_404(model: type[M], ident: object, *, readable: bool = False,
                     for_update: bool = False) -> M:
    """Load a store-owned row of the acting store (or of a readable child store) or answer 404.

    Identity-map hits bypass SQL criteria, so the owner is checked again on the object.
    """
    scope = current_scope()
    if scope is None:
        abort(404)
    try:
        key = int(ident)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        abort(404)
    stmt = select(model).where(model.id == key)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    obj = db.session.execute(stmt.execution_options(readable=readable)).scalar_one_or_none()
    if obj is None:
        abort(404)
    allowed = scope.can_read if readable else scope.can_act
    if not allowed(obj.store_id):  # type: ignore[attr-defined]
        abort(404)
    return obj

"""How a report or list page offers saved filters: one line on its view,

    @bp.get("/")
    @requires(Function.ISSUED_ORDERS)
    @offers_saved_filters(OrderQueryForm)   # or parameter names: offers_saved_filters("mode", …)
    def index(): ...

names the query parameters the page understands (a query form's fields, or names). The shared
query bar (templates/_macros/forms.html `query_bar`) then shows the saved-filter bar on that
page; a page with its own form includes templates/saved_filters/_bar.html after it. Only the
named parameters are ever saved or applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

from app.saved_filters import rules

F = TypeVar("F", bound=Callable[..., Any])
KEYS = "saved_filter_keys"  # the view function's attribute (functools.wraps carries it)


def form_keys(form_class: type[FlaskForm]) -> set[str]:
    """The field names of a query form class (its csrf field never counts)."""
    return {name for name in dir(form_class)
            if isinstance(getattr(form_class, name, None), UnboundField)}


def offers_saved_filters(*sources: type[FlaskForm] | str) -> Callable[[F], F]:
    """Mark a GET page as offering saved filters of the parameters named by `sources`."""
    keys: set[str] = set()
    for source in sources:
        keys |= {source} if isinstance(source, str) else form_keys(source)

    def mark(view: F) -> F:
        setattr(view, KEYS, frozenset(keys - rules.NEVER_KEPT))
        return view

    return mark


def keys_for(endpoint: str | None) -> frozenset[str] | None:
    """The parameters the page at `endpoint` keeps in a saved filter; None: it offers none."""
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, KEYS, None)


def acting_store():  # noqa: ANN201 - the merchant's acting store, None on the console
    return g.get("store")


def bar_offered() -> bool:
    """Whether this page shows the saved-filter bar (it opted in; someone is logged in)."""
    return bool(current_user.is_authenticated and keys_for(request.endpoint) is not None)

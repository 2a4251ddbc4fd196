"""Server-side access checks for views. Every merchant route names the function it needs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g
from flask_login import current_user, login_required

from app.auth.permissions import Function, Level

F = TypeVar("F", bound=Callable[..., Any])


def acting_account():  # noqa: ANN201 - the Account behind the current_user proxy
    """The logged-in account itself (services take accounts, not the Flask-Login proxy)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def store_mode() -> str | None:
    store = g.get("store")
    contract = store.current_contract if store is not None else None
    return contract.redemption_mode.value if contract else None


def may(function: Function, level: Level = Level.VIEW) -> bool:
    """Whether the current account may use `function` at `level` in the acting store."""
    if not current_user.is_authenticated or current_user.is_operator or g.get("store") is None:
        return False
    return current_user.may(function, level, mode=store_mode())


def requires(function: Function, level: Level = Level.VIEW) -> Callable[[F], F]:
    """A merchant view that needs `function` at `level`; anyone else gets 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not may(function, level):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_function = (function, level)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def merchant_required(view: F) -> F:
    """Any merchant account (main or sub) of the acting store."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.is_operator or g.get("store") is None:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def main_account_required(view: F) -> F:
    """Only the store's main account (管理者), acting for its own store."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        store = g.get("store")
        if not current_user.is_main or store is None or store.id != current_user.store_id:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def operator_required(view: F) -> F:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]

"""Server-side access checks for views. Every merchant route names the function it needs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g
from flask_login import current_user, login_required

from app.auth.permissions import BRANCH_DISABLED, Function, Level
from app.auth.request_cache import principal_account
from app.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])


def acting_account():  # noqa: ANN201 - the Account behind the current_user proxy
    """The logged-in account itself (services take accounts, not the Flask-Login proxy); a
    bearer token's ORM account, copied into the request's session."""
    return principal_account(current_user._get_current_object())  # type: ignore[attr-defined]


def acting_principal():  # noqa: ANN201 - an Account, or a CachedPrincipal
    """Who acts, for a service that only reads it (its ids, branch and rights: the ticket
    actions): a principal (a bearer token's, a counter press's) is not copied into the
    request's session."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def read_store():  # noqa: ANN201 - a Store, or None
    """The acting store, for reading only (never put into a row or the session): a bearer
    token's is the request cache's, not copied into the request's session; else `g.store`."""
    values = g._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup (per menu entry)
    store = values.__dict__.get("read_store")
    return store if store is not None else values.get("store")


def mode_of(store) -> str | None:  # noqa: ANN001 - a Store (auth sits below stores' users)
    """The redemption mode of the store's current contract: which functions exist there."""
    contract = store.current_contract if store is not None else None
    return contract.redemption_mode.value if contract else None


def store_mode() -> str | None:
    return mode_of(read_store())


def check(account, store, function: Function, *, no_right: str,  # noqa: ANN001
          level: Level = Level.MODIFY) -> None:
    """The one guard a service runs before a change: `account` may use `function` at `level` in
    `store` (None: whatever its mode). A clerk of a disabled branch is told why
    (BRANCH_DISABLED); anyone else without the right is told `no_right`."""
    if not account.may(function, level, mode=mode_of(store)):
        message, code = why_not(account, no_right, level)
        raise Forbidden(message, code=code)


def why_not(account, no_right: str, level: Level = Level.MODIFY) -> tuple[str, str]:  # noqa: ANN001
    """What someone refused a right is told, and its code: a clerk of a disabled branch is told
    the branch is disabled rather than that the right is missing."""
    if level is Level.MODIFY and account.branch_disabled:
        return BRANCH_DISABLED.message, BRANCH_DISABLED.code
    return no_right, Forbidden.code


def may(function: Function, level: Level = Level.VIEW) -> bool:
    """Whether the current account may use `function` at `level` in the acting store."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    if not user.is_authenticated or user.is_operator or read_store() is None:
        return False
    return user.may(function, level, mode=store_mode())


def requires(function: Function, level: Level = Level.VIEW) -> Callable[[F], F]:
    """A merchant view that needs `function` at `level`; anyone else gets 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not may(function, level):
                if level is Level.MODIFY and getattr(current_user, "branch_disabled", False):
                    raise Forbidden(BRANCH_DISABLED.message, code=BRANCH_DISABLED.code)
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

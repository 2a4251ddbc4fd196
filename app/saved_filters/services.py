"""Use cases of saved filters: list an account's filters of a report, save one, find one, delete
one. Every query names the account and the store (None on the operator console), so another
account's filter, a sub-account's or another store's, is never found. Services flush, never
commit; each change writes history in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, func, select

from app import history
from app.auth.models import Account
from app.db import db
from app.errors import InvalidInput
from app.saved_filters import rules
from app.saved_filters.models import SavedFilter
from app.stores.models import Store


def _owned(account: Account, store: Store | None) -> list[ColumnElement[bool]]:
    store_match = SavedFilter.store_id == store.id if store is not None \
        else SavedFilter.store_id.is_(None)
    return [SavedFilter.account_id == account.id, store_match]


def filters_of(account: Account, store: Store | None, report: str) -> list[SavedFilter]:
    """The account's saved filters of `report` in this store, by name."""
    return list(db.session.scalars(
        select(SavedFilter).where(*_owned(account, store), SavedFilter.report == report)
        .order_by(SavedFilter.name, SavedFilter.id)))


def find(account: Account, store: Store | None, filter_id: int) -> SavedFilter | None:
    """The account's own filter in this store, or None (the view answers 404)."""
    return db.session.scalar(select(SavedFilter).where(SavedFilter.id == filter_id,
                                                       *_owned(account, store)))


def save(account: Account, store: Store | None, report: str, name: str | None,
         pairs: Iterable[tuple[str, str]], keys: Iterable[str], *, today: date,
         relative_dates: bool = False) -> SavedFilter:
    """Keep the query `pairs` of `report` (only its `keys`, rules.sanitised) as `name`.
    Raises InvalidInput: no name, a name too long or taken, or PER_REPORT kept already (counted
    over every store of the account, as the name's uniqueness is)."""
    name = rules.checked_name(name)
    mine = (SavedFilter.account_id == account.id, SavedFilter.report == report)
    unscoped = {"unscoped": True}
    if db.session.scalar(select(SavedFilter.id).where(*mine, SavedFilter.name == name)
                         .execution_options(**unscoped)) is not None:
        raise InvalidInput(rules.NAME_TAKEN, fields={"name": rules.NAME_TAKEN})
    rules.check_room(db.session.scalar(select(func.count()).select_from(SavedFilter).where(*mine)
                                       .execution_options(**unscoped)) or 0)
    kept = rules.sanitised(pairs, keys)
    if relative_dates:
        kept = rules.made_relative(kept, today)
    saved = SavedFilter(store_id=store.id if store is not None else None, account_id=account.id,
                        report=report, name=name, query=rules.encoded(kept))
    db.session.add(saved)
    db.session.flush()
    history.record(saved, "saved_filter_added",
                   changes={"name": [None, name], "report": [None, report]})
    return saved


def applied_query(saved: SavedFilter, keys: Iterable[str], *, today: date) -> str:
    """The query string that applies `saved` today: sanitised again with the page's keys of
    now (a key the page dropped since is dropped), relative dates resolved."""
    return rules.encoded(rules.resolved(rules.sanitised(rules.decoded(saved.query), keys), today))


def delete(saved: SavedFilter) -> None:
    history.record(saved, "saved_filter_deleted", changes={"name": [saved.name, None]})
    db.session.delete(saved)
    db.session.flush()

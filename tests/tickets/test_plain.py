"""A ticket read as a plain row (app.tickets.plain) for the redemption API's hot path: it reads
what the ORM ticket reads, it redeems through the same `perform`, a stale row loses the
compare-and-set like a stale ticket, and no other action takes one. On SQLite (through
SQLAlchemy) and on PostgreSQL (on the driver's cursor)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import InvalidInput, NotFound
from app.history import HistoryEntry
from app.products.models import BranchRole
from app.tickets import actions, plain, services
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.factories import make_account, make_branch, make_product, make_relation, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app context on SQLite, then on PostgreSQL."""
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    with app.app_context():
        yield app
        db.session.remove()


def _orm(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def test_a_plain_row_reads_what_the_orm_ticket_reads(db_app):
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 10, 0))
    store, owner, pickup, gift = ready_store()
    unused, used, returned = issue(owner, store, pickup, quantity=3)
    [expired_gift] = issue(owner, store, gift)
    services.redeem(owner, store, used)
    services.return_ticket(owner, store, returned, reason="客訴", fee=10)
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2030, 1, 1, 10, 0))  # the gift voucher is past its end

    for ticket in (unused, used, returned, expired_gift):
        orm = _orm(ticket.id)
        row = services.find_row_by_code(store, orm.code)
        assert isinstance(row, plain.TicketRow)
        assert {name: getattr(row, name) for name in plain.TICKET_READ} == {
            name: getattr(orm, name) for name in plain.TICKET_READ}
        assert (row.code, row.current_status) == (orm.code, orm.current_status)
        assert (row.product.id, row.product.store_id, row.product.name) == (
            orm.product.id, orm.product.store_id, orm.product.name)
    assert services.find_row_by_code(store, expired_gift.code).current_status is not S.UNUSED
    db.session.rollback()


def test_unknown_invisible_and_malformed_codes_are_the_same_not_found(db_app):
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    other = make_store("別家商店")
    db.session.commit()
    answers = []
    for acting, code in ((store, "ABCDEFGHJK234567"), (other, ticket.code), (store, "短")):
        with pytest.raises(NotFound) as refused:
            services.find_row_by_code(acting, code)
        answers.append((refused.value.code, str(refused.value)))
    assert len(set(answers)) == 1
    with pytest.raises(InvalidInput):
        services.find_row_by_code(store, "  ")


def test_a_plain_row_redeems_once_and_a_stale_one_is_told_by_whom(db_app):
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 10, 0))
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    db.session.commit()
    first = services.find_row_by_code(store, ticket.code)
    stale = services.find_row_by_code(store, ticket.code)

    done = services.redeem(owner, store, first)
    assert done.ticket is first and first.status is S.USED and first.redeemed_by_id == owner.id
    with pytest.raises(actions.TicketRefused) as refused:
        services.redeem(owner, store, stale)  # read as unused: the compare-and-set loses
    db.session.commit()
    assert refused.value.code == "AlreadyRedeemed"
    assert "（於 2026/07/01 10:00 由" in str(refused.value) and owner.username in str(refused.value)
    assert stale.status is S.USED  # read again after losing
    orm = _orm(ticket.id)
    assert (orm.status, orm.redeemed_store_id, orm.redeemed_at) == (
        S.USED, store.id, clock.now())
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.subject_id == ticket.id, HistoryEntry.action == "redeemed")) == 1


def test_a_plain_row_read_before_another_change_redeems_nothing(db_app):
    """Changed behind its back (returned meanwhile): the loser is told the ticket's state now."""
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    db.session.commit()
    row = services.find_row_by_code(store, ticket.code)
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(status=S.RETURNING))
    with pytest.raises(actions.TicketRefused):
        services.redeem(owner, store, row)
    assert row.status is S.RETURNING
    db.session.rollback()


@pytest.mark.parametrize("key", [Action.CANCEL_REDEMPTION, Action.RETURN, Action.CANCEL_RETURN])
def test_no_other_action_takes_a_plain_row(db_app, key):
    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    db.session.commit()
    row = services.find_row_by_code(store, ticket.code)
    with pytest.raises(TypeError):
        actions.perform(key, owner, store, row, reason="原因")
    assert _orm(ticket.id).status is S.UNUSED


def test_the_rights_read_the_products_lists_from_a_plain_row(db_app):
    """A branch clerk's redemption reads the product's redeem list; a partner's, its grants."""
    store, owner, _, _ = ready_store()
    listed, unlisted = make_branch(store, name="台北門市"), make_branch(store, name="台中門市")
    partner = make_store("可核銷商店甲")
    partner_owner = make_account(partner, username="partner01")
    make_relation(store, partner)
    product = make_product(store, "聯名券", partners=[partner], redeem=[listed])
    db.session.commit()
    redeem = {Function.REDEEM: Level.MODIFY}
    listed_clerk = make_sub(store, "clerk01", branch=listed, grants=redeem)
    unlisted_clerk = make_sub(store, "clerk02", branch=unlisted, grants=redeem)
    db.session.commit()
    first, second, third = issue(owner, store, product, quantity=3)
    row = services.find_row_by_code(store, first.code)
    assert row.product.branch_ids(BranchRole.REDEEM) == product.branch_ids(BranchRole.REDEEM)
    assert row.product.partner_store_ids == product.partner_store_ids == {partner.id}

    with pytest.raises(actions.NotAllowedHere):
        services.redeem(unlisted_clerk, store, row)
    assert services.redeem(listed_clerk, store, row).ticket.redeemed_branch_id == listed.id
    partner_row = services.find_row_by_code(partner, second.code)
    assert services.redeem(partner_owner, partner, partner_row).ticket.redeemed_store_id == partner.id
    db.session.commit()
    assert {_orm(t.id).status for t in (first, second, third)} == {S.USED, S.UNUSED}

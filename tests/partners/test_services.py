"""Use cases: add, dissolve (either side), re-open, unblock; grants removed on dissolution."""

import pytest

from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput
from app.partners import services
from app.products.access import redeem_refusal
from app.stores.models import DissolvedBy, RelationStatus
from tests.factories import make_product, make_relation
from tests.partners.helpers import BLOCKED_MESSAGE, granted_ids, history_of, relation_of


def test_add_creates_open_relations_with_history(world):
    opened = services.add_partners(world.owner_a, world.a, [world.b.id, world.c.id])
    db.session.commit()
    assert [r.partner_store_id for r in opened] == [world.b.id, world.c.id]
    relation = relation_of(world.a, world.b)
    assert relation.status is RelationStatus.OPEN and not relation.blocked
    assert relation.dissolved_by is None
    [entry] = history_of(relation)
    assert entry.action == "relation_added" and entry.store_id == world.a.id
    assert entry.changes["partner_store"] == [None, world.b.merchant_code]
    assert entry.to_status == "open"
    assert [s.id for s in services.open_partner_stores(world.a)] == [world.b.id, world.c.id]
    assert services.open_partner_stores(world.b) == []


def test_adding_an_open_partner_again_changes_nothing(world):
    make_relation(world.a, world.b)
    db.session.commit()
    assert services.add_partners(world.owner_a, world.a, [world.b.id]) == []
    assert history_of(relation_of(world.a, world.b)) == []


@pytest.mark.parametrize("ids", [[], None])
def test_add_needs_a_choice(world, ids):
    with pytest.raises(InvalidInput, match="請勾選至少一間商店"):
        services.add_partners(world.owner_a, world.a, ids or [])


def test_a_store_cannot_be_its_own_partner(world):
    with pytest.raises(InvalidInput, match="不可將自己的商店設為可核銷商店"):
        services.add_partners(world.owner_a, world.a, [world.b.id, world.a.id])
    assert relation_of(world.a, world.b) is None


def test_an_unknown_store_is_refused(world):
    with pytest.raises(InvalidInput):
        services.add_partners(world.owner_a, world.a, [987654])


def test_a_view_only_sub_account_cannot_change_relations(world):
    relation = make_relation(world.a, world.b)
    db.session.commit()
    with pytest.raises(Forbidden):
        services.add_partners(world.viewer_a, world.a, [world.c.id])
    with pytest.raises(Forbidden):
        services.set_status(world.viewer_a, relation, False)
    with pytest.raises(Forbidden):
        services.dissolve_as_partner(world.viewer_b, relation)
    with pytest.raises(Forbidden):
        services.unblock(world.owner_a, relation)
    assert services.set_status(world.editor_a, relation, False) is True


def test_issuer_dissolving_removes_grants_and_reopening_does_not_restore_them(world):
    relation = make_relation(world.a, world.b)
    granted = make_product(world.a, "甲商品", partners=(world.b, world.c))
    other = make_product(world.a, "未開放商品", partners=(world.c,))
    make_relation(world.a, world.c)
    db.session.commit()
    assert redeem_refusal(world.owner_b, world.b, granted) is None
    assert redeem_refusal(world.owner_b, world.b, other) is not None

    assert services.set_status(world.owner_a, relation, False) is True
    db.session.commit()
    relation = relation_of(world.a, world.b)
    assert relation.status is RelationStatus.DISSOLVED
    assert relation.dissolved_by is DissolvedBy.ISSUER and not relation.blocked
    assert granted_ids(granted.id) == {world.c.id}  # only B's grant went
    assert granted_ids(other.id) == {world.c.id}
    refusal = redeem_refusal(world.owner_b, world.b, db.session.get(type(granted), granted.id))
    assert refusal is not None
    assert redeem_refusal(world.owner_c, world.c, db.session.get(type(granted), granted.id)) is None
    [revoked] = history_of(granted)
    assert revoked.action == "partner_revoked" and revoked.reason == "跨店關聯解除"
    assert revoked.store_id == world.a.id
    assert revoked.changes == {"partner_stores": [sorted([world.b.merchant_code,
                                                          world.c.merchant_code]),
                                                  [world.c.merchant_code]]}
    assert history_of(other) == []

    assert services.set_status(world.owner_a, relation, True) is True
    db.session.commit()
    assert relation_of(world.a, world.b).status is RelationStatus.OPEN
    assert granted_ids(granted.id) == {world.c.id}  # re-opening restores nothing
    product = db.session.get(type(granted), granted.id)
    assert redeem_refusal(world.owner_b, world.b, product) is not None
    actions = [e.action for e in history_of(relation_of(world.a, world.b))]
    assert actions == ["relation_dissolved", "relation_reopened"]


def test_setting_the_same_status_changes_nothing(world):
    relation = make_relation(world.a, world.b)
    db.session.commit()
    assert services.set_status(world.owner_a, relation, True) is False
    assert history_of(relation) == []


def test_partner_dissolving_blocks_reopening_until_the_operator_unblocks(world):
    relation = make_relation(world.a, world.b)
    product = make_product(world.a, partners=(world.b,))
    db.session.commit()
    assert redeem_refusal(world.owner_b, world.b, product) is None

    services.dissolve_as_partner(world.owner_b, relation)
    db.session.commit()
    relation = relation_of(world.a, world.b)
    assert (relation.status, relation.dissolved_by, relation.blocked) == (
        RelationStatus.DISSOLVED, DissolvedBy.PARTNER, True)
    assert granted_ids(product.id) == set()
    assert redeem_refusal(world.owner_b, world.b, db.session.get(type(product), product.id))
    assert [e.action for e in history_of(product)] == ["partner_revoked"]

    with pytest.raises(DomainError, match=BLOCKED_MESSAGE):
        services.set_status(world.owner_a, relation, True)
    db.session.rollback()
    with pytest.raises(DomainError, match=BLOCKED_MESSAGE):
        services.add_partners(world.owner_a, world.a, [world.b.id])
    db.session.rollback()
    with pytest.raises(DomainError, match="此關聯已解除"):
        services.dissolve_as_partner(world.owner_b, relation_of(world.a, world.b))
    db.session.rollback()
    assert relation_of(world.a, world.b).blocked

    services.unblock(world.operator, relation_of(world.a, world.b))
    db.session.commit()
    relation = relation_of(world.a, world.b)
    assert relation.status is RelationStatus.DISSOLVED and not relation.blocked
    with pytest.raises(DomainError, match="此關聯未被封鎖"):
        services.unblock(world.operator, relation)
    db.session.rollback()

    [reopened] = services.add_partners(world.owner_a, world.a, [world.b.id])
    db.session.commit()
    relation = relation_of(world.a, world.b)
    assert relation.status is RelationStatus.OPEN and relation.dissolved_by is None
    assert granted_ids(product.id) == set()
    assert [e.action for e in history_of(relation)] == [
        "relation_dissolved_by_partner", "relation_unblocked", "relation_reopened"]
    assert all(e.store_id == world.a.id for e in history_of(relation))


def test_adding_several_is_all_or_nothing_when_one_is_blocked(world):
    make_relation(world.a, world.b, status=RelationStatus.DISSOLVED,
                  dissolved_by=DissolvedBy.PARTNER, blocked=True)
    db.session.commit()
    with pytest.raises(DomainError, match=BLOCKED_MESSAGE):
        services.add_partners(world.owner_a, world.a, [world.c.id, world.b.id])
    db.session.rollback()
    assert relation_of(world.a, world.c) is None

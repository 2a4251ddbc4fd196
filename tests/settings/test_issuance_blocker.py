"""issuance_blocker: the one check issuance calls; sms_active for the notification code."""

from __future__ import annotations

import pytest

from app import clock
from app.db import db
from app.settings import services
from app.stores.models import Contract
from tests.factories import make_store
from tests.settings.helpers import mark_complete


def _store(case: str):
    store = make_store(issuance_active=case != "inactive")
    if case == "no_contract":
        for contract in list(store.contracts):
            store.contracts.remove(contract)
            db.session.delete(contract)
        db.session.flush()
    settings = None
    if case in ("basic_only", "complete", "inactive"):
        settings = services.settings_for(store)
        settings.basic_completed_at = clock.now()
    if case in ("ticket_page_only", "complete", "inactive"):
        settings = settings or services.settings_for(store)
        settings.ticket_page_completed_at = clock.now()
    if case == "empty_row":
        services.settings_for(store)
    db.session.commit()
    db.session.expire_all()
    return store


@pytest.mark.parametrize(("case", "expected"), [
    ("no_contract", services.ISSUANCE_NOT_ACTIVE),
    ("inactive", services.ISSUANCE_NOT_ACTIVE),  # complete settings do not help
    ("nothing_saved", services.BASIC_MISSING),
    ("empty_row", services.BASIC_MISSING),
    ("ticket_page_only", services.BASIC_MISSING),
    ("basic_only", services.TICKET_PAGE_MISSING),
    ("complete", None),
])
def test_issuance_blocker_table(ctx, case, expected):
    assert services.issuance_blocker(_store(case)) == expected


def test_messages_are_the_seed_wording():
    assert services.ISSUANCE_NOT_ACTIVE == "ECT發行服務尚未開通，無法發行票券，請聯繫所屬業務"
    assert services.BASIC_MISSING == "請先至操作設定管理完成「基本設定」後再發行票券"
    assert services.TICKET_PAGE_MISSING == "請先至操作設定管理完成「票券頁面資訊」後再發行票券"


def test_the_current_contract_decides(ctx):
    """A newer contract that turns issuance off blocks issuance again."""
    from datetime import date

    store = make_store()
    mark_complete(store)
    assert services.issuance_blocker(store) is None
    store.contracts.append(Contract(start_date=date(2024, 1, 1), end_date=date(2099, 1, 1),
                                    issuance_active=False))
    db.session.commit()
    db.session.expire_all()
    assert services.issuance_blocker(store) == services.ISSUANCE_NOT_ACTIVE


@pytest.mark.parametrize(("sms_enabled", "sms_on", "active"), [
    (True, True, True),
    (True, False, False),
    (False, True, False),  # switched on earlier, then the operator withdrew the service
    (False, False, False),
])
def test_sms_active_needs_the_contract_and_the_switch(ctx, sms_enabled, sms_on, active):
    store = make_store(sms_enabled=sms_enabled)
    services.settings_for(store).sms_on = sms_on
    db.session.commit()
    assert services.sms_active(store) is active


def test_sms_active_without_saved_settings_is_off(ctx):
    store = make_store(sms_enabled=True)
    db.session.commit()
    assert services.sms_active(store) is False
    assert services._existing(store) is None  # asking created nothing

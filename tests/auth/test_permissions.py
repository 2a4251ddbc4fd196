"""Functions, grant levels and who may do what (docs/accounts.md), as tables."""

from datetime import UTC, datetime

import pytest

from app.auth.models import Account, AccountGrant, AccountKind
from app.auth.permissions import (
    FUNCTIONS,
    Function,
    Level,
    Mode,
    functions_for,
    grant_allows,
    normalise_grants,
)

R, INST = "redeem_after_use", "installment"
V, M = Level.VIEW, Level.MODIFY
INSTALLMENT_ONLY = {f for f, i in FUNCTIONS.items() if i.mode is Mode.INSTALLMENT}
REDEEM_ONLY = {f for f, i in FUNCTIONS.items() if i.mode is Mode.REDEEM_AFTER_USE}
COMMON = {Function.VENDOR_PROFILE, Function.LOGIN_HISTORY, Function.BILLING,
          Function.SYSTEM_INTEGRATION, Function.CREDIT_TRANSACTIONS,
          Function.CREDIT_REJECT_LIST}


@pytest.mark.parametrize(("granted", "wanted", "allowed"), [
    (None, V, False),
    (None, M, False),
    (V, V, True),
    (V, M, False),
    (M, V, True),  # modify implies view
    (M, M, True),
])
def test_grant_allows(granted, wanted, allowed):
    assert grant_allows(granted, wanted) is allowed


@pytest.mark.parametrize(("mode", "present", "absent"), [
    (R, COMMON | REDEEM_ONLY, INSTALLMENT_ONLY),
    (INST, COMMON | INSTALLMENT_ONLY, REDEEM_ONLY),
    (None, COMMON, REDEEM_ONLY | INSTALLMENT_ONLY),  # no contract yet
])
def test_functions_for(mode, present, absent):
    functions = functions_for(mode)
    assert set(functions) == present
    assert not set(functions) & absent
    assert len(functions) == len(set(functions))


def test_the_seed_functions_exist_in_their_modes():
    redeem = set(functions_for(R))
    for fn in (Function.OPERATION_SETTINGS, Function.PRODUCTS, Function.ISSUANCE,
               Function.ISSUED_ORDERS, Function.PAPER_PRINTING, Function.REDEEM,
               Function.CANCEL_REDEMPTION, Function.RETURN, Function.CANCEL_RETURN,
               Function.REPORT_TICKETS, Function.TRANSFER_RECORDS, Function.SMS_LOG,
               Function.BILLING):
        assert fn in redeem
    installment = set(functions_for(INST))
    for fn in (Function.INSTALLMENT_ORDER_RETURN, Function.INSTALLMENT_ORDER_CANCEL_RETURN,
               Function.INSTALLMENT_REPORTS):
        assert fn in installment


@pytest.mark.parametrize(("pairs", "mode", "expected"), [
    ({}, R, {}),
    ({Function.PRODUCTS: M, Function.REDEEM: V}, R,
     {Function.PRODUCTS: M, Function.REDEEM: V}),
    # modify on a view-only function becomes view
    ({Function.REPORT_CIRCULATION: M, Function.LOGIN_HISTORY: M}, R,
     {Function.REPORT_CIRCULATION: V, Function.LOGIN_HISTORY: V}),
    # functions the mode lacks are dropped
    ({Function.INSTALLMENT_REPORTS: V, Function.PRODUCTS: V}, R, {Function.PRODUCTS: V}),
    ({Function.PRODUCTS: M, Function.INSTALLMENT_REPORTS: M}, INST,
     {Function.INSTALLMENT_REPORTS: M}),
    ({Function.INSTALLMENT_ORDER_RETURN: M}, INST, {Function.INSTALLMENT_ORDER_RETURN: V}),
    ({Function.BILLING: V, Function.PRODUCTS: M}, None, {Function.BILLING: V}),
])
def test_normalise_grants(pairs, mode, expected):
    assert normalise_grants(pairs, mode) == expected


def _account(kind: AccountKind, grants: dict | None = None) -> Account:
    account = Account(kind=kind, username="someone1", password_hash="x", session_epoch=0)
    for fn, level in (grants or {}).items():
        account.grants.append(AccountGrant(function=fn.value, level=level))
    return account


@pytest.mark.parametrize("mode", [R, INST])
def test_main_account_holds_every_function_of_its_mode(mode):
    main = _account(AccountKind.MAIN)
    for fn in functions_for(mode):
        assert main.may(fn, V, mode=mode) and main.may(fn, M, mode=mode)
    absent = INSTALLMENT_ONLY if mode == R else REDEEM_ONLY
    for fn in absent:
        assert not main.may(fn, V, mode=mode)


@pytest.mark.parametrize(("function", "level", "allowed"), [
    (Function.REDEEM, V, True),
    (Function.REDEEM, M, False),  # view only cannot modify
    (Function.PRODUCTS, V, True),  # modify implies view
    (Function.PRODUCTS, M, True),
    (Function.ISSUANCE, V, False),  # not granted
    (Function.ISSUANCE, M, False),
    (Function.INSTALLMENT_REPORTS, V, False),  # granted, but not a function of this mode
])
def test_sub_account_holds_what_it_was_granted(function, level, allowed):
    sub = _account(AccountKind.SUB, {Function.REDEEM: V, Function.PRODUCTS: M,
                                     Function.INSTALLMENT_REPORTS: V})
    assert sub.may(function, level, mode=R) is allowed


def test_installment_grants_apply_in_installment_mode():
    sub = _account(AccountKind.SUB, {Function.INSTALLMENT_REPORTS: V})
    assert sub.may(Function.INSTALLMENT_REPORTS, V, mode=INST)
    assert not sub.may(Function.INSTALLMENT_REPORTS, M, mode=INST)


@pytest.mark.parametrize("function", list(Function))
def test_operator_may_no_merchant_function(function):
    operator = _account(AccountKind.OPERATOR)
    assert not operator.may(function, V)
    assert not operator.may(function, V, mode=R)


def test_a_deleted_account_may_nothing():
    main = _account(AccountKind.MAIN)
    main.deleted_at = datetime(2026, 1, 1, tzinfo=UTC)
    sub = _account(AccountKind.SUB, {Function.REDEEM: M})
    sub.deleted_at = datetime(2026, 1, 1, tzinfo=UTC)
    assert not main.may(Function.REDEEM, V, mode=R)
    assert not sub.may(Function.REDEEM, V, mode=R)

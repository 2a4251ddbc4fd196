"""Two-factor services on PostgreSQL: codes single-use under races, e-mailed codes expire and
run out of tries, recovery codes once only, set-up needs a valid code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app import clock
from app.auth import twofactor
from app.auth.models import Account
from app.auth.protection_models import EmailCode, TwoFactor
from app.db import db
from app.errors import DomainError, InvalidInput
from app.notifications.models import Message
from tests.factories import make_account, make_store, make_totp

pytestmark = pytest.mark.postgres
AT = datetime(2026, 11, 21, 3, 0, 15, tzinfo=UTC)
IP = "198.51.100.4"


def _owner() -> Account:
    store = make_store()
    store.technical_emails = "tech@example.com"
    return make_account(store)


def test_one_totp_code_logs_in_once_even_when_raced(pg_app):
    clock.freeze(AT)
    with pg_app.app_context():
        owner = _owner()
        secret = make_totp(owner)
        db.session.commit()
        owner_id = owner.id
    code = pyotp.TOTP(secret).at(AT)

    def attempt(_: int) -> bool:
        with pg_app.app_context():
            account = db.session.get(Account, owner_id)
            try:
                twofactor.complete_login(account, code, ip=IP, user_agent="race")
            except InvalidInput:
                db.session.commit()
                return False
            db.session.commit()
            return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert results.count(True) == 1
    with pg_app.app_context():
        assert db.session.scalar(select(TwoFactor.last_step)) == int(AT.timestamp()) // 30


def test_set_up_needs_a_valid_code_and_recovery_codes_work_once(pg_app):
    clock.freeze(AT)
    with pg_app.app_context():
        owner = _owner()
        factor = twofactor.start_totp(owner)
        with pytest.raises(InvalidInput):
            twofactor.confirm_setup(owner, "000000", ip=IP)
        assert not factor.enabled
        codes = twofactor.confirm_setup(owner, pyotp.TOTP(factor.secret).at(AT), ip=IP)
        db.session.commit()
        assert factor.enabled and len(codes) == 10 and owner.session_epoch == 1
        with pytest.raises(DomainError):
            twofactor.start_totp(owner)  # already on

        assert twofactor.complete_login(owner, codes[3], ip=IP, user_agent="") == "recovery"
        with pytest.raises(InvalidInput):
            twofactor.complete_login(owner, codes[3], ip=IP, user_agent="")
        assert twofactor.remaining_recovery_codes(owner) == 9
        clock.freeze(AT + timedelta(seconds=30))
        fresh = twofactor.regenerate_recovery_codes(
            owner, pyotp.TOTP(factor.secret).at(clock.now()), ip=IP)
        with pytest.raises(InvalidInput):  # the old ones stopped working
            twofactor.complete_login(owner, codes[4], ip=IP, user_agent="")
        assert twofactor.complete_login(owner, fresh[0], ip=IP, user_agent="") == "recovery"
        db.session.commit()


def test_e_mailed_codes_expire_are_single_use_and_run_out_of_tries(pg_app):
    clock.freeze(AT)
    with pg_app.app_context():
        owner = _owner()
        twofactor.start_email(owner)
        setup_code = db.session.scalar(select(EmailCode.code_hash))
        assert len(setup_code) == 64
        # the plain code only travels in the mail: take it from the outbox row
        body = db.session.scalar(select(Message.body).where(Message.kind == "two_factor_code"))
        code = next(w for w in body.split() if w.isdigit() and len(w) == 6)
        twofactor.confirm_setup(owner, code, ip=IP)
        db.session.commit()

        login = twofactor.send_email_code(owner, "login")
        clock.freeze(AT + timedelta(minutes=10, seconds=1))
        with pytest.raises(InvalidInput):
            twofactor.complete_login(owner, login, ip=IP, user_agent="")  # expired

        login = twofactor.send_email_code(owner, "login")
        wrong = "000000" if login != "000000" else "111111"
        for _ in range(5):
            with pytest.raises(InvalidInput):
                twofactor.complete_login(owner, wrong, ip=IP, user_agent="")
        with pytest.raises(InvalidInput):  # five wrong tries spent it
            twofactor.complete_login(owner, login, ip=IP, user_agent="")

        login = twofactor.send_email_code(owner, "login")
        assert twofactor.complete_login(owner, login, ip=IP, user_agent="") == "email"
        with pytest.raises(InvalidInput):
            twofactor.complete_login(owner, login, ip=IP, user_agent="")  # single use
        db.session.commit()


def test_wrong_codes_are_rate_limited(pg_app):
    clock.freeze(AT)
    with pg_app.app_context():
        owner = _owner()
        secret = make_totp(owner)
        db.session.commit()
        for _ in range(10):
            with pytest.raises(InvalidInput):
                twofactor.complete_login(owner, "000000", ip=IP, user_agent="")
        with pytest.raises(DomainError) as err:
            twofactor.complete_login(owner, pyotp.TOTP(secret).at(AT), ip=IP, user_agent="")
        assert err.value.status == 429 and "次數過多" in err.value.message

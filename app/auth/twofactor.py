"""雙因子驗證 and 登入後台 IP設定: use cases. They flush, never commit.

Two methods, as the seed has them: an authenticator app (TOTP: a QR code or a setup key to
copy) or a code e-mailed to the store's technical contacts (accounts have no e-mail address of
their own; operator accounts have no store, so they use an authenticator app). Setting up asks
for a valid code first; removing asks for one too. Ten single-use recovery codes are shown once
when the method is enabled and kept only as keyed hashes (HMAC-SHA256 under SECRET_KEY).

The TOTP secret is kept sealed under the server's code key (TwoFactor.secret). A TOTP code is
accepted once: the last accepted time step is stored and only a later step is accepted after it
(compare-and-set, so two racing requests cannot both pass). Wrong codes count against the
account and the IP (app.ratelimit); an e-mailed code expires after 10 minutes and is spent after
5 wrong tries.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app import clock, history
from app.auth import twofactor_rules as rules
from app.auth.login_notices import after_failed_login
from app.auth.models import Account, AccountKind, LoginEvent
from app.auth.protection_models import EmailCode, RecoveryCode, TwoFactor
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput
from app.notifications.services import queue_email
from app.ratelimit import Rule, check, count_failure

WRONG_CODE = "驗證碼錯誤或已使用，請重新輸入"
ALREADY_ENABLED = "此帳號已啟用雙因子驗證"
NOT_ENABLED = "此帳號尚未啟用雙因子驗證"
NO_EMAIL = ("此商店尚未設定技術聯絡人電子信箱，無法以電子信箱接收驗證碼；"
            "請先至「廠商專區 > 廠商基本資料」設定技術聯絡人，或改用驗證應用程式")
OPERATOR_NO_EMAIL = "平台管理員帳號請使用驗證應用程式"
IP_REFUSED = "您目前的 IP（{ip}）不在此帳號允許登入的 IP 清單中，無法登入；請洽商店管理者"
OWN_IP_MISSING = ("您目前的 IP（{ip}）不在清單中，儲存後將無法由此登入；"
                  "請將目前的 IP 加入清單")

PER_ACCOUNT = Rule("2fa-account", "10/10 minutes", "驗證碼錯誤次數過多，請 10 分鐘後再試")
PER_IP = Rule("2fa-ip", "30/10 minutes", "驗證碼錯誤次數過多，請 10 分鐘後再試")
EMAIL_SENDS = Rule("2fa-mail", "5/hour", "驗證碼寄送次數過多，請 1 小時後再試")

EMAIL_PURPOSES = {"login": "登入", "setup": "設定雙因子驗證", "remove": "解除雙因子驗證",
                  "recovery": "重新產生復原碼"}


def _key() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def _digest(purpose: str, account: Account, code: str) -> str:
    return rules.code_digest(_key(), purpose, account.id, code)


def two_factor_of(account: Account) -> TwoFactor | None:
    """The account's second factor, enabled or being set up."""
    return db.session.scalar(select(TwoFactor).where(TwoFactor.account_id == account.id))


def enabled_factor(account: Account) -> TwoFactor | None:
    factor = two_factor_of(account)
    return factor if factor is not None and factor.enabled else None


def required_for(account: Account) -> bool:
    """Whether the operator requires two-factor login of this account's store."""
    return account.store is not None and account.store.require_two_factor


def remaining_recovery_codes(account: Account) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))).all())


# E-mailed codes ----------------------------------------------------------------------------

def email_recipients(account: Account) -> str:
    """Where an account's e-mailed codes go: its store's technical contacts."""
    return account.store.technical_emails if account.store is not None else ""


def _require_email_possible(account: Account) -> str:
    if account.kind is AccountKind.OPERATOR:
        raise InvalidInput(OPERATOR_NO_EMAIL)
    to = email_recipients(account)
    if not to:
        raise InvalidInput(NO_EMAIL)
    return to


def send_email_code(account: Account, purpose: str) -> str:
    """E-mail a new code for `purpose`; earlier unused codes of that purpose are spent.
    Returns the plain code (never stored)."""
    if purpose not in EMAIL_PURPOSES:
        raise ValueError(purpose)
    to = _require_email_possible(account)
    check(EMAIL_SENDS, account.id)
    count_failure(EMAIL_SENDS, account.id)  # every send counts
    now = clock.now()
    db.session.execute(update(EmailCode).where(
        EmailCode.account_id == account.id, EmailCode.purpose == purpose,
        EmailCode.used_at.is_(None)).values(used_at=now))
    code = rules.new_email_code()
    db.session.add(EmailCode(account_id=account.id, purpose=purpose,
                             code_hash=_digest(purpose, account, code), created_at=now,
                             expires_at=now + timedelta(minutes=rules.EMAIL_CODE_MINUTES)))
    body = (f"您好：\n\nECTicket 發行管理平台帳號 {account.username}"
            f"（商店 {account.store.label}）{EMAIL_PURPOSES[purpose]}的驗證碼為：\n\n"
            f"    {code}\n\n驗證碼 {rules.EMAIL_CODE_MINUTES} 分鐘內有效，僅能使用一次。"
            "若非您本人操作，請勿提供此驗證碼給任何人，並儘速變更密碼。")
    queue_email(account.store_id, to, f"ECTicket 雙因子驗證碼（{EMAIL_PURPOSES[purpose]}）",
                body, kind="two_factor_code")
    db.session.flush()
    return code


def _use_email_code(account: Account, purpose: str, code: str) -> bool:
    """Spend the account's live e-mailed code for `purpose` if `code` is it; a wrong try
    counts against that code (spent after EMAIL_CODE_ATTEMPTS)."""
    code = rules.clean_code(code)
    now = clock.now()
    live = db.session.scalar(select(EmailCode).where(
        EmailCode.account_id == account.id, EmailCode.purpose == purpose,
        EmailCode.used_at.is_(None), EmailCode.expires_at > now,
        EmailCode.attempts < rules.EMAIL_CODE_ATTEMPTS,
    ).order_by(EmailCode.id.desc()).limit(1))
    if live is None:
        return False
    if code.isdigit() and len(code) == rules.EMAIL_CODE_DIGITS and live.code_hash == _digest(
            purpose, account, code):
        spent = db.session.execute(update(EmailCode).where(
            EmailCode.id == live.id, EmailCode.used_at.is_(None)).values(used_at=now))
        return spent.rowcount == 1  # a racing request that spent it first wins
    db.session.execute(update(EmailCode).where(EmailCode.id == live.id)
                       .values(attempts=EmailCode.attempts + 1))
    return False


# Codes -------------------------------------------------------------------------------------

def _use_totp(factor: TwoFactor, code: str) -> bool:
    step = rules.totp_step(factor.secret, code, clock.now(), last_step=factor.last_step)
    if step is None:
        return False
    moved = db.session.execute(update(TwoFactor).where(
        TwoFactor.id == factor.id,
        or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step),
    ).values(last_step=step).execution_options(synchronize_session=False))
    db.session.refresh(factor)
    return moved.rowcount == 1


def _use_recovery_code(account: Account, code: str) -> bool:
    raw = rules.normalise_recovery_code(code)
    if not raw:
        return False
    spent = db.session.execute(update(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None),
        RecoveryCode.code_hash == _digest("recovery-code", account, raw),
    ).values(used_at=clock.now()))
    return spent.rowcount == 1


def check_code(account: Account, factor: TwoFactor, code: str, *, purpose: str, ip: str,
               recovery: bool = True) -> str:
    """Accept a code of the account's method (or, when `recovery`, a recovery code): "totp",
    "email" or "recovery". A wrong code counts against the account and IP and raises."""
    check(PER_ACCOUNT, account.id)
    check(PER_IP, ip)
    if factor.method == "totp" and _use_totp(factor, code):
        return "totp"
    if factor.method == "email" and _use_email_code(account, purpose, code):
        return "email"
    if recovery and factor.enabled and _use_recovery_code(account, code):
        return "recovery"
    count_failure(PER_ACCOUNT, account.id)
    count_failure(PER_IP, ip)
    db.session.flush()
    raise InvalidInput(WRONG_CODE, code="wrong_code", fields={"code": WRONG_CODE})


def _new_recovery_codes(account: Account) -> list[str]:
    db.session.execute(update(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None),
    ).values(used_at=clock.now()))
    codes = rules.new_recovery_codes()
    for code in codes:
        db.session.add(RecoveryCode(account_id=account.id, code_hash=_digest(
            "recovery-code", account, rules.normalise_recovery_code(code))))
    return codes


# Set-up and removal ------------------------------------------------------------------------

def start_totp(account: Account) -> TwoFactor:
    """A new secret to scan, not yet enabled (a pending set-up is replaced)."""
    factor = two_factor_of(account)
    if factor is not None and factor.enabled:
        raise DomainError(ALREADY_ENABLED)
    if factor is None:
        factor = TwoFactor(account_id=account.id)
        db.session.add(factor)
    factor.method, factor.secret, factor.last_step = "totp", rules.new_secret(), None
    db.session.flush()
    return factor


def start_email(account: Account) -> TwoFactor:
    """Begin the e-mail method: a set-up code goes to the technical contacts."""
    factor = two_factor_of(account)
    if factor is not None and factor.enabled:
        raise DomainError(ALREADY_ENABLED)
    _require_email_possible(account)
    if factor is None:
        factor = TwoFactor(account_id=account.id)
        db.session.add(factor)
    factor.method, factor.secret, factor.last_step = "email", "", None
    db.session.flush()
    send_email_code(account, "setup")
    return factor


def confirm_setup(account: Account, code: str, *, ip: str) -> list[str]:
    """Enable the pending method once `code` is valid; returns the recovery codes (shown once).
    The account's other sessions end (its session epoch moves on)."""
    factor = two_factor_of(account)
    if factor is None:
        raise DomainError("請先選擇雙因子驗證方式")
    if factor.enabled:
        raise DomainError(ALREADY_ENABLED)
    check_code(account, factor, code, purpose="setup", ip=ip, recovery=False)
    factor.enabled_at = clock.now()
    codes = _new_recovery_codes(account)
    account.session_epoch += 1
    history.record(account, "two_factor_enabled", store_id=account.store_id,
                   changes={"two_factor": [None, factor.method_label]})
    db.session.flush()
    return codes


def remove(account: Account, code: str, *, ip: str) -> None:
    """Turn two-factor login off, with a valid code (or a recovery code)."""
    factor = enabled_factor(account)
    if factor is None:
        raise DomainError(NOT_ENABLED)
    check_code(account, factor, code, purpose="remove", ip=ip)
    label = factor.method_label
    db.session.delete(factor)
    db.session.execute(update(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None),
    ).values(used_at=clock.now()))
    history.record(account, "two_factor_removed", store_id=account.store_id,
                   changes={"two_factor": [label, None]})
    db.session.flush()


def regenerate_recovery_codes(account: Account, code: str, *, ip: str) -> list[str]:
    """Ten new recovery codes (the old ones stop working), with a valid code."""
    factor = enabled_factor(account)
    if factor is None:
        raise DomainError(NOT_ENABLED)
    check_code(account, factor, code, purpose="recovery", ip=ip, recovery=False)
    codes = _new_recovery_codes(account)
    history.record(account, "recovery_codes_regenerated", store_id=account.store_id)
    db.session.flush()
    return codes


# The login's second step -------------------------------------------------------------------

def record_second_step(account: Account, *, ip: str, user_agent: str, success: bool,
                       reason: str) -> LoginEvent:
    event = LoginEvent(at=clock.now(), username=account.username, account_id=account.id,
                       store_id=account.store_id, ip=ip[:45], user_agent=user_agent[:300],
                       success=success, reason=reason)
    db.session.add(event)
    db.session.flush()
    if not success:
        after_failed_login(account, ip)
    return event


def complete_login(account: Account, code: str, *, ip: str, user_agent: str) -> str:
    """The second step of a login: a valid code of the account's method or a recovery code.
    Recorded in the login history either way; "totp", "email" or "recovery"."""
    factor = enabled_factor(account)
    if factor is None:
        raise DomainError(NOT_ENABLED)
    try:
        used = check_code(account, factor, code, purpose="login", ip=ip)
    except InvalidInput:
        record_second_step(account, ip=ip, user_agent=user_agent, success=False,
                           reason="bad_2fa")
        raise
    record_second_step(account, ip=ip, user_agent=user_agent, success=True,
                       reason="recovery" if used == "recovery" else "2fa")
    return used


# 登入後台 IP設定 ----------------------------------------------------------------------------

def login_refusal(account: Account, ip: str) -> str | None:
    """Why a login with the right password is refused anyway (the IP allow-list), or None."""
    if not rules.ip_allowed(account.login_ips, ip):
        return IP_REFUSED.format(ip=ip or "不明")
    return None


def password_step_reason(account: Account) -> str:
    """The login-history reason of a correct password: "2fa_pending" when a second step
    follows, else ""."""
    return "2fa_pending" if enabled_factor(account) is not None else ""


def set_login_ips(actor: Account, target: Account, raw: str, *, current_ip: str) -> bool:
    """Set the allow-list of the main account itself or of one of its sub-accounts. A list
    that would lock the main account out of the address it is using is refused."""
    if not actor.is_main or target.store_id != actor.store_id or target.kind is AccountKind.OPERATOR:
        raise Forbidden("僅管理者可設定本商店帳號的登入 IP")
    if target.deleted_at is not None:
        raise DomainError("此子帳號已刪除")
    try:
        stored, _ = rules.parse_ip_list(raw)
    except rules.BadIpList as err:
        raise InvalidInput(err.message, fields={"login_ips": err.message}) from None
    if target.id == actor.id and not rules.ip_allowed(stored, current_ip):
        message = OWN_IP_MISSING.format(ip=current_ip or "不明")
        raise InvalidInput(message, fields={"login_ips": message})
    return history.change(target, "login_ips_changed", {"login_ips": stored},
                          store_id=target.store_id)

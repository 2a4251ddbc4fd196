"""Use cases for logins, passwords, sub-accounts and API tokens. They flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app import clock, history
from app.auth import request_cache, rules, twofactor
from app.auth.devices import Device
from app.auth.login_notices import after_failed_login
from app.auth.models import (
    Account,
    AccountGrant,
    AccountKind,
    ApiToken,
    LoginEvent,
    PasswordResetToken,
)
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.auth.permissions import Function, Level, normalise_grants
from app.credentials import conceal
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput
from app.notifications.services import queue_email
from app.ratelimit import Limit, Rule, check, count_failure, succeeded, take_each
from app.stores.models import Store
from app.tenancy import StoreScope

LOGIN_FAILED = "帳號或密碼錯誤"


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    message: str = ""


def login_limits() -> rules.LoginLimits:
    cfg = current_app.config
    return rules.LoginLimits(per_username_ip=cfg["LOGIN_LOCKOUT_FAILURES"],
                             per_ip=cfg["LOGIN_IP_FAILURES"],
                             per_username=cfg["LOGIN_USERNAME_FAILURES"],
                             minutes=cfg["LOGIN_LOCKOUT_MINUTES"])


def _login_counters(username: str, ip: str, device_id: str | None) -> list[tuple[Limit, tuple]]:
    limits = login_limits()
    return [(Limit(name, amount, limits.minutes * 60), identifiers)
            for name, amount, identifiers in rules.login_counters(username, ip, device_id, limits)]


def authenticate(username: str, password: str, *, ip: str, user_agent: str,
                 device: Device | None = None) -> LoginResult:
    """Check a login and record it in the login history, whatever the outcome.

    Throttled before the password is looked at (app.auth.rules.login_counters): each counter
    is taken atomically, so concurrent wrong passwords evaluate at most the limit; a success
    clears its own (username, address or device) count and gives its attempt back to the
    others. `device` is this browser's known-device cookie (app.auth.devices), if any.
    """
    username = username.strip()[:40]
    at = clock.now()
    account = db.session.scalar(
        select(Account).where(Account.username == username).execution_options(unscoped=True)
    )

    def log(success: bool, reason: str) -> None:
        db.session.add(LoginEvent(
            at=at, username=username, account_id=account.id if account else None,
            store_id=account.store_id if account else None, ip=ip[:45],
            user_agent=user_agent[:300], success=success, reason=reason,
        ))
        db.session.flush()
        if not success:
            after_failed_login(account, ip)  # 3-5: the repeated-failure notice, once a streak

    known = device.id if device is not None and account is not None and device.knows(account.id) \
        else None
    counters = _login_counters(username, ip, known)
    if (refused := take_each(counters)) is not None:
        log(False, "locked")
        minutes = rules.wait_minutes(refused.retry_at, at)
        return LoginResult(None, f"登入失敗次數過多，已暫時鎖定，請於 {minutes} 分鐘後再試")
    ok = verify_password(account.password_hash if account else None, password)
    if not ok or account is None or not account.is_active:
        log(False, "bad_password" if account else "unknown")
        return LoginResult(None, LOGIN_FAILED)
    if refused := twofactor.login_refusal(account, ip):  # 登入後台 IP設定
        log(False, "ip_not_allowed")
        return LoginResult(None, refused)
    succeeded(counters)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    log(True, twofactor.password_step_reason(account))
    return LoginResult(account)


def scope_for(account: Account, switched_store_id: int | None) -> tuple[Store, StoreScope]:
    """The store an account acts for, and what it may read.

    A parent store's main account may switch into a child store; it then acts as the child.
    Without switching, a parent reads its children's data but cannot act on it.
    """
    own = account.store
    assert own is not None
    acting = own
    if switched_store_id and switched_store_id != own.id and account.is_main:
        child = next((c for c in own.children if c.id == switched_store_id), None)
        if child is not None:
            acting = child
    readable = frozenset(c.id for c in own.children) if acting is own else frozenset()
    return acting, StoreScope(acting.id, readable)


def switchable_stores(account: Account) -> list[Store]:
    if not account.is_main or account.store is None or not account.store.children:
        return []
    return [account.store, *account.store.children]


# Passwords -------------------------------------------------------------------------------

def password_problem(account: Account, password: str) -> str | None:
    if account.kind is AccountKind.SUB:
        return rules.sub_password_problem(password)
    return rules.main_password_problem(password)


def password_rule(account: Account) -> str:
    return rules.SUB_PASSWORD_RULE if account.kind is AccountKind.SUB else rules.MAIN_PASSWORD_RULE


def change_own_password(account: Account, current: str, new: str) -> None:
    if not verify_password(account.password_hash, current):
        raise InvalidInput("目前密碼不正確", fields={"current_password": "目前密碼不正確"})
    if problem := password_problem(account, new):
        raise InvalidInput(problem, fields={"new_password": problem})
    if verify_password(account.password_hash, new):
        raise InvalidInput("新密碼不可與目前密碼相同", fields={"new_password": "新密碼不可與目前密碼相同"})
    _set_password(account, new)
    history.record(account, "password_changed", store_id=account.store_id)


def _set_password(account: Account, new: str) -> None:
    account.password_hash = hash_password(new)
    end_sessions(account)  # other sessions of this account end


# Sessions ---------------------------------------------------------------------------------
# A login session carries the account's session epoch (Account.get_id); every request compares
# it with the account row Flask-Login loads anyway (app.web load_user), so ending every session
# of an account is one increment and costs a request no extra statement.

STARTED, SEEN = "started", "seen"  # the login session's start and last request (epoch seconds)


SESSION_ID = "sid"  # a login session's own random id, kept across a store switch
ENDED_KEPT = 200  # ended session ids an account keeps; past it, all its sessions end instead


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def end_sessions(account: Account) -> None:
    """End every login session of `account`: a copied session cookie stops working at once."""
    account.session_epoch += 1
    account.ended_sessions = []


def end_session(account: Account, session_id: str, *, now: int, keep_seconds: int) -> None:
    """End one login session (a logout in this browser): its cookie, copied or not, stops
    working; the account's other browsers stay signed in.

    The row is locked so that two logouts at once both count. Ids older than a session can live
    are dropped; an account that somehow piles up more than ENDED_KEPT ends all its sessions.
    """
    db.session.flush()  # a refresh would drop changes not yet written
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    db.session.refresh(account, attribute_names=["session_epoch", "ended_sessions"])
    ended = [[sid, at] for sid, at in account.ended_sessions if now - at < keep_seconds]
    ended.append([session_id, now])
    if len(ended) > ENDED_KEPT:
        end_sessions(account)
        return
    account.ended_sessions = ended


def session_ended(account: Account, session_id: str | None) -> bool:
    return not session_id or any(sid == session_id for sid, _ in account.ended_sessions)


def sign_out_everywhere(actor: Account, account: Account) -> None:
    """登出所有裝置: an operator ends every session of an account (of any store)."""
    if not actor.is_operator:
        raise Forbidden("僅平台管理員可將帳號登出所有裝置")
    end_sessions(account)
    history.record(account, "signed_out_everywhere", store_id=account.store_id)


# 忘記密碼 (reset by e-mail) ---------------------------------------------------------------

RESET_VALID_FOR = timedelta(minutes=30)
RESET_PER_USERNAME = Rule("reset-user", "3/hour", "忘記密碼申請次數過多，請 1 小時後再試")
RESET_PER_IP = Rule("reset-ip", "10/hour", "忘記密碼申請次數過多，請 1 小時後再試")
RESET_LINK_INVALID = "重設密碼連結無效、已使用或已過期，請重新申請"
RESET_RECIPIENTS = ("technical_emails", "finance_emails")  # accounts have no e-mail of their own


def reset_recipients(account: Account) -> str:
    """Where an account's reset link goes: its store's technical and finance contacts."""
    store = account.store
    if store is None:
        return ""
    return ";".join(part for name in RESET_RECIPIENTS if (part := getattr(store, name)))


def request_password_reset(username: str, *, ip: str) -> str | None:
    """Mail a reset link for `username`, if it names a live merchant account with contacts.

    The caller answers the same whatever happens here. Every request counts against the
    username and the IP (429 once over). Earlier unused links of the account are spent. Returns
    the plain token (never stored) or None when nothing was sent.
    """
    username = username.strip()[:40]
    check(RESET_PER_IP, ip)
    check(RESET_PER_USERNAME, username.lower())
    count_failure(RESET_PER_IP, ip)
    count_failure(RESET_PER_USERNAME, username.lower())
    account = db.session.scalar(
        select(Account).where(Account.username == username).execution_options(unscoped=True)
    )
    if account is None or not account.is_active or account.store is None:
        return None
    to = reset_recipients(account)
    if not to:
        return None
    now = clock.now()
    for old in db.session.scalars(select(PasswordResetToken).where(
            PasswordResetToken.account_id == account.id, PasswordResetToken.used_at.is_(None))):
        old.used_at = now
    plain = secrets.token_urlsafe(32)
    db.session.add(PasswordResetToken(account_id=account.id, token_hash=_digest(plain),
                                      created_at=now, expires_at=now + RESET_VALID_FOR,
                                      ip=ip[:45]))
    link = conceal(f"{current_app.config['PUBLIC_BASE_URL']}/reset-password/{plain}",
                   f"{current_app.config['PUBLIC_BASE_URL']}/reset-password/…")  # sealed in the outbox
    minutes = int(RESET_VALID_FOR.total_seconds() // 60)
    body = (f"您好：\n\n有人為 ECTicket 發行管理平台的帳號 {account.username}"
            f"（商店 {account.store.label}）申請重設密碼。\n"
            f"請於 {minutes} 分鐘內開啟以下連結設定新密碼（僅能使用一次）：\n{link}\n\n"
            "若您未申請，請忽略此信，原密碼仍然有效。")
    queue_email(account.store_id, to, "ECTicket 重設密碼通知", body, kind="password_reset")
    db.session.flush()
    return plain


def live_reset_token(plain: str) -> PasswordResetToken | None:
    """The unused, unexpired reset token for this link, or None."""
    if not plain or len(plain) > 100:
        return None
    token = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _digest(plain))
        .options(joinedload(PasswordResetToken.account)).execution_options(unscoped=True)
    )
    if (token is None or token.used_at is not None or clock.now() >= token.expires_at
            or not token.account.is_active):
        return None
    return token


def reset_password(plain: str, new: str) -> Account:
    """Set a new password through a reset link; the link is spent, other sessions end."""
    token = live_reset_token(plain)
    if token is None:
        raise InvalidInput(RESET_LINK_INVALID)
    account = token.account
    if problem := password_problem(account, new):
        raise InvalidInput(problem, fields={"new_password": problem})
    token.used_at = clock.now()
    _set_password(account, new)
    history.record(account, "password_reset_by_email", store_id=account.store_id)
    db.session.flush()
    return account


# Sub-accounts ----------------------------------------------------------------------------

def _require_main(actor: Account, store: Store) -> None:
    if not actor.is_main or actor.store_id != store.id:
        raise Forbidden("僅管理者可管理後台子帳號")


def _grants_snapshot(account: Account) -> dict[str, str]:
    return {g.function: g.level.value for g in sorted(account.grants, key=lambda g: g.function)}


def _mode(store: Store) -> str | None:
    contract = store.current_contract
    return contract.redemption_mode.value if contract else None


def create_sub_account(actor: Account, store: Store, *, username: str, password: str,
                       remark: str, grants: dict[Function, Level]) -> Account:
    _require_main(actor, store)
    username = username.strip()
    fields = {}
    if problem := rules.sub_username_problem(username):
        fields["username"] = problem
    if problem := rules.sub_password_problem(password):
        fields["password"] = problem
    if problem := rules.remark_problem(remark):
        fields["remark"] = problem
    if not fields and db.session.scalar(
        select(Account.id).where(Account.username == username).execution_options(unscoped=True)
    ):
        fields["username"] = "此帳號已被使用"
    if fields:
        raise InvalidInput(next(iter(fields.values())), fields=fields)
    account = Account(store_id=store.id, kind=AccountKind.SUB, username=username,
                      password_hash=hash_password(password), remark=remark)
    for fn, level in normalise_grants(grants, _mode(store)).items():
        account.grants.append(AccountGrant(function=fn.value, level=level))
    db.session.add(account)
    db.session.flush()
    history.record(account, "created", changes={
        "username": [None, username], "remark": [None, remark],
        "grants": [None, _grants_snapshot(account)],
    })
    return account


def _require_sub_of(actor: Account, target: Account) -> None:
    if target.kind is not AccountKind.SUB or target.store_id != actor.store_id:
        raise Forbidden("僅可管理本商店的子帳號")
    _require_main(actor, target.store)  # type: ignore[arg-type]
    if target.deleted_at is not None:
        raise DomainError("此子帳號已刪除")


def set_grants(actor: Account, target: Account, grants: dict[Function, Level]) -> None:
    _require_sub_of(actor, target)
    before = _grants_snapshot(target)
    wanted = normalise_grants(grants, _mode(target.store))  # type: ignore[arg-type]
    target.grants[:] = [g for g in target.grants if Function(g.function) in wanted]
    for g in target.grants:
        g.level = wanted[Function(g.function)]
    have = {g.function for g in target.grants}
    for fn, level in wanted.items():
        if fn.value not in have:
            target.grants.append(AccountGrant(function=fn.value, level=level))
    db.session.flush()
    after = _grants_snapshot(target)
    if before != after:
        history.record(target, "grants_changed", changes={"grants": [before, after]})


def set_remark(actor: Account, target: Account, remark: str) -> None:
    _require_sub_of(actor, target)
    if problem := rules.remark_problem(remark):
        raise InvalidInput(problem, fields={"remark": problem})
    if remark != target.remark:
        history.record(target, "remark_changed", changes={"remark": [target.remark, remark]})
        target.remark = remark


def reset_sub_password(actor: Account, target: Account, new: str) -> None:
    _require_sub_of(actor, target)
    if problem := rules.sub_password_problem(new):
        raise InvalidInput(problem, fields={"password": problem})
    _set_password(target, new)
    history.record(target, "password_reset")


def delete_sub_account(actor: Account, target: Account) -> None:
    _require_sub_of(actor, target)
    target.deleted_at = clock.now()
    end_sessions(target)
    for token in db.session.scalars(select(ApiToken).where(ApiToken.account_id == target.id,
                                                           ApiToken.revoked_at.is_(None))):
        token.revoked_at = target.deleted_at
    history.record(target, "deleted")


# API tokens ------------------------------------------------------------------------------

TOKEN_PREFIX = "ectx_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(account: Account, name: str = "") -> tuple[ApiToken, str]:
    """A new bearer token for `account`. The plain token is returned once and never stored."""
    if account.is_operator or account.store_id is None:
        raise Forbidden("平台管理員帳號不使用 API 金鑰")
    if not account.is_active:
        raise DomainError("此帳號已刪除")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(store_id=account.store_id, account_id=account.id, name=name.strip()[:50],
                     token_hash=_digest(plain), prefix=plain[: len(TOKEN_PREFIX) + 6])
    db.session.add(token)
    db.session.flush()
    history.record(token, "created", changes={"name": [None, token.name],
                                              "account": [None, account.username]})
    return token, plain


def revoke_api_token(actor: Account, token: ApiToken) -> None:
    if token.account_id != actor.id and not (actor.is_main and actor.store_id == token.store_id):
        raise Forbidden("僅可撤銷自己的 API 金鑰")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        history.record(token, "revoked")


def request_account_options(via: Any = None) -> list[Any]:
    """Loader options that bring, with an account, what every request reads before its view:
    its branch and its store with the store's children (what it may read) and contracts (the
    redemption mode), in the account's own query instead of one query each. `via` is the path
    to the account when it is loaded through another entity (an API token)."""
    load = via.joinedload if via is not None else joinedload
    store = load(Account.store)
    return [load(Account.branch), store.joinedload(Store.children),
            store.joinedload(Store.contracts)]


def _load_token(digest: str) -> ApiToken | None:
    """The token with what every request reads of its account, detached for the cache; its
    `last_used_at` is written at most once a minute, on the loader's own connection."""
    account = joinedload(ApiToken.account)

    def read(session: Session) -> ApiToken | None:
        token = session.scalars(
            select(ApiToken).where(ApiToken.token_hash == digest)
            .options(account, *request_account_options(account))
            .execution_options(unscoped=True)
        ).unique().one_or_none()
        now = clock.now()
        if token is not None and (token.last_used_at is None
                                  or now - token.last_used_at > timedelta(minutes=1)):
            token.last_used_at = now  # coarse: an API call does not write on every request
        return token

    return request_cache.load_detached(read)


def account_for_token(plain: str) -> request_cache.CachedPrincipal | None:
    """The live token's account, from this process's request cache (`app.auth.request_cache`):
    a revocation or a deleted account takes effect within seconds everywhere, and at once in
    the process that made it. Nothing is copied into the request's session: the principal reads
    the cached account, and copies it into the session only when something needs the ORM
    account (`CachedPrincipal.account`)."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    digest = _digest(plain)
    cached = request_cache.get(("token", digest), lambda: _load_token(digest))
    if cached is None or cached.revoked_at is not None or not cached.account.is_active:
        return None
    return request_cache.CachedPrincipal(cached.account)


def _load_account(account_id: int) -> Account | None:
    return request_cache.load_detached(lambda session: session.get(
        Account, account_id, options=request_account_options(),
        execution_options={"unscoped": True}))


def account_for_session(account_id: int) -> Account | None:
    """A logged-in session's account from this process's request cache: detached, shared
    between requests and only read (the caller checks it is active and the session's epoch,
    then copies it into the request's session, or reads it through a CachedPrincipal)."""
    return request_cache.get(("account", account_id), lambda: _load_account(account_id))

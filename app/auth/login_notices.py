"""3-5 登入通知: a store chooses whether repeated failed logins and logins from a new device or
browser are e-mailed, and to which of its contacts (帳務／業務／技術聯絡人).

Accounts have no e-mail address of their own, so notices go to the store's contacts; an operator
account has no store and gets none. Notices are queued in the outbox inside the caller's
transaction and leave after its commit. A repeated-failure notice is sent once per streak: on
the `failure_threshold`-th failure in a row of an account, not on the ones after it.
"""

from __future__ import annotations

from sqlalchemy import select

from app import clock, history
from app.auth.models import Account, LoginEvent
from app.auth.protection_models import LoginNoticeSettings
from app.auth.twofactor_rules import failure_notice_due, threshold_problem
from app.db import db
from app.errors import Forbidden, InvalidInput
from app.notifications.models import Message
from app.notifications.services import queue_email
from app.stores.models import Store

RECIPIENT_FIELDS = {  # setting → the store's contact field
    "to_finance": "finance_emails",
    "to_sales": "sales_emails",
    "to_technical": "technical_emails",
}
NO_RECIPIENT = "請至少勾選一種通知對象"
SETTING_FIELDS = ("notify_failures", "failure_threshold", "notify_new_device", *RECIPIENT_FIELDS)


def settings_for(store_id: int) -> LoginNoticeSettings:
    """The store's settings, or the defaults (not added to the session) when never saved."""
    found = db.session.scalar(select(LoginNoticeSettings)
                              .where(LoginNoticeSettings.store_id == store_id)
                              .execution_options(unscoped=True))
    if found is not None:
        return found
    return LoginNoticeSettings(store_id=store_id, notify_failures=False, failure_threshold=3,
                               notify_new_device=False, to_finance=False, to_sales=False,
                               to_technical=True)


def update_settings(actor: Account, store: Store, **wanted: object) -> bool:
    """Save the store's notice settings (main account only); True when anything changed. The
    change is written to the history of the settings row in the same transaction."""
    if not actor.is_main or actor.store_id != store.id:
        raise Forbidden("僅管理者可修改登入通知設定")
    unknown = set(wanted) - set(SETTING_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    threshold = wanted.get("failure_threshold")
    if problem := threshold_problem(threshold if isinstance(threshold, int) else None):
        raise InvalidInput(problem, fields={"failure_threshold": problem})
    if (wanted.get("notify_failures") or wanted.get("notify_new_device")) and not any(
            wanted.get(name) for name in RECIPIENT_FIELDS):
        raise InvalidInput(NO_RECIPIENT, fields={"to_technical": NO_RECIPIENT})
    settings = settings_for(store.id)
    if settings.id is None:
        db.session.add(settings)
        db.session.flush()
    return history.change(settings, "login_notices_updated",
                          {name: wanted[name] for name in SETTING_FIELDS}, store_id=store.id)


def recipients(settings: LoginNoticeSettings, store: Store) -> str:
    return ";".join(value for flag, field in RECIPIENT_FIELDS.items()
                    if getattr(settings, flag) and (value := getattr(store, field)))


def _send(account: Account, subject: str, body: str, kind: str) -> list[Message]:
    store = account.store
    assert store is not None
    to = recipients(settings_for(store.id), store)
    if not to:
        return []
    return queue_email(store.id, to, subject, body, kind=kind)


def _when() -> str:
    return clock.taipei().strftime("%Y/%m/%d %H:%M")


def consecutive_failures(account_id: int, limit: int) -> int:
    """How many of the account's latest login events, up to `limit`, are failures in a row."""
    latest = db.session.scalars(
        select(LoginEvent.success).where(LoginEvent.account_id == account_id)
        .order_by(LoginEvent.at.desc(), LoginEvent.id.desc()).limit(limit)
    ).all()
    count = 0
    for success in latest:
        if success:
            break
        count += 1
    return count


def after_failed_login(account: Account | None, ip: str) -> list[Message]:
    """Call after a failed login of `account` is recorded (flushed): queues the repeated-failure
    notice when this failure is the threshold-th in a row and the store asked for it."""
    if account is None or account.store_id is None or not account.is_active:
        return []
    settings = settings_for(account.store_id)
    if not settings.notify_failures:
        return []
    count = consecutive_failures(account.id, settings.failure_threshold + 1)
    if not failure_notice_due(count, settings.failure_threshold):
        return []
    body = (f"您好：\n\nECTicket 發行管理平台的帳號 {account.username}（商店 {account.store.label}）"
            f"已連續登入失敗 {count} 次，最近一次於 {_when()}，來源 IP {ip or '不明'}。\n"
            "若非您本人操作，請儘速變更密碼並啟用雙因子驗證；"
            "登入紀錄可於「廠商專區 > 登入歷程」查詢。\n\n"
            "本通知於每次連續失敗僅寄送一次，成功登入後重新計算。")
    return _send(account, "ECTicket 登入失敗通知", body, "login_failures")


def notify_new_device_login(account: Account, ip: str, user_agent: str) -> list[Message]:
    """Queue the "login from a new device or browser" notice, if the account's store asked for
    it. The caller decides that the device is new (app.auth.devices) and commits."""
    if account.store_id is None:
        return []
    settings = settings_for(account.store_id)
    if not settings.notify_new_device:
        return []
    body = (f"您好：\n\nECTicket 發行管理平台的帳號 {account.username}（商店 {account.store.label}）"
            f"於 {_when()} 從新的裝置或瀏覽器登入。\n"
            f"IP：{ip or '不明'}\n瀏覽器：{(user_agent or '不明')[:300]}\n\n"
            "若非您本人操作，請儘速變更密碼並啟用雙因子驗證。")
    return _send(account, "ECTicket 新裝置登入通知", body, "login_new_device")

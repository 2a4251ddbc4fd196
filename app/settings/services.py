"""7-1 操作設定管理 use cases: basic settings (基本設定) and ticket-page information (票券頁面資訊),
and the questions other features ask of them (may this store issue? is SMS on?).

They flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app import clock, history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function
from app.db import db
from app.errors import InvalidInput
from app.settings import rules
from app.settings.models import StoreSettings
from app.stores.models import Store
from app.uploads.models import Upload, UploadPurpose
from app.uploads.services import path_of, save_image

ISSUANCE_NOT_ACTIVE = "ECT發行服務尚未開通，無法發行票券，請聯繫所屬業務"
BASIC_MISSING = "請先至操作設定管理完成「基本設定」後再發行票券"
TICKET_PAGE_MISSING = "請先至操作設定管理完成「票券頁面資訊」後再發行票券"
SMS_NOT_ACTIVATED = "並未開通此服務"
SMS_REFUSED = "簡訊服務並未開通此服務，無法開啟簡訊發送開關，請聯繫所屬業務開通服務"
NO_RIGHT = "您沒有修改操作設定的權限"

TEXT_FIELDS = ("cs_phone", "cs_email", "line_url", "facebook_url", "instagram_url",
               "rights_statement")


def _existing(store: Store) -> StoreSettings | None:
    """The store's settings row if one was ever saved. Filtered by the store explicitly, so the
    answer is the same in a merchant request, an operator request or a job."""
    return db.session.scalar(
        select(StoreSettings).where(StoreSettings.store_id == store.id)
        .execution_options(unscoped=True))


def settings_for(store: Store) -> StoreSettings:
    """The store's settings, created empty (flushed) the first time they are asked for."""
    found = _existing(store)
    if found is None:
        found = StoreSettings(store_id=store.id, sms_on=False, online_return_application=False,
                              offline_enabled=True)
        db.session.add(found)
        db.session.flush()
    return found


def settings_or_blank(store: Store) -> StoreSettings:
    """The store's saved settings, or blank ones not added to the session (for pages: a GET
    writes nothing)."""
    found = _existing(store)
    if found is not None:
        return found
    return StoreSettings(store_id=store.id, sms_on=False, online_return_application=False,
                         offline_enabled=True, cs_phone="", cs_email="", line_url="", facebook_url="",
                         instagram_url="", rights_statement="")


def sms_available(store: Store) -> bool:
    """Whether the operator enabled the SMS service in the store's current contract."""
    contract = store.current_contract
    return bool(contract and contract.sms_enabled)


def sms_active(store: Store) -> bool:
    """Whether notices to consumers go out by SMS too: the contract allows it AND it is on."""
    found = _existing(store)
    return sms_available(store) and bool(found and found.sms_on)


def offline_enabled(store: Store) -> bool:
    """Whether the store's counters may redeem offline from a snapshot (櫃台離線核銷): on
    unless the store turned it off."""
    found = _existing(store)
    return found is None or found.offline_enabled


CONTRACT_ENDED = "ECTicket 合約已到期，無法發行票券，請聯繫所屬業務"
CONTRACT_NOT_STARTED = "合約尚未生效（起始日 {start:%Y/%m/%d}），尚無法發行票券"


def issuance_blocker(store: Store) -> str | None:
    """Why `store` may not issue tickets now, or None: its contract (the issuance service on,
    today — a Taipei business day — between its start and end dates) and its settings. What
    the account may do, and which methods, is asked by `app.issuance.services.issuance_refusal`,
    the one check issuance calls; this part is also shown on the settings page.

    `current_contract` is the contract with the newest start date not in the future, or the
    newest one when none has started yet: a store whose only contract starts later gets it."""
    if blocker := contract_blocker(store):
        return blocker
    found = _existing(store)
    if found is None or found.basic_completed_at is None:
        return BASIC_MISSING
    if found.ticket_page_completed_at is None:
        return TICKET_PAGE_MISSING
    return None


def contract_blocker(store: Store) -> str | None:
    """The contract's part of `issuance_blocker`: its issuance service on, today between its
    start and end dates. Installment orders (分期核銷) are issued under it too, without the
    ticket settings."""
    contract = store.current_contract
    today = clock.business_day()
    if contract is None or not contract.issuance_active:
        return ISSUANCE_NOT_ACTIVE
    if today < contract.start_date:
        return CONTRACT_NOT_STARTED.format(start=contract.start_date)
    if contract.end_date < today:
        return CONTRACT_ENDED
    return None


def _check_right(actor: Account, store: Store) -> None:
    access.check(actor, store, Function.OPERATION_SETTINGS, no_right=NO_RIGHT)


def update_basic(actor: Account, store: Store, *, sms_on: bool,
                 online_return_application: bool) -> bool:
    """Save 基本設定. SMS can be switched on only where the contract enables it.

    The first save completes the basic settings (needed before issuance). Returns whether
    anything changed; each change is written to the settings' history.
    """
    _check_right(actor, store)
    if sms_on and not sms_available(store):
        raise InvalidInput(SMS_REFUSED, fields={"sms_on": SMS_REFUSED})
    settings = settings_for(store)
    return history.change(settings, "basic_settings_updated", {
        "sms_on": bool(sms_on), "online_return_application": bool(online_return_application),
        "basic_completed_at": settings.basic_completed_at or clock.now()})


def update_offline(actor: Account, store: Store, *, enabled: bool) -> bool:
    """Turn 櫃台離線核銷 on or off. Off: the counters are given no snapshot (their copies stop
    being used at once, the page offering offline no more); what a device redeemed offline
    before still syncs. Returns whether it changed; the change is in the settings' history."""
    _check_right(actor, store)
    return history.change(settings_for(store), "offline_settings_updated",
                          {"offline_enabled": bool(enabled)})


@dataclass(frozen=True)
class TicketPageFields:
    cs_phone: str
    cs_email: str = ""
    line_url: str = ""
    facebook_url: str = ""
    instagram_url: str = ""
    rights_statement: str = ""


def _checked(fields: TicketPageFields) -> dict[str, str]:
    """The text fields as stored, or InvalidInput naming every field that is wrong."""
    problems: dict[str, str] = {}
    values: dict[str, str] = {}
    if message := rules.phone_problem(fields.cs_phone or ""):
        problems["cs_phone"] = message
    values["cs_phone"] = (fields.cs_phone or "").strip()
    try:
        values["cs_email"] = rules.normalise_email(fields.cs_email or "")
    except rules.BadValue as err:
        problems["cs_email"] = err.message
    for name, label in rules.SOCIAL_FIELDS.items():
        raw = getattr(fields, name) or ""
        if message := rules.url_problem(raw, label):
            problems[name] = message
        values[name] = raw.strip()
    if message := rules.rights_problem(fields.rights_statement or ""):
        problems["rights_statement"] = message
    values["rights_statement"] = rules.normalise_text(fields.rights_statement or "")
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    return values


def _image(store: Store, file: FileStorage | None, purpose: UploadPurpose,
           field: str) -> Upload | None:
    """Save an uploaded image (flushed); None when no file was chosen."""
    if file is None or not file.filename:
        return None
    try:
        return save_image(store.id, file, purpose)
    except InvalidInput as err:
        label = "Logo" if purpose is UploadPurpose.LOGO else "橫幅圖片"
        raise InvalidInput(f"{label}：{err.message}", fields={field: err.message}) from None


def update_ticket_page(actor: Account, store: Store, fields: TicketPageFields, *,
                       logo: FileStorage | None = None, banner: FileStorage | None = None,
                       remove_logo: bool = False, remove_banner: bool = False) -> bool:
    """Save 票券頁面資訊: customer-service contacts, rights statement, logo and banner.

    Every field is checked before anything is saved; an upload that is not an image is refused
    with the upload service's message. The first save completes the ticket-page information
    (needed before issuance). Returns whether anything changed; each change is written to the
    settings' history (text fields and upload ids).
    """
    _check_right(actor, store)
    values = _checked(fields)
    settings = settings_for(store)
    after: dict[str, object] = dict(values)
    after["logo_upload_id"] = None if remove_logo else settings.logo_upload_id
    after["banner_upload_id"] = None if remove_banner else settings.banner_upload_id
    # Images last: nothing is stored unless every text field was right, and a logo already
    # written is removed again when the banner is refused (the caller rolls its row back).
    saved: list[Upload] = []
    try:
        for file, purpose, field in ((logo, UploadPurpose.LOGO, "logo"),
                                     (banner, UploadPurpose.BANNER, "banner")):
            if (upload := _image(store, file, purpose, field)) is not None:
                saved.append(upload)
                after[f"{field}_upload_id"] = upload.id
    except InvalidInput:
        for upload in saved:
            path_of(upload).unlink(missing_ok=True)
        raise
    after["ticket_page_completed_at"] = settings.ticket_page_completed_at or clock.now()
    changed = history.change(settings, "ticket_page_updated", after)
    db.session.expire(settings, ["logo", "banner"])  # the relationships follow the new ids
    return changed

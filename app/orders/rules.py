"""7-3 C 已發行訂單管理: what may be done to an issued order, per delivery type (docs/issuance.md).

Pure functions (no Flask, no database): each answers None when the action is allowed, or the
message that refuses it. The services ask them after locking the order, the pages ask them to
decide which buttons to show.

| 出券類型 | 變更購買人                         | 補發                         |
|---------|-----------------------------------|-----------------------------|
| 超商     | refused once printed; new pickup code; both purchasers told | refused once printed |
| 電子     | refused once transferred; new link; both purchasers told     | always, original purchaser only |
| 紙本     | refused once printed; no notice   | not offered                 |
"""

from __future__ import annotations

from app.stores.models import DeliveryMethod

CVS, PAPER, ELECTRONIC = "cvs", "paper", "electronic"

PRINTED_NO_CHANGE = "票券已列印，無法變更購買人"
TRANSFERRED_NO_CHANGE = "票券已轉贈，無法變更購買人"
PRINTED_NO_RESEND = "票券已列印，無法補發"
PAPER_NO_RESEND = "紙本票券不提供補發"
PAPER_NO_NOTICE = "紙本票券變更購買人後不會發送通知，請自行通知消費者"
UNKNOWN_TYPE = "無法辨識此訂單的出券類型"

CVS_NEEDS_MOBILE = "超商票券須填寫購買人手機"
ELECTRONIC_NEEDS_CONTACT = "電子票券須填寫手機或 Email（至少一項）"


def delivery_type_of(delivery_method: DeliveryMethod | str) -> str:
    """`cvs:ibon` → `cvs`: an order's delivery type ("" for none)."""
    return DeliveryMethod(delivery_method).delivery_type.value if delivery_method else ""


def change_purchaser_refusal(delivery_type: str, *, printed: bool, transferred: bool) -> str | None:
    """Why the purchaser of an order may not be changed now, or None."""
    if delivery_type in (CVS, PAPER):
        return PRINTED_NO_CHANGE if printed else None
    if delivery_type == ELECTRONIC:
        return TRANSFERRED_NO_CHANGE if transferred else None
    return UNKNOWN_TYPE


def resend_refusal(delivery_type: str, *, printed: bool, transferred: bool) -> str | None:
    """Why the issuance notice of an order may not be re-sent now, or None.

    Electronic orders may always be re-sent (to the original purchaser only: a transfer's
    recipient is re-sent from the wallet by the giver), whether transferred or not.
    """
    if delivery_type == CVS:
        return PRINTED_NO_RESEND if printed else None
    if delivery_type == ELECTRONIC:
        return None
    if delivery_type == PAPER:
        return PAPER_NO_RESEND
    return UNKNOWN_TYPE


def resend_offered(delivery_type: str) -> bool:
    """Whether the 補發 button exists at all for this delivery type (never for paper)."""
    return delivery_type in (CVS, ELECTRONIC)


def notifies_on_change(delivery_type: str) -> bool:
    """Whether a change of purchaser sends notices (not for paper: the merchant tells them)."""
    return delivery_type in (CVS, ELECTRONIC)


def renewed_credential(delivery_type: str) -> str | None:
    """What a change of purchaser replaces, so the old one stops working: the e-ticket link
    (`link_token`) or the pickup code (`pickup_code`); nothing for paper."""
    return {ELECTRONIC: "link_token", CVS: "pickup_code"}.get(delivery_type)


def contact_problem(delivery_type: str, *, mobile: str, email: str) -> tuple[str, str] | None:
    """(field, message) when the new purchaser lacks the contact the delivery type needs."""
    if delivery_type == CVS and not mobile:
        return "mobile", CVS_NEEDS_MOBILE
    if delivery_type == ELECTRONIC and not mobile and not email:
        return "mobile", ELECTRONIC_NEEDS_CONTACT
    return None


def mask_mobile(mobile: str | None) -> str:
    """0912345678 → 0912***678 (lists show no full number)."""
    text = mobile or ""
    if len(text) < 8:
        return "*" * len(text)
    return f"{text[:4]}***{text[-3:]}"


def mask_code(code: str | None, *, visible: int = 4) -> str:
    """A redemption or pickup code with all but its last `visible` characters hidden."""
    text = code or ""
    if len(text) <= visible:
        return text
    return "*" * (len(text) - visible) + text[-visible:]

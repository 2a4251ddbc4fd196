"""Pure rules of the e-ticket wallet: what a ticket's status is called for its holder, how names
and addresses are masked, and the e-mailed confirmation code. No Flask, no database."""

from __future__ import annotations

import enum
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus

CODE_WINDOW_SECONDS = 600  # an e-mailed code is good for its 10-minute window and the next
CODE_DIGITS = 6


class Plain(enum.Enum):
    """A ticket's status in the holder's words, with the colour of its badge."""

    USABLE = ("可使用", "success")
    NOT_STARTED = ("尚未開始", "info")
    USED = ("已使用", "primary")
    RETURNED = ("已退貨", "warning")
    EXPIRED = ("已失效", "secondary")
    GIVEN = ("已轉贈", "dark")

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def tone(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Shown:
    """How one ticket appears in a wallet."""

    plain: Plain
    show_code: bool  # the code (QR and text) is still an asset worth showing
    may_transfer: bool  # offered in the purchaser's transfer form
    may_apply_return: bool  # offered in the return application form


def plain_status(status: TicketStatus, *, usable: bool) -> Plain:
    """可使用 / 尚未開始 / 已使用 / 已退貨 / 已失效, from the status as of now."""
    group = status.group
    if group is StatusGroup.UNUSED:
        return Plain.USABLE if usable else Plain.NOT_STARTED
    return {StatusGroup.REDEEMED: Plain.USED, StatusGroup.RETURNED: Plain.RETURNED,
            StatusGroup.EXPIRED: Plain.EXPIRED}[group]


def shown(status: TicketStatus, *, usable: bool, given_away: bool, transferable: bool,
          return_pending: bool, purchaser: bool, returns_offered: bool) -> Shown:
    """What the wallet shows and offers for a ticket.

    `given_away`: the purchaser's ticket is with a recipient (shown as 已轉贈, no code).
    `transferable`: the transfer service's own rule (electronic pickup voucher, unused, not given).
    Only the purchaser transfers and applies for returns (the refund goes to the purchaser's card).
    A ticket with a pending return application is neither transferred nor applied for again."""
    if given_away:
        return Shown(Plain.GIVEN, show_code=False, may_transfer=False, may_apply_return=False)
    plain = plain_status(status, usable=usable)
    unused = status in STATUS_GROUPS[StatusGroup.UNUSED]
    return Shown(
        plain,
        show_code=plain is Plain.USABLE,
        may_transfer=purchaser and transferable and not return_pending,
        may_apply_return=purchaser and returns_offered and unused and not return_pending,
    )


def mask_name(name: str) -> str:
    """王小明 → 王○明, 王明 → 王○, 王 → ○: enough for the giver to recognise, not to read out."""
    name = name.strip()
    if len(name) <= 1:
        return "○" if name else ""
    if len(name) == 2:
        return name[0] + "○"
    return name[0] + "○" * (len(name) - 2) + name[-1]


def mask_email(email: str) -> str:
    """buyer@example.com → bu***@example.com (where the code goes, not who)."""
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:2]}***@{domain}"


def _digits(typed: str | None) -> str:
    """The ASCII digits typed (full-width ones too, as phone keyboards may send), nothing else."""
    text = unicodedata.normalize("NFKC", typed or "")
    return "".join(c for c in text if c in "0123456789")


def last_four_matches(mobile: str, typed: str) -> bool:
    """Whether `typed` is the last four digits of `mobile` (compared in constant time)."""
    digits = _digits(typed)
    if len(mobile) < 4 or len(digits) != 4:
        return False
    return hmac.compare_digest(mobile[-4:].encode(), digits.encode())


def code_window(at: datetime) -> int:
    return int(at.timestamp()) // CODE_WINDOW_SECONDS


def emailed_code(key: bytes, subject: str, window: int) -> str:
    """The 6-digit code e-mailed for `subject` (the link and its holder) in `window`."""
    mac = hmac.new(key, f"wallet-code|{subject}|{window}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def code_matches(key: bytes, subject: str, typed: str, at: datetime) -> bool:
    """A code of the current window or the one before (so a code sent at 12:09 still works at
    12:11); compared in constant time."""
    digits = _digits(typed)
    if len(digits) != CODE_DIGITS:
        return False
    window = code_window(at)
    ok = False
    for w in (window, window - 1):
        ok |= hmac.compare_digest(emailed_code(key, subject, w).encode(), digits.encode())
    return ok

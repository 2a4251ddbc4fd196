"""Reading a delivery status notification (DSN, RFC 3464): the report a mail server sends back to
the envelope sender (MAIL_RETURN_PATH) when it could not deliver a message, or, when asked,
when it did. Pure: bytes in, reports out; no database.

A DSN is `multipart/report; report-type=delivery-status` with a `message/delivery-status` part
(one block of per-message fields, then one block per recipient: Final-Recipient, Action,
Status, Diagnostic-Code) and the original message or its headers (`message/rfc822` or
`text/rfc822-headers`), whose Message-ID names the message the report is about. That
Message-ID (random: nobody but the message's own recipient has seen it) is what the report is
matched by, with the recipient; a DSN without one, or anything that is not a DSN (an
auto-reply, spam, junk), gives no report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser

from app.notifications.rules import DSN_ACTIONS, Report

log = logging.getLogger(__name__)

FIELD_LIMIT = 300  # one field of a report, as kept
REF_LIMIT = 100  # Message.provider_ref


@dataclass(frozen=True)
class BounceReport:
    """What a DSN says about one recipient of one message."""

    message_id: str  # the original's Message-ID, as our mailer wrote it (<…@…>)
    recipient: str  # Final-Recipient's address, lower case
    report: Report
    status: str = ""  # the enhanced status code (5.1.1)
    diagnostic: str = ""  # the remote server's words (smtp; 550 5.1.1 User unknown)

    @property
    def reason(self) -> str:
        """The failure as the outbox shows it: 退信（5.1.1）：550 5.1.1 User unknown."""
        detail = self.diagnostic.partition(";")[2].strip() if ";" in self.diagnostic \
            else self.diagnostic
        code = f"（{self.status}）" if self.status else ""
        return f"郵件伺服器退信{code}：{detail or '無法投遞'}"[:FIELD_LIMIT]


def parse_dsn(raw: bytes) -> list[BounceReport]:
    """Every recipient's report in a DSN; [] for anything that is not one (never raises)."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        return _reports(message)
    except Exception:  # noqa: BLE001 - junk from the internet: no report, never a crash
        log.info("a message in the bounce mailbox could not be read as a DSN", exc_info=True)
        return []


def _reports(message: EmailMessage) -> list[BounceReport]:
    if message.get_content_type() != "multipart/report":
        return []
    parts = message.get_payload()
    if not isinstance(parts, list):
        return []
    status_part = next((p for p in parts if p.get_content_type() == "message/delivery-status"),
                       None)
    message_id = _original_message_id(parts)
    if status_part is None or not message_id:
        return []
    blocks = status_part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        return []
    found = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        recipient = _address(_field(block, "Final-Recipient") or _field(block, "Original-Recipient"))
        report = DSN_ACTIONS.get(_field(block, "Action").lower())
        if not recipient or report is None:
            continue
        found.append(BounceReport(message_id=message_id, recipient=recipient, report=report,
                                  status=_field(block, "Status")[:20],
                                  diagnostic=_field(block, "Diagnostic-Code")))
    return found


def _original_message_id(parts: list[Message]) -> str:
    for part in parts:
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            headers = inner[0] if isinstance(inner, list) and inner else None
        elif kind == "text/rfc822-headers":
            headers = HeaderParser(policy=policy.default).parsestr(str(part.get_content()))
        else:
            continue
        if headers is not None:
            value = " ".join(str(headers.get("Message-ID", "")).split())
            if value.startswith("<") and value.endswith(">") and len(value) <= REF_LIMIT:
                return value
    return ""


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split())[:FIELD_LIMIT] if value is not None else ""


def _address(field: str) -> str:
    """The address of `rfc822; someone@example.com` (address type, then the address)."""
    kind, _, address = field.partition(";")
    if not address:
        address, kind = kind, "rfc822"
    address = address.strip().strip("<>").strip()
    if kind.strip().lower() != "rfc822" or "@" not in address:
        return ""
    return address.lower()

"""Pure rules of the back-office login protections: authenticator (TOTP) codes, recovery codes,
e-mailed codes, the login IP allow-list (登入後台 IP設定) and the repeated-failure notice.

No Flask, no database: the services pass in the secret, the key, the time and the last step used.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime

import pyotp

# Authenticator apps (Google Authenticator, Microsoft Authenticator, …): 6 digits, 30 s, SHA-1.
TOTP_DIGITS = 6
TOTP_INTERVAL = 30
TOTP_WINDOW = 1  # a code of the step before or after is accepted too (clock drift)
ISSUER = "ECTicket 發行管理平台"

EMAIL_CODE_DIGITS = 6
EMAIL_CODE_MINUTES = 10
EMAIL_CODE_ATTEMPTS = 5  # wrong tries on one e-mailed code before it is spent

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_CODE_CHARS = 10  # 31^10 ≈ 2^49

IP_LIST_MAX = 200
IP_LIST_RULE = ("登入 IP 至多 200 字元，多組請以半形分號 ; 區隔；"
                "每組為 IPv4 或 IPv6 位址，或 CIDR 網段（例如 203.0.113.0/24）")

DEFAULT_FAILURE_THRESHOLD = 3
FAILURE_THRESHOLD_RANGE = (1, 10)


# Authenticator (TOTP) --------------------------------------------------------------------

def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// address the QR code carries."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=username, issuer_name=ISSUER)


def grouped_key(secret: str) -> str:
    """The setup key as shown to copy: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def clean_code(code: str | None) -> str:
    """A typed code without blanks and dashes (a pasted `123 456`)."""
    return "".join((code or "").split()).replace("-", "")


def totp_step(secret: str, code: str | None, at: datetime, *, last_step: int | None) -> int | None:
    """The time step whose code `code` is, when it is valid at `at` and not used before.

    A code matches the current step or `TOTP_WINDOW` steps either side; a step not later than
    `last_step` (the last one accepted for this account) is refused, so a code cannot be used
    twice, nor an older one after a newer. None: refuse.
    """
    code = clean_code(code)
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    now_step = totp.timecode(at)
    found = None
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        # every candidate is compared (no early exit), in constant time
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


# Recovery codes and e-mailed codes ------------------------------------------------------

def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """`count` distinct codes shown as `abcde-fghjk`."""
    codes: set[str] = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_CHARS))
        codes.add(f"{raw[:5]}-{raw[5:]}")
    return sorted(codes)


def normalise_recovery_code(code: str | None) -> str:
    """A typed recovery code as stored: lower case, no blanks or dashes; "" when malformed."""
    raw = clean_code(code).lower()
    if len(raw) != RECOVERY_CODE_CHARS or set(raw) - set(_RECOVERY_ALPHABET):
        return ""
    return raw


def new_email_code() -> str:
    return f"{secrets.randbelow(10 ** EMAIL_CODE_DIGITS):0{EMAIL_CODE_DIGITS}d}"


def code_digest(key: bytes, purpose: str, account_id: int, code: str) -> str:
    """The keyed hash a code is stored as: a database dump gives no usable code."""
    message = f"{purpose}|{account_id}|{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# 登入後台 IP設定 --------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BadIpList(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_ip_list(raw: str | None) -> tuple[str, list[Network]]:
    """The allow-list as stored (`a;b`, blanks and empty items dropped, repeats removed) and
    its networks (a single address is a /32 or /128). Raises BadIpList naming the bad item."""
    items: list[str] = []
    networks: list[Network] = []
    for part in (raw or "").split(";"):
        item = part.strip()
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise BadIpList(f"「{item[:60]}」不是有效的 IP 位址或網段（{IP_LIST_RULE}）") from None
        if network not in networks:
            networks.append(network)
            items.append(item)
    stored = ";".join(items)
    if len(stored) > IP_LIST_MAX:
        raise BadIpList(f"登入 IP 至多 {IP_LIST_MAX} 字元（目前 {len(stored)} 字元）")
    return stored, networks


def ip_allowed(stored: str, ip: str) -> bool:
    """Whether a login from `ip` may proceed: an empty list allows every address."""
    if not stored:
        return True
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:203.0.113.5 is 203.0.113.5
    try:
        _, networks = parse_ip_list(stored)
    except BadIpList:
        return False  # a list that does not parse lets nobody in rather than everybody
    return any(address.version == n.version and address in n for n in networks)


# 3-5 登入通知 ------------------------------------------------------------------------------

def failure_notice_due(consecutive_failures: int, threshold: int) -> bool:
    """Whether this failure is the one that sends the repeated-failure notice: the
    `threshold`-th in a row. Later failures of the same streak send nothing more."""
    return threshold >= 1 and consecutive_failures == threshold


def threshold_problem(value: int | None) -> str | None:
    low, high = FAILURE_THRESHOLD_RANGE
    if value is None or not low <= value <= high:
        return f"連續失敗次數須為 {low} 至 {high} 次"
    return None

"""Identifiers printed on and typed from tickets: pure functions, randomness from `secrets`.

- Redemption code (核銷代碼): 15 random characters of Crockford's base 32 (75 bits) plus one
  check character: 16 characters (the platform allows up to 18). The check character is the
  Damm algorithm's over a totally anti-symmetric quasigroup of order 32 (x∘y = 2x + y in
  GF(32)), so it catches every single mistyped character and every swap of two adjacent ones
  (Luhn mod 32 misses some swaps, e.g. 0Z/Z0). So a
  typo is answered at once without a database lookup.
  Shown in groups of four; typed in any case, with or without spaces and dashes; I/L read as 1
  and O as 0, as Crockford intended.
- Serial number (票券序號): 16 letters and digits like the real platform's `CB2SY20220302153`:
  a random 5-character batch prefix, the Taipei issue date, and a 3-digit index in the batch.
- E-ticket link token: 32 URL-safe characters (192 bits).
- Order number (ECT訂單編號) and convenience-store pickup code (取票代碼).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from datetime import date

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
CODE_BODY = 15
CODE_LENGTH = CODE_BODY + 1
_TYPO_MAP = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-_.]")

SERIAL_PREFIX = 5
MAX_TICKETS_PER_BATCH = 1000  # 每批最多 1000 張: the serial's 3-digit index numbers them
_SERIAL_CHARS = string.ascii_uppercase + string.digits


_GF32_MODULUS = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)


def _times_two(x: int) -> int:
    """Multiply by the field element x (= 2) in GF(32)."""
    x <<= 1
    return x ^ _GF32_MODULUS if x & 0b100000 else x


def _damm_interim(chars: str) -> int:
    interim = 0
    for char in chars:
        interim = _times_two(interim) ^ _VALUE[char]  # x∘y = 2x + y; addition is XOR
    return interim


def check_character(body: str) -> str:
    """Damm check character for `body` (characters of ALPHABET): makes the interim zero."""
    return ALPHABET[_times_two(_damm_interim(body))]


def new_redemption_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_BODY))
    return body + check_character(body)


def normalise_code(typed: str) -> str:
    """What the clerk typed or scanned, in the stored form (upper case, no separators)."""
    return _SEPARATORS.sub("", typed or "").upper().translate(_TYPO_MAP)[:64]


def is_well_formed(code: str) -> bool:
    """A normalised code of the right length and alphabet whose check character matches."""
    if len(code) != CODE_LENGTH or any(c not in _VALUE for c in code):
        return False
    return _damm_interim(code) == 0


def length_message(typed: str) -> str | None:
    """What a clerk is told about a code shorter than a redemption code (before any check
    character is looked at): how many characters it should have and how many were typed.
    None when the length is not the problem (nothing typed, or long enough)."""
    code = normalise_code(typed)
    if 0 < len(code) < CODE_LENGTH:
        return f"核銷代碼應為 {CODE_LENGTH} 碼，目前輸入 {len(code)} 碼"
    return None


def display_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def new_serial_prefix() -> str:
    return "".join(secrets.choice(_SERIAL_CHARS) for _ in range(SERIAL_PREFIX))


def serial(prefix: str, issue_day: date, index: int) -> str:
    """The serial of ticket `index` (0-999) of a batch issued on `issue_day`."""
    if not 0 <= index < MAX_TICKETS_PER_BATCH:
        raise ValueError(f"a batch holds at most {MAX_TICKETS_PER_BATCH} tickets")
    return f"{prefix}{issue_day:%Y%m%d}{index:03d}"


def new_link_token() -> str:
    return secrets.token_urlsafe(24)


def new_order_no(issue_day: date) -> str:
    """ECT order number: the date and 8 random digits, e.g. ECT2026112212345678."""
    return f"ECT{issue_day:%Y%m%d}{secrets.randbelow(10**8):08d}"


def new_pickup_code() -> str:
    """Convenience-store pickup code (取票代碼): 12 digits, the first never 0."""
    return f"{secrets.randbelow(9 * 10**11) + 10**11}"


# ---- values derived from the server key (app/credentials.py): nothing usable is stored ----

_URLSAFE = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def derive_redemption_code(key: bytes, serial_no: str, salt: str) -> str:
    """The ticket's code from the key, its serial and its salt: 15 uniformly random characters
    of ALPHABET (75 bits of HMAC-SHA256) and the Damm check character, as new_redemption_code."""
    number = int.from_bytes(_prf(key, f"code:{serial_no}:{salt}", 16)) >> (128 - 5 * CODE_BODY)
    body = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_BODY)))
    return body + check_character(body)


def derive_link_token(key: bytes, label: str, salt: str) -> str:
    """An e-ticket link token (as new_link_token: 32 URL-safe characters, 192 bits)."""
    number = int.from_bytes(_prf(key, f"link:{label}:{salt}", 24))
    return "".join(_URLSAFE[(number >> (6 * i)) & 63] for i in reversed(range(32)))


def derive_pickup_code(key: bytes, salt: str) -> str:
    """A pickup code (as new_pickup_code: 12 digits, the first never 0)."""
    number = int.from_bytes(_prf(key, f"pickup:{salt}", 16))
    return f"{number % (9 * 10**11) + 10**11}"


def _prf(key: bytes, label: str, size: int) -> bytes:
    return hmac.new(key, label.encode(), hashlib.sha256).digest()[:size]

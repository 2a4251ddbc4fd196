"""Taiwanese phone numbers: mobiles (the one normalisation used by issuance rows and notices)
and contact phones (a mobile or a landline with its area code)."""

from __future__ import annotations

import re
import unicodedata

_NOISE = re.compile(r"[\s\-.()（）]")
_MOBILE = re.compile(r"09\d{8}")


def normalise_mobile(raw: object) -> str | None:
    """A Taiwanese mobile number as 09xxxxxxxx, or None if it is not one.

    Accepts +886 9…, 00886 9…, 886 9…, +886 09…, 09…, with spaces, dashes, dots, brackets and
    full-width digits, and 9 digits starting with 9 (a number cell in Excel loses its leading 0).
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = _NOISE.sub("", unicodedata.normalize("NFKC", str(raw)))
    if text.startswith("+886"):
        text = text[4:]
    elif text.startswith("00886"):
        text = text[5:]
    elif text.startswith("886") and len(text) in (12, 13):
        text = text[3:]
    elif re.fullmatch(r"9\d{8}", text):
        pass
    else:
        return text if _MOBILE.fullmatch(text) else None
    if text.startswith("0"):
        text = text[1:]
    return "0" + text if re.fullmatch(r"9\d{8}", text) else None


# Taiwanese landline area codes (市話區碼) and how many digits follow each; the longest code that
# prefixes a number is its area code (037 before 03, 0836 before 08).
AREA_CODES: dict[str, tuple[int, ...]] = {
    "02": (8,), "03": (7,), "037": (6,), "04": (7, 8), "049": (7,), "05": (7,), "06": (7,),
    "07": (7,), "08": (7,), "082": (6,), "0826": (5,), "0836": (5,), "089": (6,),
}
EXTENSION_MAX_DIGITS = 6
_EXTENSION = re.compile(r"(?:#|分機|轉|ext\.?|x)\s*(\d+)$", re.IGNORECASE)


def normalise_phone(raw: object) -> str | None:
    """A contact phone: a mobile as 09xxxxxxxx, or a landline with its area code as
    `02-23456789` with an optional extension `#123`; None if it is neither.

    Accepts what normalise_mobile accepts, and landlines written `(02)2345-6789`,
    `02 2345 6789`, `+886-2-2345-6789` or `037-123456`, with an extension after `#`, `分機`,
    `轉`, `ext` or `x` (1–6 digits). A mobile takes no extension.
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return None
    extension = ""
    if found := _EXTENSION.search(text):
        extension = found.group(1)
        text = text[:found.start()]
        if len(extension) > EXTENSION_MAX_DIGITS:
            return None
    digits = _NOISE.sub("", text)
    if not extension and (mobile := normalise_mobile(digits)) is not None:
        return mobile
    for prefix in ("+886", "00886", "886"):
        if digits.startswith(prefix):
            digits = "0" + digits[len(prefix):].removeprefix("0")
            break
    if not re.fullmatch(r"0[2-8]\d{5,8}", digits):
        return None
    code = max((c for c in AREA_CODES if digits.startswith(c)), key=len, default=None)
    if code is None or len(digits) - len(code) not in AREA_CODES[code]:
        return None
    return f"{code}-{digits[len(code):]}" + (f"#{extension}" if extension else "")

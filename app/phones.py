"""Taiwanese mobile numbers, the one normalisation used by issuance rows and notices."""

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

"""Vietnamese text helpers: NFC normalisation and accent-insensitive matching keys."""

from __future__ import annotations

import re
import unicodedata


def nfc(value):
    """Unicode NFC with surrounding white space removed; None and non-strings pass through."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value).strip()


def fold(value: str | None) -> str:
    """A key that forgives accents, case and extra spaces: "Xã Hòa  An" → "xa hoa an"."""
    if not value:
        return ""
    text = unicodedata.normalize("NFD", str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = text.replace("đ", "d").replace("Đ", "D").lower()
    return re.sub(r"\s+", " ", text).strip()

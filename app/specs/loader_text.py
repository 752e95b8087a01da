"""Text patterns the template loader recognises: header keywords, numbering, footers, formats."""

from __future__ import annotations

import re

from app.text import fold, nfc

ROMAN_RE = re.compile(r"^(?=[IVXLC]+$)M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
ARABIC_RE = re.compile(r"^\d+(\.\d+)*\.?$")
LETTER_RE = re.compile(r"^[a-zđ]\)?$")
MARKER_RE = re.compile(r"^([-+*•–—])\s*(.*)$", re.S)
# an item numbered inside its label ("1. Trồng và nuôi rừng") when the STT column is empty
INLINE_NUMBER_RE = re.compile(r"^(\d{1,3})[.)]\s+\S")
NUMBER_LABEL_RE = re.compile(
    r"^(\(?[A-Z]\)?|\(?\d+\)?|\(?\d+\s*=\s*[\d\s+\-*/x().,]+\)?|\(?[A-Z]\s*=\s*[A-Z\d\s+\-*/().]+\)?)$"
)
PLACEHOLDER_RE = re.compile(r"^[\s\-–—x×/\\.…_*]{1,3}$", re.I)

STT_KEYS = ("stt", "tt", "so tt", "so thu tu", "thu tu")
LABEL_PREFIXES = (
    "chi tieu",
    "noi dung",
    "ten",
    "danh muc",
    "hang muc",
    "ho va ten",
    "ho ten",
    "loai",
    "nhom chi tieu",
    "linh vuc",
    "khoan muc",
)
UNIT_KEYS = ("don vi tinh", "dvt", "don vi do", "d.v.t", "dv tinh")
CODE_PREFIXES = ("ma so", "ma chi tieu", "ma ")
CODE_KEYS = ("ma", "ma so", "code")
NOTE_PREFIXES = ("ghi chu",)
FOOTER_PREFIXES = (
    "nguoi lap",
    "thu truong",
    "noi nhan",
    "ke toan truong",
    "nguoi ky",
    "xac nhan cua",
    "(ky",
    "ky ten",
    "lanh dao",
    "giam doc",
    "chu tich",
    "tm. ",
    "tm ",
    "kt. ",
)
DATE_LINE_RE = re.compile(r"ngay\s*[.…_\s\d]*\s*thang\s*[.…_\s\d]*\s*nam", re.I)
NARRATIVE_KEYS = (
    "thuyet minh",
    "danh gia",
    "giai trinh",
    "nhan xet",
    "kien nghi",
    "de xuat",
    "kho khan",
)
TOTAL_PREFIXES = ("tong", "cong", "toan tinh", "toan huyen", "tong cong", "tong so")
ENTITY_PREFIXES = ("ten ", "ho va ten", "ho ten", "don vi", "co so", "truong", "xa", "phuong")
MOTTO_KEYS = ("cong hoa xa hoi chu nghia", "doc lap - tu do", "doc lap tu do")


def clean(value) -> str:
    """Cell text as shown: NFC, surrounding white space removed (numbers as printed)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return nfc(value) or ""
    return str(value)


def column_role(text: str) -> str | None:
    """The label-column role a header text names, or None for a value column."""
    key = fold(text).strip(" :.")
    if not key:
        return None
    if key in STT_KEYS:
        return "stt"
    if key in UNIT_KEYS or key.startswith("don vi tinh") or key.startswith("dvt"):
        return "unit"
    if key in CODE_KEYS or (len(key) <= 16 and key.startswith(CODE_PREFIXES)):
        return "code"
    if key.startswith(NOTE_PREFIXES):
        return "note"
    if len(key) <= 60 and (
        key in LABEL_PREFIXES or key.startswith(tuple(p + " " for p in LABEL_PREFIXES))
    ):
        return "label"
    return None


def is_number_label(text: str) -> bool:
    return bool(text) and len(text) <= 24 and bool(NUMBER_LABEL_RE.match(text.replace(" ", "")))


def numbering(text: str) -> tuple[str, str] | None:
    """("roman"|"arabic"|"letter", canonical number) when the text is an STT number."""
    t = text.strip().rstrip(")")
    if not t:
        return None
    if ROMAN_RE.match(t.rstrip(".")):
        return "roman", t.rstrip(".")
    if ARABIC_RE.match(t):
        return "arabic", t.rstrip(".")
    if LETTER_RE.match(t.lower()):
        return "letter", t
    return None


def is_footer(text: str) -> bool:
    key = fold(text)
    return key.startswith(FOOTER_PREFIXES) or bool(DATE_LINE_RE.search(key) and len(key) < 80)


def is_narrative_label(text: str) -> bool:
    key = fold(text)
    return len(key) < 160 and any(k in key for k in NARRATIVE_KEYS)


def is_total(label: str) -> bool:
    return fold(label).startswith(TOTAL_PREFIXES)


def slug(text: str, limit: int = 40) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")
    return key[:limit].rstrip("_") or "list"


def number_format_type(fmt: str | None) -> tuple[str, int | None]:
    """(type, decimals) from an Excel number format."""
    if not fmt or fmt == "General":
        return "number", None
    if fmt == "@":
        return "text", None
    section = fmt.split(";")[0]
    plain = re.sub(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]', "", section)
    if "%" in plain:
        decimals = _decimals(plain)
        return "percent", decimals
    low = plain.lower()
    if re.search(r"[dmy]", low) and not re.search(r"[0#]", low):
        return "date", None
    if re.search(r"[hs]", low) and not re.search(r"[0#]", low):
        return "date", None
    if "0" in plain or "#" in plain:
        decimals = _decimals(plain)
        if decimals:
            return "decimal", decimals
        return "integer", 0
    if "@" in plain:
        return "text", None
    return "number", None


def _decimals(section: str) -> int:
    if "." not in section:
        return 0
    tail = section.split(".", 1)[1]
    return len(re.match(r"[0#?]*", tail).group(0))

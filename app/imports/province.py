"""A province's communes and wards from the official list (Decision 19/2025/QĐ-TTg codes).

The ``vietnam-provinces`` package carries the structure in force since 1 July 2025: 34 provinces
and their 3,321 communes, wards and special zones with 2-digit and 5-digit codes. Importing a
province creates (or brings up to date) its People's Committee and one unit per commune, matched
on the administrative code, so running it again adds nothing.

Naming: ``name`` is the People's Committee ("UBND xã Mỹ Hiệp", "UBND phường Mỹ Tho",
"UBND đặc khu Phú Quý", "UBND tỉnh Đồng Tháp", "UBND thành phố Hồ Chí Minh") and ``short_name``
the place itself as the official list writes it ("Xã Mỹ Hiệp", "Tỉnh Đồng Tháp").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from app.errors import DomainError
from app.models import Unit, UnitType
from app.text import nfc

# code → Vietnamese name, the unit types every province needs.
UNIT_TYPES = {
    "province_committee": "UBND tỉnh",
    "department": "Sở, ban, ngành",
    "commune": "Xã",
    "ward": "Phường",
    "special_zone": "Đặc khu",
    "central_agency": "Cơ quan trung ương đóng trên địa bàn",
    "district": "Huyện (cấp cũ)",
}

# division type of the official list → (unit type code, word after "UBND")
_WARD_TYPES = {
    "xã": ("commune", "xã"),
    "phường": ("ward", "phường"),
    "đặc khu": ("special_zone", "đặc khu"),
}


class ProvinceNotFound(DomainError):
    pass


@dataclass
class ProvinceImportResult:
    province_name: str
    province_code: str
    committee: Unit
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    units: list[Unit] = field(default_factory=list)  # the communes and wards, in official order

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def ensure_unit_types(session) -> dict[str, UnitType]:
    """The standard unit types by code, creating the missing ones. Existing names are kept."""
    found = {t.code: t for t in session.scalars(select(UnitType).where(UnitType.code.in_(UNIT_TYPES)))}
    for code, name in UNIT_TYPES.items():
        if code not in found:
            found[code] = UnitType(code=code, name=name)
            session.add(found[code])
    session.flush()
    return found


def _province(province_code: str):
    from vietnam_provinces import Province

    text = str(province_code or "").strip()
    if not text.isdigit():
        raise ProvinceNotFound(f"Mã tỉnh «{text}» không hợp lệ: mã tỉnh gồm 2 chữ số, ví dụ 82.")
    try:
        return Province.from_code(int(text))
    except (ValueError, KeyError):
        raise ProvinceNotFound(
            f"Không có tỉnh, thành phố mã {text} trong danh mục đơn vị hành chính hiện hành."
        ) from None


def _strip_type(name: str, division: str) -> str:
    if name.lower().startswith(division + " "):
        return name[len(division) + 1:]
    return name


def _apply(unit: Unit, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(unit, key) != value:
            setattr(unit, key, value)
            changed = True
    return changed


def import_province(session, province_code: str, parent: Unit | None = None) -> ProvinceImportResult:
    """Create or update the province's People's Committee and its communes and wards.

    With ``parent`` the communes go under that unit and no committee unit is made. Units are
    matched on ``admin_code``; a unit found is renamed or retyped when the official list differs,
    but never moved (an admin may have placed it elsewhere in the tree).
    """
    from vietnam_provinces import Ward

    province = _province(province_code)
    types = ensure_unit_types(session)
    code2 = f"{province.code.value:02d}"
    province_name = nfc(province.name)
    is_city = province.division_type.value == "thành phố trung ương"
    counts = {"created": 0, "updated": 0, "unchanged": 0}

    def upsert(admin_code: str, values: dict, under: Unit | None) -> Unit:
        unit = session.scalar(select(Unit).where(Unit.admin_code == admin_code))
        if unit is None:
            unit = Unit(admin_code=admin_code, parent=under, **values)
            session.add(unit)
            counts["created"] += 1
        elif _apply(unit, values):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
        return unit

    if parent is None:
        place = province_name if is_city else f"Tỉnh {province_name}"
        committee = upsert(
            code2,
            {
                "name": "UBND " + place[0].lower() + place[1:],
                "short_name": place,
                "unit_type": types["province_committee"],
            },
            None,
        )
        session.flush()
    else:
        committee = parent

    wards = sorted(
        (w for w in Ward.iter_all() if w.province_code.value == province.code.value),
        key=lambda w: w.code.value,
    )
    units = []
    for ward in wards:
        division = ward.division_type.value
        type_code, word = _WARD_TYPES[division]
        official = nfc(ward.name)
        units.append(
            upsert(
                f"{ward.code.value:05d}",
                {
                    "name": f"UBND {word} {_strip_type(official, division)}",
                    "short_name": official,
                    "unit_type": types[type_code],
                },
                committee,
            )
        )
    session.flush()
    return ProvinceImportResult(
        province_name=province_name,
        province_code=code2,
        committee=committee,
        units=units,
        **counts,
    )

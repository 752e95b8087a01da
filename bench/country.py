"""The country for benchmarks: the 34 provinces and 3,321 communes and wards of
``vietnam-provinces``, bulk-inserted into ``unit`` with their paths (PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Country:
    province_ids: dict[int, int]  # province code → unit id
    wards: list[int]  # unit ids of the communes and wards
    province_of: dict[int, int]  # ward unit id → province unit id


def insert_country(session, first_id: int, root=None) -> Country:
    """Insert the provinces (under ``root`` when given, else as top units) and their communes,
    with ids from ``first_id``; advance the id sequence."""
    from vietnam_provinces import Province, Ward

    from app.imports.province import _WARD_TYPES, _strip_type, ensure_unit_types
    from app.models import Unit
    from app.text import nfc

    types = ensure_unit_types(session)
    base_path, base_depth = (root.path, root.depth + 1) if root is not None else ("/", 0)
    next_id = first_id
    rows, province_ids, paths, wards, province_of = [], {}, {}, [], {}
    for province in sorted(Province.iter_all(), key=lambda p: p.code.value):
        name = nfc(province.name)
        paths[next_id] = f"{base_path}{next_id}/"
        rows.append({
            "id": next_id, "parent_id": root.id if root is not None else None,
            "path": paths[next_id], "depth": base_depth,
            "unit_type_id": types["province_committee"].id, "name": f"UBND {name}",
            "short_name": name, "admin_code": f"{province.code.value:02d}", "active": True,
        })
        province_ids[province.code.value] = next_id
        next_id += 1
    for ward in sorted(Ward.iter_all(), key=lambda w: w.code.value):
        parent = province_ids[ward.province_code.value]
        division = ward.division_type.value
        type_code, word = _WARD_TYPES[division]
        official = nfc(ward.name)
        rows.append({
            "id": next_id, "parent_id": parent, "path": f"{paths[parent]}{next_id}/",
            "depth": base_depth + 1, "unit_type_id": types[type_code].id,
            "name": f"UBND {word} {_strip_type(official, division)}", "short_name": official,
            "admin_code": f"{ward.code.value:05d}", "active": True,
        })
        wards.append(next_id)
        province_of[next_id] = parent
        next_id += 1
    connection = session.connection()
    connection.execute(Unit.__table__.insert(), rows)
    connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('unit', 'id'), "
                               "(SELECT max(id) FROM unit))")
    return Country(province_ids, wards, province_of)

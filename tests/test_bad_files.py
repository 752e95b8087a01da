"""Uploads that must be refused before openpyxl parses them, each with its Vietnamese message."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from app.errors import DomainError
from app.specs.safety import (
    DEFAULT_LIMITS,
    OLE2_SIGNATURE,
    UnsafeWorkbook,
    check_workbook_bytes,
    open_workbook_safely,
)

DATA = Path(__file__).parent / "data"
OK_FILE = DATA / "bad" / "ok_ktxh_thang.xlsx"
MB = 1024 * 1024


def refused(data: bytes, filename: str = "bao_cao.xlsx", limits=DEFAULT_LIMITS) -> UnsafeWorkbook:
    with pytest.raises(UnsafeWorkbook) as caught:
        check_workbook_bytes(data, filename, limits)
    error = caught.value
    assert isinstance(error, DomainError)
    assert f"«{filename}»" in error.message  # every message names the file
    return error


def workbook_bytes(workbook: Workbook) -> bytes:
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def small_workbook() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Biểu 01"
    sheet["A1"] = "Chỉ tiêu"
    sheet["B1"] = 12
    return workbook_bytes(workbook)


def rezip(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """The same zip with some entries replaced or added."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


# -- not an xlsx ------------------------------------------------------------------------------


def test_text_file_renamed_xlsx():
    error = refused("STT;Chỉ tiêu;Giá trị\n1;Dân số;12.345\n".encode())
    assert error.kind == "text"
    assert "tệp văn bản (CSV/TXT)" in error.message
    assert "Sổ làm việc Excel (.xlsx)" in error.message


def test_pdf_renamed_xlsx():
    error = refused(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    assert error.kind == "pdf"
    assert "là tệp PDF" in error.message


def test_old_xls_format():
    error = refused(OLE2_SIGNATURE + b"\x00" * 4088, filename="bieu_01.xls")
    assert error.kind == "old_format"
    assert "Excel 97-2003 (.xls)" in error.message
    assert "Lưu thành" in error.message


def test_password_protected_workbook():
    stream_name = "EncryptionInfo".encode("utf-16-le")
    data = OLE2_SIGNATURE + b"\x00" * 1016 + stream_name + b"\x00" * 3000
    error = refused(data)
    assert error.kind == "encrypted"
    assert "đặt mật khẩu" in error.message
    assert "gỡ mật khẩu" in error.message


def test_empty_file():
    assert refused(b"").kind == "not_xlsx"


def test_zip_without_workbook():
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    error = refused(stream.getvalue())
    assert error.kind == "not_xlsx"
    assert "xl/workbook.xml" in error.message


def test_truncated_xlsx():
    data = small_workbook()
    error = refused(data[: len(data) // 2])
    assert error.kind in ("not_xlsx", "corrupt")
    assert "Excel" in error.message


# -- macros -----------------------------------------------------------------------------------


def test_macro_workbook_with_xlsm_name():
    data = rezip(small_workbook(), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})
    error = refused(data, filename="bao_cao.xlsm")
    assert error.kind == "macro"
    assert "macro" in error.message and "không có macro" in error.message


def test_vba_project_in_a_file_named_xlsx():
    data = rezip(small_workbook(), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})
    error = refused(data)
    assert error.kind == "macro"
    assert "có chứa macro (VBA)" in error.message


def test_macro_enabled_content_type():
    data = small_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types = archive.read("[Content_Types].xml")
    types = types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    error = refused(rezip(data, replace={"[Content_Types].xml": types}))
    assert error.kind == "macro"


# -- sizes and bombs --------------------------------------------------------------------------


def test_file_over_20_mb_is_refused_by_size_first():
    # Not even a zip: the size is the first thing checked.
    error = refused(b"PK\x03\x04" + b"\x00" * (21 * MB))
    assert error.kind == "too_large"
    assert "21 MB" in error.message and "20 MB" in error.message


def test_real_zip_over_20_mb():
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/media/image1.png", os.urandom(21 * MB))
    assert refused(stream.getvalue()).kind == "too_large"


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """300 MB of zeros in one worksheet entry: about 300 KB compressed."""
    base = small_workbook()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(
        out, "w", zipfile.ZIP_DEFLATED, compresslevel=1
    ) as target:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with target.open(info.filename, "w", force_zip64=True) as entry:
                    chunk = b"\x00" * MB
                    for _ in range(300):
                        entry.write(chunk)
            else:
                target.writestr(info.filename, source.read(info.filename))
    data = out.getvalue()
    assert len(data) < 3 * MB
    return data


def test_zip_bomb_by_total_size(zip_bomb):
    error = refused(zip_bomb)
    assert error.kind == "zip_bomb"
    assert "bảo vệ máy chủ" in error.message


def test_zip_bomb_by_ratio(zip_bomb):
    limits = dataclasses.replace(DEFAULT_LIMITS, max_total_uncompressed=1000 * MB)
    error = refused(zip_bomb, limits=limits)
    assert error.kind == "zip_bomb"
    assert "xl/worksheets/sheet1.xml" in error.message and "lần" in error.message


def test_lying_declared_size_is_caught_while_streaming():
    """An entry whose header says 1 KB but holds 50 MB: zipfile stops at the declared size and
    the CRC does not match, so the file is refused as damaged, never read in full."""
    base = small_workbook()
    payload = b"<c r='A1'/>" * (5 * MB)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, payload if info.filename == "xl/worksheets/sheet1.xml" else source.read(info.filename))
    data = bytearray(out.getvalue())
    # Patch the declared uncompressed size (local header and central directory) to 1024.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
        local = info.header_offset
    true_size = len(payload).to_bytes(4, "little")
    fake_size = (1024).to_bytes(4, "little")
    assert data[local + 22 : local + 26] == true_size
    data[local + 22 : local + 26] = fake_size
    start = 0
    while True:
        central = bytes(data).find(b"PK\x01\x02", start)
        if central < 0:
            break
        name_length = int.from_bytes(data[central + 28 : central + 30], "little")
        name = bytes(data[central + 46 : central + 46 + name_length])
        if name == b"xl/worksheets/sheet1.xml":
            data[central + 24 : central + 28] = fake_size
        start = central + 4
    error = refused(bytes(data))
    assert error.kind == "corrupt"
    assert "bị hỏng" in error.message


# -- shape ------------------------------------------------------------------------------------


def test_sixty_sheets():
    workbook = Workbook()
    workbook.active["A1"] = 1
    for index in range(59):
        workbook.create_sheet(f"Trang {index + 2}")["A1"] = index
    error = refused(workbook_bytes(workbook))
    assert error.kind == "too_many_sheets"
    assert "60 trang tính" in error.message and "50" in error.message


def test_250_thousand_cells():
    row_xml = "".join(f'<c r="{col}{{row}}"><v>1</v></c>' for col in ("A", "B", "C", "D", "E"))
    rows = "".join(f'<row r="{row}">{row_xml.format(row=row)}</row>' for row in range(1, 50_001))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<dimension ref="A1:B2"/>'  # lies, as real files do
        f"<sheetData>{rows}</sheetData></worksheet>"
    ).encode()
    data = rezip(small_workbook(), replace={"xl/worksheets/sheet1.xml": sheet})
    error = refused(data)
    assert error.kind == "too_many_cells"
    assert "«Biểu 01»" in error.message and "200.000" in error.message


def test_cells_are_counted_not_the_dimension():
    # A huge declared extent (column WVO) with few cells is fine.
    data = small_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    sheet = re.sub(rb"<dimension ref=\"[^\"]*\"\s*/>", b"<dimension ref=\"A1:WVO1048576\"/>", sheet)
    assert b"WVO" in sheet
    check_workbook_bytes(rezip(data, replace={"xl/worksheets/sheet1.xml": sheet}), "bao_cao.xlsx")


def test_chartsheet_only():
    workbook = Workbook()
    workbook.create_chartsheet("Biểu đồ")
    workbook.remove(workbook.active)
    error = refused(workbook_bytes(workbook))
    assert error.kind == "no_grid"
    assert "không có trang tính nào chứa bảng số liệu" in error.message


def test_only_empty_sheets():
    workbook = Workbook()
    workbook.create_sheet("Trang 2")
    error = refused(workbook_bytes(workbook))
    assert error.kind == "no_grid"
    assert "không có trang tính nào chứa bảng số liệu" in error.message


def test_entity_declaration_is_refused():
    data = small_workbook()
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        b"<si><t>&lol2;</t></si></sst>"
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    target = "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else None
    data = rezip(data, replace={target: evil}) if target else rezip(data, add={"xl/sharedStrings.xml": evil})
    error = refused(data)
    assert error.kind == "dtd"
    assert "DOCTYPE" in error.message and "xl/sharedStrings.xml" in error.message


def test_time_is_bounded():
    limits = dataclasses.replace(DEFAULT_LIMITS, max_seconds=-1)
    error = refused(small_workbook(), limits=limits)
    assert error.kind == "timeout"


# -- good files -------------------------------------------------------------------------------


def test_normal_sample_passes():
    data = OK_FILE.read_bytes()
    assert check_workbook_bytes(data, "ktxh_thang.xlsx") is None
    workbook = open_workbook_safely(data, "ktxh_thang.xlsx")
    assert workbook.sheetnames == ["Biểu 01"]


@pytest.mark.parametrize(
    "path",
    sorted(Path("/work/shared/samples").rglob("*.xlsx")) if Path("/work/shared/samples").exists() else [],
    ids=lambda path: path.name,
)
def test_shared_samples_pass(path):
    check_workbook_bytes(path.read_bytes(), path.name)


def test_open_safely_refuses_before_parsing():
    with pytest.raises(UnsafeWorkbook) as caught:
        open_workbook_safely(b"%PDF-1.4", "bao_cao.xlsx")
    assert caught.value.kind == "pdf"


def test_checks_are_pure():
    data = OK_FILE.read_bytes()
    before = bytes(data)
    check_workbook_bytes(data, "ktxh_thang.xlsx")
    assert data == before

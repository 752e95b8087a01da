"""Checks an uploaded .xlsx before any spreadsheet library parses it.

An upload is refused, with a message in Vietnamese that names the file and the reason, when it
is not an .xlsx workbook (a PDF, a text or CSV file, an old Excel 97-2003 .xls), when it is
password-protected, when it carries macros, when it is too big, when it is a zip bomb, when it
has too many sheets or cells, when an XML part declares a DOCTYPE or entities, or when no sheet
holds a grid of cells.

Everything here is bounded: the file size, the number of zip entries, the bytes decompressed
(read in chunks through zipfile's own streaming decompressor, whatever sizes the zip declares),
and the time spent. No XML parser runs: parts are scanned with regular expressions over the
decompressed stream, so no entity is ever expanded. The functions are pure: nothing is stored.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import time
import zipfile
from dataclasses import dataclass

from app.errors import DomainError

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds of an acceptable workbook; override any of them with dataclasses.replace."""

    max_file_bytes: int = 20 * MB
    max_entries: int = 5_000
    max_total_uncompressed: int = 200 * MB  # sum of the declared sizes, and of the bytes read
    max_ratio: float = 100.0  # uncompressed / compressed, for entries above ratio_min_bytes
    ratio_min_bytes: int = 1 * MB
    max_sheets: int = 50
    max_cells: int = 200_000  # <c> elements over all worksheets
    max_seconds: float = 20.0
    chunk_bytes: int = 256 * 1024


DEFAULT_LIMITS = Limits()


class UnsafeWorkbook(DomainError):
    """An upload refused before parsing; `kind` says why, for callers and tests."""

    def __init__(self, message: str, *, kind: str, filename: str | None = None):
        super().__init__(message, field="file")
        self.kind = kind
        self.filename = filename


OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a normal zip; an empty zip
MACRO_EXTENSIONS = (".xlsm", ".xltm", ".xlam", ".xlsb")

_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?c[\s/>]")
_VALUE = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?(?:v|is|f)[\s/>]")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_OVERLAP = 64  # bytes kept between chunks so that no tag is cut in two

_SHEET_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?sheet\b([^>]*)>")
_RELATIONSHIP_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?Relationship\b([^>]*)>")
_ATTRIBUTE = re.compile(r"([A-Za-z_][\w.:-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _megabytes(size: int) -> str:
    text = f"{size / MB:.1f}".replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


def _attributes(text: str) -> dict[str, str]:
    found = {}
    for name, double, single in _ATTRIBUTE.findall(text):
        found[name] = html.unescape(double if double or not single else single)
        found.setdefault(name.split(":")[-1] if ":" in name else name, found[name])
    return found


class _Checker:
    def __init__(self, data: bytes, filename: str, limits: Limits):
        self.data = data
        self.filename = filename or "tải lên"
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.read_total = 0
        self.cells = 0

    # -- refusals ------------------------------------------------------------------------------
    def refuse(self, kind: str, reason: str):
        raise UnsafeWorkbook(f"Tệp «{self.filename}» {reason}", kind=kind, filename=self.filename)

    def check_time(self):
        if time.monotonic() > self.deadline:
            self.refuse(
                "timeout",
                "quá phức tạp, không kiểm tra xong trong thời gian cho phép "
                f"({self.limits.max_seconds:g} giây). Vui lòng rút gọn tệp rồi tải lên lại.",
            )

    # -- the whole check -----------------------------------------------------------------------
    def run(self) -> None:
        self.check_size()
        self.check_signature()
        try:
            archive = zipfile.ZipFile(io.BytesIO(self.data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            self.refuse(
                "not_xlsx",
                "bị hỏng hoặc không phải là tệp Excel .xlsx (không đọc được cấu trúc nén). "
                "Vui lòng mở tệp trong Excel, lưu lại dưới dạng .xlsx rồi tải lên.",
            )
        with archive:
            try:
                self.check_archive(archive)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError):
                self.refuse(
                    "corrupt",
                    "bị hỏng: một phần dữ liệu nén không giải nén được. Vui lòng mở tệp trong "
                    "Excel, lưu lại dưới dạng .xlsx rồi tải lên.",
                )

    def check_size(self):
        size = len(self.data)
        if size > self.limits.max_file_bytes:
            self.refuse(
                "too_large",
                f"có dung lượng {_megabytes(size)} MB, vượt quá giới hạn "
                f"{_megabytes(self.limits.max_file_bytes)} MB cho một tệp tải lên.",
            )
        if size == 0:
            self.refuse("not_xlsx", "rỗng (0 byte), không phải là tệp Excel .xlsx.")

    def check_signature(self):
        head = self.data[:8]
        if head.startswith(OLE2_SIGNATURE):
            if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o" in self.data or (
                b"EncryptionInfo" in self.data
            ):
                self.refuse(
                    "encrypted",
                    "được đặt mật khẩu nên hệ thống không đọc được. Vui lòng mở tệp trong Excel, "
                    "gỡ mật khẩu (Tệp → Thông tin → Bảo vệ sổ làm việc → Mã hóa bằng mật khẩu, "
                    "xóa mật khẩu), lưu lại dưới dạng .xlsx rồi tải lên.",
                )
            self.refuse(
                "old_format",
                "có định dạng Excel 97-2003 (.xls) cũ, hoặc được đặt mật khẩu. Vui lòng mở tệp "
                "trong Excel, gỡ mật khẩu nếu có, chọn Lưu thành → Sổ làm việc Excel (.xlsx) "
                "rồi tải lên.",
            )
        if head.startswith(b"%PDF"):
            self.refuse(
                "pdf",
                "là tệp PDF, không phải bảng tính Excel .xlsx. Vui lòng tải lên tệp Excel "
                "(.xlsx) của biểu mẫu.",
            )
        if not head.startswith(ZIP_SIGNATURES):
            if self.looks_like_text():
                self.refuse(
                    "text",
                    "là tệp văn bản (CSV/TXT) được đổi đuôi, không phải bảng tính Excel .xlsx. "
                    "Vui lòng mở tệp trong Excel và lưu lại dưới dạng Sổ làm việc Excel (.xlsx).",
                )
            self.refuse(
                "not_xlsx",
                "không phải là tệp Excel .xlsx. Vui lòng tải lên tệp Excel (.xlsx) của biểu mẫu.",
            )

    def looks_like_text(self) -> bool:
        sample = self.data[:4096]
        if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
            return False
        for encoding in ("utf-8", "utf-16", "cp1258"):
            try:
                sample.decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
        return False

    # -- the archive ---------------------------------------------------------------------------
    def check_archive(self, archive: zipfile.ZipFile):
        limits = self.limits
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            self.refuse(
                "zip_bomb",
                f"có {len(entries):,} phần nén bên trong, vượt quá giới hạn {limits.max_entries:,}."
                .replace(",", "."),
            )
        names = {info.filename: info for info in entries}
        lower = {name.lower(): name for name in names}

        self.check_macros(archive, lower)

        declared = 0
        for info in entries:
            if info.flag_bits & 0x1:
                self.refuse(
                    "encrypted",
                    f"có phần «{info.filename}» được mã hóa bằng mật khẩu. Vui lòng gỡ mật khẩu, "
                    "lưu lại dưới dạng .xlsx rồi tải lên.",
                )
            declared += info.file_size
            if (
                info.file_size > limits.ratio_min_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                self.refuse(
                    "zip_bomb",
                    f"có dữ liệu nén bất thường: phần «{info.filename}» nén "
                    f"{info.file_size / max(info.compress_size, 1):.0f} lần "
                    f"(giới hạn {limits.max_ratio:g} lần). Hệ thống từ chối tệp để bảo vệ máy chủ.",
                )
        if declared > limits.max_total_uncompressed:
            self.refuse(
                "zip_bomb",
                f"khi giải nén có dung lượng {_megabytes(declared)} MB, vượt quá giới hạn "
                f"{_megabytes(limits.max_total_uncompressed)} MB. Hệ thống từ chối tệp để bảo vệ "
                "máy chủ.",
            )

        workbook_path = self.workbook_path(archive, names)
        if workbook_path is None:
            self.refuse(
                "not_xlsx",
                "không phải là sổ làm việc Excel .xlsx (không có phần xl/workbook.xml). Nếu đây là "
                "tệp Word hoặc PowerPoint, vui lòng tải lên đúng tệp Excel của biểu mẫu.",
            )

        # Every XML part is scanned once, bounded: DTDs refused, worksheet cells counted.
        worksheets = self.sheet_parts(archive, names, workbook_path)
        worksheet_paths = {path: name for name, path in worksheets}
        values_per_sheet: dict[str, int] = {}
        for info in entries:
            lowered = info.filename.lower()
            if not lowered.endswith((".xml", ".rels", ".vml")):
                continue
            sheet_name = worksheet_paths.get(info.filename)
            values_per_sheet_count = self.scan_part(archive, info, sheet_name)
            if sheet_name is not None:
                values_per_sheet[sheet_name] = values_per_sheet_count
        if not any(values_per_sheet.values()):
            self.refuse(
                "no_grid",
                "không có trang tính nào chứa bảng số liệu (chỉ có biểu đồ, hoặc các trang tính "
                "đều trống). Vui lòng tải lên đúng tệp Excel của biểu mẫu.",
            )

    def check_macros(self, archive: zipfile.ZipFile, lower: dict[str, str]):
        macro_reason = None
        if self.filename.lower().endswith(MACRO_EXTENSIONS):
            macro_reason = "có đuôi tệp dành cho sổ làm việc chứa macro"
        elif any(name.endswith("vbaproject.bin") for name in lower):
            macro_reason = "có chứa macro (VBA)"
        elif "[content_types].xml" in lower:
            info = archive.getinfo(lower["[content_types].xml"])
            text = self.read_capped(archive, info, cap=1 * MB)
            if b"macroenabled" in text.lower():
                macro_reason = "là sổ làm việc chứa macro (VBA)"
        if macro_reason:
            self.refuse(
                "macro",
                f"{macro_reason}; hệ thống không nhận tệp có macro. Vui lòng mở tệp trong Excel, "
                "chọn Lưu thành → Sổ làm việc Excel (.xlsx, không có macro) rồi tải lên.",
            )

    def workbook_path(self, archive: zipfile.ZipFile, names) -> str | None:
        if "_rels/.rels" in names:
            text = self.read_capped(archive, names["_rels/.rels"], cap=1 * MB).decode(
                "utf-8", "replace"
            )
            for attributes in map(_attributes, _RELATIONSHIP_TAG.findall(text)):
                if attributes.get("Type", "").endswith("/officeDocument"):
                    target = attributes.get("Target", "").lstrip("/")
                    if target in names:
                        return target
        return "xl/workbook.xml" if "xl/workbook.xml" in names else None

    def sheet_parts(self, archive, names, workbook_path: str) -> list[tuple[str, str]]:
        """(sheet name, part path) of every worksheet; counts all sheets, chartsheets too."""
        text = self.read_capped(archive, names[workbook_path], cap=8 * MB).decode("utf-8", "replace")
        if _DTD.search(text.encode()):
            self.refuse_dtd(workbook_path)
        sheets = [_attributes(found) for found in _SHEET_TAG.findall(text)]
        if len(sheets) > self.limits.max_sheets:
            self.refuse(
                "too_many_sheets",
                f"có {len(sheets)} trang tính, vượt quá giới hạn {self.limits.max_sheets} trang "
                "tính cho một biểu mẫu.",
            )
        folder, base = posixpath.split(workbook_path)
        rels_path = posixpath.join(folder, "_rels", base + ".rels")
        relations = {}
        if rels_path in names:
            rels = self.read_capped(archive, names[rels_path], cap=8 * MB).decode("utf-8", "replace")
            for attributes in map(_attributes, _RELATIONSHIP_TAG.findall(rels)):
                relations[attributes.get("Id")] = attributes
        parts = []
        for sheet in sheets:
            relation = relations.get(sheet.get("r:id") or sheet.get("id"))
            if not relation or not relation.get("Type", "").endswith("/worksheet"):
                continue  # a chartsheet, a dialog sheet, or a broken reference
            target = relation.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join(folder, target)
            )
            if path in names:
                parts.append((sheet.get("name", path), path))
        return parts

    # -- bounded reading -----------------------------------------------------------------------
    def chunks(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int | None = None):
        """The decompressed bytes of one entry, in chunks; stops at every limit."""
        limit = self.limits.max_total_uncompressed
        read_here = 0
        with archive.open(info) as stream:
            while True:
                self.check_time()
                chunk = stream.read(self.limits.chunk_bytes)
                if not chunk:
                    return
                read_here += len(chunk)
                self.read_total += len(chunk)
                if self.read_total > limit:
                    self.refuse(
                        "zip_bomb",
                        f"khi giải nén vượt quá {_megabytes(limit)} MB (phần «{info.filename}»). "
                        "Hệ thống từ chối tệp để bảo vệ máy chủ.",
                    )
                if cap is not None and read_here > cap:
                    self.refuse(
                        "zip_bomb",
                        f"có phần «{info.filename}» lớn bất thường (hơn {_megabytes(cap)} MB). "
                        "Hệ thống từ chối tệp để bảo vệ máy chủ.",
                    )
                yield chunk

    def read_capped(self, archive, info, cap: int) -> bytes:
        return b"".join(self.chunks(archive, info, cap=cap))

    def refuse_dtd(self, part: str):
        self.refuse(
            "dtd",
            f"có phần «{part}» chứa khai báo DOCTYPE/ENTITY, điều mà Excel không bao giờ tạo ra; "
            "hệ thống từ chối tệp để bảo vệ máy chủ. Vui lòng mở tệp trong Excel, lưu lại dưới "
            "dạng .xlsx rồi tải lên.",
        )

    def scan_part(self, archive, info, sheet_name: str | None) -> int:
        """Scan one XML part for DTDs; in a worksheet count cells. Returns its value count."""
        buffer = b""
        values = 0
        first = True
        for chunk in self.chunks(archive, info):
            buffer += chunk
            if first and _DTD.search(buffer[:4096]):
                self.refuse_dtd(info.filename)
            first = False
            cut = len(buffer) - _OVERLAP
            if cut <= 0:
                continue
            values += self.count(buffer, cut, sheet_name, info)
            buffer = buffer[cut:]
        if first and _DTD.search(buffer):
            self.refuse_dtd(info.filename)
        values += self.count(buffer, len(buffer), sheet_name, info)
        return values

    def count(self, buffer: bytes, cut: int, sheet_name: str | None, info) -> int:
        """Count tags starting before `cut`; the rest is counted with the next chunk."""
        if _DTD.search(buffer, 0, cut + 16 if cut < len(buffer) else len(buffer)):
            self.refuse_dtd(info.filename)
        if sheet_name is None:
            return 0
        cells = sum(1 for match in _CELL.finditer(buffer) if match.start() < cut)
        self.cells += cells
        if self.cells > self.limits.max_cells:
            self.refuse(
                "too_many_cells",
                f"có quá nhiều ô (trang tính «{sheet_name}» làm tổng số ô vượt quá giới hạn "
                f"{self.limits.max_cells:,} ô). Vui lòng xóa các dòng, cột thừa rồi tải lên lại."
                .replace(",", "."),
            )
        return sum(1 for match in _VALUE.finditer(buffer) if match.start() < cut)


def check_workbook_bytes(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse an unsafe or unusable upload with UnsafeWorkbook; return None when it may be parsed."""
    _Checker(bytes(data), filename, limits).run()


def open_workbook_safely(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS, **openpyxl_kwargs):
    """Check the bytes, then load them with openpyxl; a file openpyxl cannot read is refused too."""
    from openpyxl import load_workbook

    check_workbook_bytes(data, filename, limits)
    openpyxl_kwargs.setdefault("keep_vba", False)
    try:
        return load_workbook(io.BytesIO(data), **openpyxl_kwargs)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same message
        name = filename or "tải lên"
        raise UnsafeWorkbook(
            f"Tệp «{name}» bị hỏng, Excel không mở được hoặc có cấu trúc không chuẩn "
            f"({type(error).__name__}). Vui lòng mở tệp trong Excel, lưu lại dưới dạng .xlsx "
            "rồi tải lên.",
            kind="corrupt",
            filename=name,
        ) from error

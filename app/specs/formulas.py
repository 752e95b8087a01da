"""Excel formulas of report forms: a whitelisted tokenizer, parser and evaluator.

Nothing here calls eval or exec: a formula is tokenized and parsed into a small tree of
dataclasses, and only the operators and functions listed in FUNCTIONS are evaluated.
app/static/js/formulas.js is the same evaluator for the browser; both run the case table
tests/data/formula_cases.json and must agree.

Formula text. A CellSpec stores the formula without its leading "=". parse() accepts both forms
and ignores whitespace around tokens, so "= A1+B1" (seen in real templates), "=A1+B1" and
"A1+B1" parse the same: callers need not strip anything.

Values. A cell value is None (blank), a number, a str, a bool or an ExcelError. Semantics follow
Excel with float arithmetic:
- blank is 0 in arithmetic and "" in text; a formula whose result is a blank cell gives 0;
- text in arithmetic is converted when it looks like a number ("12", " 1.5e3 ", "50%"),
  otherwise #VALUE!; "" is #VALUE!;
- SUM, AVERAGE, MIN, MAX, COUNT over references ignore text, logical values and blanks; a direct
  text argument that is not numeric is #VALUE!; AVERAGE of nothing is #DIV/0!, MIN/MAX of
  nothing 0;
- errors are values (ExcelError) that propagate; IFERROR catches them;
- ROUND rounds half away from zero on the 15-significant-digit decimal form of the number, as
  Excel does (ROUND(1.005, 2) is 1.01);
- numbers compare equal when they agree to 15 significant digits (0.1+0.2=0.3 is TRUE);
  text compares case-insensitively; numbers < text < logical values;
- ^ is left-associative and unary minus binds tighter than ^ (-2^2 is 4).

Not supported (reported by check_formula at upload): other functions, defined names, whole
column or row ranges (A:A), 3-D references (Sheet1:Sheet3!A1), array arithmetic on ranges
(A1:A3*B1:B3), the intersection operator. Computed cells in a cycle, and the cells depending on
them, evaluate to the error #CYCLE!.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

MAX_RANGE_CELLS = 100_000
MAX_COLUMN = 16_384
MAX_ROW = 1_048_576

ERROR_CODES = ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#NULL!", "#CYCLE!")


class FormulaError(Exception):
    """A formula that cannot be read; message in Vietnamese, position is a 0-based offset."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (ký tự thứ {self.position + 1})"


@dataclass(frozen=True)
class ExcelError:
    """An Excel error value such as #DIV/0!; it is a value, not an exception."""

    code: str

    def __str__(self) -> str:
        return self.code

    def to_json(self) -> dict[str, str]:
        return {"error": self.code}


DIV0 = ExcelError("#DIV/0!")
VALUE = ExcelError("#VALUE!")
NAME = ExcelError("#NAME?")
NUM = ExcelError("#NUM!")
CYCLE = ExcelError("#CYCLE!")


# -- tree ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Number(Node):
    value: float


@dataclass(frozen=True)
class Text(Node):
    value: str


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class ErrorLiteral(Node):
    code: str


@dataclass(frozen=True)
class Empty(Node):
    """A missing argument, as in IF(A1>0,,1)."""


@dataclass(frozen=True)
class Ref(Node):
    sheet: str | None  # None: the formula's own sheet
    cell: str  # A1 without "$", upper case


@dataclass(frozen=True)
class Range(Node):
    sheet: str | None
    start: str
    end: str


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "+"
    operand: Node


@dataclass(frozen=True)
class Percent(Node):
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    name: str  # upper case, without an "_xlfn." prefix
    args: tuple[Node, ...]


# -- addresses ----------------------------------------------------------------------------------
def column_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_CELL = re.compile(r"^([A-Z]{1,3})([0-9]+)$")


def split_cell(cell: str) -> tuple[int, int]:
    """ "C5" -> (column 3, row 5)."""
    match = _CELL.match(cell.replace("$", "").upper())
    if not match:
        raise FormulaError(f"Địa chỉ ô «{cell}» không hợp lệ")
    return column_number(match.group(1)), int(match.group(2))


def _range_bounds(start: str, end: str) -> tuple[int, int, int, int]:
    c1, r1 = split_cell(start)
    c2, r2 = split_cell(end)
    return min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)


# -- tokenizer ----------------------------------------------------------------------------------
_WS = re.compile(r"[ \t\r\n\u00a0]+")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r'"((?:[^"]|"")*)"')
_ERROR = re.compile(r"#(?:DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|NULL!)", re.IGNORECASE)
_QUOTED_SHEET = re.compile(r"'((?:[^']|'')+)'!")
_CELLREF = r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})"
_REF = re.compile(_CELLREF + r"(?::" + _CELLREF + r")?(?![A-Za-z0-9_.(!])")
_FUNCTION = re.compile(r"((?:_xlfn\.|_xlws\.)?[A-Za-z][A-Za-z0-9_.]*)(?=\()")
_WORD = re.compile(r"[^\W\d_][\w.]*")
_OPERATORS = ("<>", "<=", ">=", "+", "-", "*", "/", "^", "&", "=", "<", ">", "%", "(", ")", ",")


@dataclass
class Token:
    kind: str  # number string error ref func word op end
    value: Any
    pos: int


def _ref_token(match: re.Match, sheet: str | None, pos: int) -> Token:
    c1, r1, c2, r2 = match.groups()
    cells = [(c1, r1)] + ([(c2, r2)] if c2 else [])
    for letters, row in cells:
        if column_number(letters) > MAX_COLUMN or not 1 <= int(row) <= MAX_ROW:
            raise FormulaError(f"Địa chỉ ô «{letters}{row}» nằm ngoài trang tính", pos)
    first = f"{c1.upper()}{int(r1)}"
    if c2:
        return Token("ref", (sheet, first, f"{c2.upper()}{int(r2)}"), pos)
    return Token("ref", (sheet, first, None), pos)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        match = _WS.match(text, i)
        if match:
            i = match.end()
            continue
        ch = text[i]
        if ch == '"':
            match = _STRING.match(text, i)
            if not match:
                raise FormulaError("Chuỗi ký tự thiếu dấu nháy kép đóng", i)
            tokens.append(Token("string", match.group(1).replace('""', '"'), i))
            i = match.end()
            continue
        if ch in "0123456789.":
            match = _NUMBER.match(text, i)
            if match:
                tokens.append(Token("number", float(match.group(0)), i))
                i = match.end()
                continue
        if ch == "#":
            match = _ERROR.match(text, i)
            if not match:
                raise FormulaError("Giá trị lỗi không hợp lệ", i)
            tokens.append(Token("error", match.group(0).upper(), i))
            i = match.end()
            continue
        if ch == "'":
            match = _QUOTED_SHEET.match(text, i)
            if not match:
                raise FormulaError("Tên trang trong dấu nháy đơn không hợp lệ", i)
            sheet = match.group(1).replace("''", "'")
            ref = _REF.match(text, match.end())
            if not ref:
                raise FormulaError(f"Tham chiếu tới trang «{sheet}» thiếu địa chỉ ô", match.end())
            tokens.append(_ref_token(ref, sheet, i))
            i = ref.end()
            continue
        if ch == "$" or ch.isalpha() or ch == "_":
            func = _FUNCTION.match(text, i)
            if func:
                tokens.append(Token("func", func.group(1), i))
                i = func.end()
                continue
            ref = _REF.match(text, i)
            if ref:
                tokens.append(_ref_token(ref, None, i))
                i = ref.end()
                continue
            word = _WORD.match(text, i)
            if word:
                end = word.end()
                if text[end : end + 1] == "!":
                    ref = _REF.match(text, end + 1)
                    if not ref:
                        raise FormulaError(
                            f"Tham chiếu tới trang «{word.group(0)}» thiếu địa chỉ ô", end + 1
                        )
                    tokens.append(_ref_token(ref, word.group(0), i))
                    i = ref.end()
                    continue
                if text[end : end + 1] == ":":
                    raise FormulaError("Vùng cả cột, cả dòng hoặc nhiều trang chưa được hỗ trợ", i)
                tokens.append(Token("word", word.group(0), i))
                i = end
                continue
            raise FormulaError(f"Ký tự không hợp lệ «{ch}»", i)
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise FormulaError(f"Ký tự không hợp lệ «{ch}»", i)
    tokens.append(Token("end", None, n))
    return tokens


# -- parser -------------------------------------------------------------------------------------
_COMPARISONS = ("=", "<>", "<", ">", "<=", ">=")


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.value in ops

    def unexpected(self, token: Token) -> FormulaError:
        if token.kind == "end":
            return FormulaError("Công thức kết thúc khi chưa đủ", token.pos)
        shown = token.value if token.kind in ("op", "word", "func") else _token_text(token)
        return FormulaError(f"Không mong đợi «{shown}»", token.pos)

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise FormulaError("Công thức trống", 0)
        node = self.comparison()
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        return node

    def comparison(self) -> Node:
        node = self.concat()
        while self.at_op(*_COMPARISONS):
            token = self.next()
            node = Binary(token.pos, token.value, node, self.concat())
        return node

    def concat(self) -> Node:
        node = self.additive()
        while self.at_op("&"):
            token = self.next()
            node = Binary(token.pos, "&", node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at_op("+", "-"):
            token = self.next()
            node = Binary(token.pos, token.value, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.power()
        while self.at_op("*", "/"):
            token = self.next()
            node = Binary(token.pos, token.value, node, self.power())
        return node

    def power(self) -> Node:
        node = self.unary()
        while self.at_op("^"):
            token = self.next()
            node = Binary(token.pos, "^", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at_op("-", "+"):
            token = self.next()
            return Unary(token.pos, token.value, self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.at_op("%"):
            token = self.next()
            node = Percent(token.pos, node)
        return node

    def primary(self) -> Node:
        token = self.next()
        if token.kind == "number":
            return Number(token.pos, token.value)
        if token.kind == "string":
            return Text(token.pos, token.value)
        if token.kind == "error":
            return ErrorLiteral(token.pos, token.value)
        if token.kind == "ref":
            sheet, start, end = token.value
            if end is None:
                return Ref(token.pos, sheet, start)
            return Range(token.pos, sheet, start, end)
        if token.kind == "word":
            upper = token.value.upper()
            if upper in ("TRUE", "FALSE"):
                return Bool(token.pos, upper == "TRUE")
            return Name(token.pos, token.value)
        if token.kind == "func":
            return self.call(token)
        if token.kind == "op" and token.value == "(":
            node = self.comparison()
            if not self.at_op(")"):
                if self.peek().kind == "end":
                    raise FormulaError("Thiếu dấu đóng ngoặc «)»", self.peek().pos)
                raise self.unexpected(self.peek())
            self.next()
            return node
        raise self.unexpected(token)

    def call(self, token: Token) -> Node:
        name = token.value.upper()
        for prefix in ("_XLFN.", "_XLWS."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
        self.next()  # "("
        args: list[Node] = []
        if self.at_op(")"):
            self.next()
            return Call(token.pos, name, ())
        while True:
            if self.at_op(",", ")"):
                args.append(Empty(self.peek().pos))
            else:
                args.append(self.comparison())
            if self.at_op(","):
                self.next()
                continue
            if self.at_op(")"):
                self.next()
                return Call(token.pos, name, tuple(args))
            if self.peek().kind == "end":
                raise FormulaError(f"Thiếu dấu đóng ngoặc «)» của hàm «{name}»", self.peek().pos)
            raise self.unexpected(self.peek())


def _token_text(token: Token) -> str:
    if token.kind == "number":
        return number_text(token.value)
    if token.kind == "string":
        return f'"{token.value}"'
    if token.kind == "ref":
        sheet, start, end = token.value
        return (f"{sheet}!" if sheet else "") + start + (f":{end}" if end else "")
    return str(token.value)


def strip_formula(formula: str) -> str:
    """The formula text without surrounding whitespace and without one leading "="."""
    text = (formula or "").strip(" \t\r\n\u00a0")
    if text.startswith("="):
        text = text[1:]
    return text


@lru_cache(maxsize=4096)
def parse(formula: str) -> Node:
    """Parse a formula, with or without its leading "=", into a tree; FormulaError if unreadable.

    Trees are cached by formula text (they are never modified), so a form's formulas are parsed
    once per process, not on every save and page view.
    """
    if not isinstance(formula, str):
        raise FormulaError("Công thức phải là chuỗi ký tự")
    return _parse_cached(formula)


@lru_cache(maxsize=32768)
def _parse_cached(formula: str) -> Node:
    text = strip_formula(formula)
    offset = len(formula) - len(formula.lstrip(" \t\r\n\u00a0"))
    offset += 1 if formula.lstrip(" \t\r\n\u00a0").startswith("=") else 0
    try:
        return _Parser(text).parse()
    except FormulaError as error:
        if error.position is not None:
            error.position += offset
        raise


def walk(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, (Unary, Percent)):
        yield from walk(node.operand)
    elif isinstance(node, Binary):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)


# -- checks for the loader ----------------------------------------------------------------------
# name: (minimum, maximum) number of arguments
FUNCTIONS: dict[str, tuple[int, int]] = {
    "SUM": (1, 255),
    "AVERAGE": (1, 255),
    "MIN": (1, 255),
    "MAX": (1, 255),
    "COUNT": (1, 255),
    "COUNTA": (1, 255),
    "SUMPRODUCT": (1, 255),
    "IF": (2, 3),
    "IFERROR": (2, 2),
    "ROUND": (2, 2),
    "ROUNDUP": (2, 2),
    "ROUNDDOWN": (2, 2),
    "ABS": (1, 1),
    "AND": (1, 255),
    "OR": (1, 255),
    "NOT": (1, 1),
}


def unsupported_functions(formula: str) -> list[str]:
    """Names of the functions of a formula that this evaluator does not know, in order."""
    names: list[str] = []
    for node in walk(parse(formula)):
        if isinstance(node, Call) and node.name not in FUNCTIONS and node.name not in names:
            names.append(node.name)
    return names


def _range_size(node: Range) -> int:
    c1, r1, c2, r2 = _range_bounds(node.start, node.end)
    return (c2 - c1 + 1) * (r2 - r1 + 1)


def check_formula(formula: str) -> list[str]:
    """Problems of a formula, in Vietnamese, for the loader to report at upload; [] when fine."""
    try:
        tree = parse(formula)
    except FormulaError as error:
        return [f"Công thức không đọc được: {error}"]
    problems: list[str] = []

    def add(message: str) -> None:
        if message not in problems:
            problems.append(message)

    for node in walk(tree):
        if isinstance(node, Call):
            if node.name not in FUNCTIONS:
                add(f"Hàm «{node.name}» chưa được hỗ trợ")
                continue
            low, high = FUNCTIONS[node.name]
            if not low <= len(node.args) <= high:
                wanted = str(low) if low == high else f"từ {low} đến {high}"
                add(f"Hàm «{node.name}» cần {wanted} đối số, công thức có {len(node.args)}")
            if node.name != "SUMPRODUCT":
                continue
            for arg in node.args:
                if not isinstance(arg, (Ref, Range)):
                    add("Hàm «SUMPRODUCT» chỉ được hỗ trợ với các vùng ô làm đối số")
        elif isinstance(node, Name):
            add(f"Tên «{node.name}» chưa được hỗ trợ")
        elif isinstance(node, (Binary, Unary, Percent)):
            operands = (node.left, node.right) if isinstance(node, Binary) else (node.operand,)
            if any(isinstance(operand, Range) for operand in operands):
                add("Phép tính trên cả vùng ô (công thức mảng) chưa được hỗ trợ")
        elif isinstance(node, Range) and _range_size(node) > MAX_RANGE_CELLS:
            add(_too_large(node).message)
    return problems


def _too_large(node: Range) -> FormulaError:
    return FormulaError(
        f"Vùng «{node.start}:{node.end}» quá lớn (quá {MAX_RANGE_CELLS:,} ô)".replace(",", "."),
        node.pos,
    )


def _expand(node: Range) -> list[str]:
    c1, r1, c2, r2 = _range_bounds(node.start, node.end)
    if (c2 - c1 + 1) * (r2 - r1 + 1) > MAX_RANGE_CELLS:
        raise _too_large(node)
    return [f"{column_letters(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]


def references(formula: str, default_sheet: str) -> list[tuple[str, str]]:
    """The cells a formula reads, as (sheet, A1), ranges expanded, each once, in order."""
    seen: dict[tuple[str, str], None] = {}
    for node in walk(parse(formula)):
        if isinstance(node, Ref):
            seen.setdefault((node.sheet or default_sheet, node.cell), None)
        elif isinstance(node, Range):
            for cell in _expand(node):
                seen.setdefault((node.sheet or default_sheet, cell), None)
    return list(seen)


# -- values -------------------------------------------------------------------------------------
_NUMERIC_TEXT = re.compile(
    r"^[ \t\r\n\u00a0]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(%?)[ \t\r\n\u00a0]*$"
)


def _digits15(x: float) -> tuple[str, int]:
    """|x| to 15 significant digits, ties away from zero: ("123450000000000", 2) for 123.45.

    The same digits as JavaScript's Math.abs(x).toExponential(14).
    """
    exact = Decimal(abs(x))
    exponent = exact.adjusted()
    kept = int(
        exact.quantize(Decimal(1).scaleb(exponent - 14), rounding=ROUND_HALF_UP).scaleb(
            14 - exponent
        )
    )
    if kept >= 10**15:
        kept //= 10
        exponent += 1
    return str(kept), exponent


def _round15(x: float) -> float:
    """x rounded to 15 significant digits."""
    if x == 0 or not math.isfinite(x):
        return x
    digits, exponent = _digits15(x)
    value = float(f"{digits}e{exponent - 14}")
    return -value if x < 0 else value


def number_text(x: float) -> str:
    """A number as Excel's General format shows it in text: up to 15 significant digits."""
    if x == 0:
        return "0"
    digits, exponent = _digits15(x)
    digits = digits.rstrip("0")
    sign = "-" if x < 0 else ""
    if exponent >= 15 or exponent < -9:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}E{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    if exponent >= 0:
        whole = digits[: exponent + 1].ljust(exponent + 1, "0")
        fraction = digits[exponent + 1 :]
    else:
        whole = "0"
        fraction = "0" * (-exponent - 1) + digits
    return sign + whole + ("." + fraction if fraction else "")


def round_excel(x: float, places: float, mode: str = "half") -> float:
    """Excel's ROUND (mode "half"), ROUNDUP ("up") and ROUNDDOWN ("down") of x to places."""
    places = int(places)  # Excel truncates the number of digits
    if x == 0 or not math.isfinite(x):
        return x
    digits, exponent = _digits15(x)
    keep = exponent + 1 + places  # significant digits kept
    if keep >= 15:
        return _round15(x)
    if keep < 0:
        kept, first = 0, "0"
    else:
        kept, first = int(digits[:keep] or "0"), digits[keep]
    rest = digits[max(keep, 0) :]
    if (mode == "half" and first >= "5") or (mode == "up" and rest.strip("0")):
        kept += 1
    if kept == 0:
        return 0.0
    value = float(f"{kept}e{-places}")
    return -value if x < 0 else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell_value(value: Any) -> Any:
    """A value from outside, normalised: numbers as float; unknown types are #VALUE!."""
    if value is None or isinstance(value, (str, bool, ExcelError)):
        return value
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else NUM
    try:
        return float(value)  # Decimal and friends
    except (TypeError, ValueError):
        return VALUE


def to_number(value: Any) -> Any:
    """A scalar as a number for arithmetic; an ExcelError when it cannot be one."""
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _NUMERIC_TEXT.match(value)
        if not match:
            return VALUE
        number = float(match.group(1))
        return number / 100 if match.group(2) else number
    return VALUE


def to_text(value: Any) -> Any:
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return number_text(float(value))
    if isinstance(value, str):
        return value
    return VALUE


def to_bool(value: Any) -> Any:
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        upper = value.upper()
        if upper in ("TRUE", "FALSE"):
            return upper == "TRUE"
    return VALUE


def _finite(x: float) -> Any:
    return x if math.isfinite(x) else NUM


def _type_rank(value: Any) -> int:
    if isinstance(value, bool):
        return 2
    if isinstance(value, str):
        return 1
    return 0


def compare(op: str, left: Any, right: Any) -> Any:
    if isinstance(left, ExcelError):
        return left
    if isinstance(right, ExcelError):
        return right
    if left is None:
        left = "" if isinstance(right, str) else False if isinstance(right, bool) else 0.0
    if right is None:
        right = "" if isinstance(left, str) else False if isinstance(left, bool) else 0.0
    rank_left, rank_right = _type_rank(left), _type_rank(right)
    if rank_left != rank_right:
        order = (rank_left > rank_right) - (rank_left < rank_right)
    elif rank_left == 1:
        a, b = left.lower(), right.lower()
        order = (a > b) - (a < b)
    elif rank_left == 2:
        order = int(left) - int(right)
    else:
        a, b = _round15(float(left)), _round15(float(right))
        order = (a > b) - (a < b)
    return {
        "=": order == 0,
        "<>": order != 0,
        "<": order < 0,
        ">": order > 0,
        "<=": order <= 0,
        ">=": order >= 0,
    }[op]


def arithmetic(op: str, left: Any, right: Any) -> Any:
    a = to_number(left)
    if isinstance(a, ExcelError):
        return a
    b = to_number(right)
    if isinstance(b, ExcelError):
        return b
    if op == "+":
        return _finite(a + b)
    if op == "-":
        return _finite(a - b)
    if op == "*":
        return _finite(a * b)
    if op == "/":
        return DIV0 if b == 0 else _finite(a / b)
    # "^"
    if a == 0 and b == 0:
        return NUM
    if a == 0 and b < 0:
        return DIV0
    if a < 0 and b != math.floor(b):
        return NUM
    try:
        return _finite(math.pow(a, b))
    except (OverflowError, ValueError):
        return NUM


# -- evaluator ----------------------------------------------------------------------------------
Resolve = Callable[[str, str], Any]


@dataclass
class RangeValue:
    rows: int
    cols: int
    values: list[Any]  # row by row


class _Evaluator:
    def __init__(self, resolve: Resolve, sheet: str):
        self.resolve = resolve
        self.sheet = sheet

    def cell(self, sheet: str | None, cell: str) -> Any:
        return _cell_value(self.resolve(sheet or self.sheet, cell))

    def range(self, node: Range) -> RangeValue:
        c1, r1, c2, r2 = _range_bounds(node.start, node.end)
        values = [self.cell(node.sheet, cell) for cell in _expand(node)]
        return RangeValue(r2 - r1 + 1, c2 - c1 + 1, values)

    def value(self, node: Node) -> Any:
        """A scalar (None for a blank cell) or a RangeValue for a range."""
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Text):
            return node.value
        if isinstance(node, Bool):
            return node.value
        if isinstance(node, ErrorLiteral):
            return ExcelError(node.code)
        if isinstance(node, Empty):
            return None
        if isinstance(node, Ref):
            return self.cell(node.sheet, node.cell)
        if isinstance(node, Range):
            return self.range(node)
        if isinstance(node, Name):
            return NAME
        if isinstance(node, Unary):
            operand = self.scalar(node.operand)
            number = to_number(operand)
            if isinstance(number, ExcelError) or node.op == "+":
                return number if isinstance(number, ExcelError) else operand
            return -number
        if isinstance(node, Percent):
            number = to_number(self.scalar(node.operand))
            return number if isinstance(number, ExcelError) else number / 100
        if isinstance(node, Binary):
            left = self.scalar(node.left)
            right = self.scalar(node.right)
            if node.op in _COMPARISONS:
                return compare(node.op, left, right)
            if node.op == "&":
                a = to_text(left)
                if isinstance(a, ExcelError):
                    return a
                b = to_text(right)
                return b if isinstance(b, ExcelError) else a + b
            return arithmetic(node.op, left, right)
        if isinstance(node, Call):
            return self.call(node)
        raise FormulaError("Công thức không hợp lệ", node.pos)  # pragma: no cover

    def scalar(self, node: Node) -> Any:
        value = self.value(node)
        return VALUE if isinstance(value, RangeValue) else value

    # functions --------------------------------------------------------------------------------
    def call(self, node: Call) -> Any:
        bounds = FUNCTIONS.get(node.name)
        if bounds is None:
            return NAME
        if not bounds[0] <= len(node.args) <= bounds[1]:
            return VALUE
        return getattr(self, "fn_" + node.name.lower())(node.args)

    def items(self, args: tuple[Node, ...]) -> Iterable[tuple[Any, bool]]:
        """Each argument's values with a flag: True when they come from a reference."""
        for arg in args:
            if isinstance(arg, Ref):
                yield self.cell(arg.sheet, arg.cell), True
            elif isinstance(arg, Range):
                for value in self.range(arg).values:
                    yield value, True
            else:
                value = self.value(arg)
                if isinstance(value, RangeValue):
                    for item in value.values:
                        yield item, True
                else:
                    yield value, False

    def numbers(self, args: tuple[Node, ...]) -> Any:
        """The numbers SUM/AVERAGE/MIN/MAX see, or the first error."""
        numbers: list[float] = []
        for value, from_ref in self.items(args):
            if isinstance(value, ExcelError):
                return value
            if from_ref:
                if _is_number(value):
                    numbers.append(float(value))
                continue
            number = to_number(value)
            if isinstance(number, ExcelError):
                return number
            numbers.append(number)
        return numbers

    def fn_sum(self, args):
        numbers = self.numbers(args)
        if isinstance(numbers, ExcelError):
            return numbers
        total = 0.0
        for number in numbers:
            total += number
        return _finite(total)

    def fn_average(self, args):
        numbers = self.numbers(args)
        if isinstance(numbers, ExcelError):
            return numbers
        if not numbers:
            return DIV0
        total = 0.0
        for number in numbers:
            total += number
        return _finite(total / len(numbers))

    def fn_min(self, args):
        numbers = self.numbers(args)
        if isinstance(numbers, ExcelError):
            return numbers
        return min(numbers) if numbers else 0.0

    def fn_max(self, args):
        numbers = self.numbers(args)
        if isinstance(numbers, ExcelError):
            return numbers
        return max(numbers) if numbers else 0.0

    def fn_count(self, args):
        count = 0
        for value, from_ref in self.items(args):
            if from_ref:
                count += _is_number(value)
            elif value is not None and not isinstance(value, ExcelError):
                count += not isinstance(to_number(value), ExcelError)
        return float(count)

    def fn_counta(self, args):
        return float(sum(1 for value, _ in self.items(args) if value is not None))

    def fn_sumproduct(self, args):
        arrays: list[RangeValue] = []
        for arg in args:
            value = self.value(arg)
            if not isinstance(value, RangeValue):
                value = RangeValue(1, 1, [value])
            arrays.append(value)
        first = arrays[0]
        if any(a.rows != first.rows or a.cols != first.cols for a in arrays):
            return VALUE
        for array in arrays:
            for value in array.values:
                if isinstance(value, ExcelError):
                    return value
        total = 0.0
        for i in range(len(first.values)):
            product = 1.0
            for array in arrays:
                value = array.values[i]
                product *= float(value) if _is_number(value) else 0.0
            total += product
        return _finite(total)

    def fn_if(self, args):
        condition = to_bool(self.scalar(args[0]))
        if isinstance(condition, ExcelError):
            return condition
        if condition:
            return self.value(args[1])
        return self.value(args[2]) if len(args) > 2 else False

    def fn_iferror(self, args):
        value = self.value(args[0])
        if isinstance(value, ExcelError):
            return self.value(args[1])
        return value

    def _round(self, args, mode):
        x = to_number(self.scalar(args[0]))
        if isinstance(x, ExcelError):
            return x
        places = to_number(self.scalar(args[1]))
        if isinstance(places, ExcelError):
            return places
        return round_excel(x, places, mode)

    def fn_round(self, args):
        return self._round(args, "half")

    def fn_roundup(self, args):
        return self._round(args, "up")

    def fn_rounddown(self, args):
        return self._round(args, "down")

    def fn_abs(self, args):
        x = to_number(self.scalar(args[0]))
        return x if isinstance(x, ExcelError) else abs(x)

    def _logicals(self, args):
        found: list[bool] = []
        for value, from_ref in self.items(args):
            if isinstance(value, ExcelError):
                return value
            if from_ref and (value is None or isinstance(value, str)):
                continue
            if value is None:
                found.append(False)
                continue
            flag = to_bool(value)
            if isinstance(flag, ExcelError):
                return flag
            found.append(flag)
        return found if found else VALUE

    def fn_and(self, args):
        found = self._logicals(args)
        return found if isinstance(found, ExcelError) else all(found)

    def fn_or(self, args):
        found = self._logicals(args)
        return found if isinstance(found, ExcelError) else any(found)

    def fn_not(self, args):
        flag = to_bool(self.scalar(args[0]))
        return flag if isinstance(flag, ExcelError) else not flag


def _result(value: Any) -> Any:
    if isinstance(value, RangeValue):
        return VALUE
    if value is None:
        return 0.0
    return value


def evaluate(formula: str, resolve: Resolve, sheet: str) -> Any:
    """The value of a formula on `sheet`; resolve(sheet, "C5") gives a cell's current value.

    Returns a float, str, bool or ExcelError; raises FormulaError when the formula is unreadable.
    """
    return _result(_Evaluator(resolve, sheet).value(parse(formula)))


# -- a whole form -------------------------------------------------------------------------------
def _address(cell: str) -> str:
    return cell.replace("$", "").upper()


@dataclass
class _CompiledForm:
    """What evaluating a form needs from its cells, independent of the values: the formulas by
    address, sheet names resolved case-insensitively, the evaluation order, the cells left in a
    cycle, and for each address the computed cells reading it."""

    formulas: dict[tuple[str, str], str]
    canonical: Callable[[str], str]
    order: list[tuple[str, str]]
    circular: list[tuple[str, str]]
    _readers: dict[tuple[str, str], list[tuple[str, str]]] | None = None

    @property
    def readers(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        if self._readers is None:
            found: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for computed, formula in self.formulas.items():
                for sheet, cell in set(references(formula, computed[0])):
                    found.setdefault((self.canonical(sheet), cell), []).append(computed)
            self._readers = found
        return self._readers


_COMPILED: dict[int, tuple[object, _CompiledForm]] = {}


def _compiled(cells, extra_sheets: Iterable[str] = ()) -> _CompiledForm:
    """The compiled form of ``cells``. A tuple (the frozen cells of a published spec, read
    again at every save) is compiled once; a list may still change, so it is read each time."""
    extra = set(extra_sheets)
    if isinstance(cells, tuple):
        found = _COMPILED.get(id(cells))
        if found is not None and found[0] is cells:
            return found[1]
    formulas = _computed_formulas(cells)
    sheets = {sheet for sheet, _ in formulas} | {c.sheet for c in cells} | extra
    canonical = _sheet_names(sorted(sheets))
    order, circular = _evaluation_order(formulas, canonical)
    compiled = _CompiledForm(formulas, canonical, order, circular)
    if isinstance(cells, tuple):
        if len(_COMPILED) > 32:
            _COMPILED.clear()
        _COMPILED[id(cells)] = (cells, compiled)
    return compiled


def _evaluation_order(
    formulas: dict[tuple[str, str], str], canonical: Callable[[str], str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Computed cells in dependency order, and the cells left over (in or after a cycle)."""
    dependents: dict[tuple[str, str], list[tuple[str, str]]] = {key: [] for key in formulas}
    waiting: dict[tuple[str, str], int] = {}
    for key, formula in formulas.items():
        deps = set()
        for sheet, cell in references(formula, key[0]):
            dep = (canonical(sheet), cell)
            if dep in formulas:
                deps.add(dep)
        for dep in deps:
            dependents[dep].append(key)
        waiting[key] = len(deps)
    ready = [key for key in formulas if waiting[key] == 0]
    order: list[tuple[str, str]] = []
    while ready:
        key = ready.pop(0)
        order.append(key)
        for dependent in dependents[key]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    done = set(order)
    return order, [key for key in formulas if key not in done]


def dependent_cells(cells, changed: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The computed cells that read any of ``changed``, directly or through other computed
    cells (addresses as (sheet, A1))."""
    changed = list(changed)
    return _dependents(_compiled(cells, [sheet for sheet, _ in changed]), changed)


def _dependents(form: _CompiledForm, changed: list[tuple[str, str]]) -> set[tuple[str, str]]:
    readers = form.readers
    affected: set[tuple[str, str]] = set()
    queue = [(form.canonical(sheet), _address(cell)) for sheet, cell in changed]
    while queue:
        for reader in readers.get(queue.pop(), ()):
            if reader not in affected:
                affected.add(reader)
                queue.append(reader)
    return affected


def evaluate_changed(
    cells, values: dict[tuple[str, str], Any], previous: dict[tuple[str, str], Any],
    changed: Iterable[tuple[str, str]],
) -> dict[tuple[str, str], Any]:
    """evaluate_cells after a few entry cells changed: ``previous`` holds the computed values
    before the change; only the computed cells that depend on ``changed`` (directly or through
    other computed cells) are evaluated again. Same results as evaluate_cells.

    ``values`` may be any mapping with ``get`` (e.g. one that reads stored values lazily);
    its addresses are taken as written, without "$"."""
    changed = list(changed)
    form = _compiled(cells, [sheet for sheet, _ in changed])
    formulas = form.formulas
    if form.circular or any(key not in previous for key in formulas):
        return evaluate_cells(cells, dict(values.items()))
    affected = _dependents(form, changed)
    results = {key: previous[key] for key in formulas}
    canonical = form.canonical

    def resolve(sheet: str, cell: str) -> Any:
        key = (canonical(sheet), cell)
        if key in formulas:
            return results.get(key)
        return values.get(key)

    for key in form.order:
        if key in affected:
            results[key] = evaluate(formulas[key], resolve, key[0])
    return results


def _computed_formulas(cells) -> dict[tuple[str, str], str]:
    formulas: dict[tuple[str, str], str] = {}
    for cell in cells:
        if getattr(cell, "kind", "computed") != "computed" or not cell.formula:
            continue
        key = (cell.sheet, _address(cell.cell))
        try:
            parse(cell.formula)
        except FormulaError as error:
            raise FormulaError(
                f"Công thức của ô «{cell.sheet}!{key[1]}» không đọc được: {error}", error.position
            ) from None
        formulas[key] = cell.formula
    return formulas


def _sheet_names(names: Iterable[str]) -> Callable[[str], str]:
    known: dict[str, str] = {}
    for name in names:
        known.setdefault(name.lower(), name)
    return lambda name: known.get(name.lower(), name)


def circular_cells(cells) -> list[tuple[str, str]]:
    """Computed cells that are in a cycle of formulas or depend on one (for the loader)."""
    return _compiled(cells).circular


def evaluate_cells(cells, values: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """Compute every computed cell of a form from the entry values, in dependency order.

    cells: CellSpec-like objects (sheet, cell, kind, formula); values: {(sheet, "C5"): value}
    of the other cells. Values given for computed cells are ignored: they are always computed
    here. Cells in a cycle, and those depending on them, get ExcelError("#CYCLE!").
    Returns {(sheet, A1): value} for the computed cells.
    """
    given = {(sheet, _address(cell)): value for (sheet, cell), value in values.items()}
    form = _compiled(cells, {sheet for sheet, _ in given})
    formulas = form.formulas
    canonical = form.canonical
    results: dict[tuple[str, str], Any] = {key: CYCLE for key in form.circular}

    def resolve(sheet: str, cell: str) -> Any:
        key = (canonical(sheet), cell)
        if key in formulas:
            return results.get(key)
        return given.get(key)

    for key in form.order:
        results[key] = evaluate(formulas[key], resolve, key[0])
    return {key: results[key] for key in formulas}

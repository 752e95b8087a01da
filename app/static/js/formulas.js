/*
 * Excel formulas of report forms, evaluated live in the browser.
 *
 * The same tokenizer, parser and evaluator as app/specs/formulas.py (read its docstring for the
 * semantics); both run tests/data/formula_cases.json and must agree. Nothing is evaluated as code:
 * only the operators and the functions listed in FUNCTIONS are evaluated. Plain JavaScript, no
 * build step, no dependencies.
 *
 *   FormFormulas.parse("= A1+B1")                       -> tree (a leading "=" is optional)
 *   FormFormulas.evaluate(formula, resolve, sheet)      -> number | string | boolean | ExcelError
 *       resolve(sheet, "C5") returns the cell's value: null for blank, a number, a string
 *   FormFormulas.evaluateCells(cells, getValue[, sheetNames])
 *       cells: [{sheet, cell, formula}], getValue(sheet, "C5") for the other cells;
 *       returns {"Sheet!C5": value} for every computed cell, in dependency order
 *
 * Errors are ExcelError objects {code: "#DIV/0!"}; String(error) is the code. An unreadable
 * formula throws FormulaError {message (Vietnamese), position}.
 */
(function (root) {
  "use strict";

  var MAX_RANGE_CELLS = 100000;
  var MAX_COLUMN = 16384;
  var MAX_ROW = 1048576;

  function FormulaError(message, position) {
    this.name = "FormulaError";
    this.message = message;
    this.position = position === undefined ? null : position;
  }
  FormulaError.prototype = Object.create(Error.prototype);
  FormulaError.prototype.constructor = FormulaError;
  FormulaError.prototype.toString = function () {
    if (this.position === null) return this.message;
    return this.message + " (ký tự thứ " + (this.position + 1) + ")";
  };

  function ExcelError(code) {
    this.code = code;
  }
  ExcelError.prototype.toString = function () {
    return this.code;
  };
  ExcelError.prototype.toJSON = function () {
    return { error: this.code };
  };

  var DIV0 = new ExcelError("#DIV/0!");
  var VALUE = new ExcelError("#VALUE!");
  var NAME = new ExcelError("#NAME?");
  var NUM = new ExcelError("#NUM!");
  var CYCLE = new ExcelError("#CYCLE!");

  function isError(value) {
    return value instanceof ExcelError;
  }

  // -- addresses ---------------------------------------------------------------------------
  function columnNumber(letters) {
    var number = 0;
    letters = letters.toUpperCase();
    for (var i = 0; i < letters.length; i++) number = number * 26 + letters.charCodeAt(i) - 64;
    return number;
  }

  function columnLetters(number) {
    var letters = "";
    while (number) {
      var rest = (number - 1) % 26;
      number = Math.floor((number - 1) / 26);
      letters = String.fromCharCode(65 + rest) + letters;
    }
    return letters;
  }

  function splitCell(cell) {
    var match = /^([A-Z]{1,3})([0-9]+)$/.exec(cell.replace(/\$/g, "").toUpperCase());
    if (!match) throw new FormulaError("Địa chỉ ô «" + cell + "» không hợp lệ");
    return [columnNumber(match[1]), parseInt(match[2], 10)];
  }

  function rangeBounds(start, end) {
    var a = splitCell(start);
    var b = splitCell(end);
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  }

  // -- tokenizer ---------------------------------------------------------------------------
  var WS = /[ \t\r\n\u00a0]+/y;
  var NUMBER = /(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/y;
  var STRING = /"((?:[^"]|"")*)"/y;
  var ERROR = /#(?:DIV\/0!|VALUE!|REF!|NAME\?|NUM!|N\/A|NULL!)/iy;
  var QUOTED_SHEET = /'((?:[^']|'')+)'!/y;
  var CELLREF = "\\$?([A-Za-z]{1,3})\\$?([0-9]{1,7})";
  var REF = new RegExp(CELLREF + "(?::" + CELLREF + ")?(?![A-Za-z0-9_.(!])", "y");
  var FUNCTION = /((?:_xlfn\.|_xlws\.)?[A-Za-z][A-Za-z0-9_.]*)(?=\()/y;

  function isLetter(ch) {
    return /[A-Za-z]/.test(ch) || ch.toLowerCase() !== ch.toUpperCase();
  }

  function matchWord(text, i) {
    // a letter, then letters, digits, "_" and "." (an unquoted sheet name or a defined name)
    if (!isLetter(text.charAt(i))) return null;
    var end = i + 1;
    while (end < text.length && (isLetter(text.charAt(end)) || /[0-9_.]/.test(text.charAt(end)))) end++;
    return [text.slice(i, end)];
  }
  var OPERATORS = ["<>", "<=", ">=", "+", "-", "*", "/", "^", "&", "=", "<", ">", "%", "(", ")", ","];

  function matchAt(regex, text, i) {
    regex.lastIndex = i;
    return regex.exec(text);
  }

  function refToken(match, sheet, pos) {
    var cells = [[match[1], match[2]]];
    if (match[3]) cells.push([match[3], match[4]]);
    for (var k = 0; k < cells.length; k++) {
      var row = parseInt(cells[k][1], 10);
      if (columnNumber(cells[k][0]) > MAX_COLUMN || row < 1 || row > MAX_ROW) {
        throw new FormulaError("Địa chỉ ô «" + cells[k][0] + cells[k][1] + "» nằm ngoài trang tính", pos);
      }
    }
    var first = match[1].toUpperCase() + parseInt(match[2], 10);
    var end = match[3] ? match[3].toUpperCase() + parseInt(match[4], 10) : null;
    return { kind: "ref", value: [sheet, first, end], pos: pos };
  }

  function tokenize(text) {
    var tokens = [];
    var i = 0;
    var n = text.length;
    var match, ref;
    while (i < n) {
      match = matchAt(WS, text, i);
      if (match) {
        i += match[0].length;
        continue;
      }
      var ch = text.charAt(i);
      if (ch === '"') {
        match = matchAt(STRING, text, i);
        if (!match) throw new FormulaError("Chuỗi ký tự thiếu dấu nháy kép đóng", i);
        tokens.push({ kind: "string", value: match[1].replace(/""/g, '"'), pos: i });
        i += match[0].length;
        continue;
      }
      if ("0123456789.".indexOf(ch) >= 0) {
        match = matchAt(NUMBER, text, i);
        if (match) {
          tokens.push({ kind: "number", value: Number(match[0]), pos: i });
          i += match[0].length;
          continue;
        }
      }
      if (ch === "#") {
        match = matchAt(ERROR, text, i);
        if (!match) throw new FormulaError("Giá trị lỗi không hợp lệ", i);
        tokens.push({ kind: "error", value: match[0].toUpperCase(), pos: i });
        i += match[0].length;
        continue;
      }
      if (ch === "'") {
        match = matchAt(QUOTED_SHEET, text, i);
        if (!match) throw new FormulaError("Tên trang trong dấu nháy đơn không hợp lệ", i);
        var sheet = match[1].replace(/''/g, "'");
        var after = i + match[0].length;
        ref = matchAt(REF, text, after);
        if (!ref) throw new FormulaError("Tham chiếu tới trang «" + sheet + "» thiếu địa chỉ ô", after);
        tokens.push(refToken(ref, sheet, i));
        i = after + ref[0].length;
        continue;
      }
      if (ch === "$" || ch === "_" || isLetter(ch)) {
        match = matchAt(FUNCTION, text, i);
        if (match) {
          tokens.push({ kind: "func", value: match[1], pos: i });
          i += match[0].length;
          continue;
        }
        ref = matchAt(REF, text, i);
        if (ref) {
          tokens.push(refToken(ref, null, i));
          i += ref[0].length;
          continue;
        }
        match = matchWord(text, i);
        if (match) {
          var end = i + match[0].length;
          if (text.charAt(end) === "!") {
            ref = matchAt(REF, text, end + 1);
            if (!ref) {
              throw new FormulaError("Tham chiếu tới trang «" + match[0] + "» thiếu địa chỉ ô", end + 1);
            }
            tokens.push(refToken(ref, match[0], i));
            i = end + 1 + ref[0].length;
            continue;
          }
          if (text.charAt(end) === ":") {
            throw new FormulaError("Vùng cả cột, cả dòng hoặc nhiều trang chưa được hỗ trợ", i);
          }
          tokens.push({ kind: "word", value: match[0], pos: i });
          i = end;
          continue;
        }
        throw new FormulaError("Ký tự không hợp lệ «" + ch + "»", i);
      }
      var found = null;
      for (var k = 0; k < OPERATORS.length; k++) {
        if (text.substr(i, OPERATORS[k].length) === OPERATORS[k]) {
          found = OPERATORS[k];
          break;
        }
      }
      if (found === null) throw new FormulaError("Ký tự không hợp lệ «" + ch + "»", i);
      tokens.push({ kind: "op", value: found, pos: i });
      i += found.length;
    }
    tokens.push({ kind: "end", value: null, pos: n });
    return tokens;
  }

  // -- parser ------------------------------------------------------------------------------
  var COMPARISONS = ["=", "<>", "<", ">", "<=", ">="];

  function tokenText(token) {
    if (token.kind === "number") return numberText(token.value);
    if (token.kind === "string") return '"' + token.value + '"';
    if (token.kind === "ref") {
      var v = token.value;
      return (v[0] ? v[0] + "!" : "") + v[1] + (v[2] ? ":" + v[2] : "");
    }
    return String(token.value);
  }

  function Parser(text) {
    this.tokens = tokenize(text);
    this.i = 0;
  }

  Parser.prototype.peek = function () {
    return this.tokens[this.i];
  };
  Parser.prototype.next = function () {
    return this.tokens[this.i++];
  };
  Parser.prototype.atOp = function (ops) {
    var token = this.peek();
    return token.kind === "op" && ops.indexOf(token.value) >= 0;
  };
  Parser.prototype.unexpected = function (token) {
    if (token.kind === "end") return new FormulaError("Công thức kết thúc khi chưa đủ", token.pos);
    var shown = token.kind === "op" || token.kind === "word" || token.kind === "func" ? token.value : tokenText(token);
    return new FormulaError("Không mong đợi «" + shown + "»", token.pos);
  };
  Parser.prototype.parse = function () {
    if (this.peek().kind === "end") throw new FormulaError("Công thức trống", 0);
    var node = this.comparison();
    if (this.peek().kind !== "end") throw this.unexpected(this.peek());
    return node;
  };
  Parser.prototype.binaryLevel = function (ops, next) {
    var node = next.call(this);
    while (this.atOp(ops)) {
      var token = this.next();
      node = { type: "binary", pos: token.pos, op: token.value, left: node, right: next.call(this) };
    }
    return node;
  };
  Parser.prototype.comparison = function () {
    return this.binaryLevel(COMPARISONS, this.concat);
  };
  Parser.prototype.concat = function () {
    return this.binaryLevel(["&"], this.additive);
  };
  Parser.prototype.additive = function () {
    return this.binaryLevel(["+", "-"], this.multiplicative);
  };
  Parser.prototype.multiplicative = function () {
    return this.binaryLevel(["*", "/"], this.power);
  };
  Parser.prototype.power = function () {
    return this.binaryLevel(["^"], this.unary);
  };
  Parser.prototype.unary = function () {
    if (this.atOp(["-", "+"])) {
      var token = this.next();
      return { type: "unary", pos: token.pos, op: token.value, operand: this.unary() };
    }
    return this.postfix();
  };
  Parser.prototype.postfix = function () {
    var node = this.primary();
    while (this.atOp(["%"])) {
      var token = this.next();
      node = { type: "percent", pos: token.pos, operand: node };
    }
    return node;
  };
  Parser.prototype.primary = function () {
    var token = this.next();
    switch (token.kind) {
      case "number":
        return { type: "number", pos: token.pos, value: token.value };
      case "string":
        return { type: "text", pos: token.pos, value: token.value };
      case "error":
        return { type: "errorLiteral", pos: token.pos, code: token.value };
      case "ref":
        if (token.value[2] === null) {
          return { type: "ref", pos: token.pos, sheet: token.value[0], cell: token.value[1] };
        }
        return { type: "range", pos: token.pos, sheet: token.value[0], start: token.value[1], end: token.value[2] };
      case "word":
        var upper = token.value.toUpperCase();
        if (upper === "TRUE" || upper === "FALSE") return { type: "bool", pos: token.pos, value: upper === "TRUE" };
        return { type: "name", pos: token.pos, name: token.value };
      case "func":
        return this.call(token);
    }
    if (token.kind === "op" && token.value === "(") {
      var node = this.comparison();
      if (!this.atOp([")"])) {
        if (this.peek().kind === "end") throw new FormulaError("Thiếu dấu đóng ngoặc «)»", this.peek().pos);
        throw this.unexpected(this.peek());
      }
      this.next();
      return node;
    }
    throw this.unexpected(token);
  };
  Parser.prototype.call = function (token) {
    var name = token.value.toUpperCase();
    if (name.indexOf("_XLFN.") === 0 || name.indexOf("_XLWS.") === 0) name = name.slice(6);
    this.next(); // "("
    var args = [];
    if (this.atOp([")"])) {
      this.next();
      return { type: "call", pos: token.pos, name: name, args: args };
    }
    for (;;) {
      if (this.atOp([",", ")"])) args.push({ type: "empty", pos: this.peek().pos });
      else args.push(this.comparison());
      if (this.atOp([","])) {
        this.next();
        continue;
      }
      if (this.atOp([")"])) {
        this.next();
        return { type: "call", pos: token.pos, name: name, args: args };
      }
      if (this.peek().kind === "end") {
        throw new FormulaError("Thiếu dấu đóng ngoặc «)» của hàm «" + name + "»", this.peek().pos);
      }
      throw this.unexpected(this.peek());
    }
  };

  var SPACE = " \t\r\n\u00a0";

  function leadingSpace(text) {
    var i = 0;
    while (i < text.length && SPACE.indexOf(text.charAt(i)) >= 0) i++;
    return i;
  }

  function stripFormula(formula) {
    var text = formula || "";
    var end = text.length;
    while (end > 0 && SPACE.indexOf(text.charAt(end - 1)) >= 0) end--;
    text = text.slice(leadingSpace(text), end);
    return text.charAt(0) === "=" ? text.slice(1) : text;
  }

  var parseCache = new Map();

  function parse(formula) {
    if (typeof formula !== "string") throw new FormulaError("Công thức phải là chuỗi ký tự");
    var cached = parseCache.get(formula);
    if (cached) return cached;
    var offset = leadingSpace(formula);
    if (formula.charAt(offset) === "=") offset += 1;
    var tree;
    try {
      tree = new Parser(stripFormula(formula)).parse();
    } catch (error) {
      if (error instanceof FormulaError && error.position !== null) error.position += offset;
      throw error;
    }
    if (parseCache.size > 4096) parseCache.clear();
    parseCache.set(formula, tree);
    return tree;
  }

  function walk(node, visit) {
    visit(node);
    if (node.type === "unary" || node.type === "percent") walk(node.operand, visit);
    else if (node.type === "binary") {
      walk(node.left, visit);
      walk(node.right, visit);
    } else if (node.type === "call") {
      for (var i = 0; i < node.args.length; i++) walk(node.args[i], visit);
    }
  }

  // name: [minimum, maximum] number of arguments
  var FUNCTIONS = {
    SUM: [1, 255],
    AVERAGE: [1, 255],
    MIN: [1, 255],
    MAX: [1, 255],
    COUNT: [1, 255],
    COUNTA: [1, 255],
    SUMPRODUCT: [1, 255],
    IF: [2, 3],
    IFERROR: [2, 2],
    ROUND: [2, 2],
    ROUNDUP: [2, 2],
    ROUNDDOWN: [2, 2],
    ABS: [1, 1],
    AND: [1, 255],
    OR: [1, 255],
    NOT: [1, 1]
  };

  function hasFunction(name) {
    return Object.prototype.hasOwnProperty.call(FUNCTIONS, name);
  }

  function expand(node) {
    var b = rangeBounds(node.start, node.end);
    if ((b[2] - b[0] + 1) * (b[3] - b[1] + 1) > MAX_RANGE_CELLS) {
      throw new FormulaError(
        "Vùng «" + node.start + ":" + node.end + "» quá lớn (quá 100.000 ô)",
        node.pos
      );
    }
    var cells = [];
    for (var r = b[1]; r <= b[3]; r++) {
      for (var c = b[0]; c <= b[2]; c++) cells.push(columnLetters(c) + r);
    }
    return cells;
  }

  function references(formula, defaultSheet) {
    var seen = new Map();
    walk(parse(formula), function (node) {
      var sheet = node.sheet || defaultSheet;
      if (node.type === "ref") {
        if (!seen.has(sheet + "!" + node.cell)) seen.set(sheet + "!" + node.cell, [sheet, node.cell]);
      } else if (node.type === "range") {
        expand(node).forEach(function (cell) {
          if (!seen.has(sheet + "!" + cell)) seen.set(sheet + "!" + cell, [sheet, cell]);
        });
      }
    });
    return Array.from(seen.values());
  }

  // -- values ------------------------------------------------------------------------------
  var NUMERIC_TEXT =
    /^[ \t\r\n\u00a0]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(%?)[ \t\r\n\u00a0]*$/;

  function digits15(x) {
    // |x| to 15 significant digits: ["123450000000000", 2] for 123.45
    var parts = Math.abs(x).toExponential(14).split("e");
    return [parts[0].replace(".", ""), parseInt(parts[1], 10)];
  }

  function round15(x) {
    if (x === 0 || !isFinite(x)) return x;
    return Number(x.toExponential(14));
  }

  function numberText(x) {
    if (x === 0) return "0";
    var d = digits15(x);
    var digits = d[0].replace(/0+$/, "");
    var exponent = d[1];
    var sign = x < 0 ? "-" : "";
    if (exponent >= 15 || exponent < -9) {
      var mantissa = digits.charAt(0) + (digits.length > 1 ? "." + digits.slice(1) : "");
      var e = String(Math.abs(exponent));
      return sign + mantissa + "E" + (exponent >= 0 ? "+" : "-") + (e.length < 2 ? "0" + e : e);
    }
    var whole, fraction;
    if (exponent >= 0) {
      whole = digits.slice(0, exponent + 1);
      while (whole.length < exponent + 1) whole += "0";
      fraction = digits.slice(exponent + 1);
    } else {
      whole = "0";
      fraction = new Array(-exponent).join("0") + digits;
    }
    return sign + whole + (fraction ? "." + fraction : "");
  }

  function roundExcel(x, places, mode) {
    // Excel's ROUND (mode "half"), ROUNDUP ("up") and ROUNDDOWN ("down")
    places = Math.trunc(places);
    mode = mode || "half";
    if (x === 0 || !isFinite(x)) return x;
    var d = digits15(x);
    var digits = d[0];
    var keep = d[1] + 1 + places;
    if (keep >= 15) return round15(x);
    var kept, first;
    if (keep < 0) {
      kept = 0;
      first = "0";
    } else {
      kept = parseInt(digits.slice(0, keep) || "0", 10);
      first = digits.charAt(keep);
    }
    var rest = digits.slice(Math.max(keep, 0));
    if ((mode === "half" && first >= "5") || (mode === "up" && /[1-9]/.test(rest))) kept += 1;
    if (kept === 0) return 0;
    var value = Number(kept + "e" + -places);
    return x < 0 ? -value : value;
  }

  function isNumber(value) {
    return typeof value === "number";
  }

  function cellValue(value) {
    // a value from outside, normalised
    if (value === undefined || value === null) return null;
    if (typeof value === "string" || typeof value === "boolean" || isError(value)) return value;
    if (typeof value === "number") return isFinite(value) ? value : NUM;
    if (typeof value === "object" && typeof value.error === "string") return new ExcelError(value.error);
    return VALUE;
  }

  function toNumber(value) {
    if (isError(value)) return value;
    if (value === null) return 0;
    if (typeof value === "boolean") return value ? 1 : 0;
    if (typeof value === "number") return value;
    if (typeof value === "string") {
      var match = NUMERIC_TEXT.exec(value);
      if (!match) return VALUE;
      var number = Number(match[1]);
      return match[2] ? number / 100 : number;
    }
    return VALUE;
  }

  function toText(value) {
    if (isError(value)) return value;
    if (value === null) return "";
    if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
    if (typeof value === "number") return numberText(value);
    if (typeof value === "string") return value;
    return VALUE;
  }

  function toBool(value) {
    if (isError(value)) return value;
    if (value === null) return false;
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return value !== 0;
    if (typeof value === "string") {
      var upper = value.toUpperCase();
      if (upper === "TRUE" || upper === "FALSE") return upper === "TRUE";
    }
    return VALUE;
  }

  function finite(x) {
    return isFinite(x) ? x : NUM;
  }

  function typeRank(value) {
    if (typeof value === "boolean") return 2;
    if (typeof value === "string") return 1;
    return 0;
  }

  function sign(a, b) {
    return a > b ? 1 : a < b ? -1 : 0;
  }

  function compare(op, left, right) {
    if (isError(left)) return left;
    if (isError(right)) return right;
    if (left === null) left = typeof right === "string" ? "" : typeof right === "boolean" ? false : 0;
    if (right === null) right = typeof left === "string" ? "" : typeof left === "boolean" ? false : 0;
    var rl = typeRank(left);
    var rr = typeRank(right);
    var order;
    if (rl !== rr) order = sign(rl, rr);
    else if (rl === 1) order = sign(left.toLowerCase(), right.toLowerCase());
    else if (rl === 2) order = (left ? 1 : 0) - (right ? 1 : 0);
    else order = sign(round15(left), round15(right));
    switch (op) {
      case "=":
        return order === 0;
      case "<>":
        return order !== 0;
      case "<":
        return order < 0;
      case ">":
        return order > 0;
      case "<=":
        return order <= 0;
      default:
        return order >= 0;
    }
  }

  function arithmetic(op, left, right) {
    var a = toNumber(left);
    if (isError(a)) return a;
    var b = toNumber(right);
    if (isError(b)) return b;
    switch (op) {
      case "+":
        return finite(a + b);
      case "-":
        return finite(a - b);
      case "*":
        return finite(a * b);
      case "/":
        return b === 0 ? DIV0 : finite(a / b);
    }
    if (a === 0 && b === 0) return NUM;
    if (a === 0 && b < 0) return DIV0;
    if (a < 0 && b !== Math.floor(b)) return NUM;
    return finite(Math.pow(a, b));
  }

  // -- evaluator ---------------------------------------------------------------------------
  function RangeValue(rows, cols, values) {
    this.rows = rows;
    this.cols = cols;
    this.values = values;
  }

  function Evaluator(resolve, sheet) {
    this.resolve = resolve;
    this.sheet = sheet;
  }

  Evaluator.prototype.cell = function (sheet, cell) {
    return cellValue(this.resolve(sheet || this.sheet, cell));
  };

  Evaluator.prototype.range = function (node) {
    var b = rangeBounds(node.start, node.end);
    var self = this;
    var values = expand(node).map(function (cell) {
      return self.cell(node.sheet, cell);
    });
    return new RangeValue(b[3] - b[1] + 1, b[2] - b[0] + 1, values);
  };

  Evaluator.prototype.value = function (node) {
    switch (node.type) {
      case "number":
      case "text":
      case "bool":
        return node.value;
      case "errorLiteral":
        return new ExcelError(node.code);
      case "empty":
        return null;
      case "ref":
        return this.cell(node.sheet, node.cell);
      case "range":
        return this.range(node);
      case "name":
        return NAME;
      case "unary": {
        var operand = this.scalar(node.operand);
        var number = toNumber(operand);
        if (isError(number)) return number;
        return node.op === "+" ? operand : -number;
      }
      case "percent": {
        var n = toNumber(this.scalar(node.operand));
        return isError(n) ? n : n / 100;
      }
      case "binary": {
        var left = this.scalar(node.left);
        var right = this.scalar(node.right);
        if (COMPARISONS.indexOf(node.op) >= 0) return compare(node.op, left, right);
        if (node.op === "&") {
          var a = toText(left);
          if (isError(a)) return a;
          var b = toText(right);
          return isError(b) ? b : a + b;
        }
        return arithmetic(node.op, left, right);
      }
      case "call":
        return this.call(node);
    }
    throw new FormulaError("Công thức không hợp lệ", node.pos);
  };

  Evaluator.prototype.scalar = function (node) {
    var value = this.value(node);
    return value instanceof RangeValue ? VALUE : value;
  };

  Evaluator.prototype.call = function (node) {
    if (!hasFunction(node.name)) return NAME;
    var bounds = FUNCTIONS[node.name];
    if (node.args.length < bounds[0] || node.args.length > bounds[1]) return VALUE;
    return FN[node.name].call(this, node.args);
  };

  // each argument's values as [value, fromReference]
  Evaluator.prototype.items = function (args) {
    var items = [];
    for (var i = 0; i < args.length; i++) {
      var arg = args[i];
      var values;
      if (arg.type === "ref") {
        items.push([this.cell(arg.sheet, arg.cell), true]);
        continue;
      }
      if (arg.type === "range") values = this.range(arg).values;
      else {
        var value = this.value(arg);
        if (!(value instanceof RangeValue)) {
          items.push([value, false]);
          continue;
        }
        values = value.values;
      }
      for (var k = 0; k < values.length; k++) items.push([values[k], true]);
    }
    return items;
  };

  Evaluator.prototype.numbers = function (args) {
    var items = this.items(args);
    var numbers = [];
    for (var i = 0; i < items.length; i++) {
      var value = items[i][0];
      if (isError(value)) return value;
      if (items[i][1]) {
        if (isNumber(value)) numbers.push(value);
        continue;
      }
      var number = toNumber(value);
      if (isError(number)) return number;
      numbers.push(number);
    }
    return numbers;
  };

  Evaluator.prototype.logicals = function (args) {
    var items = this.items(args);
    var found = [];
    for (var i = 0; i < items.length; i++) {
      var value = items[i][0];
      if (isError(value)) return value;
      if (items[i][1] && (value === null || typeof value === "string")) continue;
      if (value === null) {
        found.push(false);
        continue;
      }
      var flag = toBool(value);
      if (isError(flag)) return flag;
      found.push(flag);
    }
    return found.length ? found : VALUE;
  };

  Evaluator.prototype.round = function (args, mode) {
    var x = toNumber(this.scalar(args[0]));
    if (isError(x)) return x;
    var places = toNumber(this.scalar(args[1]));
    if (isError(places)) return places;
    return roundExcel(x, places, mode);
  };

  function total(numbers) {
    var sum = 0;
    for (var i = 0; i < numbers.length; i++) sum += numbers[i];
    return sum;
  }

  var FN = {
    SUM: function (args) {
      var numbers = this.numbers(args);
      return isError(numbers) ? numbers : finite(total(numbers));
    },
    AVERAGE: function (args) {
      var numbers = this.numbers(args);
      if (isError(numbers)) return numbers;
      return numbers.length ? finite(total(numbers) / numbers.length) : DIV0;
    },
    MIN: function (args) {
      var numbers = this.numbers(args);
      if (isError(numbers)) return numbers;
      return numbers.length ? Math.min.apply(null, numbers) : 0;
    },
    MAX: function (args) {
      var numbers = this.numbers(args);
      if (isError(numbers)) return numbers;
      return numbers.length ? Math.max.apply(null, numbers) : 0;
    },
    COUNT: function (args) {
      var items = this.items(args);
      var count = 0;
      for (var i = 0; i < items.length; i++) {
        var value = items[i][0];
        if (items[i][1]) count += isNumber(value) ? 1 : 0;
        else if (value !== null && !isError(value)) count += isError(toNumber(value)) ? 0 : 1;
      }
      return count;
    },
    COUNTA: function (args) {
      return this.items(args).filter(function (item) {
        return item[0] !== null;
      }).length;
    },
    SUMPRODUCT: function (args) {
      var arrays = [];
      var i, k;
      for (i = 0; i < args.length; i++) {
        var value = this.value(args[i]);
        arrays.push(value instanceof RangeValue ? value : new RangeValue(1, 1, [value]));
      }
      var first = arrays[0];
      for (i = 0; i < arrays.length; i++) {
        if (arrays[i].rows !== first.rows || arrays[i].cols !== first.cols) return VALUE;
      }
      for (i = 0; i < arrays.length; i++) {
        for (k = 0; k < arrays[i].values.length; k++) {
          if (isError(arrays[i].values[k])) return arrays[i].values[k];
        }
      }
      var sum = 0;
      for (k = 0; k < first.values.length; k++) {
        var product = 1;
        for (i = 0; i < arrays.length; i++) {
          var item = arrays[i].values[k];
          product *= isNumber(item) ? item : 0;
        }
        sum += product;
      }
      return finite(sum);
    },
    IF: function (args) {
      var condition = toBool(this.scalar(args[0]));
      if (isError(condition)) return condition;
      if (condition) return this.value(args[1]);
      return args.length > 2 ? this.value(args[2]) : false;
    },
    IFERROR: function (args) {
      var value = this.value(args[0]);
      return isError(value) ? this.value(args[1]) : value;
    },
    ROUND: function (args) {
      return this.round(args, "half");
    },
    ROUNDUP: function (args) {
      return this.round(args, "up");
    },
    ROUNDDOWN: function (args) {
      return this.round(args, "down");
    },
    ABS: function (args) {
      var x = toNumber(this.scalar(args[0]));
      return isError(x) ? x : Math.abs(x);
    },
    AND: function (args) {
      var found = this.logicals(args);
      return isError(found) ? found : found.every(Boolean);
    },
    OR: function (args) {
      var found = this.logicals(args);
      return isError(found) ? found : found.some(Boolean);
    },
    NOT: function (args) {
      var flag = toBool(this.scalar(args[0]));
      return isError(flag) ? flag : !flag;
    }
  };

  function result(value) {
    if (value instanceof RangeValue) return VALUE;
    return value === null ? 0 : value;
  }

  function evaluate(formula, resolve, sheet) {
    return result(new Evaluator(resolve, sheet).value(parse(formula)));
  }

  // -- a whole form ------------------------------------------------------------------------
  function address(cell) {
    return cell.replace(/\$/g, "").toUpperCase();
  }

  function evaluateCells(cells, getValue, sheetNames) {
    var formulas = new Map(); // "sheet!A1" -> {sheet, cell, formula}
    var known = new Map();
    function remember(name) {
      if (!known.has(name.toLowerCase())) known.set(name.toLowerCase(), name);
    }
    cells.forEach(function (spec) {
      if ((spec.kind && spec.kind !== "computed") || !spec.formula) return;
      var cell = address(spec.cell);
      try {
        parse(spec.formula);
      } catch (error) {
        if (!(error instanceof FormulaError)) throw error;
        throw new FormulaError(
          "Công thức của ô «" + spec.sheet + "!" + cell + "» không đọc được: " + error.toString(),
          error.position
        );
      }
      formulas.set(spec.sheet + "!" + cell, { sheet: spec.sheet, cell: cell, formula: spec.formula });
    });
    formulas.forEach(function (entry) {
      remember(entry.sheet);
    });
    (sheetNames || []).forEach(remember);
    function canonical(name) {
      return known.has(name.toLowerCase()) ? known.get(name.toLowerCase()) : name;
    }

    var dependents = new Map();
    var waiting = new Map();
    formulas.forEach(function (entry, key) {
      dependents.set(key, []);
    });
    formulas.forEach(function (entry, key) {
      var deps = new Set();
      references(entry.formula, entry.sheet).forEach(function (ref) {
        var dep = canonical(ref[0]) + "!" + ref[1];
        if (formulas.has(dep)) deps.add(dep);
      });
      deps.forEach(function (dep) {
        dependents.get(dep).push(key);
      });
      waiting.set(key, deps.size);
    });
    var ready = [];
    formulas.forEach(function (entry, key) {
      if (waiting.get(key) === 0) ready.push(key);
    });
    var order = [];
    for (var i = 0; i < ready.length; i++) {
      order.push(ready[i]);
      dependents.get(ready[i]).forEach(function (dependent) {
        waiting.set(dependent, waiting.get(dependent) - 1);
        if (waiting.get(dependent) === 0) ready.push(dependent);
      });
    }

    var results = new Map();
    var done = new Set(order);
    formulas.forEach(function (entry, key) {
      if (!done.has(key)) results.set(key, CYCLE);
    });
    function resolve(sheet, cell) {
      var key = canonical(sheet) + "!" + cell;
      if (formulas.has(key)) return results.has(key) ? results.get(key) : null;
      return getValue(canonical(sheet), cell);
    }
    order.forEach(function (key) {
      var entry = formulas.get(key);
      results.set(key, evaluate(entry.formula, resolve, entry.sheet));
    });
    var out = {};
    formulas.forEach(function (entry, key) {
      out[key] = results.get(key);
    });
    return out;
  }

  var api = {
    parse: parse,
    evaluate: evaluate,
    evaluateCells: evaluateCells,
    references: references,
    roundExcel: roundExcel,
    numberText: numberText,
    FUNCTIONS: FUNCTIONS,
    FormulaError: FormulaError,
    ExcelError: ExcelError
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.FormFormulas = api;
})(typeof window !== "undefined" ? window : null);

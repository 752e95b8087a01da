/*
 * Runs the browser formula evaluator under node for tests/test_formulas.py.
 *
 *   node tests/formulas_runner.js tests/data/formula_cases.json
 *       prints [{name, result}] for every case ({name, formula, sheet, cells: {"Sheet!A1": v}})
 *   node tests/formulas_runner.js --cells workbook.json
 *       workbook.json: {cells: [{sheet, cell, formula}], values: [[sheet, cell, value], ...]};
 *       prints {"Sheet!A1": value} for every computed cell (evaluateCells)
 *   node tests/formulas_runner.js --numbers numbers.json
 *       numbers.json: [[x, places], ...]; prints [[ROUND, ROUNDUP, ROUNDDOWN, text of x], ...]
 *
 * Values: null, numbers, strings, booleans, {"error": "#DIV/0!"}. A formula that does not parse
 * gives {"formulaError": message}.
 */
"use strict";

const fs = require("fs");
const path = require("path");
const F = require(path.join(__dirname, "..", "app", "static", "js", "formulas.js"));

function splitKey(key) {
  const at = key.lastIndexOf("!");
  return [key.slice(0, at), key.slice(at + 1)];
}

function plain(value) {
  if (value instanceof F.ExcelError) return { error: value.code };
  return value;
}

function runCases(file) {
  const cases = JSON.parse(fs.readFileSync(file, "utf8"));
  return cases.map((c) => {
    const cells = new Map();
    Object.keys(c.cells || {}).forEach((key) => {
      const [sheet, cell] = splitKey(key);
      cells.set(sheet + "!" + cell.toUpperCase(), c.cells[key]);
    });
    const resolve = (sheet, cell) => {
      const key = sheet + "!" + cell;
      return cells.has(key) ? cells.get(key) : null;
    };
    try {
      return { name: c.name, result: plain(F.evaluate(c.formula, resolve, c.sheet || "Sheet1")) };
    } catch (error) {
      if (error instanceof F.FormulaError) return { name: c.name, result: { formulaError: error.message } };
      throw error;
    }
  });
}

function runCells(file) {
  const data = JSON.parse(fs.readFileSync(file, "utf8"));
  const values = new Map();
  const sheets = new Set();
  data.values.forEach(([sheet, cell, value]) => {
    values.set(sheet + "!" + cell, value);
    sheets.add(sheet);
  });
  const getValue = (sheet, cell) => {
    const key = sheet + "!" + cell;
    return values.has(key) ? values.get(key) : null;
  };
  const results = F.evaluateCells(data.cells, getValue, Array.from(sheets));
  const out = {};
  Object.keys(results).forEach((key) => {
    out[key] = plain(results[key]);
  });
  return out;
}

function runNumbers(file) {
  const numbers = JSON.parse(fs.readFileSync(file, "utf8"));
  return numbers.map(([x, places]) => [
    F.roundExcel(x, places),
    F.roundExcel(x, places, "up"),
    F.roundExcel(x, places, "down"),
    F.numberText(x),
  ]);
}

const args = process.argv.slice(2);
let output;
if (args[0] === "--cells") output = runCells(args[1]);
else if (args[0] === "--numbers") output = runNumbers(args[1]);
else output = runCases(args[0]);
process.stdout.write(JSON.stringify(output));

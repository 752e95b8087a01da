/*
 * The entry page of a report: moving between cells like Excel, pasting a block copied from
 * Excel, Vietnamese numbers (1.234,5), live recompute of the grey cells with FormFormulas,
 * "Lưu nháp" (only the changed cells, with what was loaded, so nobody's work is overwritten)
 * and "Kiểm tra" (each problem next to its cell and in a summary).
 * Plain JavaScript with jQuery from Flask-AppBuilder; no build step.
 */
(function (window, document, $) {
  "use strict";

  var GROUPED_WITH_DOTS = /^[+-]?\d{1,3}(\.\d{3})+$/;
  var PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  window.EntryNumbers = { parse: parseNumber, format: formatNumber };
  var configNode = document.getElementById("entry-config");
  var root = document.getElementById("report-entry");
  if (!configNode || !root) return;
  var config = JSON.parse(configNode.textContent);
  var messages = config.messages || {};
  var NUMERIC = { number: true, integer: true, decimal: true, percent: true };

  function message(name, params) {
    var text = messages[name] || name;
    Object.keys(params || {}).forEach(function (key) {
      text = text.split("%(" + key + ")s").join(String(params[key]));
    });
    return text;
  }

  // -- numbers -------------------------------------------------------------------------------

  /* The same reading as app/numbers.py parse_number: null for blank, NaN when not a number. */
  function parseNumber(text) {
    if (text === null || text === undefined) return null;
    if (typeof text === "number") return text;
    var cleaned = String(text).trim().replace(/[\u00a0 ]/g, "");
    if (!cleaned) return null;
    var percent = cleaned.charAt(cleaned.length - 1) === "%";
    if (percent) cleaned = cleaned.slice(0, -1);
    if (cleaned.charAt(0) === "(" && cleaned.charAt(cleaned.length - 1) === ")") {
      cleaned = "-" + cleaned.slice(1, -1);
    }
    if (cleaned.indexOf(",") >= 0) {
      if (cleaned.split(",").length > 2) return NaN;
      cleaned = cleaned.replace(/\./g, "").replace(",", ".");
    } else if (GROUPED_WITH_DOTS.test(cleaned)) {
      cleaned = cleaned.replace(/\./g, "");
    }
    if (!PLAIN_NUMBER.test(cleaned)) return NaN;
    var number = Number(cleaned);
    if (!isFinite(number)) return NaN;
    return percent ? number / 100 : number;
  }

  /* 1234567.5 → "1.234.567,5"; with decimals, rounded half away from zero like the server. */
  function formatNumber(value, decimals) {
    if (typeof value !== "number" || !isFinite(value)) return String(value);
    var text;
    if (decimals !== null && decimals !== undefined) {
      var rounded = window.FormFormulas && window.FormFormulas.roundExcel
        ? window.FormFormulas.roundExcel(value, decimals)
        : Math.sign(value) * Math.round(Math.abs(value) * Math.pow(10, decimals)) / Math.pow(10, decimals);
      text = Math.abs(rounded).toFixed(decimals);
      if (rounded < 0 && Number(text) !== 0) text = "-" + text;
    } else {
      text = String(Math.abs(Number(value.toFixed(8))));
      if (/e/i.test(text)) text = Math.abs(value).toFixed(8).replace(/\.?0+$/, "");
      if (value < 0 && Number(text) !== 0) text = "-" + text;
    }
    var negative = text.charAt(0) === "-";
    if (negative) text = text.slice(1);
    var parts = text.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    return (negative ? "-" : "") + whole + (parts[1] ? "," + parts[1] : "");
  }

  // -- the cells -----------------------------------------------------------------------------
  var specByAddress = {};
  var formulaCells = [];
  (config.cells || []).forEach(function (cell) {
    specByAddress[cell.sheet + "!" + cell.cell] = cell;
    if (cell.kind === "computed" && cell.formula) formulaCells.push(cell);
  });
  var inputsByAddress = {};
  var computedByKey = {};
  var entryByKey = {};
  $(root).find(".entry-input").each(function () {
    var key = this.getAttribute("data-key");
    entryByKey[key] = this;
    if (this.hasAttribute("data-cell")) {
      inputsByAddress[this.getAttribute("data-sheet") + "!" + this.getAttribute("data-cell")] = this;
    }
  });
  $(root).find("td.cell-computed").each(function () {
    computedByKey[this.getAttribute("data-key")] = this;
  });

  function isNumeric(input) {
    return NUMERIC[input.getAttribute("data-type")] === true;
  }

  function currentValue(input) {
    return input.value;
  }

  function typedValue(sheet, cell) {
    var input = inputsByAddress[sheet + "!" + cell];
    if (input) {
      var text = currentValue(input);
      if (!String(text).trim()) return null;
      if (isNumeric(input)) {
        var number = parseNumber(text);
        return isNaN(number) ? String(text) : number;
      }
      return String(text);
    }
    var spec = specByAddress[sheet + "!" + cell];
    if (spec && spec.kind === "fixed" && spec.value !== null && spec.value !== undefined) {
      var fixed = typeof spec.value === "number" ? spec.value : parseNumber(spec.value);
      return typeof fixed === "number" && !isNaN(fixed) ? fixed : spec.value;
    }
    return null;
  }

  function showComputed(td, value, decimals) {
    var out = td.querySelector("output") || td;
    var text;
    td.classList.remove("is-error");
    if (value === null || value === undefined) {
      text = "";
    } else if (window.FormFormulas && value instanceof window.FormFormulas.ExcelError) {
      text = String(value);
      td.classList.add("is-error");
    } else if (typeof value === "boolean") {
      text = value ? "TRUE" : "FALSE";
    } else if (typeof value === "number") {
      text = formatNumber(value, decimals);
    } else {
      text = String(value);
    }
    out.textContent = text;
  }

  function recompute() {
    if (!window.FormFormulas || !formulaCells.length) return;
    var results;
    try {
      results = window.FormFormulas.evaluateCells(formulaCells, typedValue, config.sheets);
    } catch (error) {
      setStatus("danger", message("formula", { reason: String(error) }));
      return;
    }
    formulaCells.forEach(function (cell) {
      var td = computedByKey[cell.key];
      if (!td) return;
      var key = cell.sheet + "!" + cell.cell;
      if (Object.prototype.hasOwnProperty.call(results, key)) showComputed(td, results[key], cell.decimals);
    });
  }

  // -- changes -------------------------------------------------------------------------------
  function isChanged(input) {
    return currentValue(input) !== (input.getAttribute("data-base") || "");
  }

  function holder(input) {
    return input.closest("td") || input.closest(".narrative-block") || input.parentNode;
  }

  var dirtyBadge = document.getElementById("entry-dirty");
  function refreshDirty() {
    var any = false;
    Object.keys(entryByKey).forEach(function (key) {
      var input = entryByKey[key];
      var changed = isChanged(input);
      holder(input).classList.toggle("is-changed", changed);
      if (changed) any = true;
    });
    if (dirtyBadge) dirtyBadge.hidden = !any;
    return any;
  }

  function reformat(input) {
    if (!isNumeric(input)) return;
    var number = parseNumber(input.value);
    if (typeof number === "number" && !isNaN(number) && !/%\s*$/.test(input.value)) {
      input.value = formatNumber(number);
    }
  }

  // -- moving between cells ------------------------------------------------------------------
  /* A map of the table's body as drawn: grid[row][col] = td, with rowspan and colspan. */
  function tableGrid(table) {
    var grid = [];
    var rows = Array.prototype.filter.call(table.tBodies[0] ? table.tBodies[0].rows : [], function (tr) {
      return !tr.hidden;
    });
    rows.forEach(function (tr, r) {
      grid[r] = grid[r] || [];
      var c = 0;
      Array.prototype.forEach.call(tr.cells, function (td) {
        while (grid[r][c]) c++;
        for (var i = 0; i < td.rowSpan; i++) {
          grid[r + i] = grid[r + i] || [];
          for (var j = 0; j < td.colSpan; j++) grid[r + i][c + j] = td;
        }
        c += td.colSpan;
      });
    });
    return grid;
  }

  function positionOf(grid, td) {
    for (var r = 0; r < grid.length; r++) {
      var row = grid[r] || [];
      for (var c = 0; c < row.length; c++) if (row[c] === td) return { row: r, col: c };
    }
    return null;
  }

  function inputIn(td) {
    if (!td || !td.classList.contains("cell-entry")) return null;
    return td.querySelector(".entry-input");
  }

  function usable(input) {
    return input && !input.disabled && !input.readOnly;
  }

  function focusInput(input) {
    if (!input) return false;
    var pane = input.closest(".tab-pane");
    if (pane && !pane.classList.contains("active") && $.fn.tab) {
      $('a[href="#' + pane.id + '"]').tab("show");
    }
    input.focus();
    if (input.select && input.tagName !== "SELECT") input.select();
    return true;
  }

  function move(input, dRow, dCol) {
    var table = input.closest("table.entry-table");
    if (!table) return false;
    var grid = tableGrid(table);
    var here = positionOf(grid, input.closest("td"));
    if (!here) return false;
    var r = here.row;
    var c = here.col;
    var td = input.closest("td");
    for (var steps = 0; steps < 500; steps++) {
      r += dRow;
      c += dCol;
      if (r < 0 || r >= grid.length || c < 0 || c >= (grid[r] || []).length) return false;
      var target = grid[r][c];
      if (target === td) continue;
      var found = inputIn(target);
      if (usable(found)) return focusInput(found);
    }
    return false;
  }

  function orderedInputs(scope) {
    return Array.prototype.filter.call(scope.querySelectorAll(".entry-input"), function (input) {
      return usable(input) && !input.closest("tr[hidden]");
    });
  }

  function tabTo(input, forward) {
    var pane = input.closest(".tab-pane") || root;
    var list = orderedInputs(pane);
    var i = list.indexOf(input) + (forward ? 1 : -1);
    if (i < 0 || i >= list.length) return false;
    return focusInput(list[i]);
  }

  function caretAt(input, end) {
    if (input.tagName === "SELECT") return true;
    try {
      if (input.selectionStart !== input.selectionEnd) {
        return input.selectionStart === 0 && input.selectionEnd === input.value.length;
      }
      return end ? input.selectionEnd === input.value.length : input.selectionStart === 0;
    } catch (error) {
      return true;
    }
  }

  function onKeyDown(event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("entry-input")) return;
    if (input.classList.contains("narrative-input")) return;
    if (event.ctrlKey || event.metaKey) return;
    var textarea = input.tagName === "TEXTAREA";
    var moved = false;
    switch (event.key) {
      case "Tab":
        moved = tabTo(input, !event.shiftKey);
        break;
      case "Enter":
        if (textarea && event.altKey) return;
        moved = move(input, event.shiftKey ? -1 : 1, 0) || tabTo(input, !event.shiftKey);
        if (!moved) moved = true; // Enter never submits anything here
        break;
      case "ArrowDown":
        if (event.altKey || (textarea && !caretAt(input, true))) return;
        moved = move(input, 1, 0);
        if (input.tagName === "SELECT") moved = true;
        break;
      case "ArrowUp":
        if (event.altKey || (textarea && !caretAt(input, false))) return;
        moved = move(input, -1, 0);
        if (input.tagName === "SELECT") moved = true;
        break;
      case "ArrowLeft":
        if (!caretAt(input, false)) return;
        moved = move(input, 0, -1);
        break;
      case "ArrowRight":
        if (!caretAt(input, true)) return;
        moved = move(input, 0, 1);
        break;
      default:
        return;
    }
    if (moved) event.preventDefault();
  }

  // -- pasting a block from Excel ------------------------------------------------------------
  function splitClipboard(text) {
    var rows = text.replace(/\r\n?/g, "\n").split("\n");
    if (rows.length > 1 && rows[rows.length - 1] === "") rows.pop();
    return rows.map(function (line) {
      return line.split("\t").map(function (value) {
        var v = value;
        if (v.length > 1 && v.charAt(0) === '"' && v.charAt(v.length - 1) === '"') {
          v = v.slice(1, -1).replace(/""/g, '"');
        }
        return v;
      });
    });
  }

  function onPaste(event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("entry-input") || !usable(input)) return;
    var data = (event.originalEvent || event).clipboardData;
    if (!data) return;
    var text = data.getData("text/plain");
    if (!text || (text.indexOf("\t") < 0 && text.replace(/\r?\n$/, "").indexOf("\n") < 0)) return;
    var table = input.closest("table.entry-table");
    if (!table) return;
    event.preventDefault();
    var block = splitClipboard(text);
    var grid = tableGrid(table);
    var start = positionOf(grid, input.closest("td"));
    if (!start) return;
    var filled = 0;
    block.forEach(function (values, i) {
      var row = grid[start.row + i];
      if (!row) return;
      values.forEach(function (value, j) {
        var target = inputIn(row[start.col + j]);
        if (!usable(target)) return; // computed, fixed and label cells keep their content
        if (target.tagName === "SELECT") {
          var option = Array.prototype.find.call(target.options, function (o) {
            return o.value === value.trim() || o.text === value.trim();
          });
          if (!option) return;
          target.value = option.value;
        } else {
          target.value = value.trim();
          reformat(target);
        }
        filled++;
      });
    });
    if (filled) {
      recompute();
      refreshDirty();
    }
  }

  // -- messages beside cells and in the summary ----------------------------------------------
  var statusBox = document.getElementById("entry-status");
  var summary = document.getElementById("entry-summary");

  function setStatus(kind, text) {
    if (!statusBox) return;
    statusBox.className = "alert alert-" + kind;
    statusBox.textContent = text;
    statusBox.hidden = !text;
  }

  function clearMarks(kinds) {
    kinds.forEach(function (kind) {
      $(root).find("." + kind).each(function () {
        this.classList.remove(kind);
        $(this).children(".cell-message").remove();
        this.removeAttribute("data-message");
      });
    });
  }

  function markCell(key, kind, text) {
    var input = entryByKey[key];
    var box = input ? holder(input) : computedByKey[key];
    if (!box) return null;
    box.classList.add(kind);
    var note = document.createElement("span");
    note.className = "cell-message";
    note.textContent = text;
    box.appendChild(note);
    if (input) input.setAttribute("aria-invalid", "true");
    return input;
  }

  function showProblems(problems, title) {
    clearMarks(["has-problem", "has-warning"]);
    $(root).find("[aria-invalid]").removeAttr("aria-invalid");
    var list = summary.querySelector(".summary-list");
    list.innerHTML = "";
    if (!problems.length) {
      summary.hidden = true;
      return;
    }
    summary.querySelector(".summary-title").textContent = title;
    problems.forEach(function (problem) {
      var kind = problem.severity === "warning" ? "has-warning" : "has-problem";
      var input = problem.key ? markCell(problem.key, kind, problem.message) : null;
      var item = document.createElement("li");
      var text = (problem.where ? problem.where.charAt(0).toUpperCase() + problem.where.slice(1) + ": " : "") + problem.message;
      if (input) {
        var link = document.createElement("a");
        link.href = "#";
        link.textContent = text;
        link.addEventListener("click", function (event) {
          event.preventDefault();
          focusInput(input);
        });
        item.appendChild(link);
      } else {
        item.textContent = text;
      }
      list.appendChild(item);
    });
    summary.hidden = false;
  }

  // -- talking to the server -----------------------------------------------------------------
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');

  function post(url, body) {
    return $.ajax({
      url: url,
      method: "POST",
      contentType: "application/json",
      dataType: "json",
      data: JSON.stringify(body),
      headers: { "X-CSRFToken": csrfMeta ? csrfMeta.content : "" }
    });
  }

  function reason(xhr) {
    var data = xhr && xhr.responseJSON;
    if (data && data.message) return data.message;
    if (!xhr || xhr.status === 0) return message("network");
    return message("failed", { reason: xhr.status + " " + (xhr.statusText || "") });
  }

  var saving = false;
  /* Saves the changed cells; returns a promise resolved once they are stored (at once when
     nothing changed) and rejected with the reason when they could not be. */
  function save() {
    var done = $.Deferred();
    if (saving) return done.reject(message("failed", { reason: "…" })).promise();
    if (!config.editable) return done.resolve().promise();
    var changes = {};
    var base = {};
    var count = 0;
    Object.keys(entryByKey).forEach(function (key) {
      var input = entryByKey[key];
      if (!usable(input) || !isChanged(input)) return;
      changes[key] = currentValue(input);
      base[key] = input.getAttribute("data-base") || "";
      count++;
    });
    if (!count) {
      setStatus("info", message("nothing"));
      return done.resolve().promise();
    }
    saving = true;
    var button = document.getElementById("entry-save");
    if (button) button.disabled = true;
    clearMarks(["has-conflict", "has-warning"]);
    post(config.saveUrl, { changes: changes, base: base })
      .done(function (data) {
        Object.keys(changes).forEach(function (key) {
          entryByKey[key].setAttribute("data-base", changes[key]);
        });
        Object.keys(data.values || {}).forEach(function (key) {
          var td = computedByKey[key];
          if (td) {
            (td.querySelector("output") || td).textContent = data.values[key];
            td.classList.toggle("is-error", /^#/.test(data.values[key] || ""));
          }
        });
        var revision = document.getElementById("entry-revision");
        if (revision && data.revision !== undefined) revision.textContent = data.revision;
        if (data.revision !== undefined) {
          // the transition forms act on the revision the person has now seen and saved
          $(root).find('form.entry-transition-form input[name="revision"]').val(data.revision);
        }
        (data.warnings || []).forEach(function (problem) {
          if (problem.key) markCell(problem.key, "has-warning", problem.message);
        });
        recompute();
        refreshDirty();
        setStatus("success", message("saved", { count: data.saved }));
        done.resolve();
      })
      .fail(function (xhr) {
        if (xhr.status === 409 && xhr.responseJSON) {
          (xhr.responseJSON.keys || []).forEach(function (key) {
            markCell(key, "has-conflict", message("conflict"));
          });
          setStatus("warning", xhr.responseJSON.message);
          done.reject(xhr.responseJSON.message);
        } else {
          setStatus("danger", reason(xhr));
          done.reject(reason(xhr));
        }
      })
      .always(function () {
        saving = false;
        if (button) button.disabled = false;
      });
    return done.promise();
  }

  function validate() {
    var values = {};
    Object.keys(entryByKey).forEach(function (key) {
      values[key] = currentValue(entryByKey[key]);
    });
    post(config.validateUrl, { values: values })
      .done(function (data) {
        var problems = data.problems || [];
        showProblems(problems, message("problems", { count: problems.length }));
        if (problems.length) {
          setStatus("", "");
          statusBox.hidden = true;
        } else {
          setStatus("success", message("valid"));
        }
      })
      .fail(function (xhr) {
        setStatus("danger", reason(xhr));
      });
  }

  // -- wiring --------------------------------------------------------------------------------
  // -- rows added to an entity list (a school, a facility…) -----------------------------------
  function register(input) {
    entryByKey[input.getAttribute("data-key")] = input;
    if (input.hasAttribute("data-cell")) {
      inputsByAddress[input.getAttribute("data-sheet") + "!" + input.getAttribute("data-cell")] = input;
    }
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest(".entity-add-row");
    if (!button) return;
    var wrap = button.parentNode;
    var template = wrap.querySelector("template.entity-row-template");
    var body = wrap.querySelector("table.entry-table tbody");
    if (!template || !body) return;
    var number = parseInt(button.getAttribute("data-next-row"), 10);
    button.setAttribute("data-next-row", String(number + 1));
    body.insertAdjacentHTML("beforeend", template.innerHTML.split("__N__").join(String(number)));
    var row = body.lastElementChild;
    Array.prototype.forEach.call(row.querySelectorAll(".entry-input"), register);
    var first = row.querySelector(".entry-input");
    if (first) first.focus();
  });

  root.addEventListener("keydown", onKeyDown);
  root.addEventListener("paste", onPaste);
  root.addEventListener("input", function (event) {
    if (!event.target.classList.contains("entry-input")) return;
    var box = holder(event.target);
    if (box.classList.contains("has-conflict") || box.classList.contains("has-problem")) {
      box.classList.remove("has-problem");
      $(box).children(".cell-message").remove();
    }
    recompute();
    refreshDirty();
  });
  root.addEventListener("change", function (event) {
    if (!event.target.classList.contains("entry-input")) return;
    recompute();
    refreshDirty();
  });
  root.addEventListener("focusout", function (event) {
    if (event.target.classList && event.target.classList.contains("entry-input")) {
      reformat(event.target);
      refreshDirty();
    }
  });
  var saveButton = document.getElementById("entry-save");
  if (saveButton) saveButton.addEventListener("click", save);
  var validateButton = document.getElementById("entry-validate");
  if (validateButton) validateButton.addEventListener("click", validate);
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      save();
    }
  });
  window.addEventListener("beforeunload", function (event) {
    if (config.editable && refreshDirty()) {
      event.preventDefault();
      event.returnValue = message("leave");
      return event.returnValue;
    }
    return undefined;
  });
  $(root).on("shown.bs.tab", "a[data-toggle=tab]", function () {
    recompute();
  });

  // -- the reporting cycle: transitions, cell comments ------------------------------------------
  /* A transition acts on the revision the page shows: cells typed but not saved are saved
     first, and when they cannot be the transition is not sent ("Còn số liệu chưa lưu"). */
  var transitionSubmitting = false;
  $(root).on("submit", "form.entry-transition-form", function (event) {
    var form = this;
    if (transitionSubmitting || !config.editable || !refreshDirty()) return;
    event.preventDefault();
    save()
      .done(function () {
        if (refreshDirty()) {
          setStatus("warning", message("unsavedBlock", { reason: message("nothing") }));
          return;
        }
        transitionSubmitting = true;
        form.submit();
      })
      .fail(function (why) {
        setStatus("danger", message("unsavedBlock", { reason: why || "" }));
      });
  });

  function keyHolder(key) {
    var input = entryByKey[key];
    return input ? holder(input) : computedByKey[key];
  }

  /* The unit sees the cells the reviewing unit commented on: a marker, the text on hover or
     focus, and a list above the grid whose links go to the cell. */
  (config.cellComments || []).forEach(function (comment) {
    var box = keyHolder(comment.key);
    if (!box) return;
    box.classList.add("has-comment");
    var marker = document.createElement("span");
    marker.className = "cell-comment-marker";
    marker.setAttribute("tabindex", "0");
    marker.setAttribute("role", "note");
    marker.setAttribute("aria-label", message("commentLabel") + ": " + comment.text);
    marker.title = comment.text;
    var text = document.createElement("span");
    text.className = "cell-comment-text";
    text.textContent = comment.text + (comment.author ? " — " + comment.author : "");
    box.appendChild(marker);
    box.appendChild(text);
    var input = entryByKey[comment.key];
    if (input) input.setAttribute("title", message("commentLabel") + ": " + comment.text);
  });
  $(root).on("click", "a.cell-comment-link", function (event) {
    event.preventDefault();
    var key = this.getAttribute("data-key");
    var input = entryByKey[key];
    if (input) {
      focusInput(input);
    } else if (computedByKey[key]) {
      computedByKey[key].scrollIntoView({ block: "center" });
    }
  });

  /* The reviewing unit, about to return or reopen the report, clicks a cell to comment on it:
     the comment joins the open return form as a hidden field. */
  function commentForm() {
    var forms = root.querySelectorAll('form.entry-transition-form[data-cell-comments="1"]');
    return forms.length ? forms[0] : null;
  }

  function placeOf(td, key) {
    var source = td.hasAttribute("data-cell") ? td : td.querySelector("[data-cell]");
    if (source) {
      return message("commentPlace", { sheet: source.getAttribute("data-sheet"), cell: source.getAttribute("data-cell") });
    }
    return key;
  }

  function addCellComment(form, key, place, text) {
    var list = form.querySelector(".cell-comment-items");
    Array.prototype.forEach.call(list.querySelectorAll("li"), function (li) {
      if (li.getAttribute("data-key") === key) li.parentNode.removeChild(li);
    });
    if (!text) return;
    var item = document.createElement("li");
    item.setAttribute("data-key", key);
    item.appendChild(document.createTextNode(place + ": " + text + " "));
    var hiddenKey = document.createElement("input");
    hiddenKey.type = "hidden";
    hiddenKey.name = "cell_key";
    hiddenKey.value = key;
    var hiddenText = document.createElement("input");
    hiddenText.type = "hidden";
    hiddenText.name = "cell_text";
    hiddenText.value = text;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-link btn-xs";
    remove.textContent = message("commentRemove");
    remove.addEventListener("click", function () { item.parentNode.removeChild(item); });
    item.appendChild(hiddenKey);
    item.appendChild(hiddenText);
    item.appendChild(remove);
    list.appendChild(item);
  }

  function existingComment(form, key) {
    var found = "";
    Array.prototype.forEach.call(form.querySelectorAll(".cell-comment-items li"), function (li) {
      if (li.getAttribute("data-key") === key) found = li.querySelector('input[name="cell_text"]').value;
    });
    return found;
  }

  var commentBox = null;
  function closeCommentBox() {
    if (commentBox && commentBox.parentNode) commentBox.parentNode.removeChild(commentBox);
    commentBox = null;
  }

  function openCommentBox(td, key) {
    var form = commentForm();
    if (!form) return;
    var details = form.closest("details");
    if (details) details.open = true;
    closeCommentBox();
    var place = placeOf(td, key);
    commentBox = document.createElement("div");
    commentBox.className = "cell-comment-box";
    var label = document.createElement("label");
    label.textContent = message("commentFor", { place: place });
    var area = document.createElement("textarea");
    area.className = "form-control";
    area.rows = 3;
    area.value = existingComment(form, key);
    label.appendChild(area);
    var ok = document.createElement("button");
    ok.type = "button";
    ok.className = "btn btn-warning btn-sm";
    ok.textContent = message("commentSave");
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-default btn-sm";
    cancel.textContent = message("commentCancel");
    ok.addEventListener("click", function () {
      addCellComment(form, key, place, area.value.trim());
      closeCommentBox();
    });
    cancel.addEventListener("click", closeCommentBox);
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") closeCommentBox();
    });
    commentBox.appendChild(label);
    commentBox.appendChild(ok);
    commentBox.appendChild(document.createTextNode(" "));
    commentBox.appendChild(cancel);
    var rect = td.getBoundingClientRect();
    commentBox.style.left = (window.pageXOffset + rect.left) + "px";
    commentBox.style.top = (window.pageYOffset + rect.bottom + 2) + "px";
    document.body.appendChild(commentBox);
    area.focus();
  }

  if (config.commenting) {
    root.classList.add("is-commenting");
    root.addEventListener("click", function (event) {
      if (event.target.closest(".cell-comment-box")) return;
      var td = event.target.closest("table.entry-table td");
      var key = null;
      if (td) {
        key = td.getAttribute("data-key");
        var input = td.querySelector(".entry-input[data-key]");
        if (!key && input) key = input.getAttribute("data-key");
      } else {
        var narrative = event.target.closest(".narrative-block");
        var area = narrative && narrative.querySelector("[data-key]");
        if (area) {
          td = narrative;
          key = area.getAttribute("data-key");
        }
      }
      if (key) openCommentBox(td, key);
    });
    // from the keyboard: Enter on a (read-only) cell opens the same box
    root.addEventListener("keydown", function (event) {
      var input = event.target;
      if (event.key !== "Enter" || !input.classList || !input.classList.contains("entry-input")) return;
      if (usable(input)) return;
      event.preventDefault();
      openCommentBox(holder(input), input.getAttribute("data-key"));
    });
  }

  window.ReportEntry = {
    parseNumber: parseNumber,
    formatNumber: formatNumber,
    recompute: recompute,
    save: save,
    validate: validate
  };
})(window, document, window.jQuery);

"""The body of a form grid as HTML, built in Python.

A 1,000-row form has about 12,000 cells; a Jinja macro per cell took most of the page's time.
This writes the same markup as the grid macro did (the entry page's JavaScript reads the same
classes and data attributes), with one escape per value and one join per table.
"""

from __future__ import annotations

from markupsafe import Markup, escape

NUMERIC = {"number", "integer", "decimal", "percent"}


def _span(cell) -> str:
    text = ""
    if cell.colspan > 1:
        text += f' colspan="{cell.colspan}"'
    if cell.rowspan > 1:
        text += f' rowspan="{cell.rowspan}"'
    return text


def _entry(c, out: list[str]) -> None:
    cell = c.cell
    key = escape(cell.key)
    value = escape(c.value or "")
    common = (
        f' data-key="{key}" data-sheet="{escape(cell.sheet)}" data-cell="{cell.cell}"'
        f' data-type="{cell.type}"'
        + (f' data-base="{value}"' if c.value else "")
        + f' aria-label="{escape(cell.sheet)}!{cell.cell}"'
        + (f' title="{escape(cell.help)}"' if cell.help else "")
    )
    locked = " cell-locked" if c.readonly else ""
    out.append(f'<td class="cell-entry type-{cell.type}{locked}"{_span(c)}>')
    if cell.type == "choice":
        out.append(f'<select class="entry-input"{common}{" disabled" if c.readonly else ""}>'
                   '<option value=""></option>')
        known = False
        for option_value, label in c.options:
            selected = option_value == c.value
            known = known or selected
            out.append(f'<option value="{escape(option_value)}"{" selected" if selected else ""}>'
                       f"{escape(label)}</option>")
        if c.value and not known:
            out.append(f'<option value="{value}" selected>{value}</option>')
        out.append("</select>")
    elif cell.type == "text":
        out.append(f'<textarea class="entry-input" rows="1"{common}'
                   f'{" readonly" if c.readonly else ""}>{value}</textarea>')
    else:
        extra = ' inputmode="decimal"' if cell.type in NUMERIC else ""
        if cell.decimals is not None:
            extra += f' data-decimals="{cell.decimals}"'
        if cell.type == "date":
            extra += ' placeholder="dd/mm/yyyy"'
        out.append(f'<input class="entry-input" type="text" autocomplete="off"{extra}{common}'
                   f' value="{value}"{" readonly" if c.readonly else ""}>')
    out.append("</td>")


def table_body_html(rows) -> Markup:
    """The <tbody> rows of one grid table (GridRow objects of app.views.entry)."""
    out: list[str] = []
    for row in rows:
        out.append(f'<tr class="row-{row.kind}" data-row="{escape(row.number)}"'
                   f'{" hidden" if row.hidden else ""}>')
        for c in row.cells:
            kind = c.kind
            if kind == "entry":
                _entry(c, out)
            elif kind == "computed":
                cell = c.cell
                out.append(
                    f'<td class="cell-computed" data-key="{escape(cell.key)}"'
                    f' data-sheet="{escape(cell.sheet)}" data-cell="{cell.cell}"'
                    f' title="= {escape(cell.formula)}"{_span(c)}>'
                    f'<output class="computed-value">{escape(c.text)}</output></td>'
                )
            elif kind == "fixed":
                out.append(f'<td class="cell-fixed" data-sheet="{escape(c.cell.sheet)}"'
                           f' data-cell="{c.cell.cell}"{_span(c)}>{escape(c.text)}</td>')
            elif kind == "label":
                bold = " is-bold" if c.bold else ""
                out.append(f'<td class="cell-label level-{c.level}{bold}"{_span(c)}'
                           f' style="padding-left:{6 + 16 * c.level}px">{escape(c.text)}</td>')
            elif kind in ("stt", "unit"):
                out.append(f'<td class="cell-{kind}"{_span(c)}>{escape(c.text)}</td>')
            else:
                out.append(f'<td class="cell-blank"{_span(c)}>{escape(c.text)}</td>')
        out.append("</tr>")
    return Markup("".join(out))

"""The HTML report of ``seglosses evaluate --plots``: ``index.html`` beside the figures.

One self-contained file: styles and the sorting script are inline, the figures are the PNGs beside it, referred
to by relative paths, so it opens from the file system with no server and no network. It holds the settings,
the summary table (mean ± std per metric), the summary plots and every case's figures with its row of
metrics, worst cases first, sortable by any column (click a header; ``index.html#sort=dice&dir=asc`` opens it
sorted).
"""

from __future__ import annotations

import html
import math
from datetime import datetime
from pathlib import Path

import numpy as np

from seglosses._plots import higher_is_better, metric_label

__all__ = ["write_report"]

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
table { border-collapse: collapse; } td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f3f3f3; position: sticky; top: 0; } td.name, th.name { text-align: left; }
#cases th[data-key] { cursor: pointer; user-select: none; } #cases th[data-key]:hover { background: #e4e4e4; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
tr.failed td { background: #fde8e8; } td.error { text-align: left; color: #a00; max-width: 28em; }
img.case { max-width: 420px; max-height: 420px; border: 1px solid #ccc; } img.summary { max-width: 100%; }
.muted { color: #666; } dl { display: grid; grid-template-columns: max-content auto; gap: 0 12px; margin: 0; }
dt { color: #666; } dd { margin: 0; }
"""

_SCRIPT = """
(function () {
  var table = document.getElementById("cases"), body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function value(row, i) {
    var v = row.cells[i].getAttribute("data-v");
    return v === null || v === "" ? NaN : parseFloat(v);
  }
  function sortBy(i, dir) {
    var rows = Array.prototype.slice.call(body.rows), text = heads[i].getAttribute("data-type") === "text";
    rows.sort(function (a, b) {
      if (text) return dir * a.cells[i].textContent.localeCompare(b.cells[i].textContent);
      var x = value(a, i), y = value(b, i);
      if (isNaN(x) && isNaN(y)) return 0;
      if (isNaN(x)) return 1;   // no value (failed case, NaN): last either way
      if (isNaN(y)) return -1;
      return dir * (x - y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    heads[i].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    table.setAttribute("data-sorted-by", heads[i].getAttribute("data-key"));
    table.setAttribute("data-sort-dir", dir > 0 ? "asc" : "desc");
  }
  heads.forEach(function (h, i) {
    if (!h.getAttribute("data-key")) return;
    h.addEventListener("click", function () {
      var now = h.getAttribute("aria-sort");
      // First click: worst first (low scores, high errors); then it flips.
      var dir = now === "ascending" ? -1 : now === "descending" ? 1 : h.getAttribute("data-better") === "higher" ? 1 : -1;
      sortBy(i, dir);
      try { history.replaceState(null, "", "#sort=" + h.getAttribute("data-key") + "&dir=" + (dir > 0 ? "asc" : "desc")); }
      catch (e) {}
    });
  });
  var params = {};
  location.hash.slice(1).split("&").forEach(function (p) {
    var kv = p.split("=");
    params[kv[0]] = decodeURIComponent(kv[1] || "");
  });
  if (params.sort) {
    var i = heads.findIndex(function (h) { return h.getAttribute("data-key") === params.sort; });
    if (i >= 0) sortBy(i, params.dir === "asc" ? 1 : -1);
  }
  table.setAttribute("data-ready", "1");
})();
"""


def _number(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _worst_key(columns: list[str]) -> str | None:
    """The column that orders cases worst first by default: the Betti matching error, else the first metric."""
    for name in ("betti_matching_error", "dice"):
        for column in columns:  # label maps: the first class's
            if column == name or column.endswith("_" + name) and column.startswith("class"):
                return column
    return columns[0] if columns else None


def write_report(folder: Path, rows: list[dict], columns: list[str], settings: dict[str, str]) -> Path:
    """Write ``folder/index.html`` for the evaluated ``rows``, whose ``"figures"`` name their PNGs in ``folder``;
    its path."""
    folder = Path(folder)
    ok = [r for r in rows if r["status"] == "ok"]
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>seglosses evaluate: {len(rows)} cases</title><style>{_STYLE}</style></head><body>",
        "<h1>seglosses evaluate</h1>",
        f'<p class="muted">{len(ok)} of {len(rows)} cases evaluated'
        + (f", {len(rows) - len(ok)} failed" if len(rows) > len(ok) else "")
        + f"; written {datetime.now():%Y-%m-%d %H:%M}</p><dl>",
        *(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in settings.items()),
        "</dl>",
        "<h2>Summary</h2>",
        '<table id="summary"><thead><tr><th class="name">metric</th><th>mean ± std</th><th>median</th><th>min</th>'
        "<th>max</th><th>n</th><th class=\"name\">better</th></tr></thead><tbody>",
    ]
    for column in columns:
        values = np.array([r[column] for r in ok if column in r], dtype=np.float64)
        values = values[~np.isnan(values)]
        better = "higher" if higher_is_better(column) else "lower"
        if len(values):
            cells = [f"{values.mean():.4g} ± {values.std():.3g}", f"{np.median(values):.4g}", f"{values.min():.4g}",
                     f"{values.max():.4g}"]
        else:
            cells = ["no value"] + [""] * 3
        parts.append(f'<tr><td class="name">{esc(metric_label(column))}</td>'
                     + "".join(f"<td>{c}</td>" for c in cells) + f'<td>{len(values)}</td><td class="name">{better}</td></tr>')
    parts.append("</tbody></table>")
    if (folder / "summary.png").is_file():
        parts.append('<h2>Distributions</h2><img class="summary" src="summary.png" alt="histogram of every metric">')

    # Cases, worst first: failed cases, then by the default key (high errors first, low scores first).
    key = _worst_key(columns)

    def badness(row: dict) -> tuple:
        if row["status"] != "ok":
            return (0, 0.0)
        value = row.get(key, math.nan) if key else math.nan
        if isinstance(value, float) and math.isnan(value):
            return (2, 0.0)
        return (1, value if key and higher_is_better(key) else -value)

    ordered = sorted(rows, key=badness)
    parts.append(f"<h2>Cases</h2><p class=\"muted\">Worst first by {esc(metric_label(key)) if key else 'name'}; "
                 "click a header to sort by it (first click: worst first). Figures: white where prediction and "
                 "target agree, red prediction only, blue target only; unmatched topological features ringed "
                 "yellow (prediction) or cyan (target).</p>")
    header = ['<th class="name" data-key="case" data-type="text">case</th>']
    header += [f'<th data-key="{esc(c)}" data-better="{"higher" if higher_is_better(c) else "lower"}">'
               f"{esc(metric_label(c))}</th>" for c in columns]
    header += ['<th class="name">note</th>', '<th class="name">figures</th>']
    sorted_attr = f' data-sorted-by="{esc(key)}" data-sort-dir="{"asc" if higher_is_better(key) else "desc"}"' if key else ""
    parts.append(f'<table id="cases"{sorted_attr}><thead><tr>{"".join(header)}</tr></thead><tbody>')
    for row in ordered:
        case = str(row["case"])
        failed = row["status"] != "ok"
        cells = [f'<td class="name">{esc(case)}</td>']
        for column in columns:
            value = None if failed else row.get(column)
            shown = _number(value)
            cells.append(f'<td data-v="{repr(float(value)) if shown and value is not None else ""}">{shown}</td>')
        figures = []
        for name in row.get("figures", []):  # the figures of this run, not those an earlier run left there
            what = "persistence diagrams" if name.endswith("_diagram.png") else "agreement map"
            src = esc(name)
            figures.append(f'<a href="{src}"><img class="case" src="{src}" loading="lazy" alt="{esc(case)}: {what}"></a>')
        cells.append(f'<td class="error">{esc("failed: " + str(row["error"])) if failed else ""}</td>')
        cells.append(f'<td class="name">{"".join(figures)}</td>')
        css = ' class="failed"' if failed else ""
        parts.append(f'<tr{css} data-case="{esc(case)}">{"".join(cells)}</tr>')
    parts.append(f"</tbody></table><script>{_SCRIPT}</script></body></html>")
    path = folder / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path

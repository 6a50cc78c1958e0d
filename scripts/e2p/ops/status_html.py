"""`e2p status --html FILE`: the account x region coverage map as one self-contained page.

For a security lead who would rather look than read: one row per account (its OU beside it), one
column per region, each cell coloured by its state. No network, no external asset: the style and
the few lines of sorting script are inline, every text is HTML-escaped.

Cell states, worst first:
- missing: no healthy stack instance (the StackSet status, or MISSING, is in the cell's title);
- silent: deployed, but no heartbeat for more than 45 minutes;
- not forwarded: an opt-in region the account enabled that no configured region covers;
- deployed, not heard: deployed, no heartbeat recorded yet (heartbeats off, or just deployed);
- forwarding: deployed and heard recently;
- empty: not a configured region of that account.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from e2p.ops.status import StatusReport

MISSING: Final = "missing"
SILENT: Final = "silent"
NOT_FORWARDED: Final = "not-forwarded"
UNHEARD: Final = "unheard"
FORWARDING: Final = "forwarding"
EMPTY: Final = "empty"

LABELS: Final = {
    MISSING: "no healthy stack instance",
    SILENT: "silent (no heartbeat for 45 min)",
    NOT_FORWARDED: "region enabled, not forwarded",
    UNHEARD: "deployed, not heard yet",
    FORWARDING: "forwarding",
    EMPTY: "not configured",
}
COLOURS: Final = {
    MISSING: "#c62828",
    SILENT: "#ef6c00",
    NOT_FORWARDED: "#6a1b9a",
    UNHEARD: "#f9a825",
    FORWARDING: "#2e7d32",
    EMPTY: "#eeeeee",
}


@dataclass(frozen=True, slots=True)
class Cell:
    state: str
    detail: str


@dataclass(frozen=True, slots=True)
class MapRow:
    account_id: str
    name: str
    ou: str
    cells: dict[str, Cell]


def coverage_map(report: StatusReport, management_id: str = "") -> tuple[list[str], list[MapRow]]:
    """(regions, rows): the states the page colours, from what `e2p status` read."""
    now = report.generated_at
    heard = {(h.account_id, h.region): h for h in report.heard}
    rows: dict[str, MapRow] = {}

    def row(account_id: str, name: str, ou: str) -> MapRow:
        if account_id not in rows:
            rows[account_id] = MapRow(account_id, name, ou, {})
        return rows[account_id]

    def heard_cell(account_id: str, region: str) -> Cell:
        pair = heard.get((account_id, region))
        if pair is None or pair.last_seen is None:
            return Cell(UNHEARD, "deployed; no heartbeat recorded")
        age = pair.age_minutes(now)
        seen = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(pair.last_seen))
        state = SILENT if pair.state(now) == "silent" else FORWARDING
        return Cell(state, f"last heard {seen} ({age} min ago)")

    for cov in report.coverage.rows:
        target = row(cov.account_id, cov.account_name, report.account_ous.get(cov.account_id, ""))
        if not cov.healthy:
            reason = f"{cov.status}: {cov.reason}" if cov.reason else cov.status
            target.cells[cov.region] = Cell(MISSING, reason)
        else:
            target.cells[cov.region] = heard_cell(cov.account_id, cov.region)
    for stack in report.management:
        target = row(stack.account_id, "management account", "(management)")
        if not stack.healthy:
            target.cells[stack.region] = Cell(MISSING, f"{stack.status}: {stack.reason}")
        else:
            target.cells[stack.region] = heard_cell(stack.account_id, stack.region)
    for extra in report.uncovered_regions:
        account = extra["account_id"]
        target = row(account, extra.get("account_name", ""), report.account_ous.get(account, ""))
        target.cells[extra["region"]] = Cell(
            NOT_FORWARDED, "opt-in region enabled, outside the configured regions"
        )
    regions = sorted({region for r in rows.values() for region in r.cells})
    return regions, sorted(rows.values(), key=lambda r: (r.ou, r.name, r.account_id))


def _counts(rows: Iterable[MapRow]) -> dict[str, int]:
    counts = dict.fromkeys(LABELS, 0)
    for r in rows:
        for cell in r.cells.values():
            counts[cell.state] += 1
    return counts


STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #212121; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
p.meta { color: #616161; margin: 0 0 1rem; }
table.map { border-collapse: collapse; font-size: .85rem; }
table.map th, table.map td { border: 1px solid #fff; padding: .25rem .45rem; }
table.map thead th { background: #37474f; color: #fff; position: sticky; top: 0; cursor: pointer; }
table.map td.cell { min-width: 2.2rem; text-align: center; color: #fff; }
table.map td.name { white-space: nowrap; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1rem; }
ul.legend span { display: inline-block; width: .9rem; height: .9rem; margin-right: .3rem;
  vertical-align: middle; }
"""

# Sort the body rows by the clicked column (text), toggling the direction.
SCRIPT: Final = """
document.querySelectorAll('table.map thead th[data-key]').forEach(function (th) {
  th.addEventListener('click', function () {
    var body = document.querySelector('table.map tbody');
    var key = th.getAttribute('data-key');
    var up = th.getAttribute('data-up') !== 'true';
    th.setAttribute('data-up', up ? 'true' : 'false');
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = a.getAttribute('data-' + key) || '', y = b.getAttribute('data-' + key) || '';
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def render_html(report: StatusReport, title: str = "Events2Panther coverage") -> str:
    regions, rows = coverage_map(report)
    esc = html.escape
    counts = _counts(rows)
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.generated_at))
    head = "".join(f'<th title="{esc(r)}">{esc(r)}</th>' for r in regions)
    body = []
    for r in rows:
        cells = []
        for region in regions:
            cell = r.cells.get(region, Cell(EMPTY, "not a configured region"))
            tip = f"{r.name or r.account_id} / {region}: {LABELS[cell.state]}; {cell.detail}"
            mark = "" if cell.state == EMPTY else "&#9679;"
            cells.append(
                f'<td class="cell {cell.state}" style="background:{COLOURS[cell.state]}" '
                f'title="{esc(tip)}" data-state="{cell.state}">{mark}</td>'
            )
        body.append(
            f'<tr data-ou="{esc(r.ou)}" data-account="{esc(r.name)}" data-id="{esc(r.account_id)}">'
            f'<td class="name">{esc(r.ou)}</td><td class="name">{esc(r.name)}</td>'
            f'<td class="name">{esc(r.account_id)}</td>{"".join(cells)}</tr>'
        )
    legend = "".join(
        f'<li><span style="background:{COLOURS[state]}"></span>{esc(label)}: {counts[state]}</li>'
        for state, label in LABELS.items()
        if state != EMPTY
    )
    problems = "; ".join(report.problems()) or "healthy"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="meta">Generated {esc(generated)} by e2p status. {esc(problems)}. '
        "Click a column header to sort (OU, account, id).</p>"
        f'<ul class="legend">{legend}</ul>'
        '<table class="map"><thead><tr><th data-key="ou">OU</th><th data-key="account">account</th>'
        f'<th data-key="id">id</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )

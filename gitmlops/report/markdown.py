"""Render a :class:`Report` as GitHub-flavoured Markdown.

Everything taken from data (keys, values, paths, column names, tag authors) goes through
:func:`escape`, so a column named ``a|b`` cannot break a table and a value like ``@team`` or
``<img src=x>`` cannot ping anyone or inject HTML. Numbers go through :func:`number` so every
section rounds the same way. Tables longer than :data:`COLLAPSE_ROWS` rows fold into ``<details>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gitmlops.markdown import escape as escape_markdown
from gitmlops.report.charts import drift_chart, metric_chart
from gitmlops.report.links import markdown_link
from gitmlops.report.model import MetricChange, Report, Section

COLLAPSE_ROWS = 10
MAX_CELL = 200
DIRECTION_MARK = {"up": "↑ higher", "down": "↓ lower"}
VERDICT_MARK = {"better": "🟢 better", "worse": "🔴 worse", "same": "same"}
VERDICT_ICON = {"drift": "🔴 drift", "possible_drift": "🟡 possible drift", "no_drift": "🟢 no drift"}


def escape(value: Any, limit: int = MAX_CELL) -> str:
    """Text safe inside a Markdown table cell (:func:`gitmlops.markdown.escape`), cut to ``limit``."""
    return escape_markdown(value, limit)


def number(value: Any) -> str:
    """One rounding rule for the whole report: 4 significant digits, no float noise."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        if abs(value) >= 1e6 or abs(value) < 1e-4:
            return f"{value:.3e}"
        return f"{value:.4g}" if abs(value) >= 1 else f"{value:.4f}".rstrip("0").rstrip(".")
    return escape(value)


def signed(value: float | None, percent: bool = False) -> str:
    """A delta with its sign (``+0.0123``, ``-4.5%``); ``–`` when unknown."""
    if value is None:
        return "–"
    if percent:
        return f"{value * 100:+.1f}%"
    text = number(value)
    return text if text.startswith("-") or value == 0 else f"+{text}"


def cell(value: Any) -> str:
    """A table cell for any value: numbers rounded, text escaped, containers as compact text."""
    if value is None or isinstance(value, (bool, int, float)):
        return number(value)
    if isinstance(value, (list, dict)):
        import json

        return escape(json.dumps(value, sort_keys=True, default=str))
    return escape(value)


def size(value: int | None) -> str:
    """A byte count, human-readable."""
    if value is None:
        return "–"
    size_f = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size_f) < 1024 or unit == "GB":
            return f"{size_f:.0f} {unit}" if unit == "B" else f"{size_f:.1f} {unit}"
        size_f /= 1024
    return f"{size_f:.1f} TB"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (cells must already be escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fold(title: str, body: str, rows: int, lead: str = "") -> str:
    """``body`` under a ``###`` heading, inside ``<details>`` when it has more than COLLAPSE_ROWS rows;
    ``lead`` (a chart) stays in sight above it."""
    head = f"### {title}\n\n" + (f"{lead}\n\n" if lead else "")
    if rows > COLLAPSE_ROWS:
        return f"{head}<details><summary>{rows} rows</summary>\n\n{body}\n\n</details>"
    return f"{head}{body}"


def _params(report: Report) -> str:
    if not report.params:
        return "### Params\n\nNo parameter changed."
    rows = [[escape(p.key), p.status, cell(p.base), cell(p.current)] for p in report.params]
    return fold(f"Params ({len(rows)} changed)", table(["key", "change", "base", "now"], rows), len(rows))


def metrics_table(metrics: Sequence[MetricChange]) -> str:
    """The metrics table: each metric's better direction, base, now, deltas and whether it improved."""
    rows = [[escape(m.key), DIRECTION_MARK.get(m.direction or "", "–"), cell(m.base), cell(m.current),
             signed(m.delta), signed(m.relative, percent=True), VERDICT_MARK.get(m.verdict or "", "–")]
            for m in metrics]
    return table(["metric", "better", "base", "now", "Δ", "Δ %", "change"], rows)


def _metrics(report: Report) -> str:
    title = f"Metrics (`{escape(report.metrics_path)}`)"
    if not report.metrics:
        return f"### {title}\n\nNo metrics at the base or now."
    chart = metric_chart(report.metrics) if report.settings.charts else None
    return fold(title, metrics_table(report.metrics), len(report.metrics), chart.to_mermaid() if chart else "")


def _data(report: Report) -> str:
    if not report.data:
        return "### Data\n\nNo DVC-tracked data, stage input or output changed."
    rows = []
    for d in report.data:
        files = "–" if d.base_files is None and d.current_files is None else f"{number(d.base_files)} → {number(d.current_files)}"
        rows.append([escape(d.path), d.kind, d.status, f"{size(d.base_size)} → {size(d.current_size)}", files,
                     number(d.rows)])
    return fold(f"Data ({len(rows)} changed)", table(["path", "kind", "change", "size", "files", "rows"], rows), len(rows))


def _unavailable(title: str, section: Section) -> str:
    return f"### {title}\n\n_{escape(section.reason or 'unavailable')}_"


def _drift(report: Report) -> str:
    section = report.drift
    if not section.available:
        return _unavailable("Drift", section)
    if not section.items:
        return f"### Drift\n\n{escape(section.reason or 'nothing to compare')}"
    rows = [[escape(i["target"]), VERDICT_ICON.get(i["verdict"], escape(i["verdict"])),
             f"{i['drifted']} drift, {i['possible']} possible / {i['compared']}", number(i.get("rows"))]
            for i in section.items]
    headers = ["new data", "verdict", "columns", "rows"]
    if any(i.get("page") for i in section.items):
        # The site has the page once this pull request is merged and the pages workflow ran.
        headers.append("full report")
        for row, item in zip(rows, section.items, strict=True):
            row.append(markdown_link("on the site", item["page"]) + " (after merge)" if item.get("page") else "–")
    body = table(headers, rows)
    if report.settings.charts:
        charts = [drift_chart(i["target"], i.get("effects") or [], i.get("threshold")) for i in section.items]
        body = "\n\n".join([c.to_mermaid() for c in charts if c is not None] + [body])
    if section.markdown:
        # The monitor's own report is rendered (and escaped) by gitmlops.monitor; keep it folded.
        body += f"\n\n<details><summary>Column details</summary>\n\n{section.markdown}\n\n</details>"
    return f"### Drift: {VERDICT_ICON.get(section.verdict or '', '')}\n\n{body}"


def _registry(report: Report) -> str:
    section = report.registry
    if not section.available:
        return _unavailable("Registry", section)
    lead = _base_versions(section)
    if not section.items:
        return "\n\n".join(["### Registry", *([lead] if lead else []),
                             "No registry events on this pull request's commits."])
    rows = [[cell(e.get("created_at")), escape(e.get("name") or ""), escape(e.get("event") or ""),
             _version(e), cell(e.get("stage")), f"`{escape(str(e.get('commit') or '')[:7])}`",
             cell(e.get("author"))] for e in section.items]
    return fold(f"Registry ({len(rows)} event(s) on this pull request's commits)",
                table(["when", "artifact", "event", "version", "stage", "commit", "by"], rows), len(rows), lead)


def _version(entry: dict[str, Any]) -> str:
    text = cell(entry.get("version"))
    return markdown_link(text, entry["page"]) if entry.get("page") else text


def _base_versions(section: Section) -> str:
    """One line naming the versions the base already had, each linked to its page on the site."""
    if not section.base_versions:
        return ""
    names = [f"{escape(v['name'])} {_version(v)}" for v in section.base_versions]
    return "Registered at the base: " + ", ".join(names) + "."


def _model(model: Any) -> str:
    """One model's section: why it is here, its params and metrics (a ModelReport)."""
    from typing import cast

    body = [_params(cast(Report, model)), _metrics(cast(Report, model))]
    inner = "\n\n".join(part.replace("### ", "#### ", 1) for part in body)
    return f"### Model `{escape(model.name)}` ({escape('; '.join(model.reasons))})\n\n{inner}"


def summary(report: Report) -> str:
    """One line a reviewer reads first."""
    params = report.params + [p for model in report.models for p in model.params]
    parts = [f"{len(params)} param(s) changed"]
    moved = [m for m in report.metrics + [m for model in report.models for m in model.metrics] if m.changed]
    if report.models:
        parts.insert(0, f"model(s) {', '.join(escape(m.name) for m in report.models)}")
    if moved:
        first = moved[0]
        better = sum(m.verdict == "better" for m in moved)
        worse = sum(m.verdict == "worse" for m in moved)
        judged = f"; {better} better, {worse} worse" if better or worse else ""
        parts.append(f"{len(moved)} metric(s) moved ({escape(first.key)} {signed(first.delta)}{judged})")
    else:
        parts.append("metrics unchanged")
    parts.append(f"{len(report.data)} data change(s)")
    if report.drift.available and report.drift.verdict:
        parts.append(VERDICT_ICON.get(report.drift.verdict, escape(report.drift.verdict)))
    if report.registry.available and report.registry.items:
        parts.append(f"{len(report.registry.items)} registry event(s)")
    return " · ".join(parts)


def render(report: Report) -> str:
    """The whole report as Markdown."""
    head = report.head_sha[:7] if report.head_sha else "(no commit)"
    dirty = " + uncommitted changes" if report.dirty else ""
    header = (f"## gitmlops report\n\nBase `{report.base_sha[:7]}` ({escape(report.base_rev)}) → "
              f"`{head}`{dirty}\n\n**{summary(report)}**")
    sections = [header, _params(report), _metrics(report), _data(report), _drift(report), _registry(report)]
    if report.models:  # several models: each model's params and metrics instead of the root's
        sections[1:3] = [_model(model) for model in report.models]
    return "\n\n".join(sections) + "\n"

"""The drift report as one standalone HTML file: inline CSS and SVG, no scripts, no network assets.

Per column, the reference and target distributions are drawn over each other (a histogram from the
KLL sketches, or bars of category shares) beside the verdict and the numbers. All data-derived text
goes through :func:`html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from gitmlops.monitor.drift import DRIFT, NO_DRIFT, POSSIBLE, ColumnDrift, DriftReport

W, H, PAD = 420, 170, 28
REF_COLOR, TGT_COLOR = "#7f8c9a", "#d9480f"
BADGE = {DRIFT: ("DRIFT", "#c92a2a"), POSSIBLE: ("POSSIBLE DRIFT", "#e67700"), NO_DRIFT: ("NO DRIFT", "#2b8a3e")}
SKIPPED = ("SKIPPED", "#868e96")  # a column left out of the comparison is not evidence of no drift
SHARE_W = 84  # room right of the bars for "100%→100%" at the SVG's font size

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#212529;background:#f8f9fa}
h1{font-size:1.4rem;margin:0 0 .3rem} .sub{color:#495057;margin:0 0 1.2rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:1rem}
.card{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:.8rem 1rem}
.card h2{font-size:1rem;margin:0 0 .4rem;word-break:break-all}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:.1rem .45rem;font-size:.75rem;font-weight:600}
.why{font-size:.85rem;color:#495057;margin:.3rem 0}
table.n{font-size:.8rem;border-collapse:collapse} table.n td{padding:.1rem .6rem .1rem 0}
.legend{font-size:.75rem;color:#495057} .sw{display:inline-block;width:10px;height:10px;margin:0 .25rem 0 .6rem}
svg text{font-size:10px;fill:#495057}
table.summary{border-collapse:collapse;margin:0 0 1.2rem;font-size:.85rem;background:#fff}
table.summary th,table.summary td{border:1px solid #dee2e6;padding:.2rem .6rem;text-align:left}
"""


def _badge(col: ColumnDrift) -> tuple[str, str]:
    return SKIPPED if col.rule == "skipped" else BADGE[col.category]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _histogram_svg(chart: dict[str, Any]) -> str:
    ref, tgt = chart["reference"], chart["target"]
    bins = len(ref)
    top = max([*ref, *tgt, 1e-12])
    width = (W - 2 * PAD) / bins
    parts = []
    for series, color, opacity in ((ref, REF_COLOR, 0.55), (tgt, TGT_COLOR, 0.45)):
        for i, share in enumerate(series):
            height = (H - 2 * PAD) * share / top
            parts.append(
                f'<rect x="{PAD + i * width:.1f}" y="{H - PAD - height:.1f}" width="{max(width - 1, 1):.1f}" '
                f'height="{height:.1f}" fill="{color}" fill-opacity="{opacity}"/>'
            )
    edges = chart["edges"]
    parts.append(f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#adb5bd"/>')
    parts.append(f'<text x="{PAD}" y="{H - PAD + 14}">{escape(_num(edges[0]))}</text>')
    parts.append(f'<text x="{W - PAD}" y="{H - PAD + 14}" text-anchor="end">{escape(_num(edges[-1]))}</text>')
    parts.append(f'<text x="{PAD}" y="{PAD - 8}">max share {top:.3g}</text>')
    return _svg("".join(parts), "histogram of reference and target values")


def _bars_svg(chart: dict[str, Any]) -> str:
    cats, ref, tgt = chart["categories"], chart["reference"], chart["target"]
    row = 16
    height = max(len(cats) * row + 20, 40)
    label_w = 130
    span = W - label_w - SHARE_W
    top = max([*ref, *tgt, 1e-12])
    parts = []
    for i, cat in enumerate(cats):
        y = 10 + i * row
        label = cat if len(cat) <= 20 else cat[:19] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 10}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{span * ref[i] / top:.1f}" height="6" fill="{REF_COLOR}"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 7}" width="{span * tgt[i] / top:.1f}" height="6" fill="{TGT_COLOR}"/>')
        parts.append(f'<text x="{W - 2}" y="{y + 10}" text-anchor="end">{ref[i]:.0%}→{tgt[i]:.0%}</text>')
    return _svg("".join(parts), "category shares of reference and target", height)


def _svg(body: str, label: str, height: int = H) -> str:
    return (f'<svg width="{W}" height="{height}" '
            f'viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}">{body}</svg>')


def _card(index: int, col: ColumnDrift) -> str:
    text, color = _badge(col)
    chart = ""
    if col.chart and col.chart["type"] == "histogram":
        chart = _histogram_svg(col.chart)
    elif col.chart and col.chart["type"] == "bars":
        chart = _bars_svg(col.chart)
    rows = [
        ("kind", col.kind),
        ("decided by", col.rule),
        (col.effect_size or "effect size", _num(col.effect)),
        ("Hellinger", _num(col.hellinger)),
        (f"{col.test or 'test'} statistic", _num(col.statistic)),
        ("p-value", _num(col.p_value)),
        ("null fraction", f"{_num(col.reference_null_fraction)} → {_num(col.target_null_fraction)}"),
        ("rows", f"{col.reference_rows} → {col.target_rows}"),
    ]
    table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return (
        f'<section class="card" id="col-{index}"><h2>{escape(col.column)} '
        f'<span class="badge" style="background:{color}">{text}</span></h2>'
        f'<p class="why">{escape(col.reason)}</p>{chart}<table class="n">{table}</table></section>'
    )


def render_html(report: DriftReport, title: str = "Data drift") -> str:
    """The report as a standalone HTML document (opens offline in any browser)."""
    text, color = BADGE[report.verdict]
    summary = (
        f"{report.drifted} of {report.compared} columns drifted ({report.drift_share:.0%}), "
        f"{report.possible} possibly; dataset drift at {report.config['dataset_drift_share']:.0%}."
    )
    schema = ""
    if report.removed:
        schema += f"<p>Missing from the target: {escape(', '.join(report.removed))}</p>"
    if report.added:
        schema += f"<p>New in the target: {escape(', '.join(report.added))}</p>"
    cards = "\n".join(_card(i, c) for i, c in enumerate(report.columns))
    overview = "".join(
        f'<tr><td><a href="#col-{i}">{escape(c.column)}</a></td><td>{_badge(c)[0].lower()}</td>'
        f"<td>{escape(c.effect_size or c.rule or '–')}</td><td>{escape(_num(c.effect))}</td></tr>"
        for i, c in enumerate(report.columns)
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<link rel="icon" href="data:,">'  # no favicon request: a standalone page loads nothing
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
        f'<h1>{escape(title)} <span class="badge" style="background:{color}">{text}</span></h1>\n'
        f'<p class="sub">reference <code>{escape(report.reference)}</code> vs target '
        f"<code>{escape(report.target)}</code>. {escape(summary)}</p>{schema}\n"
        '<table class="summary"><thead><tr><th>column</th><th>result</th><th>decided by</th>'
        f"<th>effect</th></tr></thead><tbody>{overview}</tbody></table>\n"
        f'<p class="legend"><span class="sw" style="background:{REF_COLOR}"></span>reference'
        f'<span class="sw" style="background:{TGT_COLOR}"></span>target</p>\n'
        f'<div class="grid">\n{cards}\n</div>\n</body></html>\n'
    )

"""The drift report as Markdown: a compact table, drifted columns first, fit for a PR comment.

Every text that comes from data (column names, labels) is escaped, so a column called
``<script>``, ``a|b`` or ``@org/team`` renders as itself: it cannot break the table or ping anyone;
no HTML tags are emitted.
"""

from __future__ import annotations

from typing import Any

from gitmlops.markdown import escape as escape_markdown
from gitmlops.monitor.drift import DRIFT, NO_DRIFT, POSSIBLE, ColumnDrift, DriftReport

LABELS = {DRIFT: "DRIFT", POSSIBLE: "possible", NO_DRIFT: "no drift"}
VERDICTS = {DRIFT: "**DRIFT**", POSSIBLE: "**possible drift**", NO_DRIFT: "no drift"}


def escape(text: Any) -> str:
    """Text from data safe in the drift table (:func:`gitmlops.markdown.escape`)."""
    return escape_markdown(text)


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value != 0 and abs(value) < 10 ** -(digits):
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


def _nulls(col: ColumnDrift) -> str:
    ref, tgt = col.reference_null_fraction, col.target_null_fraction
    if ref is None or tgt is None:
        return _num(ref if tgt is None else tgt)
    if abs(ref - tgt) < 5e-4:
        return _num(tgt)
    return f"{_num(ref)} → {_num(tgt)}"


def _test(col: ColumnDrift) -> str:
    if col.test is None:
        return "–"
    return f"{col.test} {_num(col.statistic)}, p={_num(col.p_value)}"


def render_markdown(report: DriftReport, title: str = "Data drift", max_rows: int = 50) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [
        f"### {escape(title)}: {VERDICTS[report.verdict]}",
        "",
        f"Reference {escape(report.reference)} vs target {escape(report.target)}: "
        f"{report.drifted} of {report.compared} columns drifted ({report.drift_share:.0%}), "
        f"{report.possible} possibly; dataset drift at {report.config['dataset_drift_share']:.0%}.",
    ]
    if report.removed:
        lines.append(f"Columns missing from the target: {', '.join(escape(c) for c in report.removed)}.")
    if report.added:
        lines.append(f"Columns new in the target: {', '.join(escape(c) for c in report.added)}.")
    unseen = [f"{escape(c.column)} {c.target_unseen} of {c.target_rows}" for c in report.columns if c.target_unseen]
    if unseen:
        lines.append(f"Values unseen in training, scored as missing: {', '.join(unseen)}.")
    lines += [
        "",
        "| column | result | decided by | effect size | Hellinger | test | nulls | rows (ref → target) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col in report.columns[:max_rows]:
        effect = f"`{col.effect_size}` {_num(col.effect)}" if col.effect_size else "–"
        lines.append(
            f"| {escape(col.column)} | {LABELS[col.category]} | `{col.rule}` | {effect} | "
            f"{_num(col.hellinger)} | {escape(_test(col))} | {_nulls(col)} | "
            f"{col.reference_rows} → {col.target_rows} |"
        )
    hidden = len(report.columns) - max_rows
    if hidden > 0:
        lines.append(f"\n{hidden} more columns without drift not shown (use --format json for all).")
    lines += [
        "",
        "Decided on effect sizes from the profiles' sketches (Wasserstein in reference standard deviations "
        "for numbers, Jensen-Shannon for categories); p-values decide only below "
        f"{report.config['small_sample_rows']} rows.",
    ]
    return "\n".join(lines) + "\n"

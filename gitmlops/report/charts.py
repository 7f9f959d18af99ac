"""Mermaid ``xychart-beta`` blocks for the pull-request comment: GitHub draws them in a comment, so a
picture needs no hosted image. The tables stay beside them for the exact numbers.

Labels come from data (metric keys, column names), so :func:`label` keeps only letters, digits and
a few harmless signs: a quote would end a Mermaid string, ``%%`` starts a directive or a comment,
``#`` an entity, and a line break a new statement. Numbers are written in plain decimals (Mermaid's
grammar has no exponent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only: the relay of untrusted reports needs just the grammar below
    from gitmlops.report.collect import MetricChange

MAX_BARS = 12
MAX_LABEL = 32
#: Characters a label keeps; anything else becomes ``_``.
_UNSAFE = re.compile(r"[^\w .,:()+/=-]", re.UNICODE)
_STRING = r'"(?:[^"%#\n\\]|%(?!%))*"'
_NUMBER = r"-?\d+(?:\.\d+)?"
_NUMBERS = rf"\[\s*{_NUMBER}(?:\s*,\s*{_NUMBER})*\s*\]"
#: The statements :meth:`Chart.to_mermaid` writes, and nothing else.
_STATEMENTS = [re.compile(p) for p in (
    rf"title {_STRING}",
    rf"x-axis \[\s*{_STRING}(?:\s*,\s*{_STRING})*\s*\]",
    rf"y-axis {_STRING} {_NUMBER} --> {_NUMBER}",
    rf"(?:bar|line) {_NUMBERS}",
)]


def is_plain_chart(diagram: str) -> bool:
    """Whether ``diagram`` (a Mermaid block's body) is an ``xychart-beta`` made only of the statements
    this module writes: no directive, comment, click, link, style or other diagram type. The relay of
    untrusted reports renders only these and shows any other Mermaid block as text."""
    lines = [line.strip() for line in diagram.strip().splitlines()]
    if not lines or lines[0] != "xychart-beta" or len(lines) > 12:
        return False
    return all(any(p.fullmatch(line) for p in _STATEMENTS) for line in lines[1:])


def label(value: Any, limit: int = MAX_LABEL) -> str:
    """``value`` as the text of a Mermaid string: one line, no quote, directive, comment or entity."""
    text = re.sub(r"\s+", " ", str(value)).strip()
    text = _UNSAFE.sub("_", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or "(empty)"


def decimal(value: float) -> str:
    """A finite number as Mermaid reads it: plain decimal, at most 4 decimals, no exponent."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True)
class Chart:
    """One ``xychart-beta``: categories on x, a bar series and optionally a line series (a threshold)."""

    title: str  # our text; data in it already went through label()
    x: list[str]
    y_title: str
    bars: list[float]
    line: list[float] | None = None

    def to_mermaid(self) -> str:
        """The fenced block, ready for Markdown."""
        names = _unique([label(x) for x in self.x])
        values = [*self.bars, *(self.line or [])]
        low, high = min(0.0, *values), max(0.0, *values)
        if high == low:
            high = low + 1.0
        pad = (high - low) * 0.1
        low, high = _round_out(low - pad if low < 0 else low, high + pad)
        lines = [
            "```mermaid",
            "xychart-beta",
            f'    title "{_own(self.title)}"',
            "    x-axis [" + ", ".join(f'"{n}"' for n in names) + "]",
            f'    y-axis "{_own(self.y_title)}" {decimal(low)} --> {decimal(high)}',
            "    bar [" + ", ".join(decimal(v) for v in self.bars) + "]",
        ]
        if self.line is not None:
            lines.append("    line [" + ", ".join(decimal(v) for v in self.line) + "]")
        lines.append("```")
        return "\n".join(lines)


def _round_out(low: float, high: float) -> tuple[float, float]:
    """The axis range widened to round numbers (steps of 1, 2 or 5 times a power of ten)."""
    span = high - low
    step = 10 ** math.floor(math.log10(span))
    step = next(f * step for f in (0.1, 0.2, 0.5, 1.0) if span / (f * step) <= 10)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _own(text: str) -> str:
    """Text we composed (data parts already labels): still one line, no quote, no ``%%``."""
    return re.sub(r"%+", "%", re.sub(r"\s+", " ", text).replace('"', "'")).strip()


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def improvement(change: MetricChange) -> float | None:
    """The relative change in percent, signed so that above 0 is better; None without a direction."""
    if change.relative is None or change.direction not in ("up", "down") or not math.isfinite(change.relative):
        return None
    sign = 1.0 if change.direction == "up" else -1.0
    return sign * change.relative * 100


def metric_chart(metrics: Sequence[MetricChange], title: str = "Metric change vs base") -> Chart | None:
    """Bars of each moved metric's change in % of its base value, above 0 = better (the metrics that
    have a direction and a numeric base; the largest moves first, at most MAX_BARS)."""
    moved = [(m, improvement(m)) for m in metrics if m.changed]
    points = [(m.key, v) for m, v in moved if v is not None]
    if not points:
        return None
    points.sort(key=lambda p: -abs(p[1]))
    points = points[:MAX_BARS]
    return Chart(f"{title} (% of base, above 0 = better)", [k for k, _ in points], "change (%)",
                 [v for _, v in points])


def drift_chart(target: str, effects: Sequence[dict[str, Any]], threshold: float | None) -> Chart | None:
    """Bars of the effect size of each column of ``target`` against the reference (the largest first),
    with the drift threshold as a line when the rules share one."""
    points = [(e["column"], float(e["effect"])) for e in effects
              if isinstance(e.get("effect"), (int, float)) and math.isfinite(e["effect"])]
    if not points:
        return None
    points.sort(key=lambda p: -p[1])
    points = points[:MAX_BARS]
    line = [threshold] * len(points) if threshold is not None else None
    what = "effect size per column" + (" (line: drift threshold)" if line else "")
    return Chart(f"Drift of {label(target, 60)}: {what}", [c for c, _ in points], "effect size", [v for _, v in points], line)

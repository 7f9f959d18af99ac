"""The pull-request report: what a change does to params, metrics, data, drift and the registry.

:func:`collect` gathers the data (:mod:`.collect`, :mod:`.sections`); :func:`render_markdown` and
:meth:`Report.to_dict` turn it into the comment text or JSON for other bots.
"""

from __future__ import annotations

from gitmlops.report.collect import collect
from gitmlops.report.markdown import escape, number
from gitmlops.report.markdown import render as render_markdown
from gitmlops.report.model import DataChange, MetricChange, ParamChange, Report, Section

__all__ = [
    "DataChange",
    "MetricChange",
    "ParamChange",
    "Report",
    "Section",
    "collect",
    "escape",
    "number",
    "render_markdown",
]

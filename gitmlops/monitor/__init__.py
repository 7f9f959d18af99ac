"""Monitoring: whylogs profiles committed to git, drift as a diff of two profiles, ingestion checks.

Public, stable API (other pillars call these):

- :func:`profile_dataframe` (DataFrame -> ``DatasetProfileView``) and :func:`write_profile`
  (``.bin`` + ``.json`` summary next to it): the train stage writes the reference profile with them.
- :func:`profile` / :func:`profile_path`: profile data into ``monitoring/<DATASET>/<UTC timestamp>.bin``.
- :func:`diff` (two views or paths -> :class:`DriftReport`), :func:`compare` (the same from specs
  such as ``model#prod``), :func:`render_markdown`, :func:`render_html`.
- :func:`check` (data or profile against ``data.constraints`` -> :class:`CheckResult`).
- :func:`collect` (merge a server's profiles into one per window).

Profiles are whylogs-format files gitmlops writes and reads itself (no whylogs import; see profile_format).
"""

from __future__ import annotations

from gitmlops.monitor.collect import CollectResult, collect
from gitmlops.monitor.compare import compare, show
from gitmlops.monitor.constraints import CheckResult, ConstraintResult, check, check_view
from gitmlops.monitor.drift import ColumnDrift, DriftReport, diff
from gitmlops.monitor.profile import (
    ProfileResult,
    profile,
    profile_data,
    profile_dataframe,
    profile_path,
    write_profile,
)
from gitmlops.monitor.render_html import render_html
from gitmlops.monitor.render_md import render_markdown
from gitmlops.monitor.sketches import read_view
from gitmlops.monitor.summary import summarize

__all__ = [
    "CheckResult",
    "CollectResult",
    "ColumnDrift",
    "ConstraintResult",
    "DriftReport",
    "ProfileResult",
    "check",
    "check_view",
    "collect",
    "compare",
    "diff",
    "profile",
    "profile_data",
    "profile_dataframe",
    "profile_path",
    "read_view",
    "render_html",
    "render_markdown",
    "show",
    "summarize",
    "write_profile",
]

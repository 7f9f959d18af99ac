"""The static site: `gitmlops site build` turns the repository's registry, experiments, plots,
profiles and drift verdicts into one folder of pages that needs no server and no network.

Public API: :func:`build` (returns a :class:`SiteBuild`).
"""

from __future__ import annotations

from gitmlops.site.build import SiteBuild, build

__all__ = ["SiteBuild", "build"]

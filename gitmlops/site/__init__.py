"""The static site: `gitmlops site build` turns the repository's registry, experiments, plots,
profiles and drift verdicts into one folder of pages that needs no server and no network.

Public API: :func:`build` (returns a :class:`SiteBuild`); :func:`version_page`, :func:`model_page` and
:func:`drift_report` give the pages' stable addresses (for links from elsewhere, such as PR comments).
"""

from __future__ import annotations

from gitmlops.site.addresses import drift_report, model_page, version_page
from gitmlops.site.build import SiteBuild, build

__all__ = ["SiteBuild", "build", "drift_report", "model_page", "version_page"]

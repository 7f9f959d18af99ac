"""Links from the pull-request comment to the project's published site (`gitmlops site build`).

Page paths, relative to the site root (``report.site_url``), are the site's layout:
``models/<artifact>/<version>.html`` for a registered version and
``monitoring/<dataset>/<report>.html`` for the drift report of the profile
``<profiles_dir>/<dataset>/<report>.bin``. Every segment is percent-encoded, so a name from data
cannot leave the site or break the Markdown link around it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

VERSION_PAGE = "models/{artifact}/{version}.html"
DRIFT_PAGE = "monitoring/{dataset}/{report}.html"


def _segment(text: str) -> str:
    return quote(text, safe="")


def version_page(site_url: str, artifact: str, version: str) -> str:
    """The URL of a version's page on the site."""
    return site_url + VERSION_PAGE.format(artifact=_segment(artifact), version=_segment(version))


def drift_page(site_url: str, profile: str, profiles_dir: str = "monitoring") -> str | None:
    """The URL of the full drift report of ``profile`` (a ``.bin`` under ``profiles_dir``), or None
    for a path outside the profile layout (training data profiled on the fly has no page)."""
    path = PurePosixPath(profile)
    try:
        parts = path.relative_to(PurePosixPath(profiles_dir.strip("/") or ".")).parts
    except ValueError:
        return None
    if len(parts) != 2 or path.suffix != ".bin":
        return None
    return site_url + DRIFT_PAGE.format(dataset=_segment(parts[0]), report=_segment(PurePosixPath(parts[1]).stem))


def markdown_link(text: str, url: str) -> str:
    """``[text](url)`` for escaped ``text`` and a URL built here (no spaces or parentheses unencoded)."""
    return f"[{text}]({url.replace('(', '%28').replace(')', '%29')})"


def attach(drift: list[dict[str, Any]], events: list[dict[str, Any]], base_versions: list[dict[str, Any]],
           site_url: str | None, profiles_dir: str) -> None:
    """Set ``page`` on each drift item, registry event and base version: its URL on the site, or
    None (no site, or no page for it)."""
    for item in drift:
        item["page"] = drift_page(site_url, item["target"], profiles_dir) if site_url and item.get("kind") == "profile" else None
    for entry in [*events, *base_versions]:
        name, version = entry.get("name"), entry.get("version")
        entry["page"] = version_page(site_url, name, version) if site_url and name and version else None

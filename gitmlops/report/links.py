"""Links from the pull-request comment to the project's published site (`gitmlops site build`).

The pages are the site's own addresses (:mod:`gitmlops.site.addresses`, docs/site.md#addresses),
under the site's root (``report.site_url``): ``index.html#/version/<artifact>/<version>`` for a
registered version and ``drift/[<model folder>/]<dataset>/<stamp>.html`` for the drift report of
the profile ``[<model folder>/]<profiles_dir>/<dataset>/<stamp>.bin``. Every segment is
percent-encoded, so a name from data cannot leave the site or break the Markdown link around it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from gitmlops.site import addresses


def version_page(site_url: str, artifact: str, version: str) -> str:
    """The URL of a version's page on the site."""
    return site_url + addresses.version_page(artifact, version)


def drift_page(site_url: str, profile: str, profiles_dir: str = "monitoring", base: str = "") -> str | None:
    """The URL of the full drift report of ``profile`` (a ``.bin`` under ``[base/]profiles_dir``), or
    None for a path outside the profile layout (training data profiled on the fly has no page)."""
    path = PurePosixPath(profile)
    folder = PurePosixPath(base.strip("/") or ".") / (profiles_dir.strip("/") or ".")
    try:
        parts = path.relative_to(folder).parts
    except ValueError:
        return None
    if len(parts) != 2 or path.suffix != ".bin":
        return None
    return site_url + addresses.drift_report(parts[0], PurePosixPath(parts[1]).stem, base.strip("/"),
                                             encode=True)


def markdown_link(text: str, url: str) -> str:
    """``[text](url)`` for escaped ``text`` and a URL built here (no spaces or parentheses unencoded)."""
    return f"[{text}]({url.replace('(', '%28').replace(')', '%29')})"


def attach(drift: list[dict[str, Any]], events: list[dict[str, Any]], base_versions: list[dict[str, Any]],
           site_url: str | None, profiles_dir: str, base: str = "") -> None:
    """Set ``page`` on each drift item, registry event and base version: its URL on the site, or
    None (no site, or no page for it)."""
    for item in drift:
        item["page"] = (drift_page(site_url, item["target"], profiles_dir, base)
                        if site_url and item.get("kind") == "profile" else None)
    for entry in [*events, *base_versions]:
        name, version = entry.get("name"), entry.get("version")
        entry["page"] = version_page(site_url, name, version) if site_url and name and version else None

"""Stable addresses of the site's pages, relative to the site's root (docs/site.md#addresses).

The pull-request comment links to a version's page and to drift reports with these; the pages'
script builds the same addresses (app.js: ``versionHash``, ``modelHash``).
"""

from __future__ import annotations

from urllib.parse import quote


def _part(text: str) -> str:
    return quote(text, safe="")  # what JavaScript's encodeURIComponent leaves alone, near enough: "/" and ":" too


def model_page(name: str) -> str:
    """The page of model ``name``."""
    return f"index.html#/model/{_part(name)}"


def version_page(name: str, version: str) -> str:
    """The page of one version of model ``name``."""
    return f"index.html#/version/{_part(name)}/{_part(version)}"


def drift_report(dataset: str, stamp: str, base: str = "", encode: bool = False) -> str:
    """The drift report of the profile ``stamp`` of ``dataset`` (in model folder ``base``): the
    file's path in the site folder, or with ``encode`` its URL path (every segment percent-encoded)."""
    parts = [*(base.split("/") if base else []), dataset, f"{stamp}.html"]
    return "drift/" + "/".join(_part(p) if encode else p for p in parts)

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


def drift_report(dataset: str, stamp: str, base: str = "") -> str:
    """The drift report of the profile ``stamp`` of ``dataset`` (in model folder ``base``)."""
    folder = f"{base}/{dataset}" if base else dataset
    return f"drift/{folder}/{stamp}.html"

"""Report settings: the Hydra group ``report`` (conf/report/default.yaml), validated.

Which way is better for each metric (``report.metrics``), whether the comment draws charts
(``report.charts``) and where the project's site is published (``report.site_url``, overridden by the
``GITMLOPS_SITE_URL`` environment variable). A project without the group gets the defaults.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gitmlops.errors import ConfigError

UP, DOWN, NONE = "up", "down", "none"
#: Which way a metric gets better.
MetricDirection = Literal["up", "down"]
DIRECTIONS = (UP, DOWN, NONE)
SITE_URL_ENV = "GITMLOPS_SITE_URL"
PAGES = "pages"
FIX = "fix conf/report/default.yaml (see docs/reports.md)"

#: Metric names (or a ``_``/``-`` separated part of one) whose direction is known without a setting.
DEFAULT_UP = frozenset({
    "auc", "roc_auc", "pr_auc", "aucpr", "accuracy", "acc", "balanced_accuracy", "precision", "recall",
    "f1", "macro_f1", "micro_f1", "weighted_f1", "fbeta", "r2", "ap", "average_precision", "map", "ndcg",
    "iou", "dice", "mcc", "kappa", "sensitivity", "specificity", "tpr", "tnr", "gini", "explained_variance",
})
DEFAULT_DOWN = frozenset({
    "loss", "logloss", "log_loss", "mlogloss", "cross_entropy", "error", "err", "merror", "rmse", "mse",
    "mae", "mape", "smape", "rmsle", "msle", "brier", "fpr", "fnr", "wer", "cer", "perplexity", "mphe",
    "huber", "poisson_nloglik", "gamma_deviance", "deviance",
})
_PARTS = re.compile(r"[_\-\s]+")


@dataclass(frozen=True)
class ReportSettings:
    """The ``report`` group: per-metric directions, charts on or off, the published site's URL."""

    metrics: dict[str, str] = field(default_factory=dict)
    charts: bool = True
    site_url: str | None = None

    def direction(self, key: str) -> MetricDirection | None:
        """``up``/``down`` for the metric ``key`` (a flattened name like ``test.auc``), None when unknown.

        The setting for the full key wins, then the setting for its last part, then the defaults:
        the last part as a whole (``logloss``), then its ``_``/``-`` parts from the end (``val_loss``).
        """
        last = key.split("@", 1)[0].rsplit(".", 1)[-1]  # xgboost writes error@0.7, ndcg@5
        for name in (key, last):
            if name in self.metrics:
                setting = self.metrics[name]
                return "up" if setting == UP else "down" if setting == DOWN else None
        name = last.lower()
        for candidate in (name, *reversed(_PARTS.split(name))):
            if candidate in DEFAULT_UP:
                return "up"
            if candidate in DEFAULT_DOWN:
                return "down"
        return None


def settings_from_config(config: dict[str, Any], where: str = "the composed config") -> ReportSettings:
    """The report settings of a composed config; ConfigError naming the bad key and value."""
    section = config.get("report")
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(f"the `report` group in {where} must be a mapping, got {section!r}", FIX)
    unknown = sorted(set(section) - {"metrics", "charts", "site_url"})
    if unknown:
        raise ConfigError(f"unknown report setting(s) in {where}: {', '.join(map(str, unknown))}",
                          "the report group has: metrics, charts, site_url; " + FIX)
    metrics = section.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ConfigError(f"report.metrics in {where} must map metric names to up, down or none, got {metrics!r}",
                          FIX)
    for name, value in metrics.items():
        if not isinstance(name, str) or value not in DIRECTIONS:
            raise ConfigError(
                f"report.metrics.{name} in {where} is {value!r}: a metric's direction must be up "
                "(higher is better), down (lower is better) or none", FIX)
    charts = section.get("charts", True)
    if not isinstance(charts, bool):
        raise ConfigError(f"report.charts in {where} must be true or false, got {charts!r}", FIX)
    site_url = check_site_url(section.get("site_url"), f"report.site_url in {where}")
    return ReportSettings(dict(metrics), charts, site_url)


def pages_url(repository: str | None) -> str | None:
    """The GitHub Pages address of ``OWNER/REPO`` (``https://owner.github.io/REPO/``), None without one."""
    if not repository or not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", repository):
        return None
    owner, name = repository.split("/")
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{owner.lower()}.github.io/"
    return f"https://{owner.lower()}.github.io/{name}/"


def check_site_url(value: Any, what: str) -> str | None:
    """An http(s) URL ending in ``/`` (added when missing), or None for an empty value; ``pages`` is
    this repository's GitHub Pages address (from $GITHUB_REPOSITORY, so None outside a workflow)."""
    if value is None or value == "":
        return None
    if value == PAGES:
        return pages_url(os.environ.get("GITHUB_REPOSITORY"))
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
        raise ConfigError(f"{what} must be an http(s) URL like https://OWNER.github.io/REPO/ or `pages`, "
                          f"got {value!r}", "set the URL where the pages workflow publishes `gitmlops site build`")
    return value if value.endswith("/") else value + "/"


def load_settings(root: str | Path, site_url: str | None = None) -> ReportSettings:
    """The report settings of the project at ``root``; ``site_url`` (or $GITMLOPS_SITE_URL) overrides
    ``report.site_url``."""
    root = Path(root)
    config: dict[str, Any] = {}
    if (root / "params.yaml").is_file():
        from gitmlops.config import load_params

        config = load_params(root)
    elif (root / "conf" / "config.yaml").is_file():
        from gitmlops.config import compose

        config = compose(root)
    settings = settings_from_config(config, "conf/ (the `report` group)")
    override = site_url if site_url is not None else os.environ.get(SITE_URL_ENV)
    if override is not None:
        what = "--site-url" if site_url is not None else f"${SITE_URL_ENV}"
        settings = ReportSettings(settings.metrics, settings.charts, check_site_url(override, what))
    return settings

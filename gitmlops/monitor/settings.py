"""Monitoring settings: the Hydra `monitor` group and `data.constraints`, read from params.yaml.

A project that has run its pipeline has params.yaml (the composed config); before that, and outside
projects, the defaults shipped in the conf/ templates apply.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.errors import ConfigError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "conf"
KINDS = ("numeric", "categorical")
COLUMN_KEYS = {"kind", "drift", "possible", "skip"}


@dataclass(frozen=True)
class Thresholds:
    """A rule fires DRIFT at ``drift`` and POSSIBLE_DRIFT at ``possible``.

    For distances a larger value is worse (value >= threshold fires); for p-values smaller is worse.
    """

    drift: float
    possible: float


@dataclass(frozen=True)
class ColumnOverride:
    """Per-column settings from ``monitor.drift.columns``."""

    kind: str | None = None
    drift: float | None = None
    possible: float | None = None
    skip: bool = False


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds of the drift rules (see conf/monitor/default.yaml for why these values)."""

    small_sample_rows: int = 1000
    p_value: Thresholds = Thresholds(drift=0.01, possible=0.05)
    wasserstein: Thresholds = Thresholds(drift=0.1, possible=0.07)
    jensen_shannon: Thresholds = Thresholds(drift=0.1, possible=0.07)
    null_fraction: Thresholds = Thresholds(drift=0.1, possible=0.05)
    dataset_drift_share: float = 0.5
    noise_factor: float = 4.0
    noise_chance: float = 0.001
    columns: dict[str, ColumnOverride] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (echoed in JSON reports)."""
        return {
            "small_sample_rows": self.small_sample_rows,
            "p_value": vars(self.p_value),
            "wasserstein": vars(self.wasserstein),
            "jensen_shannon": vars(self.jensen_shannon),
            "null_fraction": vars(self.null_fraction),
            "dataset_drift_share": self.dataset_drift_share,
            "noise_factor": self.noise_factor,
            "noise_chance": self.noise_chance,
            "columns": {k: {f: v for f, v in vars(o).items() if v not in (None, False)}
                        for k, o in sorted(self.columns.items())},
        }


@dataclass(frozen=True)
class MonitorSettings:
    """The `monitor` group: layout, chunking, workers and drift thresholds."""

    profiles_dir: str = "monitoring"
    chunk_size: int = 100_000
    jobs: int = 0
    drift: DriftConfig = field(default_factory=DriftConfig)


def _number(value: Any, where: str, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, got {value!r}", "fix conf/monitor/default.yaml")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{where} must be {bound}, got {value!r}", "fix conf/monitor/default.yaml")
    return float(value)


def _thresholds(raw: Any, default: Thresholds, where: str, pvalue: bool = False) -> Thresholds:
    if raw is None:
        return default
    if not isinstance(raw, dict) or set(raw) - {"drift", "possible"}:
        raise ConfigError(f"{where} must be a mapping with keys drift and possible, got {raw!r}")
    drift = _number(raw.get("drift", default.drift), f"{where}.drift", 0.0, 1.0 if pvalue else None)
    possible = _number(raw.get("possible", default.possible), f"{where}.possible", 0.0,
                       1.0 if pvalue else None)
    # A p-value is worse when smaller, a distance when larger: "possible" must come before "drift".
    if (pvalue and possible < drift) or (not pvalue and possible > drift):
        raise ConfigError(
            f"{where}: possible ({possible}) must be a weaker threshold than drift ({drift})",
            "for p-values possible >= drift; for distances possible <= drift",
        )
    return Thresholds(drift=drift, possible=possible)


def drift_config(raw: dict[str, Any] | None) -> DriftConfig:
    """Validate ``monitor.drift`` from the config into a :class:`DriftConfig`."""
    raw = dict(raw or {})
    base = DriftConfig()
    known = {"small_sample_rows", "p_value", "wasserstein", "jensen_shannon", "null_fraction",
             "dataset_drift_share", "noise_factor", "noise_chance", "columns"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"unknown keys in monitor.drift: {', '.join(sorted(unknown))}",
            f"known keys: {', '.join(sorted(known))}",
        )
    columns: dict[str, ColumnOverride] = {}
    for name, spec in (raw.get("columns") or {}).items():
        where = f"monitor.drift.columns.{name}"
        if not isinstance(spec, dict) or set(spec) - COLUMN_KEYS:
            raise ConfigError(f"{where} must be a mapping with keys among {sorted(COLUMN_KEYS)}, got {spec!r}")
        kind = spec.get("kind")
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        columns[str(name)] = ColumnOverride(
            kind=kind,
            drift=None if spec.get("drift") is None else _number(spec["drift"], f"{where}.drift"),
            possible=None if spec.get("possible") is None else _number(spec["possible"], f"{where}.possible"),
            skip=bool(spec.get("skip", False)),
        )
    return DriftConfig(
        small_sample_rows=int(_number(raw.get("small_sample_rows", base.small_sample_rows),
                                      "monitor.drift.small_sample_rows")),
        p_value=_thresholds(raw.get("p_value"), base.p_value, "monitor.drift.p_value", pvalue=True),
        wasserstein=_thresholds(raw.get("wasserstein"), base.wasserstein, "monitor.drift.wasserstein"),
        jensen_shannon=_thresholds(raw.get("jensen_shannon"), base.jensen_shannon, "monitor.drift.jensen_shannon"),
        null_fraction=_thresholds(raw.get("null_fraction"), base.null_fraction, "monitor.drift.null_fraction"),
        dataset_drift_share=_number(raw.get("dataset_drift_share", base.dataset_drift_share),
                                    "monitor.drift.dataset_drift_share", 0.0, 1.0),
        noise_factor=_number(raw.get("noise_factor", base.noise_factor), "monitor.drift.noise_factor"),
        noise_chance=_number(raw.get("noise_chance", base.noise_chance), "monitor.drift.noise_chance", 1e-12, 0.5),
        columns=columns,
    )


def _template(group: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((TEMPLATES / group / "default.yaml").read_text()) or {}


def project_config(root: str | Path | None) -> dict[str, Any]:
    """The composed config of the project at ``root`` (params.yaml), else the template defaults."""
    if root is not None and (Path(root) / "params.yaml").is_file():
        from gitmlops.config import load_params

        params = copy.deepcopy(load_params(root))
        params.setdefault("monitor", _template("monitor"))
        params.setdefault("data", {}).setdefault("constraints", {})
        return params
    return {"monitor": _template("monitor"), "data": {"constraints": _template("data").get("constraints") or {}}}


def root_of(repo: Any) -> Path:
    """The project root of a path or a ``GitRepo`` (:func:`gitmlops.adapters.git_repo.project_root`;
    outside git, the folder itself, so plain profiles can be compared anywhere)."""
    from gitmlops.adapters.git_repo import GitRepo, project_root
    from gitmlops.errors import NotAGitRepoError
    from gitmlops.models import project_or_root

    if not isinstance(repo, GitRepo):
        try:
            repo = GitRepo(repo)
        except NotAGitRepoError:  # plain profiles compared outside any git work tree
            return project_root(repo, require_git=False)
    return project_or_root(repo)  # opened in a model's folder: that model's project


def monitor_settings(config: dict[str, Any]) -> MonitorSettings:
    """The `monitor` group of a composed config, validated."""
    raw = config.get("monitor") or {}
    if not isinstance(raw, dict):
        raise ConfigError("the `monitor` config group must be a mapping")
    chunk = int(_number(raw.get("chunk_size", 100_000), "monitor.chunk_size", 1))
    jobs = int(_number(raw.get("jobs", 0) or 0, "monitor.jobs", 0))
    return MonitorSettings(
        profiles_dir=str(raw.get("profiles_dir") or "monitoring"),
        chunk_size=chunk,
        jobs=jobs,
        drift=drift_config(raw.get("drift")),
    )


def load_settings(root: str | Path | None) -> MonitorSettings:
    """:func:`monitor_settings` of the project at ``root``."""
    return monitor_settings(project_config(root))

"""What a pull-request report holds: the changes it lists and its optional sections.

Plain dataclasses shared by :mod:`.collect` (which builds them), :mod:`.sections` (the drift and
registry sections) and :mod:`.markdown` (which renders them), so none of those import each other
in a circle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gitmlops.report.settings import MetricDirection, ReportSettings

ParamStatus = Literal["added", "removed", "changed"]
DataStatus = Literal["added", "removed", "modified"]
DataKind = Literal["data", "input", "output"]
#: a drift verdict (gitmlops.monitor.drift.Verdict)
SectionVerdict = Literal["no_drift", "possible_drift", "drift"]
#: what a metric's change means, by which way it is better (MetricDirection, gitmlops.report.settings)
MetricVerdict = Literal["better", "worse", "same"]

PARAMS_FILE = "params.yaml"
DEFAULT_METRICS = "metrics.json"
LOCK_FILE = "dvc.lock"


@dataclass
class ParamChange:
    """A params.yaml key that differs (``status``: added, removed, changed)."""

    key: str
    status: ParamStatus
    base: Any
    current: Any


@dataclass
class MetricChange:
    """A metric at the base and now; ``delta``/``relative`` only when both are numbers.

    ``direction`` is which way is better (``up``, ``down``; None when unknown, see
    :mod:`gitmlops.report.settings`) and ``verdict`` what the delta means: ``better``, ``worse``,
    ``same``, or None without a direction or a numeric delta.
    """

    key: str
    base: Any
    current: Any
    delta: float | None
    relative: float | None
    changed: bool
    direction: MetricDirection | None = None
    verdict: MetricVerdict | None = None


@dataclass
class DataChange:
    """A DVC-tracked path that differs (``kind``: data, input, output; ``status``: added, removed, modified)."""

    path: str
    kind: DataKind
    status: DataStatus
    base_md5: str | None
    current_md5: str | None
    base_size: int | None
    current_size: int | None
    base_files: int | None = None
    current_files: int | None = None
    rows: int | None = None
    base_rows: int | None = None


@dataclass
class Section:
    """An optional section (drift, registry): ``available`` False with ``reason`` when it cannot run."""

    available: bool
    reason: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    markdown: str | None = None
    verdict: SectionVerdict | None = None
    #: registry only: per artifact, the version the base already had (name, version, commit, tag)
    base_versions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    """The pull-request report: the base, the changes, and the optional sections."""

    base_rev: str
    base_sha: str
    head_sha: str | None
    dirty: bool
    params: list[ParamChange]
    metrics: list[MetricChange]
    metrics_path: str
    data: list[DataChange]
    drift: Section
    registry: Section
    settings: ReportSettings = field(default_factory=ReportSettings)
    #: A repository of several models: one entry per model the change touches (report/models.py).
    models: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `gitmlops report --format json` (documented in docs/reports.md)."""
        return {
            "schema": 1,
            "base": {"rev": self.base_rev, "sha": self.base_sha},
            "head": {"sha": self.head_sha, "dirty": self.dirty},
            "params": [asdict(p) for p in self.params],
            "metrics": {"path": self.metrics_path, "changes": [asdict(m) for m in self.metrics]},
            "data": [asdict(d) for d in self.data],
            "drift": asdict(self.drift),
            "registry": asdict(self.registry),
            "site_url": self.settings.site_url,
            "models": [{k: v for k, v in asdict(m).items() if k != "settings"} for m in self.models],
        }

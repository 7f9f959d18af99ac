"""Pipeline and orchestration: Hydra config -> params.yaml + dvc.yaml -> `dvc repro` / experiments."""

from gitmlops.pipeline.run import RunResult, run
from gitmlops.pipeline.show import PipelineView, StageView, show
from gitmlops.pipeline.sync import SyncResult, sync

__all__ = ["PipelineView", "RunResult", "StageView", "SyncResult", "run", "show", "sync"]

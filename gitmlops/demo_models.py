"""`gitmlops demo --models`: several models in one repository, end to end, in a fresh git repo.

init --example models (churn: binary, plan: multi-class, revenue: regression, one shared table) ->
one run over every model -> register each -> promote churn and revenue to prod -> serve churn#prod and
predict over HTTP -> profile a drifted batch for churn and compare it with churn#prod -> status of
every model -> verify revenue#prod. Every step uses the same library calls as the CLI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import open_repo
from gitmlops.demo import StepCallback, _serve_and_predict, new_demo_repo, step_timer

STEPS = (
    "set up three models sharing one table (gitmlops init --example models)",
    "train every model in one DVC run (gitmlops run)",
    "register each model (gitmlops registry register NAME)",
    "promote churn and revenue to prod (gitmlops registry promote)",
    "serve churn#prod and predict over HTTP (gitmlops serve)",
    "profile a drifted batch for churn and compare it with churn#prod (gitmlops monitor)",
    "one overview of every model (gitmlops status)",
    "verify revenue#prod rebuilds byte for byte (gitmlops verify)",
)


@dataclass
class ModelsDemoResult:
    """What the several-model demo produced."""

    directory: str
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> version, metrics, stages
    endpoint: str = ""
    prediction: dict[str, Any] = field(default_factory=dict)
    drift: str = ""
    verified: bool = False
    seconds: float = 0.0
    step_seconds: list[float] = field(default_factory=list)


def run_models_demo(directory: str | os.PathLike[str] | None = None,
                    on_step: StepCallback | None = None) -> ModelsDemoResult:
    """Run the several-model loop in ``directory`` (default: a new temporary folder)."""
    from gitmlops import data, monitor, project, registry
    from gitmlops.example import generate, write_csv
    from gitmlops.lineage import verify
    from gitmlops.lineage.overview import status
    from gitmlops.models import list_models
    from gitmlops.pipeline.run import run_all

    started = time.perf_counter()
    git = new_demo_repo(directory, "gitmlops-demo-models-")
    root = git.root
    result = ModelsDemoResult(directory=str(root))
    step = step_timer(STEPS, result.step_seconds, on_step)

    step(1)
    project.init(git, example_models=True)
    git.commit("gitmlops init --example models")
    models = list_models(git)

    step(2)
    ran = run_all(git)
    git.git("add", "-A")
    git.commit("train every model")
    data.push(git)

    step(3)
    for model in models:
        written = registry.register(git, model.artifact, bump="minor", message=f"first {model.name} model")
        result.models[model.name] = {"artifact": model.artifact, "version": written.event.version,
                                     "metrics": ran.models[model.name].metrics}

    step(4)
    for name in ("churn", "revenue"):
        registry.promote(git, result.models[name]["artifact"], str(result.models[name]["version"]), "prod")

    step(5)
    record = generate(1, seed=7).drop(columns=["customer_id", "churned"]).iloc[0].to_dict()
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
    # churn#prod as a bundle folder (the registered model file, fetched and checked, and its schema)
    scratch = Path(tempfile.mkdtemp(prefix="gitmlops-demo-"))
    bundle = scratch / "churn"  # the folder's name is the model's name in the answers
    bundle.mkdir()
    registry.get(git, "models/churn:churn#prod", output=bundle / "model.ubj")
    shutil.copyfile(root / "models" / "churn" / "models" / "schema.json", bundle / "schema.json")
    try:
        result.endpoint, result.prediction = _serve_and_predict(root, str(bundle), record)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    step(6)
    churn = open_repo(root / "models" / "churn")
    batch = write_csv(root / "data" / "production" / "drifted.csv", n_rows=2000, seed=102, drifted=True)
    filed = monitor.profile(churn, str(batch), name="production")
    git.add([f"models/churn/{p}" for f in filed.profiles for p in (f.path, f.summary)])  # paths of the model's folder
    git.commit("production profile for churn")
    drift = monitor.compare(churn, filed.profiles[0].path, "churn#prod")
    drifted = [c.column for c in drift.columns if c.category == "drift"]
    result.drift = drift.verdict + (f" ({', '.join(drifted)} drifted)" if drifted else "")

    step(7)
    overview = status(git)
    for state in overview.models:
        result.models[state.name]["stages"] = state.stages
        result.models[state.name]["pipeline"] = "up to date" if state.pipeline["up_to_date"] else "stale"

    step(8)
    result.verified = verify(git, "revenue#prod").reproduced
    step(len(STEPS) + 1)
    result.seconds = round(time.perf_counter() - started, 1)
    return result

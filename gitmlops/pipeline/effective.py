"""The config a stage runs with, and the guard that keeps dvc.lock honest.

A stage runs under `gitmlops run`, `dvc repro` or `dvc exp run -S ...`. In every case params.yaml
holds the parameters of this run (DVC rewrites it for ``-S``), and conf/ holds everything else. The
stage composes conf/ with the overrides that turn conf/'s parameters into params.yaml's, so both
always agree, and then checks that the stages this config renders are the ones in dvc.yaml: a
parameter that moves a stage's inputs or outputs (``data.path``) would otherwise let DVC record the
old paths in dvc.lock while the stage read the new ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitmlops.errors import PipelineError


def run_overrides(root: str | Path, params: dict[str, Any]) -> list[str]:
    """The Hydra overrides that params.yaml holds relative to conf/ (what an experiment changed)."""
    from gitmlops.config import (
        compose,
        environment_references,
        keep_references,
        overrides_between,
        parameters_of,
    )

    # params.yaml keeps values that read the environment as ${oc.env:...}: compare like with like.
    base = keep_references(parameters_of(root, compose(root)), environment_references(root))
    return overrides_between(base, params)


def _stage_changes(rendered: dict[str, Any], on_disk: dict[str, Any]) -> list[str]:
    changes = []
    new, old = rendered.get("stages") or {}, on_disk.get("stages") or {}
    for name in sorted(set(new) | set(old)):
        if name not in old or name not in new:
            changes.append(f"stage {name!r} {'added' if name not in old else 'removed'}")
            continue
        keys = sorted(k for k in set(new[name]) | set(old[name]) if new[name].get(k) != old[name].get(k))
        if keys:
            changes.append(f"stage {name!r}: {', '.join(keys)}")
    if rendered.get("artifacts") != on_disk.get("artifacts"):
        changes.append("artifacts")
    return changes


def stage_config(root: str | Path, params: dict[str, Any]) -> dict[str, Any]:
    """The whole config of this run: conf/ composed with params.yaml's overrides.

    Raises PipelineError when that config renders other stages than dvc.yaml has (dvc.yaml generated
    by gitmlops only). Without conf/ (a stage run on a bare params file) ``params`` is the config.
    """
    import yaml

    from gitmlops.config import CONF_DIR, CONFIG_NAME, compose
    from gitmlops.pipeline.render import DVC_YAML_HEADER, render_dvc_yaml

    root = Path(root)
    if not (root / CONF_DIR / f"{CONFIG_NAME}.yaml").is_file():
        return params
    overrides = run_overrides(root, params)
    config = compose(root, overrides)
    dvc_yaml = root / "dvc.yaml"
    text = dvc_yaml.read_text() if dvc_yaml.is_file() else ""
    if text.startswith(DVC_YAML_HEADER.splitlines()[0]):
        rendered = yaml.safe_load(render_dvc_yaml(config)) or {}
        on_disk = yaml.safe_load(text) or {}
        changes = _stage_changes(rendered, on_disk)
        if changes:
            raise PipelineError(
                f"the parameters in params.yaml ({' '.join(overrides) or 'as conf/ composes them'}) change the "
                f"pipeline, but dvc.yaml was not regenerated ({'; '.join(changes)}): DVC would record inputs "
                "and outputs this stage does not use",
                "`dvc exp run -S` can only change values no stage path depends on; run `gitmlops run "
                + (" ".join(overrides) or "")
                + "` instead (it renders dvc.yaml), or change conf/ and run `gitmlops run`",
            )
    return config

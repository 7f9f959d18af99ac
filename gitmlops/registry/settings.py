"""Registry settings from the composed config (params.yaml, Hydra group ``registry``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitmlops.errors import ConfigError
from gitmlops.registry.tags import is_valid_stage

DEFAULT_STAGES = ("dev", "staging", "prod")
DEFAULT_DEPLOY_STAGE = "prod"


@dataclass(frozen=True)
class RegistrySettings:
    """The stages versions can be promoted to, and the stage whose assignment deploys."""

    stages: tuple[str, ...] = DEFAULT_STAGES
    deploy_stage: str = DEFAULT_DEPLOY_STAGE


def registry_settings(root: str | os.PathLike[str]) -> RegistrySettings:
    """``registry.stages`` / ``registry.deploy_stage`` of ROOT/params.yaml; the defaults
    (dev, staging, prod; deploy on prod) when the file or the keys are absent."""
    path = Path(root) / "params.yaml"
    if not path.is_file():
        return RegistrySettings()
    import yaml

    try:
        params = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}", "run `gitmlops pipeline sync`") from None
    if isinstance(params, dict) and params.get("registry") is None and (Path(root) / "conf" / "config.yaml").is_file():
        from gitmlops.config import load_params

        params = load_params(Path(root))  # registry is a setting: from conf/, not params.yaml
    return settings_from_config(params if isinstance(params, dict) else {}, str(path))


def settings_from_config(config: dict[str, object], where: str = "the composed config") -> RegistrySettings:
    """The registry settings of a composed config; ConfigError when ``registry.stages`` or
    ``registry.deploy_stage`` is unusable (checked by `gitmlops run` before anything is written)."""
    section = config.get("registry")
    path = where
    if not isinstance(section, dict):
        return RegistrySettings()
    stages = section.get("stages", list(DEFAULT_STAGES))
    if not isinstance(stages, list) or not stages or not all(is_valid_stage(s) for s in stages):
        raise ConfigError(
            f"registry.stages in {path} must be a non-empty list of stage names, got {stages!r}",
            "fix conf/registry/default.yaml (e.g. stages: [dev, staging, prod]) and run `gitmlops pipeline sync`",
        )
    deploy = section.get("deploy_stage", DEFAULT_DEPLOY_STAGE if DEFAULT_DEPLOY_STAGE in stages else stages[-1])
    if deploy not in stages:
        raise ConfigError(
            f"registry.deploy_stage {deploy!r} in {path} is not one of registry.stages ({', '.join(stages)})",
            "set deploy_stage to one of the stages in conf/registry/default.yaml",
        )
    return RegistrySettings(tuple(stages), str(deploy))

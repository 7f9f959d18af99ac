"""The Hydra config tree under conf/: compose it (with overrides) into a plain dict.

Composition uses Hydra's compose API, the same one DVC uses for `dvc exp run -S`, so both agree.
Errors (unknown key, malformed override, unknown group option, YAML syntax) become
:class:`~gitmlops.errors.ConfigError` with the offending override or file named.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitmlops.errors import ConfigError

CONF_DIR = "conf"
MAX_KEY_LENGTH = 200  # Hydra looks a key up as a file name: longer ones fail as OS errors
CONFIG_NAME = "config"
#: The primary config of the pipeline's parameters (conf/parameters.yaml): what params.yaml holds and
#: what `dvc exp run -S` composes (the [hydra] section of .dvc/config names it). conf/config.yaml
#: includes it and adds the settings (stages, paths, serving, monitoring, registry).
PARAMETERS_NAME = "parameters"


def conf_dir(root: str | Path) -> Path:
    """The config folder of a project; a clear error when it is missing."""
    path = Path(root) / CONF_DIR
    if not (path / f"{CONFIG_NAME}.yaml").is_file():
        raise ConfigError(
            f"no Hydra config found: {path / (CONFIG_NAME + '.yaml')} is missing",
            "run `gitmlops init` to create conf/ (or `gitmlops init --force` to restore it)",
        )
    return path


def _check_yaml_files(path: Path) -> None:
    """Parse every YAML file of the tree so syntax errors name their file and line."""
    import yaml

    for file in sorted(path.rglob("*.yaml")):
        try:
            yaml.safe_load(file.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                f"YAML syntax error in {file}{where}: {problem}",
                "fix the file; `python -c 'import yaml,sys; yaml.safe_load(open(sys.argv[1]))' FILE` "
                "checks it",
            ) from None


def validate_overrides(overrides: Sequence[str], allow_sweep: bool = False) -> list[Any]:
    """Parse Hydra override strings; a malformed one raises ConfigError naming it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            (override,) = parser.parse_overrides([text])
        except HydraException as exc:
            raise ConfigError(
                f"malformed override {text!r}: {str(exc).splitlines()[0]}",
                "write overrides as key=value (e.g. train.max_depth=6) or group=option (model=xgb_large)",
            ) from None
        key = override.key_or_group
        if len(key) > MAX_KEY_LENGTH:
            raise ConfigError(
                f"override key {key[:40]!r}... is {len(key)} characters long (at most {MAX_KEY_LENGTH})",
                "write overrides as key=value with a key that exists in conf/ (e.g. train.max_depth=6)",
            )
        if override.is_sweep_override() and not allow_sweep:
            raise ConfigError(
                f"override {text!r} is a sweep (several values)",
                "use `gitmlops run --sweep ...` to run one experiment per value",
            )
        parsed.append(override)
    return parsed


CACHE_FILE = Path(".dvc") / "tmp" / "gitmlops-compose.json"
CACHE_ENTRIES = 8


def _cache_key(path: Path, overrides: Sequence[str]) -> str:
    """A digest of every file under conf/ and the overrides (what composition depends on)."""
    from gitmlops import __version__

    digest = hashlib.sha256(f"{__version__}\0{json.dumps(list(overrides))}".encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(b"\0" + file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _cache_file(root: Path) -> Path:
    """The memo file of a project: under .dvc/tmp/ of the repository (a model's folder of a
    several-model repository has no .dvc/ of its own: one file per model there)."""
    if (root / ".dvc").is_dir():
        return root / CACHE_FILE
    for parent in root.resolve().parents:
        if (parent / ".dvc").is_dir():
            tag = hashlib.sha256(root.resolve().relative_to(parent).as_posix().encode()).hexdigest()[:12]
            return parent / CACHE_FILE.with_name(f"gitmlops-compose-{tag}.json")
    return root / CACHE_FILE


def _uses_environment(path: Path, overrides: Sequence[str]) -> bool:
    """Whether conf/ or an override reads environment variables (``${oc.env:...}``)."""
    if any("oc.env" in text for text in overrides):
        return True
    return any(b"oc.env" in file.read_bytes() for file in path.rglob("*.yaml") if file.is_file())


def compose(root: str | Path, overrides: Sequence[str] = (), config_name: str = CONFIG_NAME) -> dict[str, Any]:
    """Compose conf/ with ``overrides`` and return the resolved config as plain data.

    Results are memoised in .dvc/tmp/ keyed by the bytes of every file under conf/ and the
    overrides, so an unchanged tree is not composed again (Hydra's import alone costs more than a
    no-op `dvc repro` can afford). Any change to conf/ composes afresh.
    """
    path = conf_dir(root).resolve()
    if _uses_environment(path, overrides):
        # The result depends on environment variables (often secrets): never memoise it, so a
        # changed value is always picked up and no value is written to .dvc/tmp/.
        return _compose(path, overrides, config_name)
    cache = _cache_file(Path(root))
    key = _cache_key(path, [*overrides, f"\0{config_name}"])
    entries: dict[str, Any] = {}
    try:
        cached = json.loads(cache.read_text())
        entries = cached.get("entries") if isinstance(cached.get("entries"), dict) else {}
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(entries.get(key), dict):
        return entries[key]
    data = _compose(path, overrides, config_name)
    if cache.parent.is_dir():
        # a few entries: a run composes conf/ alone and with its overrides, and so does each stage
        entries = {k: v for k, v in list(entries.items())[-(CACHE_ENTRIES - 1):]}
        entries[key] = data
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"entries": entries}))
        tmp.replace(cache)
    return data


def _compose(path: Path, overrides: Sequence[str], config_name: str = CONFIG_NAME,
             resolve: bool = True) -> dict[str, Any]:
    validate_overrides(overrides)
    _check_yaml_files(path)

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(path), version_base=None):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
            if resolve:
                OmegaConf.resolve(cfg)
            data = OmegaConf.to_container(cfg, resolve=resolve)
    except MissingConfigException as exc:
        options = ", ".join(getattr(exc, "options", None) or [])
        raise ConfigError(
            f"unknown config option: {str(exc).splitlines()[0]}",
            f"available options: {options}" if options else "list the files in conf/<group>/",
        ) from None
    except (HydraException, OmegaConfBaseException) as exc:
        message = " ".join(str(exc).split())
        hint = "check the key against conf/ (`gitmlops pipeline show` lists what is composed)"
        if "not in struct" in message or "Could not override" in message or "Key '" in message:
            hint = "to add a new key use +key=value; to change an existing key check its spelling in conf/"
        raise ConfigError(f"cannot compose conf/: {message}", hint) from None
    if not isinstance(data, dict):
        raise ConfigError("conf/config.yaml must compose to a mapping")
    return {str(k): v for k, v in data.items()}


_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][\w.]*)\s*\}")


def environment_references(root: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The dotted keys of the composed config whose value reads an environment variable
    (``${oc.env:NAME}``, directly or through another key), with their value as written in conf/."""
    path = conf_dir(root).resolve()
    if not _uses_environment(path, overrides):
        return {}
    raw = flatten(_compose(path, overrides, resolve=False))
    texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}
    reading = {key for key, text in texts.items() if "oc.env" in text}

    def reads(ref: str) -> bool:
        return any(key == ref or key.startswith(ref + ".") for key in reading)

    grew = True
    while grew:
        grew = False
        for key, text in texts.items():
            if key not in reading and any(reads(ref) for ref in _REFERENCE.findall(text)):
                reading.add(key)
                grew = True
    return {key: raw[key] for key in sorted(reading)}


def keep_references(params: dict[str, Any], references: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every value that reads the environment put back as written in conf/
    (``${oc.env:NAME}``): what params.yaml holds, so no environment value (a secret) is written."""
    if not references:
        return params
    result = copy.deepcopy(params)
    for key, text in references.items():
        *parents, last = key.split(".")
        node: Any = result
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            node[last] = text
    return result


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``train.max_depth``); lists, scalars and empty mappings are
    leaves. The one way params and metrics are compared across commits, experiments and reports."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def params_hash(params: dict[str, Any]) -> str:
    """A stable hash of a params dict (sorted JSON, sha256)."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def format_override(key: str, value: Any, prefix: str = "") -> str:
    """``key=value`` in Hydra's override grammar (strings quoted when they need it)."""
    return f"{prefix}{key}={_hydra_value(value)}"


_PLAIN = re.compile(r"^[A-Za-z_/][\w./\-]*$")


def _hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_hydra_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in ("null", "true", "false", "inf", "nan"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def overrides_between(base: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """The Hydra overrides that turn composed parameters ``base`` into ``target``: ``key=value`` for
    a changed value, ``+key=value`` for a new key, ``~key`` for a removed one, and ``~key`` then
    ``+key=value`` where a mapping becomes a value or back (Hydra would merge the two)."""
    result: list[str] = []

    def walk(old: Any, new: Any, path: str) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new), key=str):
                name = f"{path}.{key}" if path else str(key)
                if key not in old:
                    result.append(format_override(name, new[key], "+"))
                elif key not in new:
                    result.append(f"~{name}")
                else:
                    walk(old[key], new[key], name)
        elif isinstance(old, dict) or isinstance(new, dict):
            result.extend([f"~{path}", format_override(path, new, "+")])
        elif old != new or type(old) is not type(new):
            result.append(format_override(path, new))

    walk(base, target, "")
    return result


def settings_keys(root: str | Path) -> set[str]:
    """Top-level keys of the composed config that are settings, not parameters: what conf/config.yaml
    composes beyond conf/parameters.yaml (none in a project without that file)."""
    if not (Path(root) / CONF_DIR / f"{PARAMETERS_NAME}.yaml").is_file():
        return set()
    return set(compose(root)) - set(compose(root, config_name=PARAMETERS_NAME))


def parameters_of(root: str | Path, config: dict[str, Any]) -> dict[str, Any]:
    """The parameters part of a composed config: what params.yaml holds (conf/parameters.yaml's
    groups, plus keys added by ``+key=value``; the whole config in a project without that file)."""
    settings = settings_keys(root)
    return {k: v for k, v in config.items() if k not in settings}


def check_parameter_overrides(root: str | Path, overrides: Sequence[str]) -> None:
    """Refuse overrides of settings (``serve.port=...``) for a run: params.yaml, the only record of a
    run's overrides, holds parameters, so a setting changed for one run would not be reproducible."""
    if not overrides:
        return  # nothing to check, and no Hydra import (`lineage status` stays light)
    settings = settings_keys(root)
    for text, override in zip(overrides, validate_overrides(overrides), strict=True):
        top = str(override.key_or_group).split(".")[0]
        if top in settings:
            raise ConfigError(
                f"override {text!r} changes a setting ({top}), not a pipeline parameter",
                f"parameters are the groups of conf/{PARAMETERS_NAME}.yaml; keep a setting in conf/ with "
                f"`gitmlops run --save {text}` (or edit conf/ and run)",
            )


def load_params(root: str | Path) -> dict[str, Any]:
    """The project's config as its last run composed it: conf/'s settings with the parameters of
    params.yaml over them (params.yaml alone in a project without conf/)."""
    import yaml

    path = Path(root) / "params.yaml"
    if not path.is_file():
        raise ConfigError(f"{path} is missing", "run `gitmlops pipeline sync` or `gitmlops run`")
    try:
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}", "run `gitmlops pipeline sync`") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a mapping")
    if settings_keys(root) - set(data) and (Path(root) / CONF_DIR / f"{CONFIG_NAME}.yaml").is_file():
        return {**compose(root), **data}
    return data

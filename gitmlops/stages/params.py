"""The XGBoost parameters of the built-in train stage, and their check before any stage runs.

Every key of the ``model`` and ``train`` config groups reaches ``xgboost.train`` except the few that
gitmlops itself reads (:data:`OWN_KEYS`). A key in both groups takes the ``train`` value. The check
trains a one-round model on a tiny matrix with each parameter alone, then with all of them, so
XGBoost's own parameter validation names the key that is wrong and the range it allows.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

from gitmlops.errors import ConfigError

#: Keys the stages read themselves; everything else in the group is an XGBoost parameter.
OWN_KEYS = {"model": ("name", "objective"), "train": ("num_boost_round", "backend")}
#: Config spellings mapped to XGBoost's own (kept so that existing configs give the same model file).
RENAMED = {"reg_lambda": "lambda", "reg_alpha": "alpha"}
#: Parameters that depend on the data's columns: checked when the train stage runs, not before.
DATA_DEPENDENT = ("monotone_constraints", "interaction_constraints", "feature_weights", "num_class")
PARAMETER_DOCS = "https://xgboost.readthedocs.io/en/stable/parameter.html"
_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s+\S+:\d+:\s*")
_UNUSED = re.compile(r'Parameters: \{\s*(.*?)\s*\} are not used')


def user_params(params: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """XGBoost name -> (config key, value) for every parameter the model and train groups set."""
    found: dict[str, tuple[str, Any]] = {}
    for group in ("model", "train"):  # train last: it wins a key both set
        for key, value in (params.get(group) or {}).items():
            if key in OWN_KEYS[group] or value is None:
                continue
            found[RENAMED.get(str(key), str(key))] = (f"{group}.{key}", value)
    return found


def booster_params(params: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The parameter dict for ``xgboost.train`` from the model and train config groups."""
    result: dict[str, Any] = {"objective": schema["objective"]}
    result.update({name: value for name, (_, value) in user_params(params).items()})
    if schema["task"] == "multiclass":
        result["num_class"] = len(schema["classes"])
    result.setdefault("seed", 0)
    result.setdefault("nthread", 1)
    return result


def xgboost_message(exc: Exception) -> str:
    """XGBoost's error without its log prefix and stack trace (one line)."""
    lines = [_LOG_PREFIX.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith("Stack trace")]
    if not lines:
        return str(exc)
    candidates = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Objective candidate:")]
    return lines[0] + (f" (known objectives: {', '.join(sorted(candidates))})" if candidates else "")


def _probe(xgb: Any, dmatrix: Any, params: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(XGBoost's error or None, parameters XGBoost reports as not used) for one-round training."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            booster = xgb.train({"verbosity": 1, **params}, dmatrix, num_boost_round=1)
        except xgb.core.XGBoostError as exc:
            return xgboost_message(exc), []
    unused: list[str] = []
    for warning in caught:
        match = _UNUSED.search(str(warning.message))
        if match:
            unused += [name.strip().strip('"') for name in match.group(1).split(",")]
    import numpy as np

    if not np.isfinite(booster.predict(dmatrix)).all():
        return "training gives a model whose predictions are not finite numbers", unused
    return None, unused


def check_params(config: dict[str, Any]) -> None:
    """Refuse, before anything runs, model/train settings XGBoost would reject (ConfigError, exit 2)."""
    import numpy as np
    import xgboost as xgb

    train = config.get("train") or {}
    rounds = train.get("num_boost_round", 100)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"train.num_boost_round={rounds!r} is not allowed", "use a whole number of at least 1")
    given = user_params(config)
    for key, value in given.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}={value} is not allowed: XGBoost parameters must be finite numbers",
                              f"set {key} to a finite value; allowed values: {PARAMETER_DOCS}")
    objective = str((config.get("model") or {}).get("objective") or "auto")
    base: dict[str, Any] = {"objective": "reg:squarederror" if objective == "auto" else objective, "nthread": 1}
    if base["objective"].startswith("multi:"):
        base["num_class"] = 2
    rng = np.random.default_rng(0)
    features = rng.normal(size=(16, 2))
    labels = (features[:, 0] > 0).astype(float) if objective == "auto" or not objective.startswith("reg") else features[:, 0]
    dmatrix = xgb.DMatrix(features, label=labels, nthread=1)
    error, _ = _probe(xgb, dmatrix, base)
    if error:
        raise ConfigError(f"model.objective={objective!r} is refused by XGBoost: {error}",
                          f"use `auto` or an objective listed at {PARAMETER_DOCS}")
    checked = {name: kv for name, kv in given.items() if name not in DATA_DEPENDENT}
    for name, (key, value) in checked.items():
        error, unused = _probe(xgb, dmatrix, {**base, name: value})
        if error:
            raise ConfigError(f"{key}={value!r} is refused by XGBoost: {error}",
                              f"fix {key} in conf/ or the override; allowed values: {PARAMETER_DOCS}")
        if name in unused:
            raise ConfigError(f"{key} is not an XGBoost parameter (XGBoost reports it as not used)",
                              f"check the spelling against {PARAMETER_DOCS}, or remove it")
    error, _ = _probe(xgb, dmatrix, {**base, **{name: value for name, (_, value) in checked.items()}})
    if error:
        keys = ", ".join(f"{key}={value!r}" for key, value in checked.values())
        raise ConfigError(f"XGBoost refuses these settings together ({keys}): {error}",
                          f"allowed combinations: {PARAMETER_DOCS}")

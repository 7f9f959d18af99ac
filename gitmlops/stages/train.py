"""Stage `train`: fit XGBoost with ``xgboost.train``; save the model, its feature schema and a
reference profile of the training data.

Determinism: the same data and params give a byte-identical model file. That rests on a fixed
``train.seed`` and a fixed ``train.nthread`` (floating-point sums in the histogram builder depend on
how rows are split among threads), the same XGBoost version, and the same input file bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitmlops.errors import DataError
from gitmlops.stages.features import (
    build_schema,
    encode_target,
    feature_frame,
    load_params,
    write_json,
)

BOOSTER_KEYS = ("booster", "tree_method", "max_bin", "grow_policy", "max_leaves")
TRAIN_KEYS = {
    "max_depth": "max_depth",
    "eta": "eta",
    "subsample": "subsample",
    "colsample_bytree": "colsample_bytree",
    "min_child_weight": "min_child_weight",
    "reg_lambda": "lambda",
    "seed": "seed",
    "nthread": "nthread",
}


def booster_params(params: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The parameter dict for ``xgboost.train`` from the model and train config groups."""
    model, train = params.get("model", {}), params.get("train", {})
    result: dict[str, Any] = {"objective": schema["objective"]}
    for key in BOOSTER_KEYS:
        if model.get(key) is not None:
            result[key] = model[key]
    for key, xgb_key in TRAIN_KEYS.items():
        if train.get(key) is not None:
            result[xgb_key] = train[key]
    if schema["task"] == "multiclass":
        result["num_class"] = len(schema["classes"])
    result.setdefault("seed", 0)
    result.setdefault("nthread", 1)
    return result


def write_reference_profile(df: Any, path: Path) -> None:
    """Profile the training data in whylogs' format (the reference for drift checks)."""
    from gitmlops.monitor import profile_dataframe, write_profile
    from gitmlops.monitor.summary import exact_quantiles

    # The data is in memory: its summary carries exact quantiles, identical on every rerun.
    write_profile(profile_dataframe(df), path, exact=exact_quantiles(df))


def train(params_path: str | Path = "params.yaml") -> str:
    """Train and write the model, schema and reference profile; return a one-line summary."""
    import pandas as pd
    import xgboost as xgb

    params = load_params(params_path)
    from gitmlops.stages.dask_train import wants_dask

    if wants_dask(params):
        from gitmlops.stages.dask_train import train_on_dask

        return train_on_dask(params)
    paths = params.get("paths", {})
    prepared = Path(paths.get("prepared", "data/prepared"))
    target = params.get("data", {}).get("target")
    train_file = prepared / "train.parquet"
    if not train_file.exists():  # a file, or a folder of Parquet parts (data.engine: dask)
        raise DataError(f"{train_file} is missing", "run the prepare stage first (`gitmlops run`)")
    df = pd.read_parquet(train_file)
    if target not in df.columns:
        raise DataError(f"target column {target!r} is not in {train_file}")
    schema = build_schema(df, target, params.get("model", {}).get("objective", "auto"))
    features = feature_frame(df, schema)
    labels = encode_target(df[target], schema)
    dtrain = xgb.DMatrix(features, label=labels, enable_categorical=True, nthread=1)
    rounds = int(params.get("train", {}).get("num_boost_round", 100))
    booster = xgb.train(booster_params(params, schema), dtrain, num_boost_round=rounds)

    model_path = Path(paths.get("model", "models/model.ubj"))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_path))
    write_json(paths.get("schema", "models/schema.json"), schema)
    write_reference_profile(df, Path(paths.get("reference_profile", "models/reference_profile.bin")))
    return f"train: {schema['task']} model, {len(schema['features'])} features, {rounds} rounds -> {model_path}"

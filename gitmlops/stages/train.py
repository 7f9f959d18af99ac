"""Stage `train`: fit XGBoost with ``xgboost.train``; save the model, its feature schema and a
reference profile of the training data.

Determinism: the same data and params give a byte-identical model file. That rests on a fixed
``train.seed`` and a fixed ``train.nthread`` (floating-point sums in the histogram builder depend on
how rows are split among threads), the same XGBoost version, and the same input file bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitmlops.errors import ConfigError, DataError
from gitmlops.stages.features import (
    build_schema,
    encode_target,
    feature_frame,
    load_params,
    read_json,
    write_json,
)
from gitmlops.stages.params import PARAMETER_DOCS, booster_params, check_params, xgboost_message
from gitmlops.stages.roles import ROLES_FILE


def start_reference_profile(df: Any, boosting_threads: int = 0) -> Any:
    """Start profiling the training data on the cores boosting leaves free (forked workers, in chunks);
    returns a :class:`~gitmlops.monitor.frame_profile.FrameProfile` for :func:`write_reference_profile`."""
    from gitmlops.monitor.frame_profile import FrameProfile
    from gitmlops.monitor.profile import available_cores

    return FrameProfile(df, workers=max(1, available_cores() - max(0, boosting_threads)))


def write_reference_profile(df: Any, path: Path, started: Any = None) -> None:
    """Profile the training data in whylogs' format (the reference for drift checks); ``started``:
    the profile :func:`start_reference_profile` began (else it is computed now)."""
    from gitmlops.monitor import write_profile

    if started is None:
        started = start_reference_profile(df)
    view, exact = started.result()
    # The data is in memory: its summary carries exact quantiles, identical on every rerun.
    write_profile(view, path, exact=exact)


def train(params_path: str | Path = "params.yaml") -> str:
    """Train and write the model, schema and reference profile; return a one-line summary."""
    import pandas as pd
    import xgboost as xgb

    params = load_params(params_path)
    from gitmlops.stages.dask_train import wants_dask

    if wants_dask(params):
        from gitmlops.stages.dask_train import train_on_dask

        return train_on_dask(params)
    check_params(params)  # also when dvc repro runs the stage without `gitmlops run`
    paths = params.get("paths", {})
    prepared = Path(paths.get("prepared", "data/prepared"))
    target = params.get("data", {}).get("target")
    train_file = prepared / "train.parquet"
    if not train_file.exists():  # a file, or a folder of Parquet parts (data.engine: dask)
        raise DataError(f"{train_file} is missing", "run the prepare stage first (`gitmlops run`)")
    df = pd.read_parquet(train_file)
    if target not in df.columns:
        raise DataError(f"target column {target!r} is not in {train_file}")
    roles_file = prepared / ROLES_FILE
    roles = read_json(roles_file) if roles_file.is_file() else None
    schema = build_schema(df, target, params.get("model", {}).get("objective", "auto"), roles)
    settings = booster_params(params, schema)
    # The reference profile is computed while the booster trains (before XGBoost starts its threads).
    reference = start_reference_profile(df, int(settings.get("nthread") or 1))
    try:
        features = feature_frame(df, schema)
        labels = encode_target(df[target], schema)
        dtrain = xgb.DMatrix(features, label=labels, enable_categorical=True, nthread=1)
        del features
        rounds = int(params.get("train", {}).get("num_boost_round", 100))
        try:
            booster = xgb.train(settings, dtrain, num_boost_round=rounds)
        except xgb.core.XGBoostError as exc:  # data-dependent settings (constraints) are checked only here
            raise ConfigError(f"XGBoost refuses the model/train settings for this data: {xgboost_message(exc)}",
                              f"fix conf/model/ or conf/train/; allowed values: {PARAMETER_DOCS}") from None
    except BaseException:
        reference.close()
        raise

    model_path = Path(paths.get("model", "models/model.ubj"))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_path))
    write_json(paths.get("schema", "models/schema.json"), schema)
    write_reference_profile(df, Path(paths.get("reference_profile", "models/reference_profile.bin")), reference)
    return f"train: {schema['task']} model, {len(schema['features'])} features, {rounds} rounds -> {model_path}"

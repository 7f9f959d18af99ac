"""Tabular data handling shared by the built-in stages and serving: reading data, inferring the
task, the feature schema saved next to the model, and turning rows into XGBoost inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gitmlops.errors import DataError

SCHEMA_FORMAT = 1
DATA_SUFFIXES = (".csv", ".parquet", ".pq")
# An integer-valued target with at most this many distinct values is treated as class labels.
MAX_CLASSES_FOR_INTEGER_TARGET = 20


def data_files(path: str | Path) -> list[Path]:
    """The data files at ``path``: the file itself, or the CSV/Parquet files of a folder, sorted."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise DataError(f"{path}: unsupported file type", "use a .csv or .parquet file")
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
        if not files:
            raise DataError(f"{path} holds no .csv or .parquet files")
        return files
    raise DataError(f"data file {path} does not exist", "run `gitmlops data pull`, or check data.path")


def read_table(path: str | Path, missing: list[str] | None = None) -> Any:
    """Read a CSV/Parquet file or a folder of them into one DataFrame; ``missing``: the strings read
    as missing values (default: pandas' own)."""
    import pandas as pd

    frames = []
    for file in data_files(path):
        try:
            if file.suffix.lower() == ".csv":
                if missing is None:
                    frames.append(pd.read_csv(file))
                else:
                    frames.append(pd.read_csv(file, na_values=missing, keep_default_na=False))
            else:
                frame = pd.read_parquet(file)
                for name in frame.columns if missing else ():
                    if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name]):
                        frame[name] = frame[name].mask(frame[name].isin(missing))
                frames.append(frame)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read {file}: {exc}") from None
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if df.empty:
        raise DataError(f"{path} has no rows")
    return df


def infer_task(target: Any, objective: str = "auto") -> tuple[str, str]:
    """(task, objective) for a target column: binary, multiclass or regression."""
    import pandas as pd

    if objective and objective != "auto":
        prefix = objective.split(":", maxsplit=1)[0]
        task = {"binary": "binary", "multi": "multiclass"}.get(prefix, "regression")
        return task, objective
    values = target.dropna()
    if values.empty:
        raise DataError(f"target column {target.name!r} has no values")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    n_unique = values.nunique()
    if numeric:
        integral = bool((values == values.round()).all())
        if not (integral and n_unique <= MAX_CLASSES_FOR_INTEGER_TARGET):
            return "regression", "reg:squarederror"
    if n_unique < 2:
        raise DataError(
            f"target column {target.name!r} has a single value ({values.iloc[0]!r})",
            "a classifier needs at least two classes; check data.target",
        )
    if n_unique == 2:
        return "binary", "binary:logistic"
    return "multiclass", "multi:softprob"


#: Characters XGBoost does not take in a feature name, and what the model sees instead.
_NAME_SAFE = str.maketrans({"[": "(", "]": ")", "<": "lt"})


def model_names(names: list[str]) -> list[str]:
    """The feature names the booster gets: ``names`` with ``[``, ``]`` and ``<`` (which XGBoost
    refuses) replaced, made unique. The schema keeps the original names for serving."""
    legal = {name for name in names if name == name.translate(_NAME_SAFE)}
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        if name in legal:
            out.append(name)
            continue
        safe = candidate = name.translate(_NAME_SAFE)
        n = 1
        while candidate in taken or candidate in legal:
            n += 1
            candidate = f"{safe}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def build_schema(df: Any, target: str, objective: str = "auto", roles: dict[str, Any] | None = None) -> dict[str, Any]:
    """The feature schema of a training frame (features in column order, target, task, classes);
    ``roles`` (prepare's roles.json: the role table, missing-value tokens, the unseen-category rule)
    is recorded too, for serving to parse values as the stages did."""
    import pandas as pd

    task, objective = infer_task(df[target], objective)
    features = []
    for name in df.columns:
        if name == target:
            continue
        col = df[name]
        entry: dict[str, Any] = {"name": str(name), "nullable": bool(col.isna().any())}
        if pd.api.types.is_bool_dtype(col):
            entry["type"] = "bool"
        elif pd.api.types.is_datetime64_any_dtype(col):
            entry["type"] = "datetime"
        elif pd.api.types.is_integer_dtype(col):
            entry["type"] = "int"
        elif pd.api.types.is_float_dtype(col):
            entry["type"] = "float"
        elif isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            entry["type"] = "category"
            entry["categories"] = sorted(str(v) for v in col.dropna().unique())
        else:
            raise DataError(
                f"column {name!r} has unsupported type {col.dtype}",
                "convert it to a number or a string, or list it in data.drop_columns",
            )
        features.append(entry)
    if not features:
        raise DataError("the data has no feature columns besides the target")
    for entry, safe in zip(features, model_names([f["name"] for f in features]), strict=True):
        if safe != entry["name"]:
            entry["model_name"] = safe
    classes = None
    if task != "regression":
        classes = sorted((_native(v) for v in df[target].dropna().unique()), key=lambda v: (str(type(v)), v))
    schema = {
        "format": SCHEMA_FORMAT,
        "task": task,
        "objective": objective,
        "target": target,
        "classes": classes,
        "features": features,
    }
    if roles:
        schema.update({key: roles[key] for key in ("roles", "missing_values", "unseen_categories") if key in roles})
    return schema


def feature_frame(df: Any, schema: dict[str, Any]) -> Any:
    """The model's input frame: schema columns in order (named as the booster knows them, see
    :func:`model_names`), categories coded as at training."""
    import pandas as pd

    missing = [f["name"] for f in schema["features"] if f["name"] not in df.columns]
    if missing:
        raise DataError(f"the data lacks feature columns: {', '.join(missing)}")
    out = {}
    for feature in schema["features"]:
        col = df[feature["name"]]
        name = feature.get("model_name", feature["name"])
        if feature["type"] == "category":
            values = col.where(col.isna(), col.astype(str))
            # unseen values become missing here: pandas 3 deprecates leaving that to pd.Categorical
            known = values.where(values.isin(feature["categories"]))
            out[name] = pd.Categorical(known, categories=feature["categories"])
        elif feature["type"] == "datetime":
            if pd.api.types.is_datetime64_any_dtype(col):
                moments = col if getattr(col.dt, "tz", None) is not None else col.dt.tz_localize("UTC")
                out[name] = ((moments - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).astype("float64")
            else:  # text, as in raw data: serving's own parsing rule
                from gitmlops.stages.roles import datetime_seconds

                out[name] = datetime_seconds(col)
        elif feature["type"] == "bool" and not pd.api.types.is_bool_dtype(col):
            from gitmlops.serve.values import parse_bool

            def as_number(value: Any) -> float:
                try:
                    return parse_bool(value)
                except ValueError:
                    return float("nan")
            out[name] = col.map(as_number, na_action="ignore").astype("float64")
        elif feature["type"] == "bool":
            numbers = col.astype("Float64").to_numpy(dtype="float64", na_value=float("nan"))
            out[name] = pd.Series(numbers, index=col.index)
        else:
            numbers = pd.to_numeric(col, errors="coerce")
            # astype only where the dtype differs: no copy of a float64 column (astype's copy= keyword
            # is deprecated from pandas 3.1 on)
            out[name] = numbers if numbers.dtype == "float64" else numbers.astype("float64")
    # No copies of columns that already are what the booster takes (peak memory of the train stage).
    return pd.DataFrame(out, index=df.index, copy=False)


def encode_target(series: Any, schema: dict[str, Any]) -> Any:
    """Target values as XGBoost labels (class index for classifiers)."""
    import numpy as np

    if schema["task"] == "regression":
        return series.astype("float64").to_numpy()
    import pandas as pd

    index = {str(c): i for i, c in enumerate(schema["classes"])}
    # Each distinct value is looked up once (in order of appearance: the first unknown is named).
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    labels = []
    for value in uniques:
        key = str(_native(value))
        if key not in index:
            raise DataError(f"target value {key!r} was not seen in training")
        labels.append(index[key])
    return np.asarray(labels, dtype="float64")[codes]


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON with stable key order and a final newline (diff-friendly, deterministic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).read_text())


def load_params(path: str | Path) -> dict[str, Any]:
    """The config a stage runs with: conf/ next to params.yaml composed with the parameters in it
    (see :mod:`gitmlops.pipeline.effective`, which also refuses a dvc.yaml that does not match)."""
    import yaml

    from gitmlops.pipeline.effective import stage_config

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found", "run stages through `gitmlops run` or `dvc repro`")
    params = yaml.safe_load(path.read_text()) or {}
    return stage_config(path.absolute().parent, params)

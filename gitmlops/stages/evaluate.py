"""Stage `evaluate`: score the held-out set; write metrics.json and plot data.

Metrics are computed with numpy (no scikit-learn): binary -> accuracy, auc, logloss, precision,
recall, f1; multiclass -> accuracy, mlogloss, macro_f1; regression -> rmse, mae, r2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitmlops.errors import DataError
from gitmlops.stages.features import encode_target, feature_frame, load_params, read_json, write_json

DECIMALS = 6
#: Quantile bins of the actual-vs-predicted grid of a regression model (plots/confusion.json).
REGRESSION_BINS = 10


def _auc(y: Any, p: Any) -> float:
    import numpy as np

    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    # Average ranks over ties so the AUC does not depend on row order (one rank per distinct value).
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    ranks = np.empty(len(p))
    ranks[order] = np.repeat(first + (counts - 1) / 2.0 + 1.0, counts)
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _roc(y: Any, p: Any, points: int = 101) -> list[dict[str, float]]:
    import numpy as np

    pos, neg = max(float(y.sum()), 1.0), max(float(len(y) - y.sum()), 1.0)
    rows = []
    for threshold in np.linspace(1.0, 0.0, points):
        pred = p >= threshold
        rows.append(
            {
                "threshold": round(float(threshold), 4),
                "fpr": round(float((pred & (y == 0)).sum() / neg), DECIMALS),
                "tpr": round(float((pred & (y == 1)).sum() / pos), DECIMALS),
            }
        )
    return rows


def pair_counts(actual: Sequence[str], predicted: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per (actual, predicted) pair with its row count: the confusion plot's data, whose
    size depends on the classes, not on the rows (the `confusion_counts` template sums ``count``)."""
    counts = Counter(zip(actual, predicted, strict=True))
    return [{"actual": a, "predicted": p, "count": n} for (a, p), n in sorted(counts.items())]


def binned(values: Any, edges_of: Any = None, bins: int = REGRESSION_BINS) -> list[str]:
    """Regression values as labels of ``bins`` quantile bins of ``edges_of`` (default: ``values``), so
    actual-vs-predicted is a bounded bins x bins grid; labels sort in bin order."""
    import numpy as np

    reference = values if edges_of is None else edges_of
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)))
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
    width = len(str(max(len(edges) - 1, 1)))
    labels = [f"{i + 1:0{width}d}: {edges[i]:.4g}..{edges[min(i + 1, len(edges) - 1)]:.4g}" for i in range(max(len(edges) - 1, 1))]
    return [labels[i] for i in index.tolist()]


def _prf(y: Any, pred: Any, cls: int) -> tuple[float, float, float]:
    tp = float(((pred == cls) & (y == cls)).sum())
    fp = float(((pred == cls) & (y != cls)).sum())
    fn = float(((pred != cls) & (y == cls)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def compute_metrics(schema: dict[str, Any], y: Any, raw: Any) -> tuple[dict[str, float], Any]:
    """(metrics, predicted labels) for labels ``y`` and raw model output ``raw``."""
    import numpy as np

    eps = 1e-15
    if schema["task"] == "binary":
        p = np.clip(raw, eps, 1 - eps)
        pred = (p >= 0.5).astype(int)
        precision, recall, f1 = _prf(y, pred, 1)
        metrics = {
            "accuracy": float((pred == y).mean()),
            "auc": _auc(y, p),
            "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    elif schema["task"] == "multiclass":
        probs = np.clip(raw.reshape(len(y), -1), eps, 1.0)
        pred = probs.argmax(axis=1)
        yi = y.astype(int)
        metrics = {
            "accuracy": float((pred == yi).mean()),
            "mlogloss": float(-np.mean(np.log(probs[np.arange(len(yi)), yi]))),
            "macro_f1": float(np.mean([_prf(yi, pred, c)[2] for c in range(probs.shape[1])])),
        }
    else:
        pred = raw
        err = raw - y
        ss_tot = float(((y - y.mean()) ** 2).sum())
        metrics = {
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mae": float(np.mean(np.abs(err))),
            "r2": 1.0 - float((err**2).sum()) / ss_tot if ss_tot else 0.0,
        }
    return {k: round(v, DECIMALS) for k, v in metrics.items()}, pred


def unseen_rows(df: Any, schema: dict[str, Any]) -> Any:
    """A boolean mask of the rows holding a category value not seen in training."""
    import numpy as np

    mask = np.zeros(len(df), dtype=bool)
    for feature in schema["features"]:
        if feature["type"] == "category" and feature["name"] in df.columns:
            col = df[feature["name"]]
            known = col.isna() | col.astype(str).isin(feature["categories"])
            mask |= ~known.to_numpy()
    return mask


def evaluate(params_path: str | Path = "params.yaml") -> str:
    """Write metrics and plots for the held-out set; return a one-line summary."""
    import pandas as pd
    import xgboost as xgb

    params = load_params(params_path)
    paths = params.get("paths", {})
    test_file = Path(paths.get("prepared", "data/prepared")) / "test.parquet"
    if not test_file.exists():  # a file, or a folder of Parquet parts (data.engine: dask)
        raise DataError(f"{test_file} is missing", "run the prepare stage first")
    schema = read_json(paths.get("schema", "models/schema.json"))
    df = pd.read_parquet(test_file)
    unseen = unseen_rows(df, schema)
    strict = schema.get("unseen_categories") == "strict"
    if strict:  # serving refuses these rows (422): leave them out of the metrics too
        df = df[~unseen]
        if df.empty:
            raise DataError("every held-out row has a category unseen in training (unseen_categories: strict)")
    booster = xgb.Booster(model_file=str(paths.get("model", "models/model.ubj")))
    booster.set_param({"nthread": 1})
    dtest = xgb.DMatrix(feature_frame(df, schema), enable_categorical=True, nthread=1)
    y = encode_target(df[schema["target"]], schema)
    raw = booster.predict(dtest)
    metrics, pred = compute_metrics(schema, y, raw)
    metrics["rows"] = len(df)
    metrics["refused_rows" if strict else "unseen_category_rows"] = int(unseen.sum())
    write_json(paths.get("metrics", "metrics.json"), metrics)

    plots = Path(paths.get("plots", "plots"))
    roc = _roc(y, raw) if schema["task"] == "binary" else []
    write_json(plots / "roc.json", {"roc": roc})
    if schema["task"] == "regression":
        actual, predicted = binned(y), binned(pred, edges_of=y)
    else:
        classes = [str(c) for c in schema["classes"]]
        actual, predicted = [classes[int(a)] for a in y], [classes[int(p)] for p in pred]
    confusion = pair_counts(actual, predicted)
    write_json(plots / "confusion.json", {"confusion": confusion})
    shown = ", ".join(f"{k}={v}" for k, v in metrics.items())
    return f"evaluate: {shown}"

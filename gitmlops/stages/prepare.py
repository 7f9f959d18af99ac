"""Stage `prepare`: read ``data.path``, check the target, split into train and test Parquet files."""

from __future__ import annotations

import sys
from pathlib import Path

from gitmlops.errors import DataError
from gitmlops.stages.dask_prepare import prepare_on_dask, wants_dask_prepare
from gitmlops.stages.features import infer_task, load_params, read_table, write_json
from gitmlops.stages.roles import (
    ROLES_FILE,
    apply_roles,
    infer_roles,
    left_out_warning,
    missing_tokens,
    role_table,
    unseen_rule,
)
from gitmlops.stages.split import SplitSettings, columns_to_drop, split_settings

__all__ = ["SplitSettings", "columns_to_drop", "prepare", "split_settings"]


def prepare(params_path: str | Path = "params.yaml") -> str:
    """Write ``paths.prepared``/train.parquet and test.parquet; return a one-line summary."""
    import numpy as np

    params = load_params(params_path)
    if wants_dask_prepare(params):
        return prepare_on_dask(params)
    data = params.get("data", {})
    out_dir = Path(params.get("paths", {}).get("prepared", "data/prepared"))
    split = split_settings(data)
    target, test_size = split.target, split.test_size
    tokens = missing_tokens(data)
    df = read_table(data.get("path", ""), missing=tokens)
    columns_to_drop(data, target, df.columns)  # the target and data.drop_columns checked
    df = df[df[target].notna()].reset_index(drop=True)
    table = infer_roles(df, target, data)
    if not any(entry.used for entry in table):
        raise DataError("no feature columns are left once ID-like, free-text and ignored columns are left out",
                        "set data.roles.COLUMN=categorical (or numeric, ...) for the columns to use")
    df = apply_roles(df, target, table)
    task, _ = infer_task(df[target], params.get("model", {}).get("objective", "auto"))

    rng = np.random.default_rng(split.seed)
    # Stratify classification targets so that every class appears in both sets.
    groups = [np.arange(len(df))] if task == "regression" else [
        np.flatnonzero((df[target] == value).to_numpy()) for value in sorted(df[target].unique(), key=str)
    ]
    test_idx = []
    for rows in groups:
        shuffled = rng.permutation(rows)
        n_test = max(1, round(len(rows) * test_size)) if len(rows) > 1 else 0
        test_idx.extend(shuffled[:n_test].tolist())
    test_mask = np.zeros(len(df), dtype=bool)
    test_mask[test_idx] = True
    train_df, test_df = df[~test_mask], df[test_mask]
    if train_df.empty or test_df.empty:
        raise DataError(f"too few rows ({len(df)}) to split into train and test sets")

    out_dir.mkdir(parents=True, exist_ok=True)
    train_df.to_parquet(out_dir / "train.parquet", index=False)
    test_df.to_parquet(out_dir / "test.parquet", index=False)
    role_rows = [entry.to_dict() for entry in table]
    write_json(out_dir / ROLES_FILE, {"roles": role_rows, "missing_values": tokens, "unseen_categories": unseen_rule(data)})
    warning = left_out_warning(role_rows)
    if warning:
        print(warning, file=sys.stderr)
    print(role_table(role_rows), file=sys.stderr)
    return f"prepare: {len(train_df)} train rows, {len(test_df)} test rows ({task}) -> {out_dir}"

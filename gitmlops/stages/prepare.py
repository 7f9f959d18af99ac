"""Stage `prepare`: read ``data.path``, check the target, split into train and test Parquet files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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


#: Rows converted to Arrow at a time when writing Parquet (bounds the copy the conversion makes).
PARQUET_SLICE_ROWS = 250_000


def write_parquet(df: Any, path: Path, dictionary: list[str]) -> None:
    """Write ``df`` as one Parquet file, converting ``PARQUET_SLICE_ROWS`` rows to Arrow at a time (one
    row group each), so the conversion never holds a second copy of the whole frame; ``dictionary``:
    the columns to dictionary-encode."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # The schema of the whole frame, so a slice whose values are all missing keeps its column's type.
    schema = pa.Schema.from_pandas(df, preserve_index=False)
    with pq.ParquetWriter(path, schema, use_dictionary=dictionary) as writer:
        for start in range(0, max(len(df), 1), PARQUET_SLICE_ROWS):
            part = df.iloc[start:start + PARQUET_SLICE_ROWS]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))


def prepare(params_path: str | Path = "params.yaml") -> str:
    """Write ``paths.prepared``/train.parquet and test.parquet; return a one-line summary."""
    import numpy as np
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

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
    if df[target].isna().any():  # (a copy of the whole frame: only when there is something to drop)
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
    # Dictionary encoding only where it pays (text, categories): on numbers pyarrow tries it per
    # column and gives up, which doubled the time to write the files.
    encoded = [str(c) for c in df.columns if not (is_numeric_dtype(df[c]) or is_datetime64_any_dtype(df[c]))]
    del df  # the two parts are copies: the whole frame is not needed any more (peak memory)

    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(train_df, out_dir / "train.parquet", encoded)
    write_parquet(test_df, out_dir / "test.parquet", encoded)
    role_rows = [entry.to_dict() for entry in table]
    write_json(out_dir / ROLES_FILE, {"roles": role_rows, "missing_values": tokens, "unseen_categories": unseen_rule(data)})
    warning = left_out_warning(role_rows)
    if warning:
        print(warning, file=sys.stderr)
    print(role_table(role_rows), file=sys.stderr)
    return f"prepare: {len(train_df)} train rows, {len(test_df)} test rows ({task}) -> {out_dir}"

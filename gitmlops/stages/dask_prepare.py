"""Stage `prepare` on Dask (``data.engine: dask``): read ``data.path`` with ``dask.dataframe`` on the
cluster of the ``dask`` config group, split it, and write the train and test sets as folders of
Parquet parts, so no single process ever holds the whole data set.

The split is seeded per partition (``data.split_seed`` and the partition's number), so the same data
and partitioning give the same split; it is random rather than stratified (stratifying needs the
class counts of the whole data first). Train on the result with ``train.backend: dask``; the
evaluate stage reads the held-out set with pandas, so that part must fit in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitmlops.errors import ConfigError, DataError, ExternalError, GitMLOpsError
from gitmlops.stages.features import data_files
from gitmlops.stages.split import columns_to_drop, split_settings

ENGINES = ("pandas", "dask")
SPLIT_COLUMN = "__gitmlops_test__"


def wants_dask_prepare(params: dict[str, Any]) -> bool:
    """True when ``data.engine`` is ``dask``; a config error for an unknown engine."""
    engine = (params.get("data") or {}).get("engine", "pandas") or "pandas"
    if engine not in ENGINES:
        raise ConfigError(f"data.engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine == "dask"


def _mark_test_rows(frame: Any, seed: int, test_size: float, partition_info: Any = None) -> Any:
    import numpy as np

    number = partition_info["number"] if partition_info else 0
    rng = np.random.default_rng([seed, number])
    return frame.assign(**{SPLIT_COLUMN: rng.random(len(frame)) < test_size})


def _read(files: list[str], blocksize: str) -> Any:
    import dask.dataframe as dd

    csv = [f for f in files if f.lower().endswith(".csv")]
    if csv and len(csv) != len(files):
        raise DataError("data.path mixes CSV and Parquet files", "keep one format per data set")
    if csv:
        return dd.read_csv(csv, blocksize=blocksize)
    return dd.read_parquet(files)


def prepare_on_dask(params: dict[str, Any]) -> str:
    """Split ``data.path`` into ``paths.prepared``/{train,test}.parquet folders on Dask; a summary."""
    from gitmlops.stages.dask_train import connect, dask_settings, failure_text

    data = params.get("data") or {}
    split = split_settings(data)
    target, test_size, seed = split.target, split.test_size, split.seed
    files = [str(f.resolve()) for f in data_files(data.get("path", ""))]
    out_dir = Path((params.get("paths") or {}).get("prepared", "data/prepared"))
    settings = dask_settings(params)
    try:
        with connect(settings) as client:
            frame = _read(files, settings.partition_size)
            frame = frame.drop(columns=columns_to_drop(data, target, frame.columns))
            frame = frame[frame[target].notnull()]
            meta = frame._meta.assign(**{SPLIT_COLUMN: frame._meta[target].isna()})
            marked = frame.map_partitions(_mark_test_rows, seed, test_size, meta=meta)
            train = marked[~marked[SPLIT_COLUMN]].drop(columns=[SPLIT_COLUMN])
            test = marked[marked[SPLIT_COLUMN]].drop(columns=[SPLIT_COLUMN])
            out_dir.mkdir(parents=True, exist_ok=True)
            train.to_parquet(out_dir / "train.parquet", write_index=False, compute_kwargs={"scheduler": client})
            test.to_parquet(out_dir / "test.parquet", write_index=False, compute_kwargs={"scheduler": client})
            import dask

            n_train, n_test = dask.compute(train.shape[0], test.shape[0])
    except GitMLOpsError:
        raise
    except Exception as exc:  # parsing and cluster failures alike
        raise ExternalError(
            f"preparing the data on Dask failed ({type(exc).__name__}): {failure_text(exc)}",
            "check data.path (every worker must read it at the same path) and the cluster",
        ) from exc
    if not n_train or not n_test:
        raise DataError(f"too few rows ({n_train + n_test}) to split into train and test sets")
    return f"prepare (dask): {n_train} train rows, {n_test} test rows in {frame.npartitions} partitions -> {out_dir}"

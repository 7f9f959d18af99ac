"""Stage `train` on Dask (``train.backend: dask``): the same model, schema and reference profile as
local training, computed by ``xgboost.dask`` on a Dask cluster.

What it reads: the prepared training set (``paths.prepared``/train.parquet, one Parquet file or a
folder of Parquet parts), the train stage's DVC dependency, so the pipeline, its lock file and the
held-out test set stay exactly as with local training. It is read with ``dask.dataframe`` on the
workers; this process (the Dask client) holds the task graph and a few small summaries, never rows:

- the feature schema comes from per-partition summaries (column types, null-ness, the distinct
  values of category columns and of the target) reduced pairwise on the workers;
- the reference profile is a whylogs profile per partition, merged pairwise on the workers (whylogs
  merges exactly: the result is what logging all rows at once gives, up to KLL's random compaction);
- the model is trained by ``xgboost.dask.train`` on a ``DaskDMatrix`` and saved with ``save_model``.

Nothing is written unless all three succeed, so a lost scheduler or a worker dying mid-training
leaves no model behind (and DVC records nothing for the stage).

Determinism: partitions are placed on workers in contiguous blocks, in XGBoost's rank order, so
the same data, params (``train.seed``, ``train.nthread``), number of workers and partition layout
give a byte-identical model on every run, on a fresh cluster too. It is not byte-identical with the
local model, nor with one trained on another number of workers: XGBoost builds its histogram cuts
from quantile sketches merged across workers and sums gradients per worker, so the model depends on
how the rows are split among workers. It agrees with them closely in predictions and metrics. The
schema is exact, and so are the profile's counts (its quantile sketches are approximate).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmlops.errors import ConfigError, DataError, ExternalError, GitMLOpsError
from gitmlops.stages.dask_reduce import (
    merge_profiles,
    merge_summaries,
    profile_partition,
    schema_from_summary,
    summarize_partition,
    tree_reduce,
)
from gitmlops.stages.features import encode_target, feature_frame

BACKENDS = ("local", "dask")


def wants_dask(params: dict[str, Any]) -> bool:
    """True when ``train.backend`` is ``dask``; a config error for an unknown backend."""
    backend = (params.get("train") or {}).get("backend") or "local"
    if backend not in BACKENDS:
        raise ConfigError(f"train.backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend == "dask"


# -- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaskSettings:
    """The ``dask`` config block."""

    scheduler_address: str | None = None
    n_workers: int = 2
    threads_per_worker: int = 1
    processes: bool = True
    partition_size: str = "64MiB"
    connect_timeout: float = 10.0
    collective_timeout: int = 60


def dask_settings(config: dict[str, Any]) -> DaskSettings:
    """Validate ``dask`` into :class:`DaskSettings` (ConfigError naming the bad key)."""
    raw = dict(config.get("dask") or {})
    defaults = DaskSettings()
    unknown = sorted(set(raw) - set(DaskSettings.__dataclass_fields__))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in dask: {', '.join(unknown)}",
            f"known keys: {', '.join(DaskSettings.__dataclass_fields__)}",
        )

    def number(key: str, kind: type, minimum: float) -> Any:
        value = raw.get(key)
        if value is None:
            return getattr(defaults, key)
        try:
            result = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"dask.{key} must be a number, not {value!r}") from None
        if isinstance(value, bool) or not result >= minimum:
            raise ConfigError(f"dask.{key} must be at least {minimum}, not {value!r}")
        return result

    address = raw.get("scheduler_address")
    if address is not None and not (isinstance(address, str) and address.strip()):
        raise ConfigError(
            f"dask.scheduler_address must be an address such as tcp://host:8786, not {address!r}",
            "or null to start a LocalCluster",
        )
    processes = raw.get("processes", defaults.processes)
    if not isinstance(processes, bool):
        raise ConfigError(f"dask.processes must be true or false, not {processes!r}")
    partition_size = raw.get("partition_size") or defaults.partition_size
    try:
        from dask.utils import parse_bytes

        parse_bytes(partition_size)
    except (TypeError, ValueError):
        raise ConfigError(
            f"dask.partition_size must be a size such as 64MiB, not {partition_size!r}"
        ) from None
    return DaskSettings(
        scheduler_address=address.strip() if address else None,
        n_workers=number("n_workers", int, 1),
        threads_per_worker=number("threads_per_worker", int, 1),
        processes=processes,
        partition_size=str(partition_size),
        connect_timeout=number("connect_timeout", float, 0.1),
        collective_timeout=number("collective_timeout", int, 1),
    )


# -- cluster --------------------------------------------------------------------------------------


def _dask_config(settings: DaskSettings) -> dict[str, Any]:
    # Keep pandas' object strings (the local stage's dtypes, so schema and codes match), fail fast on
    # connections, and give up on a task as soon as the worker running it dies instead of retrying
    # it elsewhere: XGBoost training cannot resume on another worker.
    return {
        "dataframe.convert-string": False,
        "distributed.comm.timeouts.connect": f"{settings.connect_timeout}s",
        "distributed.scheduler.allowed-failures": 0,
    }


@contextlib.contextmanager
def connect(settings: DaskSettings) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler_address``, or on a LocalCluster started here.

    Fails with ExternalError within ``connect_timeout`` seconds when the scheduler is unreachable.
    The client (and a LocalCluster) is closed on exit, also after an error.
    """
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(_dask_config(settings)), contextlib.ExitStack() as stack:
        if settings.scheduler_address is None:
            cluster = LocalCluster(
                n_workers=settings.n_workers,
                threads_per_worker=settings.threads_per_worker,
                processes=settings.processes,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            stack.callback(cluster.close, timeout=settings.connect_timeout)
            address: Any = cluster
        else:
            address = settings.scheduler_address
        try:
            client = Client(address, timeout=settings.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExternalError(
                f"cannot reach the Dask scheduler at {settings.scheduler_address or 'the LocalCluster'}: {exc}",
                "check dask.scheduler_address (tcp://HOST:8786) and that the scheduler runs; "
                "or set it to null to train on a LocalCluster",
            ) from None
        stack.callback(client.close, timeout=settings.connect_timeout)
        if settings.scheduler_address is not None:
            try:
                client.wait_for_workers(1, timeout=settings.connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise ExternalError(
                    f"the Dask scheduler at {settings.scheduler_address} has no workers: {exc}",
                    "start workers (`dask worker ADDRESS`) or scale the cluster, then rerun",
                ) from None
        # xgboost.dask looks the client up as the current one, whatever is passed in.
        with client.as_current():
            yield client


# -- data -----------------------------------------------------------------------------------------


def parquet_parts(path: str | Path) -> list[str]:
    """The Parquet files of the prepared training data: one file, or the parts in a folder."""
    path = Path(path)
    if path.is_dir():
        parts = sorted(
            str(p.resolve())
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in (".parquet", ".pq")
        )
        if not parts:
            raise DataError(f"{path} holds no .parquet files")
        return parts
    if path.is_file():
        return [str(path.resolve())]
    raise DataError(f"{path} is missing", "run the prepare stage first (`gitmlops run`)")


def read_partitions(parts: list[str], partition_size: str, min_partitions: int = 1) -> Any:
    """Parquet files as a dask DataFrame of about ``partition_size`` (uncompressed) per partition.

    With fewer than ``min_partitions`` partitions (one per worker), row groups are read one per
    partition, and a single row group is split: every worker then gets a share of the rows.
    """
    import dask
    import dask.dataframe as dd

    with dask.config.set({"dataframe.convert-string": False}):
        try:
            ddf = dd.read_parquet(parts, blocksize=partition_size, split_row_groups="adaptive")
            if ddf.npartitions < min_partitions:
                ddf = dd.read_parquet(parts, split_row_groups=True)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {', '.join(parts[:3])}: {exc}") from None
    if ddf.npartitions < min_partitions:
        ddf = ddf.repartition(npartitions=min_partitions)
    return ddf


def worker_report(files: list[str]) -> dict[str, Any]:
    """Run on each worker: which of ``files`` it cannot see, and its gitmlops and XGBoost versions."""
    import os
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "missing": [f for f in files if not os.path.exists(f)],
        "gitmlops": version("gitmlops"),
        "xgboost": version("xgboost"),
    }


def check_workers(client: Any, files: list[str]) -> int:
    """The number of workers, after checking each sees the data and runs the same gitmlops/XGBoost.

    Workers read the files themselves (absolute paths), so on a remote cluster the repository must
    be on a file system they mount at the same path.
    """
    try:
        reports = client.run(worker_report, files)
    except ImportError as exc:
        raise ExternalError(
            f"the Dask workers cannot run gitmlops: {exc}",
            "install the same gitmlops, xgboost and whylogs versions in the workers' environment (image)",
        ) from None
    if not reports:
        raise ExternalError(
            "the Dask cluster has no workers", "start workers or scale the cluster, then rerun"
        )
    here = worker_report([])
    for address, report in sorted(reports.items()):
        if report["missing"]:
            raise DataError(
                f"Dask worker {address} cannot see {report['missing'][0]}",
                "workers read the prepared data by path: put the repository on a file system the workers "
                "mount at the same path (see docs/scaling.md)",
            )
        for package in ("gitmlops", "xgboost"):
            if report[package] != here[package]:
                raise ExternalError(
                    f"Dask worker {address} runs {package} {report[package]}, this process {here[package]}",
                    "install the same versions in the workers' environment (image)",
                )
    return len(reports)


def spread(client: Any, ddf: Any) -> Any:
    """Compute ``ddf`` into the workers' memory in contiguous blocks of partitions, in rank order.

    The scheduler would put pieces of one split row group on one worker; placing block i on the
    i-th worker in XGBoost's rank order (it sorts ``[xgboost.dask-NAME]:ADDRESS``) balances the rows
    and makes the placement, and so the model, the same on every run with the same workers. The
    placement is a preference, not a restriction: should a worker die, its blocks are not left
    waiting for it (they fail, or move to a live worker).
    """
    import dask.dataframe as dd
    import distributed
    import pandas as pd

    info = client.scheduler_info(n_workers=-1)["workers"]
    ranked = sorted(info, key=lambda addr: f"[xgboost.dask-{info[addr].get('name')}]:{addr}")
    parts = ddf.to_delayed()
    futures = [
        client.compute(part, workers=[ranked[i * len(ranked) // len(parts)]], allow_other_workers=True)
        for i, part in enumerate(parts)
    ]
    distributed.wait(futures)
    meta = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in ddf.dtypes.items()})
    return dd.from_delayed(futures, meta=meta, verify_meta=False)


# -- training -------------------------------------------------------------------------------------


def _labels(series: Any, schema: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.Series(encode_target(series, schema), index=series.index, name=series.name, dtype="float64")


@dataclass
class DaskTraining:
    """What a Dask training run computed (written only after all of it succeeded)."""

    booster: Any
    schema: dict[str, Any]
    profile: Any
    rows: int
    partitions: int
    workers: int


def fit(client: Any, ddf: Any, params: dict[str, Any], settings: DaskSettings) -> DaskTraining:
    """Schema, merged reference profile and booster for ``ddf`` on the cluster behind ``client``."""
    import dask
    import pandas as pd
    import xgboost as xgb
    from xgboost import dask as dxgb
    from xgboost.collective import Config as CollConfig

    from gitmlops.stages.params import booster_params

    target = params.get("data", {}).get("target")
    if target not in ddf.columns:
        raise DataError(f"target column {target!r} is not in the prepared training data")
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    # Read once into the workers' memory: the summaries, the profile and the training matrix are then
    # computed where each partition lives, without reading the files again.
    ddf = spread(client, ddf)
    parts = ddf.to_delayed()
    summary_job = tree_reduce([dask.delayed(summarize_partition)(p, target) for p in parts], merge_summaries)
    profile_job = tree_reduce([dask.delayed(profile_partition)(p) for p in parts], merge_profiles)
    summary, profile_bytes = client.compute([summary_job, profile_job], sync=True)
    schema = schema_from_summary(summary, target, params.get("model", {}).get("objective", "auto"))
    from gitmlops.stages.features import read_json
    from gitmlops.stages.roles import ROLES_FILE

    roles_file = Path(params.get("paths", {}).get("prepared", "data/prepared")) / ROLES_FILE
    if roles_file.is_file():  # the pandas engine's role table, recorded as local training records it
        roles = read_json(roles_file)
        schema.update({key: roles[key] for key in ("roles", "missing_values", "unseen_categories") if key in roles})

    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in ddf.dtypes.items()})
    features = ddf.map_partitions(feature_frame, schema, meta=feature_frame(empty, schema))
    labels = ddf[target].map_partitions(_labels, schema, meta=pd.Series(dtype="float64", name=target))
    dtrain = dxgb.DaskDMatrix(client, features, labels, enable_categorical=True)
    rounds = int(params.get("train", {}).get("num_boost_round", 100))
    # A bounded collective timeout: when a worker dies, its peers stop waiting and training fails.
    coll_cfg = CollConfig(
        timeout=settings.collective_timeout, tracker_timeout=math.ceil(settings.connect_timeout) + 5
    )
    result = dxgb.train(
        client, booster_params(params, schema), dtrain, num_boost_round=rounds, coll_cfg=coll_cfg
    )
    booster = result["booster"] if result else None
    if not isinstance(booster, xgb.Booster):
        raise ExternalError("Dask training returned no model", "check the workers' logs")
    from gitmlops.monitor.profile_view import Profile

    return DaskTraining(
        booster,
        schema,
        Profile.deserialize(profile_bytes),
        rows=int(summary["rows"]),
        partitions=ddf.npartitions,
        workers=workers,
    )


def failure_text(exc: BaseException, limit: int = 300) -> str:
    """The informative lines of an error from the cluster (XGBoost's carry C++ stack traces)."""
    lines = []
    for raw in str(exc).splitlines():
        if raw.strip().startswith(("Stack trace", "[bt]")):
            continue
        # Drop XGBoost's "[time]", "[file:line|time]:" and "path/file.cc:83:" location prefixes.
        text = re.sub(r"^([\s-]*(\[[^\]]*\]|\S+\.(cc|h|cu|cuh):\d+):?)*", "", raw).strip()
        if text:
            lines.append(text)
    return "; ".join(lines)[:limit] or "no details"


def train_on_dask(params: dict[str, Any]) -> str:
    """Train with ``xgboost.dask``; write the model, schema and reference profile; return a summary."""
    from gitmlops.monitor import write_profile
    from gitmlops.stages.features import write_json

    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"train.backend=dask needs Dask, which is not installed here ({exc})",
            'pip install "gitmlops[dask]", or set train.backend=local',
        ) from None
    paths = params.get("paths", {})
    settings = dask_settings(params)
    files = parquet_parts(Path(paths.get("prepared", "data/prepared")) / "train.parquet")
    try:
        with connect(settings) as client:
            workers = check_workers(client, files)
            run = fit(client, read_partitions(files, settings.partition_size, workers), params, settings)
    except GitMLOpsError:
        raise
    except Exception as exc:  # a cluster fails in many ways: dead workers, lost comms, memory
        raise ExternalError(
            f"training on Dask failed ({type(exc).__name__}): {failure_text(exc)}",
            "a worker may have died or lost contact (memory? see the workers' logs); "
            "check the cluster and rerun. No model was written",
        ) from exc

    model_path = Path(paths.get("model", "models/model.ubj"))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    run.booster.save_model(str(model_path))
    write_json(paths.get("schema", "models/schema.json"), run.schema)
    write_profile(run.profile, Path(paths.get("reference_profile", "models/reference_profile.bin")))
    rounds = int(params.get("train", {}).get("num_boost_round", 100))
    return (
        f"train (dask): {run.schema['task']} model, {len(run.schema['features'])} features, {rounds} rounds, "
        f"{run.rows} rows in {run.partitions} partitions on {run.workers} workers -> {model_path}"
    )

"""Dask training speed and client memory, as ratios against local training in the same run.

The whole train stage (schema, reference profile, model) runs on the same prepared training file of
``--rows`` rows (the example churn data, default 1.2M rows) with the same params:

- local: ``xgboost.train`` in one process, ``train.nthread`` = 1 and = the number of cores;
- dask: a LocalCluster of ``--workers`` worker processes with one thread each, started by the stage.

Each runs in a fresh subprocess; its peak resident memory (VmHWM) is the client's (for Dask the
workers are other processes, reported separately). Figures: rows/s (rows / stage seconds) and the
ratio to local with one thread, and peak memory against the in-memory size of the data.

Usage: python benchmarks/bench_dask.py [--rows N] [--rounds R] [--workers W] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def write_data(folder: Path, rows: int) -> int:
    """The prepared training file (several row groups, as a large prepare writes); its bytes in memory."""
    from gitmlops.example import generate

    df = generate(rows, seed=0).drop(columns=["customer_id"])
    prepared = folder / "data/prepared"
    prepared.mkdir(parents=True)
    df.to_parquet(prepared / "train.parquet", index=False, row_group_size=100_000)
    return int(df.memory_usage(deep=True).sum())


def write_params(folder: Path, backend: str, rounds: int, nthread: int, workers: int) -> None:
    params = {
        "data": {"target": "churned"},
        "model": {"objective": "auto", "tree_method": "hist", "max_bin": 256},
        "train": {
            "num_boost_round": rounds,
            "max_depth": 6,
            "eta": 0.3,
            "seed": 0,
            "nthread": nthread,
            "backend": backend,
            "dask": {
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "partition_size": "32MiB",
            },
        },
        "paths": {
            "prepared": "data/prepared",
            "model": f"out-{backend}-{nthread}/model.ubj",
            "schema": f"out-{backend}-{nthread}/schema.json",
            "reference_profile": f"out-{backend}-{nthread}/reference_profile.bin",
        },
    }
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(folder: Path) -> None:
    """Run the train stage here and print seconds, peak memory and the workers' peak memory as JSON."""
    os.chdir(folder)
    from gitmlops.stages import dask_train
    from gitmlops.stages.train import train

    worker_peaks: list[float] = []
    original_fit = dask_train.fit

    def fit_and_measure(client, *args, **kwargs):  # type: ignore[no-untyped-def]
        run = original_fit(client, *args, **kwargs)
        peaks = client.run(peak_mb)
        worker_peaks.extend(peaks.values())
        return run

    dask_train.fit = fit_and_measure
    import xgboost
    import xgboost.dask

    boosting: list[float] = []

    def timed(fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            begin = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                boosting.append(time.perf_counter() - begin)

        return wrapper

    # Time the boosting call alone too (xgboost.train / xgboost.dask.train incl. building its matrix).
    xgboost.train = timed(xgboost.train)
    xgboost.dask.train = timed(xgboost.dask.train)
    start = time.perf_counter()
    summary = train("params.yaml")
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "boost_seconds": sum(boosting),
                "peak_mb": peak_mb(),
                "worker_peak_mb": worker_peaks,
                "summary": summary,
            }
        )
    )


def baseline() -> None:
    """Peak memory of a process that only imports what the stage imports (no data)."""
    import distributed  # noqa: F401
    import whylogs  # noqa: F401
    import xgboost.dask  # noqa: F401

    import gitmlops.monitor  # noqa: F401
    from gitmlops.stages import dask_train, train  # noqa: F401

    print(json.dumps({"peak_mb": peak_mb()}))


def run_child(folder: Path | None) -> dict:
    env = dict(os.environ, WHYLOGS_NO_ANALYTICS="True")
    proc = subprocess.run(
        [sys.executable, __file__, *(["--child", str(folder)] if folder else ["--baseline"])],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"train failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        baseline()
        return
    if args.child:
        child(args.child)
        return
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        folder = Path(tmp)
        data_mb = write_data(folder, args.rows) / 2**20
        print(f"{args.rows} rows ({data_mb:.0f} MB in memory), {args.rounds} rounds, depth 6, {cores} cores")
        runs = [
            ("local, 1 thread", "local", 1),
            (f"local, {cores} threads", "local", cores),
            (f"dask, {args.workers} workers x 1 thread", "dask", 1),
        ]
        samples: dict[str, list[dict]] = {label: [] for label, _, _ in runs}
        for _ in range(args.repeat):  # interleaved, medians compared: the machine is shared and noisy
            for label, backend, nthread in runs:
                write_params(folder, backend, args.rounds, nthread, args.workers)
                samples[label].append(run_child(folder))
        results = {
            label: {
                key: statistics.median(r[key] for r in rs) for key in ("seconds", "boost_seconds", "peak_mb")
            }
            | {"worker_peak_mb": max((r["worker_peak_mb"] for r in rs), default=[], key=sum)}
            for label, rs in samples.items()
        }
        base = results["local, 1 thread"]
        print(
            f"medians of {args.repeat} runs; stage = schema + reference profile + model, boost = the "
            "xgboost.train / xgboost.dask.train call"
        )
        print(
            f"{'run':<28} {'stage s':>8} {'rows/s':>9} {'ratio':>6} {'boost s':>8} {'rows/s':>9} {'ratio':>6}"
            f" {'client peak':>12} {'workers peak':>13}"
        )
        for label, res in results.items():
            rate, boost_rate = args.rows / res["seconds"], args.rows / res["boost_seconds"]
            workers = "/".join(f"{p:.0f}" for p in res["worker_peak_mb"]) or "-"
            print(
                f"{label:<28} {res['seconds']:8.1f} {rate:9.0f} {base['seconds'] / res['seconds']:5.2f}x"
                f" {res['boost_seconds']:8.1f} {boost_rate:9.0f} {base['boost_seconds'] / res['boost_seconds']:5.2f}x"
                f" {res['peak_mb']:9.0f} MB {workers:>10} MB"
            )
        dask_peak = results[runs[2][0]]["peak_mb"]
        local_peak = results["local, 1 thread"]["peak_mb"]
        print(
            f"client peak memory: dask {dask_peak:.0f} MB = {dask_peak / local_peak:.2f}x local "
            f"({local_peak:.0f} MB); data in memory {data_mb:.0f} MB"
        )
        imports = run_child(None)["peak_mb"]
        print(
            f"client peak above the imports alone ({imports:.0f} MB): dask {dask_peak - imports:+.0f} MB, "
            f"local {local_peak - imports:+.0f} MB"
        )


if __name__ == "__main__":
    main()

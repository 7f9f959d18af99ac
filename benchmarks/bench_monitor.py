"""Benchmark of `gitmlops monitor`: profiling throughput and memory, and the cost of a drift diff.

Run: python benchmarks/bench_monitor.py [--rows 200000] [--scale 10] [--no-diff] [--ks-columns 10]

1. Profiling: `gitmlops monitor profile` (chunks profiled by parallel workers, merged) against
   `why.log(pd.read_csv(...))` on the same CSV (20 columns), both as fresh processes, wall time.
   Peak memory of all processes of each run (the sum of PSS, so pages a forked worker shares with
   its parent are not counted twice), at 1x and ``--scale``x rows (10x by default).
2. Diff: `monitor diff` between two stored profiles of 100 columns built from 1M rows per side,
   against scipy's two-sample KS test on the raw 1M-row columns.
Prints a Markdown table (pasted into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

BIN = Path(sys.executable).parent


def make_csv(path: Path, rows: int, seed: int = 0, chunk: int = 200_000) -> None:
    """A 20-column CSV: 12 floats, 4 integers, 4 categorical strings (written in chunks)."""
    rng = np.random.default_rng(seed)
    first = True
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        cols: dict[str, object] = {f"f{i}": rng.normal(i, 1 + i, n).round(4) for i in range(12)}
        cols.update({f"i{i}": rng.integers(0, 10 ** (i + 1), n) for i in range(4)})
        cols.update({f"s{i}": rng.choice([f"cat{k}" for k in range(3 + 5 * i)], n) for i in range(4)})
        pd.DataFrame(cols).to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Run ``cmd``; return (seconds, peak PSS MB and peak RSS MB summed over its process tree, stdout)."""
    peak = {"pss": 0.0, "rss": 0.0}
    done = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, WHYLOGS_NO_ANALYTICS="True"))

    def sample() -> None:
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            pss = rss = 0.0
            try:
                for p in [parent, *parent.children(recursive=True)]:
                    try:
                        info = p.memory_full_info()
                        pss += info.pss
                        rss += info.rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
            except psutil.NoSuchProcess:
                break
            peak["pss"] = max(peak["pss"], pss)
            peak["rss"] = max(peak["rss"], rss)
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return seconds, peak["pss"] / 2**20, peak["rss"] / 2**20, out


def bench_profile(work: Path, rows: int, chunk_size: int, scale: int = 10) -> list[str]:
    small, big = work / "small.csv", work / "big.csv"
    make_csv(small, rows, seed=1)
    make_csv(big, rows * scale, seed=2)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    baseline = ("import os; os.environ.setdefault('WHYLOGS_NO_ANALYTICS', 'True'); import sys; "
                "import pandas as pd, whylogs as why; why.log(pd.read_csv(sys.argv[1])).view()")
    lines = []
    results = {}
    for label, path in (("1x", small), (f"{scale}x", big)):
        n = rows if label == "1x" else rows * scale
        t_ours, pss_ours, rss_ours, out = run_measured(
            [str(BIN / "gitmlops"), "monitor", "profile", str(path), "--name", label, "--chunk-size", str(chunk_size),
             "--json"], work)
        jobs = json.loads(out)["jobs"]
        t_base, pss_base, rss_base, _ = run_measured([sys.executable, "-c", baseline, str(path)], work)
        results[label] = (pss_ours, pss_base)
        lines.append(
            f"| profile {n:,} rows x 20 cols | {n / t_ours:,.0f} rows/s ({t_ours:.1f} s, {jobs} workers) | "
            f"{n / t_base:,.0f} rows/s ({t_base:.1f} s) | **{t_base / t_ours:.2f}x** | "
            f"{pss_ours:.0f} MB (RSS sum {rss_ours:.0f}) | {pss_base:.0f} MB (RSS {rss_base:.0f}) |"
        )
    growth_ours = results[f"{scale}x"][0] / results["1x"][0] - 1
    growth_base = results[f"{scale}x"][1] / results["1x"][1] - 1
    lines.append(f"\nPeak memory from 1x to {scale}x rows: monitor profile {growth_ours:+.0%}, "
                 f"why.log(pd.read_csv) {growth_base:+.0%}.")
    return lines


def bench_diff(work: Path, rows: int, ks_columns: int) -> list[str]:
    from scipy.stats import ks_2samp

    from gitmlops.monitor import diff, profile_dataframe, read_view, write_profile
    from gitmlops.monitor.sketches import view_class

    rng = np.random.default_rng(3)
    generators = [
        lambda shift: rng.normal(shift, 1, rows),
        lambda shift: rng.lognormal(shift, 1, rows),
        lambda shift: rng.integers(0, 1000, rows) + int(shift * 300),
        lambda shift: rng.exponential(1 + shift, rows),
    ]
    base_ref, base_tgt, ks_times = [], [], []
    for k, gen in enumerate(generators):
        ref, tgt = gen(0.0), gen(0.5 if k % 2 else 0.0)
        if len(ks_times) < ks_columns:
            start = time.perf_counter()
            ks_2samp(ref, tgt)
            ks_times.append(time.perf_counter() - start)
        base_ref.append(profile_dataframe(pd.DataFrame({"v": ref})).get_column("v"))
        base_tgt.append(profile_dataframe(pd.DataFrame({"v": tgt})).get_column("v"))
    # 100 columns: the four 1M-row column sketches above, repeated under 100 names (a diff's cost
    # depends on the sketches, which are the same size for any column of 1M numbers).
    from gitmlops.monitor.profile_format import ProfileData

    view = view_class()
    now = int(datetime.now(UTC).timestamp() * 1000)
    ref_view = view(ProfileData({f"c{i:03d}": base_ref[i % 4].components for i in range(100)}, now, now))
    tgt_view = view(ProfileData({f"c{i:03d}": base_tgt[i % 4].components for i in range(100)}, now, now))
    write_profile(ref_view, work / "ref100.bin")
    write_profile(tgt_view, work / "tgt100.bin")
    while len(ks_times) < ks_columns:  # more raw KS timings, on fresh 1M-row columns
        ref, tgt = generators[len(ks_times) % 4](0.0), generators[len(ks_times) % 4](0.2)
        start = time.perf_counter()
        ks_2samp(ref, tgt)
        ks_times.append(time.perf_counter() - start)
    ks_100 = float(np.mean(ks_times)) * 100
    start = time.perf_counter()
    report = diff(read_view(work / "ref100.bin"), read_view(work / "tgt100.bin"))
    t_lib = time.perf_counter() - start
    t_cli, _, _, _ = run_measured([str(BIN / "gitmlops"), "monitor", "diff", "-r", "ref100.bin", "-t", "tgt100.bin",
                                   "--json"], work)
    return [
        f"| diff 2 stored profiles, 100 cols, {rows:,} rows each | {t_lib:.2f} s in-process "
        f"({t_cli:.2f} s as a command) | scipy KS on raw data: {ks_100:.1f} s "
        f"(mean of {len(ks_times)} columns x 100) | **{ks_100 / t_lib:.0f}x** faster | "
        f"{report.drifted} of 100 drifted |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="1x rows for profiling (--scale x is also run)")
    parser.add_argument("--scale", type=int, default=10, help="the larger run has this many times the rows")
    parser.add_argument("--no-diff", action="store_true", help="skip the drift diff measurement")
    parser.add_argument("--chunk-size", type=int, default=50_000, help="rows per chunk of monitor profile")
    parser.add_argument("--diff-rows", type=int, default=1_000_000, help="rows per side of the diff profiles")
    parser.add_argument("--ks-columns", type=int, default=10, help="columns on which raw KS is timed")
    args = parser.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("| measurement | gitmlops | peer | ratio | peak memory (ours, PSS sum) | peak memory (peer) |")
        print("|---|---|---|---|---|---|")
        for line in bench_profile(work, args.rows, args.chunk_size, args.scale):
            print(line, flush=True)
        if args.no_diff:
            return
        print("\n| measurement | gitmlops | peer | ratio | result |")
        print("|---|---|---|---|---|")
        for line in bench_diff(work, args.diff_rows, args.ks_columns):
            print(line, flush=True)


if __name__ == "__main__":
    main()

"""Site build speed: `gitmlops site build` on 1,500 registry tags and 200 committed profiles.

The repo is bench_registry's (5 artifacts, one version per commit, stage events with counters, built
in one `git fast-import`), plus a reference profile and 200 profiles of one dataset (12 columns,
2,000 rows each, drifting slowly), committed. Timed in the same run:

- a full build (empty output folder: every commit read, every profile compared, every report written);
- a rebuild after one more profile and one more promotion (the cache in the output folder);
- the peer: `gitmlops registry show --json`, the cheapest command that reads the same tags.

    python benchmarks/bench_site.py [--tags 1500] [--profiles 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_registry import BIN, ENV, build, timed

LIMIT = 10.0  # seconds, the target for the full build on 2 cores


def write_one(path: Path, shift: float, seed: int, rows: int = 2_000) -> None:
    """A profile of 12 columns (9 numeric, 3 categorical) whose numbers move with ``shift``."""
    import numpy as np
    import pandas as pd

    from gitmlops.monitor import profile_dataframe, write_profile

    rng = np.random.default_rng(seed)
    data = {f"num{i}": rng.normal(shift * (i % 3), 1.0, rows) for i in range(9)}
    data |= {f"cat{i}": rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1]) for i in range(3)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_profile(profile_dataframe(pd.DataFrame(data)), path)


def commit_profile(repo: Path, when: int, shift: float, seed: int) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    write_one(repo / "monitoring" / "production" / f"{stamp}.bin", shift, seed)


def add_profiles(repo: Path, count: int) -> None:
    """A reference profile and ``count`` profiles of dataset ``production``, one minute apart, committed."""
    write_one(repo / "models" / "reference_profile.bin", 0.0, 0)
    for n in range(count):
        commit_profile(repo, 1_700_000_000 + 60 * n, n / count, n + 1)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=ENV)
    subprocess.run(["git", "commit", "-q", "-m", "profiles"], cwd=repo, check=True, env=ENV)


def site_build(repo: Path, out: Path) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "gitmlops"), "site", "build", "-o", str(out), "--json"], cwd=repo,
                          capture_output=True, text=True, env=ENV)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"site build failed: {proc.stdout}{proc.stderr}")
    return took, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1500)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-site-"))
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    try:
        repo = build(root, args.tags)
        add_profiles(repo, args.profiles)
        peer, _ = timed([str(BIN / "gitmlops"), "registry", "show", "--json"], repo, args.repeat)
        assert peer is not None
        full_times, incremental_times = [], []
        summary: dict[str, object] = {}
        for i in range(args.repeat):
            out = root / f"site-{i}"
            took, summary = site_build(repo, out)
            full_times.append(took)
            assert summary["profiles"] == args.profiles + i and summary["events"] == args.tags + i, summary
            # one more profile and one more promotion, then build into the same folder again
            commit_profile(repo, 1_800_000_000 + 60 * i, 0.5, 10_000 + i)
            subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=ENV)
            subprocess.run(["git", "commit", "-q", "-m", f"profile {i}"], cwd=repo, check=True, env=ENV)
            subprocess.run([str(BIN / "gitmlops"), "registry", "promote", "model0", f"v0.0.{i + 1}", "--stage", "prod"],
                           cwd=repo, check=True, env=ENV, capture_output=True)
            took, again = site_build(repo, out)
            incremental_times.append(took)
            assert again["profiles_compared"] == 1 and again["commits_read"] == 1, again  # the new HEAD
        full, incremental = statistics.median(full_times), statistics.median(incremental_times)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.tags} tags, {args.profiles} profiles: {summary['models']} models, {summary['versions']} versions")
    print()
    print("| measurement | time | vs `registry show --json` | target |")
    print("|---|---:|---:|---|")
    print(f"| `gitmlops registry show --json` (peer) | {peer * 1000:.0f} ms | 1.0x | |")
    print(f"| `site build`, empty folder | {full:.2f} s | {full / peer:.1f}x | < {LIMIT:.0f} s: "
          f"{'ok' if full < LIMIT else 'OVER'} |")
    print(f"| `site build` again, +1 profile +1 promotion | {incremental:.2f} s | {incremental / peer:.1f}x | |")
    print(f"\nfull / incremental: {full / incremental:.1f}x")


if __name__ == "__main__":
    main()

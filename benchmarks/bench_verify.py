"""Verification speed: `gitmlops verify` vs the original pipeline run, measured in the same run.

1. `gitmlops verify model@v0.1.0` (isolated work tree, pull from the remote, rerun every stage,
   compare) vs `gitmlops run --force` (the pipeline itself) on the trained example (target: <= 1.2x).
2. `gitmlops status` warm (verdicts memoised) and with `--remote`, vs `git status`, for information.

Usage: python benchmarks/bench_verify.py [--repeat N]
Runs are interleaved (A, B, A, B, ...) and medians compared, since machines here are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def make_repo(base: Path, env: dict[str, str]) -> Path:
    """The example project, trained, committed, pushed and registered."""
    repo = base / "repo"
    repo.mkdir()
    steps = [
        ["git", "init", "-q", "-b", "main"],
        [str(BIN / "gitmlops"), "init", "--example"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "init"],
        [str(BIN / "gitmlops"), "run", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "train"],
        [str(BIN / "gitmlops"), "data", "push"],
        [str(BIN / "gitmlops"), "registry", "register", "model"],
    ]
    for args in steps:
        subprocess.run(args, cwd=repo, check=True, env=env, capture_output=True)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    env = dict(os.environ, GITMLOPS_REMOTE_DIR=str(base / "remotes"), DVC_NO_ANALYTICS="1",
               WHYLOGS_NO_ANALYTICS="True", GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
    try:
        repo = make_repo(base, env)
        verify = [str(BIN / "gitmlops"), "verify", "model@v0.1.0", "--json"]
        pipeline = [str(BIN / "gitmlops"), "run", "--force", "-q"]
        tv: list[float] = []
        tp: list[float] = []
        reproduce: list[float] = []
        timed(pipeline, repo, env)  # warm the file system and bytecode caches
        for _ in range(args.repeat):
            elapsed, out = timed(verify, repo, env)
            report = json.loads(out)
            if not report["reproduced"]:
                raise SystemExit(f"verify did not reproduce: {report['problems']}")
            tv.append(elapsed)
            reproduce.append(report["phases"]["reproduce"])
            tp.append(timed(pipeline, repo, env)[0])
        mv, mp = statistics.median(tv), statistics.median(tp)
        ratio = mv / mp
        print(f"{'verify vs run --force':<34} {mv * 1000:7.0f} ms vs {mp * 1000:7.0f} ms   ratio {ratio:4.2f}x "
              f"(target <= 1.2x) {'ok' if ratio <= 1.2 else 'OVER TARGET'}")
        print(f"{'  of which rerunning the stages':<34} {statistics.median(reproduce) * 1000:7.0f} ms")

        subprocess.run(["git", "checkout", "-q", "--", "dvc.lock"], cwd=repo, env=env, check=True)
        status = [str(BIN / "gitmlops"), "status", "--json"]
        timed(status, repo, env)  # computes and memoises the drift verdicts
        for name, cmd in (("status (warm)", status), ("status --remote", [*status, "--remote"])):
            ts = [timed(cmd, repo, env)[0] for _ in range(args.repeat)]
            tg = [timed(["git", "status"], repo, env)[0] for _ in range(args.repeat)]
            print(f"{name:<34} {statistics.median(ts) * 1000:7.0f} ms   (git status {statistics.median(tg) * 1000:.0f} ms)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Pipeline-core speed figures, as ratios against peers measured in the same run.

1. `gitmlops --help` vs `python -c "import click"` (target: <= 1.5x).
2. No-op `gitmlops run` vs no-op `dvc repro` on the same trained example repo (target: <= 1.3x).

Usage: python benchmarks/bench_pipeline.py [--repeat N]
Runs are interleaved (A, B, A, B, ...) and medians compared, since machines here are noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def compare(name: str, a: list[str], b: list[str], repeat: int, target: float, **kw: object) -> dict[str, float]:
    ta: list[float] = []
    tb: list[float] = []
    timed(a, **kw)  # warm caches (file system, bytecode)
    timed(b, **kw)
    for _ in range(repeat):
        ta.append(timed(a, **kw))
        tb.append(timed(b, **kw))
    ma, mb = statistics.median(ta), statistics.median(tb)
    ratio = ma / mb
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(f"{name:<38} {ma * 1000:8.0f} ms vs {mb * 1000:8.0f} ms   ratio {ratio:5.2f}x (target <= {target}x) {verdict}")
    return {"a": ma, "b": mb, "ratio": ratio}


def make_repo(base: Path, env: dict[str, str]) -> Path:
    repo = base / "repo"
    repo.mkdir()
    for args in (["git", "init", "-q", "-b", "main"],):
        subprocess.run(args, cwd=repo, check=True, env=env)
    subprocess.run([str(BIN / "gitmlops"), "init", "--example"], cwd=repo, check=True, env=env, capture_output=True)
    subprocess.run([str(BIN / "gitmlops"), "run", "-q"], cwd=repo, check=True, env=env, capture_output=True)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    env = dict(os.environ)
    env.update(
        HOME=str(tmp / "home"),
        XDG_DATA_HOME=str(tmp / "home" / "share"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="b",
        GIT_AUTHOR_EMAIL="b@example.com",
        GIT_COMMITTER_NAME="b",
        GIT_COMMITTER_EMAIL="b@example.com",
        DVC_NO_ANALYTICS="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    (tmp / "home").mkdir()
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.repeat} interleaved runs, medians")
        compare("gitmlops --help / import click", [str(BIN / "gitmlops"), "--help"],
                [sys.executable, "-c", "import click"], args.repeat, 1.5, env=env)
        repo = make_repo(tmp, env)
        compare("no-op gitmlops run / no-op dvc repro", [str(BIN / "gitmlops"), "run", "-q"],
                [str(BIN / "dvc"), "repro"], args.repeat, 1.3, cwd=repo, env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

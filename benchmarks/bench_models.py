"""Several models in one repository: the cost of 10 models against DVC and against one model.

1. A no-op `gitmlops run` over 10 models (every config composed and checked, one `dvc repro` over all
   pipelines) against a no-op `dvc repro` of the same 10 pipelines, measured in the same run
   (target: at most 1.3x).
2. `gitmlops registry show` and `gitmlops status` over 10 models x 200 versions against the same
   commands over one model x 200 versions (target: at most 2x).

Each model is the bundled churn example on a small table (300 rows) so that building the repos is
quick; the no-op costs do not depend on the data's size (DVC compares hashes memoised by mtime).

    python benchmarks/bench_models.py [--models 10] [--versions 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "DVC_NO_ANALYTICS": "1",
}


def _run(cwd: Path, *args: str, stdin: bytes | None = None) -> None:
    proc = subprocess.run(list(args), cwd=cwd, env=ENV, capture_output=True, input=stdin)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode()[-2000:]}")


def build(root: Path, models: int) -> Path:
    """A committed repo of ``models`` trained models sharing one small table."""
    from gitmlops.example import write_csv

    repo = root / f"models-{models}"
    _run(root, "git", "init", "-q", "-b", "main", str(repo))
    write_csv(repo / "data" / "churn.csv", n_rows=300)
    for i in range(models):
        _run(repo, str(BIN / "gitmlops"), "init", "--example", "--model", f"m{i}")
    _run(repo, str(BIN / "gitmlops"), "run", "-q")
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-q", "-m", "train")
    return repo


def add_versions(repo: Path, models: int, versions: int) -> None:
    """``versions`` registrations per model (and a stage event every tenth), in one `git fast-import`."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=ENV, capture_output=True, text=True).stdout.strip()
    stream = bytearray()
    clock = 1_700_000_000
    for i in range(models):
        for v in range(versions):
            clock += 1
            events = [f"models/m{i}=m{i}@v0.{v // 100}.{v % 100}"]
            if v % 10 == 9:
                events.append(f"models/m{i}=m{i}#prod#{v // 10 + 1}")
            for name in events:
                message = f"Registering artifact models/m{i}:m{i}\n".encode()
                stream += f"tag {name}\nfrom {head}\ntagger Bench <bench@example.com> {clock} +0000\n".encode()
                stream += b"data %d\n" % len(message) + message + b"\n"
    _run(repo, "git", "fast-import", "--quiet", stdin=bytes(stream))


def timed(first: tuple[Path, list[str]], second: tuple[Path, list[str]], repeat: int) -> tuple[float, float]:
    """Median wall times of two commands, each in its repo, run alternately (after one warm-up each)
    so that a change in the machine's load hits both alike."""
    for repo, args in (first, second):
        _run(repo, *args)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for (repo, args), found in zip((first, second), times, strict=True):
            started = time.perf_counter()
            _run(repo, *args)
            found.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    gitmlops = str(BIN / "gitmlops")
    with tempfile.TemporaryDirectory(prefix="gitmlops-bench-models-") as tmp:
        root = Path(tmp)
        # Measure installed-package conditions: byte-code caches on (kept out of the source tree).
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        started = time.perf_counter()
        many, one = build(root, args.models), build(root, 1)
        add_versions(many, args.models, args.versions)
        add_versions(one, 1, args.versions)
        print(f"built repos of {args.models} and 1 model(s), {args.versions} versions each, "
              f"in {time.perf_counter() - started:.0f}s")

        pipelines = [f"models/m{i}/dvc.yaml" for i in range(args.models)]
        run, repro = timed((many, [gitmlops, "run", "-q"]),
                           (many, [sys.executable, "-m", "dvc", "repro", "-q", *pipelines]), args.repeat)
        print(f"no-op run over {args.models} models: gitmlops run {run * 1000:.0f} ms, "
              f"dvc repro {repro * 1000:.0f} ms: {run / repro:.2f}x (target <= 1.3x)")
        for name, command in (("registry show", ["registry", "show", "--json"]), ("status", ["status", "--json"])):
            wide, single = timed((many, [gitmlops, *command]), (one, [gitmlops, *command]), args.repeat)
            print(f"{name}: {args.models} models x {args.versions} versions {wide * 1000:.0f} ms, 1 model "
                  f"{single * 1000:.0f} ms: {wide / single:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()

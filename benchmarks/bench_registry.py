"""Registry read speed: `gitmlops registry show --json` vs `gto show --json` vs `git for-each-ref`.

Builds repos with 1,500 and 15,000 registry tags (5 artifacts x N versions, one version per commit,
plus stage events with counters) in one `git fast-import` run each, then times the three commands
in the same run and prints ratios. It also checks that gitmlops and GTO agree on every artifact's
latest version and stages.

    python benchmarks/bench_registry.py [--sizes 1500,15000] [--repeat 5] [--gto-timeout 900]
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

ARTIFACTS = 5
PARAMS = "registry:\n  stages: [dev, staging, prod]\n  deploy_stage: prod\nmax_depth: 4\n"
STAGES = ("dev", "staging", "prod")
BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def _message(first: str, meta: dict[str, object]) -> str:
    return f"{first}\n\ngitmlops-metadata:\n{json.dumps({'schema': 1, **meta}, indent=2, sort_keys=True)}\n"


def build(root: Path, tags: int) -> Path:
    """A repo with ``tags`` registry tags: 2/3 registrations (one commit each), 1/3 stage events."""
    versions = tags * 2 // 3 // ARTIFACTS
    stage_events = (tags - versions * ARTIFACTS) // ARTIFACTS
    repo = root / f"registry-{tags}"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=ENV)
    dvc_yaml = "artifacts:\n" + "".join(f"  model{a}:\n    path: models/model{a}.bin\n    type: model\n"
                                         for a in range(ARTIFACTS))
    stream = bytearray()
    t0 = 1_700_000_000
    clock = 0
    mark = 0
    commits: dict[tuple[int, int], int] = {}
    for v in range(versions):
        for a in range(ARTIFACTS):
            mark += 1
            clock += 1
            who = f"Bench <bench@example.com> {t0 + clock} +0000"
            stream += f"commit refs/heads/main\nmark :{mark}\ncommitter {who}\n".encode()
            stream += _data(f"model{a} v{v}")
            if mark > 1:
                stream += f"from :{mark - 1}\n".encode()
            stream += b"M 644 inline dvc.yaml\n" + _data(dvc_yaml)
            stream += b"M 644 inline params.yaml\n" + _data(PARAMS)
            lock = f"outs:\n- md5: {a:02d}{v:030d}\n  size: 10\n  hash: md5\n  path: model{a}.bin\n"
            stream += f"M 644 inline models/model{a}.bin.dvc\n".encode() + _data(lock)
            commits[(a, v)] = mark
            name, version = f"model{a}", f"v0.{v // 100}.{v % 100}"
            stream += f"tag {name}@{version}\nfrom :{mark}\ntagger {who}\n".encode()
            stream += _data(_message(f"Registering artifact {name} version {version}",
                                     {"commit": "x", "artifact": {"path": f"models/model{a}.bin"}}))
    for a in range(ARTIFACTS):
        for n in range(1, stage_events + 1):
            clock += 1
            v = min(versions - 1, (n * versions) // (stage_events + 1))
            stage = STAGES[n % len(STAGES)]
            name, version = f"model{a}", f"v0.{v // 100}.{v % 100}"
            who = f"Bench <bench@example.com> {t0 + clock} +0000"
            stream += f"tag {name}#{stage}#{n}\nfrom :{commits[(a, v)]}\ntagger {who}\n".encode()
            stream += _data(_message(f"Assigning stage {stage} to artifact {name} version {version}",
                                     {"version": version, "stage": stage, "counter": n}))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=bytes(stream), check=True, env=ENV)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True, env=ENV)
    count = len(subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True, env=ENV).stdout.split())
    if count != tags:
        raise SystemExit(f"built {count} tags, wanted {tags}")
    return repo


def timed(
    cmd: list[str], cwd: Path, repeat: int, timeout: float | None = None, warmup: bool = True
) -> tuple[float | None, str]:
    """Median wall time of ``cmd`` over ``repeat`` runs after one warm-up run (None if it timed out),
    and its last stdout."""
    times = []
    out = ""
    for i in range(repeat + 1 if warmup else repeat):
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, ""
        if i or not warmup:
            times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr}")
        out = proc.stdout
    return statistics.median(times), out


def agree(ours: str, theirs: str) -> bool:
    """Whether gitmlops and GTO report the same latest version and stage versions."""
    mine = {a["name"]: a for a in json.loads(ours)["artifacts"]}
    gto = json.loads(theirs)
    for name, state in gto.items():
        if mine[name]["latest"] != state["version"]:
            return False
        for stage, version in state["stage"].items():
            if mine[name]["stages"].get(stage) != version:
                return False
    return set(mine) == set(gto)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1500,15000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gto-repeat", type=int, default=1)
    parser.add_argument("--gto-timeout", type=float, default=900)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    # Measure installed-package conditions: byte-code caches on (kept out of the source tree).
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            start = time.perf_counter()
            repo = build(root, size)
            built = time.perf_counter() - start
            ref, _ = timed(["git", "for-each-ref", "refs/tags"], repo, args.repeat)
            # the floor every gitmlops command pays: the interpreter and the CLI root (click)
            floor, _ = timed([sys.executable, "-c", "import gitmlops.cli"], repo, args.repeat)
            ours, ours_out = timed([str(BIN / "gitmlops"), "registry", "show", "--json"], repo, args.repeat)
            gto, gto_out = timed([str(BIN / "gto"), "show", "--json"], repo, args.gto_repeat, args.gto_timeout,
                             warmup=False)
            assert ref is not None and ours is not None and floor is not None
            same = agree(ours_out, gto_out) if gto is not None else None
            rows.append((size, built, ref, floor, ours, gto, same))
            print(f"{size:>6} tags (built in {built:.1f}s): for-each-ref {ref * 1000:.0f} ms, "
                  f"python+click {floor * 1000:.0f} ms, "
                  f"gitmlops {ours * 1000:.0f} ms, gto {'timeout' if gto is None else f'{gto:.2f} s'}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print("| tags | `git for-each-ref refs/tags` | python + click start | `gitmlops registry show --json` "
          "| `gto show --json` | gto / gitmlops | gitmlops / for-each-ref | same answer as gto |")
    print("|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for size, _, ref, floor, ours, gto, same in rows:
        gto_text = f"{gto:.2f} s" if gto is not None else f"> {args.gto_timeout:.0f} s"
        speedup = f"{gto / ours:.0f}x" if gto is not None else f"> {args.gto_timeout / ours:.0f}x"
        print(f"| {size:,} | {ref * 1000:.0f} ms | {floor * 1000:.0f} ms | {ours * 1000:.0f} ms | {gto_text} | {speedup} | "
              f"{ours / ref:.1f}x | {'-' if same is None else ('yes' if same else 'NO')} |")


if __name__ == "__main__":
    main()

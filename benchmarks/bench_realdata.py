"""Built-in stages at scale, against a plain script doing the same work, measured in the same run.

1. `gitmlops run` (prepare, train, evaluate) vs a plain pandas + `xgboost.train` script that reads the
   same CSV, splits 80/20, trains the same booster and scores the held-out rows (targets: time
   <= 1.3x, peak memory <= 1.2x).
2. `gitmlops data add` vs `dvc add` of the same file, and vs `dvc add` plus one parallel profile
   pass of the file (``profile_data``, the path `monitor profile` takes; target: <= 1.5x the latter).

Usage: python benchmarks/bench_realdata.py [--rows 2000000] [--cols 30]
Peak memory is the largest resident set of any process of the command (RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "WHYLOGS_NO_ANALYTICS": "True", "GIT_AUTHOR_NAME": "bench",
       "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}

MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[2:], cwd=sys.argv[1], capture_output=True, text=True)
elapsed = time.perf_counter() - start
if proc.returncode:
    sys.exit(proc.stdout + proc.stderr)
print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

PLAIN = """
import sys
import numpy as np, pandas as pd, xgboost as xgb
df = pd.read_csv(sys.argv[1])
rng = np.random.default_rng(42)
test = np.zeros(len(df), dtype=bool)
test[rng.permutation(len(df))[: round(len(df) * 0.2)]] = True
y = df.pop("label").to_numpy(dtype=float)
for name in df.columns:
    if not pd.api.types.is_numeric_dtype(df[name]):  # object on pandas 2, str on pandas 3
        df[name] = df[name].astype("category")
params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "tree_method": "hist", "max_bin": 256,
          "seed": 0, "nthread": 1}
dtrain = xgb.DMatrix(df[~test], label=y[~test], enable_categorical=True, nthread=1)
booster = xgb.train(params, dtrain, num_boost_round=100)
booster.save_model("plain.ubj")
p = booster.predict(xgb.DMatrix(df[test], enable_categorical=True, nthread=1))
print("accuracy", float(((p >= 0.5) == y[test]).mean()))
"""

PROFILE = """
import sys
from gitmlops.monitor.profile import profile_data
profile_data(sys.argv[1])
"""


def measure(cwd: Path, *cmd: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one command."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(cwd), *cmd], env=ENV, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")
    seconds, kb = out.stdout.split()
    return float(seconds), float(kb) / 1024.0


def write_data(path: Path, rows: int, cols: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(rows, cols - 3)).astype(np.float32)
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(cols - 3)])
    frame["segment"] = rng.choice(["a", "b", "c", "d"], size=rows)
    frame["region"] = rng.choice(["north", "south", "east"], size=rows)
    score = numeric[:, 0] + 0.5 * numeric[:, 1] - numeric[:, 2] * numeric[:, 3] + (frame["segment"] == "a")
    frame["label"] = (score + rng.normal(size=rows) > 0.5).astype(int)
    frame.to_csv(path, index=False, float_format="%.5g")


def make_repo(base: Path, data: Path) -> Path:
    repo = base / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=ENV)
    subprocess.run([str(BIN / "gitmlops"), "init"], cwd=repo, check=True, env=ENV, capture_output=True)
    (repo / "data").mkdir(exist_ok=True)
    os.link(data, repo / "data" / "big.csv")
    conf = repo / "conf" / "data" / "default.yaml"
    text = conf.read_text()
    for line in text.splitlines():
        if line.startswith("path:"):
            text = text.replace(line, "path: data/big.csv")
        elif line.startswith("target:"):
            text = text.replace(line, "target: label")
    conf.write_text(text)
    return repo


def one_round(base: Path, data: Path, n: int) -> dict[str, tuple[float, float]]:
    """Every command once, in fresh repos (``n`` numbers them): name -> (seconds, peak MB)."""
    out = {}
    dvc_repo = make_repo(base / f"dvc{n}", data)
    out["dvc add"] = measure(dvc_repo, sys.executable, "-m", "dvc", "add", "data/big.csv")
    out["profile"] = measure(dvc_repo, sys.executable, "-c", PROFILE, "data/big.csv")
    repo = make_repo(base / f"gitmlops{n}", data)
    out["data add"] = measure(repo, str(BIN / "gitmlops"), "data", "add", "data/big.csv")
    out["plain"] = measure(repo, sys.executable, "-c", PLAIN, "data/big.csv")
    out["run"] = measure(repo, str(BIN / "gitmlops"), "run", "--force", "-q")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1, help="rounds (interleaved); medians are reported")
    args = parser.parse_args()
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data = base / "big.csv"
        write_data(data, args.rows, args.cols)
        print(f"data: {args.rows} rows x {args.cols} columns, {data.stat().st_size / 1e6:.0f} MB CSV; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        rounds = []
        for n in range(args.repeat):
            rounds.append(one_round(base, data, n))
            print("round", n + 1, {k: (round(t, 1), round(m)) for k, (t, m) in rounds[-1].items()}, flush=True)

        def median(name: str, index: int = 0) -> float:
            return statistics.median(r[name][index] for r in rounds)

        t_dvc, t_profile, t_add = median("dvc add"), median("profile"), median("data add")
        results = [
            ("data add vs dvc add", t_add, t_dvc, None),
            ("data add vs dvc add + parallel profile pass", t_add, t_dvc + t_profile, 1.5),
            ("gitmlops run vs plain script (time)", median("run"), median("plain"), 1.3),
            ("gitmlops run vs plain script (peak MB)", median("run", 1), median("plain", 1), 1.2),
        ]
        for name, a, b, target in results:
            ratio = a / b
            verdict = "" if target is None else ("ok" if ratio <= target else "OVER TARGET")
            bound = f"(target <= {target}x)" if target else ""
            print(f"{name:<44} {a:9.1f} vs {b:9.1f}   ratio {ratio:5.2f}x {bound} {verdict}")


if __name__ == "__main__":
    main()

"""The train stage's reference profile against the boosting it accompanies, measured in the same run.

On the training rows of a 2M x 30 data set (80%: 1.6M rows; 27 numeric columns, 2 categorical, the
label), in one process, one after the other:

1. boosting as the train stage does it: ``xgb.train`` (100 rounds, depth 4, hist, one thread) on
   the stage's DMatrix (its construction timed apart);
2. the reference profile (gitmlops' profile plus the exact quantiles of the summary): in this process
   alone (the previous path), and on forked workers, by column (``FrameProfile``, all cores);
3. the stage as it runs now: the workers started on the cores boosting leaves free, boosting, then
   the profile collected: what the profile adds to the stage's wall time;
4. whylogs 1.6.4 ``why.log(df)`` on the same rows, where it is installed (the issue's 30.6 s).

Target (issue 13): the reference profile costs less than a third of the boosting time.
Usage: python benchmarks/bench_reference.py [--rows 2000000] [--cols 30]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd


def training_rows(rows: int, cols: int) -> pd.DataFrame:
    """80% of a ``rows`` x ``cols`` frame shaped like benchmarks/bench_realdata.py's data."""
    rng = np.random.default_rng(0)
    n = round(rows * 0.8)
    numeric = rng.normal(size=(n, cols - 3)).round(4)
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(cols - 3)])
    frame["segment"] = rng.choice(["a", "b", "c", "d"], size=n)
    frame["region"] = rng.choice(["north", "south", "east"], size=n)
    score = numeric[:, 0] + 0.5 * numeric[:, 1] - numeric[:, 2] * numeric[:, 3] + (frame["segment"] == "a")
    frame["label"] = (score + rng.normal(size=n) > 0.5).astype(int)
    return frame


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=30)
    args = parser.parse_args()
    import xgboost as xgb

    from gitmlops.monitor import profile_dataframe
    from gitmlops.monitor.frame_profile import FrameProfile
    from gitmlops.monitor.profile import available_cores
    from gitmlops.monitor.summary import exact_quantiles
    from gitmlops.stages.features import build_schema, encode_target, feature_frame
    from gitmlops.stages.train import start_reference_profile

    df = training_rows(args.rows, args.cols)
    cores = available_cores()
    print(f"training rows: {len(df):,} x {df.shape[1]} columns; cores: {cores}; load average "
          f"{os.getloadavg()[0]:.1f}")
    schema = build_schema(df, "label")
    params = {"objective": schema["objective"], "max_depth": 4, "eta": 0.3, "tree_method": "hist",
              "max_bin": 256, "seed": 0, "nthread": 1}

    def matrix() -> Any:
        return xgb.DMatrix(feature_frame(df, schema), label=encode_target(df["label"], schema),
                           enable_categorical=True, nthread=1)

    t_matrix, dtrain = timed(matrix)
    t_boost, _ = timed(lambda: xgb.train(params, dtrain, num_boost_round=100))
    t_alone, _ = timed(lambda: (profile_dataframe(df), exact_quantiles(df)))
    t_workers, _ = timed(lambda: FrameProfile(df, workers=cores).result())

    def stage() -> float:
        started = start_reference_profile(df, boosting_threads=1)
        xgb.train(params, dtrain, num_boost_round=100)
        waited, _ = timed(started.result)
        return waited

    t_stage, t_waited = timed(stage)
    rows = [
        ("DMatrix construction", t_matrix, None),
        ("xgb.train (boosting)", t_boost, None),
        ("reference profile, one process (previous path)", t_alone, None),
        (f"reference profile, {cores} forked workers (by column)", t_workers, 1 / 3),
        ("stage: boosting + profile overlapped (wall)", t_stage, None),
        ("  of which waiting for the profile after boosting", t_waited, None),
        ("  profile's addition to the stage (wall - boosting)", max(t_stage - t_boost, 0.0), 1 / 3),
    ]
    try:
        os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
        import whylogs as why

        t_why, _ = timed(lambda: why.log(df).view())
        rows.append(("whylogs why.log(df) (peer)", t_why, None))
    except ImportError:
        pass
    print(f"{'measure':<55} {'seconds':>8}  vs boosting")
    for name, seconds, target in rows:
        ratio = seconds / t_boost
        verdict = "" if target is None else (f"(target < {target:.2f}) " + ("ok" if ratio < target else "OVER"))
        print(f"{name:<55} {seconds:8.1f}  {ratio:5.2f}x {verdict}")


if __name__ == "__main__":
    main()

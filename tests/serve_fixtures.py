"""Helpers for the serving tests: a small trained bundle folder, and a server in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

PLANS = ["basic", "premium", "pro"]
COLORS = ["blue", "green", "red"]


def training_frame(n: int = 400, seed: int = 0) -> Any:
    """Synthetic churn-like data (pandas), with an int, a nullable float, a category and a bool."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    charges = rng.normal(60, 15, n)
    charges[rng.random(n) < 0.1] = np.nan
    df = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, n),
            "monthly_charges": charges,
            "plan": pd.Categorical(rng.choice(PLANS, n), categories=PLANS),
            "has_partner": rng.random(n) < 0.5,
        }
    )
    return df


def feature_frame(df: Any, schema: dict[str, Any]) -> Any:
    """The model input frame, built the way the train stage builds it."""
    import pandas as pd

    out = {}
    for f in schema["features"]:
        col = df[f["name"]]
        if f["type"] == "category":
            out[f["name"]] = pd.Categorical(col.astype(object), categories=f["categories"])
        else:
            out[f["name"]] = pd.to_numeric(col, errors="coerce").astype("float64")
    return pd.DataFrame(out)


def make_bundle(folder: Path, task: str = "binary", rounds: int = 20, seed: int = 0) -> Path:
    """Train a small booster with xgboost.train and write model.ubj + schema.json into ``folder``."""
    import numpy as np
    import xgboost as xgb

    df = training_frame(seed=seed)
    if task == "binary":
        y = ((df.tenure_months < 20) | (df.plan == "basic")).astype(int).to_numpy()
        classes: list[Any] | None
        objective, classes, extra = "binary:logistic", [0, 1], {}
    elif task == "multiclass":
        y = np.select([df.tenure_months < 24, df.tenure_months < 48], [0, 1], 2)
        objective, classes, extra = "multi:softprob", COLORS, {"num_class": 3}
    else:
        y = (df.tenure_months * 2.0 + df.has_partner * 10).to_numpy(dtype=float)
        objective, classes, extra = "reg:squarederror", None, {}
    schema = {
        "format": 1,
        "task": task,
        "objective": objective,
        "target": "target",
        "classes": classes,
        "features": [
            {"name": "tenure_months", "type": "int", "nullable": False},
            {"name": "monthly_charges", "type": "float", "nullable": True},
            {"name": "plan", "type": "category", "nullable": False, "categories": PLANS},
            {"name": "has_partner", "type": "bool", "nullable": False},
        ],
    }
    dtrain = xgb.DMatrix(feature_frame(df, schema), label=y, enable_categorical=True, nthread=1)
    params = {"objective": objective, "max_depth": 3, "seed": 0, "nthread": 1, **extra}
    booster = xgb.train(params, dtrain, num_boost_round=rounds)
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / "model.ubj"))
    (folder / "schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return folder


def sample_records(n: int = 5, seed: int = 1) -> list[dict[str, Any]]:
    """JSON records (as a client sends them) drawn from the training distribution."""
    import math

    df = training_frame(n=n, seed=seed)
    records = []
    for row in df.to_dict(orient="records"):
        charges = row["monthly_charges"]
        records.append(
            {
                "tenure_months": int(row["tenure_months"]),
                "monthly_charges": None if math.isnan(charges) else float(charges),
                "plan": str(row["plan"]),
                "has_partner": bool(row["has_partner"]),
            }
        )
    return records


def free_port() -> int:
    """A TCP port that nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server started in its own process group, stopped (whole group) on exit."""

    def __init__(self, argv: Sequence[str], port: int, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.argv = list(argv)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self.profile_dir: Path | None = None
        self.engine = "fast"

    def start(self, timeout: float = 60.0, headers: dict[str, str] | None = None) -> ServerProcess:
        """Start and wait until GET /health answers 200 (fails with the server's output if not)."""
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(self.url + "/health", timeout=1, headers=headers).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not healthy within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        """What the server printed (after it stopped)."""
        if self.proc is None or self.proc.stdout is None:
            return ""
        if self.proc.poll() is None:
            return ""
        return self.proc.stdout.read()

    def stop(self) -> int | None:
        """Ctrl-C the process group, then kill it if it lingers; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Leftover children (same group) must not outlive the test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gitmlops_argv(*args: str) -> list[str]:
    """argv running the gitmlops CLI with the test interpreter."""
    return [sys.executable, "-m", "gitmlops", *args]

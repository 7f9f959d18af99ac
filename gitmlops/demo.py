"""`gitmlops demo`: the whole loop on the bundled example, end to end, in a fresh git repo.

data add -> run -> sweep of 3 configs -> register the best -> promote to prod -> serve on a free port
and predict over HTTP -> profile a normal and a drifted production batch -> drift report -> PR report
-> verify that the prod model reproduces. Every step uses the same library calls as the CLI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, init_repo
from gitmlops.errors import ExternalError, GitMLOpsError

#: Called with (step number, total, title) when a step starts and (…, "done") when it ends.
StepCallback = Callable[[int, int, str, str], None]

SWEEP = ("train.max_depth=2,4,6",)
STEPS = (
    "set up the example project (gitmlops init --example: conf/, DVC, data)",
    "train (gitmlops run)",
    "sweep 3 configs as DVC experiments (gitmlops run --sweep)",
    "keep the best experiment and register it (gitmlops registry register)",
    "promote it to prod (gitmlops registry promote)",
    "serve model#prod and predict over HTTP (gitmlops serve)",
    "profile a normal and a drifted production batch (gitmlops monitor profile)",
    "drift reports against the model's reference profile (gitmlops monitor diff)",
    "pull-request report (gitmlops report)",
    "verify the prod model rebuilds byte for byte (gitmlops verify)",
)


@dataclass
class DemoResult:
    """What the demo produced: where, which model, what the endpoint said, the drift verdicts."""

    directory: str
    model: str = ""
    best_experiment: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    endpoint: str = ""
    prediction: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    verified: bool = False
    seconds: float = 0.0
    step_seconds: list[float] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


def _serve_and_predict(root: Path, ref: str, record: dict[str, Any], timeout: float = 90.0) -> tuple[str, dict[str, Any]]:
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitmlops", "-C", str(root), "serve", ref, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise ExternalError(f"`gitmlops serve {ref}` exited early: {output.strip()[-500:]}")
            try:
                _http(f"{endpoint}/health", timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ExternalError(f"`gitmlops serve {ref}` did not become healthy in {timeout:.0f}s") from None
                time.sleep(0.2)
        return endpoint, json.loads(_http(f"{endpoint}/predict", {"records": [record]}))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ensure_identity(git: GitRepo) -> None:
    """Commits need an identity; a fresh machine may have none configured."""
    if not git.get_config("user.email"):
        git.set_config("user.email", "demo@gitmlops.invalid")
    if not git.get_config("user.name"):
        git.set_config("user.name", "gitmlops demo")


def new_demo_repo(directory: str | os.PathLike[str] | None, prefix: str) -> GitRepo:
    """A new git repository for a demo: ``directory`` (new or empty), else a fresh temporary folder."""
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix=prefix))
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise GitMLOpsError(f"{root} is not empty", "pass --dir with a new or empty folder")
    git = init_repo(root)
    _ensure_identity(git)
    return git


def step_timer(steps: Sequence[str], step_seconds: list[float], on_step: StepCallback | None) -> Callable[[int], None]:
    """``step(n)``: step ``n`` starts (and step ``n - 1`` is done, its seconds appended to ``step_seconds``)."""
    step_started = [0.0]

    def step(number: int) -> None:
        now = time.perf_counter()
        if number > 1:
            step_seconds.append(round(now - step_started[0], 2))
            if on_step:
                on_step(number - 1, len(steps), steps[number - 2], "done")
        step_started[0] = now
        if number <= len(steps) and on_step:
            on_step(number, len(steps), steps[number - 1], "start")

    return step


def _best(experiments: list[Any], metric: str = "auc") -> Any:
    scored = [e for e in experiments if not e.baseline and isinstance(e.metrics.get(metric), (int, float))]
    if not scored:
        raise GitMLOpsError("the sweep produced no experiment with metrics", "look at `gitmlops exp show`")
    return max(scored, key=lambda e: e.metrics[metric])


def run_demo(directory: str | os.PathLike[str] | None = None, on_step: StepCallback | None = None) -> DemoResult:
    """Run the whole loop in ``directory`` (default: a new temporary folder); see the module doc."""
    from gitmlops import data, monitor, pipeline, project, registry
    from gitmlops.adapters.dvc_repo import DvcRepo
    from gitmlops.example import generate
    from gitmlops.lineage import verify
    from gitmlops.pipeline import experiments
    from gitmlops.pipeline.run import read_metrics
    from gitmlops.report import collect as collect_report
    from gitmlops.report.markdown import render as render_report

    started = time.perf_counter()
    git = new_demo_repo(directory, "gitmlops-demo-")
    root = git.root
    result = DemoResult(directory=str(root))
    step = step_timer(STEPS, result.step_seconds, on_step)

    step(1)
    project.init(git, example=True)
    git.commit("gitmlops init --example")

    step(2)
    pipeline.run(git)
    git.add(["dvc.lock", "metrics.json", "plots", "data/.gitignore", "models/.gitignore", ".gitignore"])
    trained = git.commit("train the example model")
    data.push(git)

    step(3)
    swept = experiments.sweep(git, list(SWEEP), jobs=2)
    best = _best(swept.experiments)
    result.best_experiment = best.name

    step(4)
    with DvcRepo(root) as dvc:
        dvc.cli("exp", "apply", best.name)
    git.add(["params.yaml", "dvc.lock", "metrics.json", "plots"])
    git.commit(f"keep experiment {best.name} ({', '.join(f'{k}={v}' for k, v in best.params.items() if k.startswith('train.max_depth'))})")
    data.push(git)
    written = registry.register(git, "model", bump="minor", message=f"best of the sweep: {best.name}")
    version = written.event.version or ""
    result.model = f"model@{version}"
    result.metrics = read_metrics(root, {})

    step(5)
    registry.promote(git, "model", version, "prod")

    step(6)
    record = generate(1, seed=7).drop(columns=["customer_id", "churned"]).iloc[0].to_dict()
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
    result.endpoint, result.prediction = _serve_and_predict(root, "model#prod", record)

    step(7)
    subprocess.run([sys.executable, "scripts/make_batches.py"], cwd=root, check=True, capture_output=True)
    profiles = {}
    for batch in ("normal", "drifted"):
        filed = monitor.profile(git, f"data/production/{batch}.csv", name=f"production-{batch}")
        profiles[batch] = filed.profiles[0].path
        git.add([p for f in filed.profiles for p in (f.path, f.summary)])
    git.commit("production profiles")

    step(8)
    reports = root / "reports"
    reports.mkdir(exist_ok=True)
    for batch, path in profiles.items():
        drift = monitor.compare(git, path, "model#prod")
        drifted = [c.column for c in drift.columns if c.category == "drift"]
        result.drift[batch] = drift.verdict + (f" ({', '.join(drifted)} drifted)" if drifted else "")
        (reports / f"drift-{batch}.md").write_text(monitor.render_markdown(drift))
        (reports / f"drift-{batch}.html").write_text(monitor.render_html(drift))
        result.files[f"drift report ({batch})"] = str(reports / f"drift-{batch}.html")

    step(9)
    # The PR a team would open: the best experiment, the new registry events and production profiles,
    # against the first trained commit.
    report = collect_report(git, base=trained)
    (reports / "pr-report.md").write_text(render_report(report))
    result.files["PR report"] = str(reports / "pr-report.md")

    step(10)
    verified = verify(git, "model#prod")
    result.verified = verified.reproduced
    step(len(STEPS) + 1)
    result.seconds = round(time.perf_counter() - started, 1)
    return result

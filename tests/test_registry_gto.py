"""GTO interoperability, both directions, with the real `gto` package (a test dependency)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import git, invoke
from tests.registry_fixtures import model_repo, model_template, write_model

__all__ = ["model_repo", "model_template"]


def gto(repo: Path, *args: str) -> str:
    """Run the gto CLI in ``repo``."""
    proc = subprocess.run(
        [sys.executable, "-c", "from gto.cli import app; app()", *args],
        cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def ours(repo: Path, *args: str) -> Any:
    result = invoke(repo, "registry", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_gto_reads_our_tags(model_repo: Path) -> None:
    ours(model_repo, "register", "model")
    ours(model_repo, "promote", "model", "v0.1.0", "--stage", "prod")
    write_model(model_repo, b"second", message="second")
    ours(model_repo, "register", "model", "--bump", "minor")
    ours(model_repo, "promote", "model", "v0.2.0", "--stage", "dev")
    ours(model_repo, "promote", "model", "v0.2.0", "--stage", "staging")
    ours(model_repo, "deprecate", "model", "--stage", "staging")

    shown = json.loads(gto(model_repo, "show", "--json"))
    assert shown["model"]["version"] == "v0.2.0"
    assert shown["model"]["stage"]["prod"] == "v0.1.0"
    assert shown["model"]["stage"]["dev"] == "v0.2.0"
    assert shown["model"]["stage"].get("staging") is None
    history = json.loads(gto(model_repo, "history", "model", "--json"))
    refs = {e["ref"] for e in history}
    assert {"model@v0.1.0", "model@v0.2.0", "model#prod#1", "model#dev#2", "model#staging!#4"} <= refs
    messages = {e["ref"]: e["message"] for e in history}
    assert messages["model#prod#1"].startswith("Assigning stage prod to artifact model version v0.1.0")
    assert gto(model_repo, "check-ref", "model#prod#1", "--json").strip()
    # GTO continues our counter: its next assignment is #5
    gto(model_repo, "assign", "model", "--version", "v0.1.0", "--stage", "dev")
    assert "model#dev#5" in git(model_repo, "tag").split()


def test_we_read_gto_tags(model_repo: Path, tmp_path: Path) -> None:
    gto(model_repo, "register", "model", "--version", "v1.0.0")
    gto(model_repo, "assign", "model", "--version", "v1.0.0", "--stage", "prod")
    head1 = git(model_repo, "rev-parse", "HEAD")
    write_model(model_repo, b"gto second", message="second")
    gto(model_repo, "register", "model", "--bump-minor")
    gto(model_repo, "assign", "model", "--version", "v1.1.0", "--stage", "staging")
    gto(model_repo, "deprecate", "model", "v1.0.0")

    shown = ours(model_repo, "show")["artifacts"][0]
    assert (shown["latest"], shown["counter"]) == ("v1.1.0", 2)
    assert shown["stages"]["staging"] == "v1.1.0"
    assert shown["stages"]["prod"] is None  # its version was deregistered
    history = ours(model_repo, "history", "model")
    # GTO's tags carry no counter_at, so counter-less events are placed by (whole-second) time:
    # assert what is certain: every event is there, stage events in counter order, and each
    # version's registration before its assignment.
    pairs = [(e["event"], e["version"]) for e in history]
    assert sorted(pairs) == sorted([("register", "v1.0.0"), ("assign", "v1.0.0"), ("register", "v1.1.0"),
                                    ("assign", "v1.1.0"), ("deregister", "v1.0.0")])
    assert [e["counter"] for e in history if e["event"] == "assign"] == [1, 2]
    assert pairs.index(("register", "v1.1.0")) < pairs.index(("assign", "v1.1.0"))
    assert history[0]["metadata"] is None and history[0]["commit"] == head1
    # no metadata block: path and md5 come from the .dvc file at the version's commit
    resolved = ours(model_repo, "resolve", "model#staging")
    assert resolved["path"] == "models/model.bin" and resolved["md5"]
    out = tmp_path / "m.bin"
    assert invoke(model_repo, "registry", "get", "model#staging", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == b"gto second"
    # and our next promotion continues GTO's counter
    assert ours(model_repo, "promote", "model", "v1.1.0", "--stage", "prod")["tag"] == "model#prod#3"


def test_monorepo_names_interoperate(model_repo: Path) -> None:
    sub = model_repo / "nlp" / "models"
    sub.mkdir(parents=True)
    (sub / "dvc.yaml").write_text("artifacts:\n  bert:\n    path: bert.bin\n    type: model\n")
    (sub / "bert.bin.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 3\n  hash: md5\n  path: bert.bin\n")
    git(model_repo, "add", "nlp")
    git(model_repo, "commit", "-q", "-m", "nlp")
    gto(model_repo, "register", "nlp/models:bert", "--version", "v0.3.0")
    assert "nlp/models=bert@v0.3.0" in git(model_repo, "tag").split()
    resolved = ours(model_repo, "resolve", "nlp/models:bert@latest")
    assert (resolved["name"], resolved["path"]) == ("nlp/models:bert", "nlp/models/bert.bin")
    assert resolved["md5"] == "0123456789abcdef0123456789abcdef"

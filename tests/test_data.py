"""`gitmlops data add|status|push|pull` on real DVC repos."""

from __future__ import annotations

import json
from pathlib import Path

from gitmlops.errors import EXIT_USAGE
from tests.conftest import dvc, git, invoke


def _write_csv(path: Path, rows: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["a,b,label"] + [f"{i},{i * 2},{i % 2}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_add_tracks_and_stages(example_repo: Path) -> None:
    _write_csv(example_repo / "data" / "extra.csv")
    result = invoke(example_repo, "data", "add", str(example_repo / "data" / "extra.csv"))
    assert result.exit_code == 0, result.output
    assert (example_repo / "data" / "extra.csv.dvc").is_file()
    staged = git(example_repo, "diff", "--cached", "--name-only").splitlines()
    assert "data/extra.csv.dvc" in staged
    assert "data/extra.csv" not in git(example_repo, "ls-files").splitlines()


def test_add_folder(example_repo: Path) -> None:
    _write_csv(example_repo / "data" / "batches" / "one.csv")
    _write_csv(example_repo / "data" / "batches" / "two.csv")
    result = invoke(example_repo, "data", "add", str(example_repo / "data" / "batches"))
    assert result.exit_code == 0, result.output
    status = json.loads(invoke(example_repo, "data", "status", "--json", "--no-remote").output)
    entry = next(t for t in status["tracked"] if t["path"] == "data/batches")
    assert entry["nfiles"] == 2
    assert entry["md5"].endswith(".dir")


def _unchanged(repo: Path, before: str) -> None:
    assert git(repo, "status", "--porcelain") == before


def test_add_refusals_change_nothing(example_repo: Path, tmp_path: Path) -> None:
    before = git(example_repo, "status", "--porcelain")
    missing = invoke(example_repo, "data", "add", str(example_repo / "nope.csv"))
    assert missing.exit_code == EXIT_USAGE and "does not exist" in missing.output
    _unchanged(example_repo, before)

    outside = _write_csv(tmp_path / "outside.csv")
    result = invoke(example_repo, "data", "add", str(outside))
    assert result.exit_code == EXIT_USAGE and "outside the repository" in result.output
    _unchanged(example_repo, before)

    result = invoke(example_repo, "data", "add", str(example_repo / "conf" / "config.yaml"))
    assert result.exit_code == EXIT_USAGE and "already tracked by git" in result.output
    assert "git rm -r --cached" in result.output
    _unchanged(example_repo, before)

    prepared = example_repo / "data" / "prepared"
    prepared.mkdir(parents=True)
    (prepared / "x.csv").write_text("a\n1\n")
    result = invoke(example_repo, "data", "add", str(prepared))
    assert result.exit_code == EXIT_USAGE and "output of pipeline stage 'prepare'" in result.output
    assert not (example_repo / "data" / "prepared.dvc").exists()


def test_add_needs_dvc(git_repo: Path) -> None:
    _write_csv(git_repo / "d.csv")
    result = invoke(git_repo, "data", "add", str(git_repo / "d.csv"))
    assert result.exit_code == EXIT_USAGE
    assert "gitmlops init" in result.output


def test_status_push_pull_roundtrip(example_repo: Path, tmp_path: Path) -> None:
    status = json.loads(invoke(example_repo, "data", "status", "--json").output)
    entry = next(t for t in status["tracked"] if t["path"] == "data/churn.csv")
    assert entry["state"] == "unchanged"
    # A private team remote for this test (committed), so other tests' pushes do not interfere.
    remote = tmp_path / "remote"
    added = invoke(example_repo, "remote", "add", str(remote), "--name", "team")
    assert added.exit_code == 0, added.output
    status = json.loads(invoke(example_repo, "data", "status", "--json").output)
    assert next(t for t in status["tracked"] if t["path"] == "data/churn.csv")["in_remote"] is False
    push = invoke(example_repo, "data", "push", "--json")
    assert push.exit_code == 0, push.output
    sent = json.loads(push.output)
    size = (example_repo / "data" / "churn.csv").stat().st_size
    assert (sent["files"], sent["bytes"], sent["remote"]["name"]) == (1, size, "team")
    again = invoke(example_repo, "data", "push")
    assert again.exit_code == 0 and "everything is already in team" in again.output, again.output
    status = json.loads(invoke(example_repo, "data", "status", "--json").output)
    assert next(t for t in status["tracked"] if t["path"] == "data/churn.csv")["in_remote"] is True
    assert status["clean"] is True

    # A fresh clone (no cache, no data) gets the data back from the remote.
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-q", "-m", "remote")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(example_repo), str(clone))
    assert not (clone / "data" / "churn.csv").exists()
    pull = invoke(clone, "data", "pull", "--json")
    assert pull.exit_code == 0, pull.output
    got = json.loads(pull.output)
    assert (got["files"], got["bytes"], got["added"]) == (1, size, ["data/churn.csv"])
    assert (clone / "data" / "churn.csv").read_bytes() == (example_repo / "data" / "churn.csv").read_bytes()
    again = invoke(clone, "data", "pull")
    assert again.exit_code == 0 and "nothing to fetch" in again.output, again.output


def test_clone_without_remote(example_repo: Path, tmp_path: Path) -> None:
    """A clone has no remote (the local default is per machine): reads fail with exit 3 naming
    `gitmlops remote add`, the first push creates the clone's own local default."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(example_repo), str(clone))
    assert not (clone / ".dvc" / "config.local").exists()
    pull = invoke(clone, "data", "pull")
    assert pull.exit_code == 3, pull.output
    assert "no DVC remote" in pull.output and "gitmlops remote add s3://" in pull.output
    assert not (clone / "data" / "churn.csv").exists()
    (clone / "data" / "churn.csv").write_bytes((example_repo / "data" / "churn.csv").read_bytes())
    dvc(clone, "commit", "-f", "-q", "data/churn.csv.dvc")
    push = invoke(clone, "data", "push")
    assert push.exit_code == 0, push.output
    assert "created the local default remote" in push.output
    assert "remote" not in (clone / ".dvc" / "config").read_text()
    listed = json.loads(invoke(clone, "remote", "list", "--json").output)
    assert listed["default"] == "local" and listed["remotes"][0]["levels"] == ["local"]


def test_status_reports_modified_and_missing(example_repo: Path) -> None:
    csv = example_repo / "data" / "churn.csv"
    csv.write_text(csv.read_text() + "C9,1,1.0,0,1.0,basic,north,0\n")
    status = json.loads(invoke(example_repo, "data", "status", "--json", "--no-remote").output)
    assert next(t for t in status["tracked"] if t["path"] == "data/churn.csv")["state"] == "modified"
    csv.unlink()
    status = json.loads(invoke(example_repo, "data", "status", "--json", "--no-remote").output)
    assert next(t for t in status["tracked"] if t["path"] == "data/churn.csv")["state"] == "missing"


def test_add_profiles_tabular_data(example_repo: Path) -> None:
    _write_csv(example_repo / "data" / "batch.csv", rows=50)
    result = invoke(example_repo, "data", "add", str(example_repo / "data" / "batch.csv"), "--json")
    assert result.exit_code == 0, result.output
    profiles = json.loads(result.output)["profiles"]
    assert any(p.startswith("monitoring/batch/") and p.endswith(".bin") for p in profiles)
    staged = git(example_repo, "diff", "--cached", "--name-only").splitlines()
    assert all(p in staged for p in profiles)
    summary = json.loads((example_repo / next(p for p in profiles if p.endswith(".json"))).read_text())
    assert "a" in json.dumps(summary)


def test_add_refuses_data_failing_constraints(example_repo: Path) -> None:
    data_conf = example_repo / "conf" / "data" / "default.yaml"
    data_conf.write_text(data_conf.read_text().replace(
        "constraints: {}", "constraints:\n  required_columns: [a, label]\n  a:\n    min: 0\n    max: 10\n"))
    assert invoke(example_repo, "pipeline", "sync").exit_code == 0
    before = git(example_repo, "status", "--porcelain")
    _write_csv(example_repo / "data" / "bad.csv", rows=20)  # a goes up to 19
    result = invoke(example_repo, "data", "add", str(example_repo / "data" / "bad.csv"))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "fails the data constraints" in result.output and "a:" in result.output
    assert "--no-check" in result.output
    assert not (example_repo / "data" / "bad.csv.dvc").exists()
    assert not (example_repo / "monitoring" / "bad").exists()
    # Only the new (untracked) file itself: no .dvc file, no profile, no .gitignore entry.
    assert git(example_repo, "status", "--porcelain") == before + "\n?? data/bad.csv"
    forced = invoke(example_repo, "data", "add", str(example_repo / "data" / "bad.csv"), "--no-check")
    assert forced.exit_code == 0, forced.output
    _write_csv(example_repo / "data" / "good.csv", rows=10)
    good = invoke(example_repo, "data", "add", str(example_repo / "data" / "good.csv"))
    assert good.exit_code == 0, good.output
    assert "constraint(s) passed" in good.output

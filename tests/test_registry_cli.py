"""`gitmlops registry ...` through the CLI on real git + DVC repos (see registry_fixtures)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from gitmlops import registry
from gitmlops.errors import EXIT_EXTERNAL, EXIT_USAGE
from tests.conftest import git, invoke
from tests.registry_fixtures import model_repo, model_template, write_model

__all__ = ["model_repo", "model_template"]  # fixtures used by name below


def tags(repo: Path) -> set[str]:
    """Tag names in a (bare or work-tree) repo."""
    return set(git(repo, "tag", "--list").split())


def bare(repo: Path) -> Path:
    return repo.parent / "origin.git"


def ok(repo: Path, *args: str) -> str:
    result = invoke(repo, "registry", *args)
    assert result.exit_code == 0, result.output
    return result.output


def js(repo: Path, *args: str) -> Any:
    return json.loads(ok(repo, *args, "--json"))


def test_register_promote_show_resolve_history(model_repo: Path) -> None:
    first = js(model_repo, "register", "model", "--push")
    assert first["tag"] == "model@v0.1.0" and first["pushed"] is True
    meta = first["metadata"]
    assert meta["artifact"]["path"] == "models/model.bin"
    assert meta["artifact"]["md5"] == hashlib.md5(b"model one\n" * 10).hexdigest()
    assert meta["commit"] == git(model_repo, "rev-parse", "HEAD")
    assert meta["metrics"] == {"auc": 0.1} and len(meta["params_hash"]) == 64
    assert "model@v0.1.0" in tags(bare(model_repo))

    ok(model_repo, "promote", "model", "v0.1.0", "--stage", "prod", "--push")
    write_model(model_repo, b"model two\n" * 20, message="model two")
    second = js(model_repo, "register", "model", "--bump", "minor", "-m", "better data")
    assert second["version"] == "v0.2.0" and second["pushed"] is False
    assert second["message"] == "Registering artifact model version v0.2.0\n\nbetter data"
    ok(model_repo, "promote", "model", "latest", "--stage", "dev")

    shown = js(model_repo, "show")
    assert shown["stages"] == ["dev", "staging", "prod"]
    assert shown["artifacts"] == [{
        "name": "model", "latest": "v0.2.0", "greatest": "v0.2.0",
        "stages": {"dev": "v0.2.0", "staging": None, "prod": "v0.1.0"},
        "deprecated": False, "versions": 2, "counter": 2,
    }]
    text = ok(model_repo, "show")
    assert "#prod" in text and "v0.1.0" in text

    per_version = js(model_repo, "show", "model")
    assert [v["version"] for v in per_version["versions"]] == ["v0.2.0", "v0.1.0"]
    assert per_version["versions"][1]["stages"] == ["prod"]

    prod = js(model_repo, "resolve", "model#prod")
    assert prod["version"] == "v0.1.0" and prod["stage"] == "prod" and prod["tag"] == "model@v0.1.0"
    assert prod["md5"] == meta["artifact"]["md5"]
    assert js(model_repo, "resolve", "model@latest")["version"] == "v0.2.0"
    assert js(model_repo, "resolve", "model@v0.1.0")["commit"] == meta["commit"]

    events = js(model_repo, "history", "model")
    assert [(e["event"], e["version"], e["stage"], e["counter"]) for e in events] == [
        ("register", "v0.1.0", None, None),
        ("assign", "v0.1.0", "prod", 1),
        ("register", "v0.2.0", None, None),
        ("assign", "v0.2.0", "dev", 2),
    ]


def test_library_api(model_repo: Path, tmp_path: Path) -> None:
    registry.register(model_repo, "model", version="v1.0.0")
    registry.promote(model_repo, "model", "v1.0.0", "staging")
    found = registry.resolve(model_repo, "model#staging")
    assert (found.name, found.version, found.stage, found.path) == ("model", "v1.0.0", "staging", "models/model.bin")
    path = registry.get(model_repo, "model#staging", output=tmp_path / "m.bin")
    assert path.read_bytes() == b"model one\n" * 10
    assert [a.name for a in registry.show(model_repo).artifacts.values()] == ["model"]
    assert [e.kind for e in registry.history(model_repo, "model")] == ["register", "assign"]


def test_get_from_remote_verifies_md5(model_repo: Path, model_template: Path, tmp_path: Path) -> None:
    ok(model_repo, "register", "model")
    shutil.rmtree(model_repo / ".dvc" / "cache")  # only the DVC remote has the bytes now
    out = tmp_path / "out" / "model.bin"
    assert ok(model_repo, "get", "model@v0.1.0", "-o", str(out)).strip() == str(out)
    assert out.read_bytes() == b"model one\n" * 10

    # A corrupt object in the remote is refused and nothing is written.
    md5 = hashlib.md5(b"model one\n" * 10).hexdigest()
    remote_obj = model_template.parent / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]
    remote_obj.chmod(0o644)
    original = remote_obj.read_bytes()
    try:
        remote_obj.write_bytes(b"tampered")
        bad = invoke(model_repo, "registry", "get", "model@v0.1.0", "-o", str(tmp_path / "bad.bin"))
        assert bad.exit_code == EXIT_USAGE and "but " + md5 in bad.output
        assert not (tmp_path / "bad.bin").exists()
    finally:
        remote_obj.write_bytes(original)

    exists = invoke(model_repo, "registry", "get", "model@v0.1.0", "-o", str(tmp_path / "out" / "model.bin"))
    assert exists.exit_code == 0  # same content already there: fine
    (tmp_path / "other.bin").write_text("different")
    clash = invoke(model_repo, "registry", "get", "model@v0.1.0", "-o", str(tmp_path / "other.bin"))
    assert clash.exit_code == EXIT_USAGE and "--force" in clash.output


def test_deprecate_variants(model_repo: Path) -> None:
    ok(model_repo, "register", "model")
    ok(model_repo, "promote", "model", "v0.1.0", "--stage", "prod")
    unassigned = js(model_repo, "deprecate", "model", "--stage", "prod")
    assert unassigned["tag"] == "model#prod!#2" and unassigned["version"] == "v0.1.0"
    assert js(model_repo, "show")["artifacts"][0]["stages"]["prod"] is None
    assert js(model_repo, "deprecate", "model", "v0.1.0")["tag"] == "model@v0.1.0!"
    assert js(model_repo, "deprecate", "model")["tag"] == "model@deprecated"
    assert js(model_repo, "show")["artifacts"][0]["deprecated"] is True
    again = invoke(model_repo, "registry", "deprecate", "model")
    assert again.exit_code == EXIT_USAGE and "deprecated already" in again.output
    gone = invoke(model_repo, "registry", "resolve", "model@v0.1.0")
    assert gone.exit_code == EXIT_USAGE and "deregistered" in gone.output


def test_check_ref(model_repo: Path) -> None:
    ok(model_repo, "register", "model")
    ok(model_repo, "promote", "model", "v0.1.0", "--stage", "dev")
    event = js(model_repo, "check-ref", "refs/tags/model#dev#1")
    assert (event["event"], event["version"], event["stage"], event["counter"]) == ("assign", "v0.1.0", "dev", 1)
    assert "assign model@v0.1.0 #dev" in ok(model_repo, "check-ref", "model#dev#1")
    git(model_repo, "tag", "release-1")
    assert js(model_repo, "check-ref", "release-1") == {}
    assert ok(model_repo, "check-ref", "release-1") == ""
    git(model_repo, "tag", "model@v9.0.0")  # lightweight: ignored, as GTO does
    assert js(model_repo, "check-ref", "model@v9.0.0") == {}
    assert "v9.0.0" not in json.dumps(js(model_repo, "show"))
    missing = invoke(model_repo, "registry", "check-ref", "model@v5.0.0")
    assert missing.exit_code == EXIT_USAGE and "does not exist" in missing.output


def test_versions_rules(model_repo: Path) -> None:
    ok(model_repo, "register", "model", "--version", "v1.0.0")
    same_commit = invoke(model_repo, "registry", "register", "model")
    assert same_commit.exit_code == EXIT_USAGE and "one version per commit" in same_commit.output
    write_model(model_repo, b"two", message="two")
    exists = invoke(model_repo, "registry", "register", "model", "--version", "v1.0.0")
    assert exists.exit_code == EXIT_USAGE and "exists already" in exists.output
    lower = invoke(model_repo, "registry", "register", "model", "--version", "v0.5.0")
    assert lower.exit_code == EXIT_USAGE and "--force" in lower.output
    time.sleep(1.1)  # git dates tags in whole seconds; within one second, ties go to the higher version
    forced = js(model_repo, "register", "model", "--version", "v0.5.0", "--force")
    assert forced["version"] == "v0.5.0"
    shown = js(model_repo, "show")["artifacts"][0]
    assert (shown["latest"], shown["greatest"]) == ("v0.5.0", "v1.0.0")
    write_model(model_repo, b"three", message="three")
    assert js(model_repo, "register", "model")["version"] == "v1.0.1"  # bumps the greatest
    both = invoke(model_repo, "registry", "register", "model", "--version", "v3.0.0", "--bump", "major")
    assert both.exit_code == EXIT_USAGE


def _no_new_tags(repo: Path, before: set[str], before_remote: set[str]) -> None:
    assert tags(repo) == before
    assert tags(bare(repo)) == before_remote


BAD_NAMES = ["has space", "a@b", "a#b", "-model", "../x", "../x:model", "dir/../x:model"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(model_repo: Path, name: str) -> None:
    before, before_remote = tags(model_repo), tags(bare(model_repo))
    for args in (["register", "--push", "--", name], ["promote", "--stage", "dev", "--", name, "v0.1.0"],
                 ["deprecate", "--", name], ["history", "--", name], ["resolve", "--", f"{name}@latest"]):
        result = invoke(model_repo, "registry", *args)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
        assert "error:" in result.output
    _no_new_tags(model_repo, before, before_remote)


def test_bad_input_leaves_no_tag(model_repo: Path) -> None:
    ok(model_repo, "register", "model", "--push")
    before, before_remote = tags(model_repo), tags(bare(model_repo))
    cases = [
        (["register", "model", "--version", "1.0"], "invalid version"),
        (["register", "model", "--version", "v1.02.0"], "invalid version"),
        (["register", "model", "--ref", "no-such-branch"], "does not resolve"),
        (["register", "model", "--ref=-x", "--push"], "cannot start with '-'"),
        (["register", "unknown"], "not declared in dvc.yaml"),
        (["promote", "model", "v0.1.0", "--stage", "qa", "--push"], "unknown stage"),
        (["promote", "model", "v9.9.9", "--stage", "prod", "--push"], "not registered"),
        (["promote", "model", "v1", "--stage", "prod"], "invalid version"),
        (["promote", "other", "v0.1.0", "--stage", "prod"], "has no registry tags"),
        (["promote", "model", "v0.1.0", "--stage", "prod", "--push", "--remote", "nowhere"], "no git remote"),
        (["deprecate", "model", "--stage", "prod"], "not assigned"),
        (["resolve", "model#prod"], "no version of 'model' is in stage"),
        (["resolve", "model@v2.0.0"], "not registered"),
        (["resolve", "model"], "cannot read reference"),
        (["get", "model@v3.0.0"], "not registered"),
    ]
    for args, message in cases:
        result = invoke(model_repo, "registry", *args)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
        if message:
            assert message in result.output, (args, result.output)
    _no_new_tags(model_repo, before, before_remote)


def test_existing_tag_is_refused(model_repo: Path) -> None:
    git(model_repo, "tag", "-a", "-m", "by hand", "model@v0.1.0", "HEAD~1")  # by hand or by GTO
    result = invoke(model_repo, "registry", "register", "model", "--version", "v0.1.0")
    assert result.exit_code == EXIT_USAGE and "exists already" in result.output
    git(model_repo, "tag", "model#dev#1")  # a lightweight tag squatting on the next counter's name
    result = invoke(model_repo, "registry", "promote", "model", "v0.1.0", "--stage", "dev")
    assert result.exit_code == EXIT_USAGE and "already exists" in result.output


def test_not_committed_or_not_pushed(model_repo: Path) -> None:
    before = tags(model_repo)
    write_model(model_repo, b"never pushed", push=False, message="unpushed")
    result = invoke(model_repo, "registry", "register", "model", "--push")
    assert result.exit_code == EXIT_USAGE
    assert "not in the DVC remote" in result.output and "gitmlops data push" in result.output

    (model_repo / "dvc.yaml").write_text(
        (model_repo / "dvc.yaml").read_text() + "  other:\n    path: models/other.bin\n    type: model\n"
    )
    git(model_repo, "commit", "-q", "-am", "declare other")
    result = invoke(model_repo, "registry", "register", "other")
    assert result.exit_code == EXIT_USAGE and "not committed" in result.output and "gitmlops run" in result.output
    assert tags(model_repo) == before


def test_dirty_work_tree_is_refused(model_repo: Path) -> None:
    (model_repo / "models" / "model.bin.dvc").write_text(
        (model_repo / "models" / "model.bin.dvc").read_text().replace("size", "size ") + "\n"
    )
    result = invoke(model_repo, "registry", "register", "model")
    assert result.exit_code == EXIT_USAGE and "uncommitted changes in models/model.bin.dvc" in result.output
    assert "--ref HEAD" in result.output
    assert tags(model_repo) == set()
    # The hint works: an explicit --ref registers the commit as it was committed.
    ok(model_repo, "register", "model", "--ref", "HEAD")
    assert tags(model_repo) == {"model@v0.1.0"}


def test_remote_rejecting_push_leaves_nothing(model_repo: Path) -> None:
    ok(model_repo, "register", "model", "--push")
    hook = bare(model_repo) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no registry changes today' >&2\nexit 1\n")
    hook.chmod(0o755)
    before, before_remote = tags(model_repo), tags(bare(model_repo))
    result = invoke(model_repo, "registry", "promote", "model", "v0.1.0", "--stage", "prod", "--push")
    assert result.exit_code == EXIT_EXTERNAL, result.output
    assert "nothing was pushed" in result.output
    _no_new_tags(model_repo, before, before_remote)
    assert git(bare(model_repo), "for-each-ref", "refs/gitmlops") == ""

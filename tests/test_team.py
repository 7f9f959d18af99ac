"""The team loop on a real S3 API (moto's server on 127.0.0.1): an author pushes to the team remote,
a teammate in another HOME clones, pulls, trains, registers, fetches, bundles, verifies, serves; with
the endpoint down every command that needs the remote exits 3 naming it and changes nothing; the
credentials never show up in any output, committed file or tag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import git, invoke
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv
from tests.test_serve_registry import sample_record

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ACCESS_KEY = "AKIATEAMLOOP0TEST42"
SECRET_KEY = "team-loop-s3cr3t-never-in-git-0042"
BUCKET = "team-data"
URL = f"s3://{BUCKET}/dvc"


@dataclass
class S3Server:
    """A moto S3 server in a subprocess."""

    endpoint: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_moto(env: dict[str, str] | None = None) -> S3Server:
    """moto_server on a free loopback port, with the team's bucket (unless it enforces auth)."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.2)
    if not env:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                     aws_secret_access_key=SECRET_KEY).create_bucket(Bucket=BUCKET)
    return S3Server(endpoint, process)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """A real S3 API on loopback with the team's bucket; fast failures once it is down."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)  # credentials come from .dvc/config.local only
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # an unreachable endpoint fails in a second, not in ten
    server = start_moto()
    yield server
    server.stop()


class Outputs:
    """Everything the CLI printed during a test, to check that no secret ever shows."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def run(self, repo: Path, *args: str, code: int = 0) -> str:
        result = invoke(repo, *args)
        self.seen.append(result.output)
        assert result.exit_code == code, (args, result.output)
        return result.output


def add_team_remote(out: Outputs, repo: Path, s3: S3Server) -> None:
    out.run(repo, "remote", "add", URL, "--endpoint-url", s3.endpoint, "--region", "us-east-1",
            "--credential", f"access_key_id={ACCESS_KEY}", "--credential", f"secret_access_key={SECRET_KEY}")


def other_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """Switch to a teammate's HOME (own git identity, own XDG folders, no author's local remote)."""
    home = tmp_path / name
    home.mkdir()
    shutil.copy(Path(os.environ["HOME"]) / ".gitconfig", home / ".gitconfig")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(var, str(home / sub))
    return home


def assert_no_secret(out: Outputs, *repos: Path) -> None:
    for text in out.seen:
        assert SECRET_KEY not in text and ACCESS_KEY not in text, text
    for repo in repos:
        history = git(repo, "log", "--all", "-p", "--no-textconv", "--format=%H %B")
        tags = git(repo, "for-each-ref", "refs/tags", "--format=%(contents)")
        committed = git(repo, "grep", "-I", "-l", "-e", SECRET_KEY, "-e", ACCESS_KEY, "HEAD", "--") \
            if subprocess.run(["git", "grep", "-q", "-e", SECRET_KEY, "HEAD", "--"], cwd=repo).returncode == 0 else ""
        assert SECRET_KEY not in history and ACCESS_KEY not in history
        assert SECRET_KEY not in tags and ACCESS_KEY not in tags
        assert not committed
        assert SECRET_KEY not in (repo / ".dvc" / "config").read_text()
        assert SECRET_KEY in (repo / ".dvc" / "config.local").read_text()  # where it belongs
        assert "config.local" not in git(repo, "ls-files", ".dvc")


def author_on_s3(out: Outputs, repo: Path, s3: S3Server) -> None:
    """The trained example: v0.1.0 registered on the local default remote, then the team remote."""
    out.run(repo, "registry", "register", "model", "--version", "v0.1.0")
    add_team_remote(out, repo, s3)
    git(repo, "commit", "-q", "-m", "team DVC remote on S3")
    pushed = json.loads(out.run(repo, "data", "push", "--json"))
    assert pushed["remote"] == {"name": "storage", "url": URL}
    assert pushed["files"] >= 5 and pushed["bytes"] > 100_000, pushed
    listed = json.loads(out.run(repo, "remote", "list", "--json"))
    team = next(r for r in listed["remotes"] if r["name"] == "storage")
    assert listed["default"] == "storage" and team["levels"] == ["repo", "local"]
    assert team["options"]["secret_access_key"] == "***" and team["options"]["endpointurl"] == s3.endpoint


def teammate_clone(out: Outputs, author: Path, tmp_path: Path, s3: S3Server) -> Path:
    clone = tmp_path / "teammate-clone"
    git(tmp_path, "clone", "-q", str(author), str(clone))
    add_team_remote(out, clone, s3)  # same URL as committed: only this machine's credentials are added
    assert git(clone, "status", "--porcelain") == ""
    pulled = json.loads(out.run(clone, "data", "pull", "--json"))
    assert pulled["files"] >= 5 and pulled["bytes"] > 100_000 and "models/model.ubj" in pulled["added"], pulled
    assert (clone / "models" / "model.ubj").read_bytes() == (author / "models" / "model.ubj").read_bytes()
    return clone


def snapshot(repo: Path) -> tuple[str, str, str, dict[str, int]]:
    files = {str(p.relative_to(repo)): p.stat().st_size for p in repo.rglob("*")
             if p.is_file() and ".git" not in p.parts and ".dvc" not in p.parts}
    return (git(repo, "status", "--porcelain"), git(repo, "tag", "--list"), git(repo, "rev-parse", "HEAD"), files)


def test_team_loop_on_s3_and_with_the_endpoint_down(
    trained_repo: Path, tmp_path: Path, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = Outputs()
    author = trained_repo
    author_on_s3(out, author, s3)
    other_home(tmp_path, monkeypatch, "teammate-home")
    clone = teammate_clone(out, author, tmp_path, s3)

    out.run(clone, "run")
    out.run(clone, "registry", "register", "model", "--version", "v0.2.0")
    out.run(clone, "registry", "promote", "model", "v0.2.0", "--stage", "prod")
    out.run(clone, "monitor", "profile", "data/churn.csv", "--name", "production")
    shutil.rmtree(clone / ".dvc" / "cache")  # from here on every byte comes from S3
    got = tmp_path / "got.ubj"
    out.run(clone, "registry", "get", "model#prod", "-o", str(got))
    assert got.read_bytes() == (author / "models" / "model.ubj").read_bytes()
    out.run(clone, "deploy", "bundle", "model#prod", "-o", str(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "model.ubj").is_file()
    for ref in ("model@v0.1.0", "model#prod"):  # v0.1.0 was registered before the switch to S3
        assert "REPRODUCED" in out.run(clone, "verify", ref)
    lineage = json.loads(out.run(clone, "lineage", "model#prod", "--json"))
    assert lineage["production"]["verdict"] is not None, lineage["production"]
    diff = json.loads(out.run(clone, "monitor", "diff", "-r", "model#prod", "-t", "data/churn.csv", "--json"))
    assert diff["verdict"] == "no_drift" or diff["drifted"] == 0, diff

    # The endpoint goes down: every command that needs the remote exits 3 and names it.
    shutil.rmtree(clone / ".dvc" / "cache", ignore_errors=True)
    (clone / "data" / "churn.csv").unlink()
    before = snapshot(clone)
    s3.stop()
    label = f"'storage' ({URL})"
    for args in (
        ["data", "push"],
        ["data", "pull"],
        ["data", "status"],
        ["registry", "get", "model#prod", "-o", str(tmp_path / "down.ubj")],
        ["deploy", "bundle", "model#prod", "-o", str(tmp_path / "down-bundle")],
        ["verify", "model#prod"],
        ["lineage", "model#prod"],
        ["monitor", "diff", "-r", "model#prod", "-t", str(author / "data" / "churn.csv")],
    ):
        text = out.run(clone, *args, code=3)
        assert label in text and "unreachable" in text and "hint:" in text, (args, text)
        assert snapshot(clone) == before, args
    assert not (tmp_path / "down.ubj").exists() and not (tmp_path / "down-bundle").exists()
    assert_no_secret(out, author, clone)


def test_teammate_clones_pulls_verifies_and_serves(
    trained_repo: Path, tmp_path: Path, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = Outputs()
    author_on_s3(out, trained_repo, s3)
    home = other_home(tmp_path, monkeypatch, "teammate-home")
    clone = teammate_clone(out, trained_repo, tmp_path, s3)
    assert "REPRODUCED" in out.run(clone, "verify", "model@v0.1.0")
    assert not (home / ".local" / "share" / "gitmlops").exists()  # no local default needed
    shutil.rmtree(clone / ".dvc" / "cache")  # serve fetches from S3
    port = free_port()
    argv = gitmlops_argv("-C", str(clone), "serve", "model@v0.1.0", "--port", str(port))
    record = sample_record(clone)
    server = ServerProcess(argv, port, env=dict(os.environ), cwd=tmp_path)
    with server.start():
        answer = requests.post(server.url + "/predict", json={"records": [record]}, timeout=10)
    log = server.output()
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "model@v0.1.0"
    out.seen.append(log)
    assert_no_secret(out, trained_repo, clone)


def test_missing_bucket_and_missing_plugin(example_repo: Path, s3: S3Server) -> None:
    out = Outputs()
    out.run(example_repo, "remote", "add", "s3://no-such-bucket/dvc", "--endpoint-url", s3.endpoint,
            "--credential", f"access_key_id={ACCESS_KEY}", "--credential", f"secret_access_key={SECRET_KEY}")
    text = out.run(example_repo, "data", "push", code=3)
    assert "'storage' (s3://no-such-bucket/dvc)" in text and "does not exist" in text and "create the bucket" in text
    assert_no_secret(out)

    # Without dvc-s3 (its import blocked in a real subprocess) an s3:// remote names the extra to install.
    script = ("import sys; sys.modules['dvc_s3'] = None; from gitmlops.cli import main; "
              "main(['-C', sys.argv[1], 'data', 'status'])")
    proc = subprocess.run([sys.executable, "-c", script, str(example_repo)], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "pip install 'gitmlops[s3]'" in proc.stderr and "storage" in proc.stderr
    script = ("import sys; sys.modules['dvc_s3'] = None; from gitmlops.cli import main; "
              "main(['-C', sys.argv[1], 'remote', 'add', 's3://b/p', '--name', 'other'])")
    proc = subprocess.run([sys.executable, "-c", script, str(example_repo)], capture_output=True, text=True)
    assert proc.returncode == 2 and "pip install 'gitmlops[s3]'" in proc.stderr, proc.stderr
    assert "other" not in (example_repo / ".dvc" / "config").read_text()


def test_remote_add_list_remove(example_repo: Path, tmp_path: Path) -> None:
    out = Outputs()
    folder = tmp_path / "shared"
    out.run(example_repo, "remote", "add", str(folder), "--name", "nas", "--no-default")
    listed = json.loads(out.run(example_repo, "remote", "list", "--json"))
    assert listed["default"] == "local" and [r["name"] for r in listed["remotes"]] == ["local", "nas"]
    assert "nas" in git(example_repo, "diff", "--cached", ".dvc/config")
    out.run(example_repo, "remote", "add", str(tmp_path / "elsewhere"), "--name", "nas", code=2)
    out.run(example_repo, "remote", "add", str(folder), "--name", "bad name", code=2)
    out.run(example_repo, "remote", "add", str(folder), "--name", "x", "--credential", "novalue", code=2)
    text = out.run(example_repo, "remote", "add", str(folder), "--name", "y", "--credential", "bogus_option=1", code=2)
    assert "DVC refuses" in text and "bogus_option" in text
    assert "'remote \"y\"'" not in (example_repo / ".dvc" / "config").read_text()
    out.run(example_repo, "remote", "add", str(folder), "--name", "nas")  # now the default
    assert json.loads(out.run(example_repo, "remote", "list", "--json"))["default"] == "nas"
    out.run(example_repo, "remote", "remove", "nas")
    listed = json.loads(out.run(example_repo, "remote", "list", "--json"))
    assert [r["name"] for r in listed["remotes"]] == ["local"] and listed["default"] is None
    out.run(example_repo, "remote", "remove", "nas", code=2)


def test_refused_credentials(example_repo: Path, s3: S3Server) -> None:
    """An S3 API that checks keys (moto with auth on) refuses unknown ones: exit 3, named, no secret."""
    strict = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        out = Outputs()
        out.run(example_repo, "remote", "add", URL, "--endpoint-url", strict.endpoint,
                "--credential", f"access_key_id={ACCESS_KEY}", "--credential", f"secret_access_key={SECRET_KEY}")
        for args in (["data", "push"], ["data", "status"]):
            text = out.run(example_repo, *args, code=3)
            assert f"'storage' ({URL}) refused access" in text and "--credential" in text, text
        assert_no_secret(out)
    finally:
        strict.stop()


def test_no_remote_in_a_fresh_clone(trained_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone of a repo whose only remote is the author's local default has none: every reading
    command exits 3 and names `gitmlops remote add s3://...`."""
    out = Outputs()
    out.run(trained_repo, "registry", "register", "model", "--version", "v0.1.0")
    out.run(trained_repo, "monitor", "profile", "data/churn.csv", "--name", "production")
    git(trained_repo, "add", "-A")
    git(trained_repo, "commit", "-q", "-m", "production profile")
    other_home(tmp_path, monkeypatch, "teammate-home")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(trained_repo), str(clone))
    before = snapshot(clone)
    for args in (
        ["data", "pull"],
        ["registry", "get", "model@v0.1.0", "-o", str(tmp_path / "m.ubj")],
        ["deploy", "bundle", "model@v0.1.0", "-o", str(tmp_path / "bundle")],
        ["verify", "model@v0.1.0"],
        ["lineage", "model@v0.1.0"],
        ["monitor", "diff", "-r", "model@v0.1.0", "-t", str(trained_repo / "data" / "churn.csv")],
    ):
        text = out.run(clone, *args, code=3)
        assert "no DVC remote" in text and "gitmlops remote add s3://" in text, (args, text)
        assert snapshot(clone) == before, args

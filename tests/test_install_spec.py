"""The gitmlops a project uses: recorded by `init` in requirements-gitmlops.txt, and what every
workflow's install step really installs (run in a fresh virtual environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import gitmlops
from gitmlops.install_spec import SPEC_FILE, gitmlops_requirement, requirements_text
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "gitmlops" / "templates" / "workflows"


def _fake_dist(tmp: Path, monkeypatch: pytest.MonkeyPatch, version: str, direct_url: dict | None) -> None:
    """A real .dist-info of gitmlops, the only one on sys.path, found by importlib.metadata as pip leaves it."""
    info = tmp / f"gitmlops-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: gitmlops\nVersion: {version}\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    monkeypatch.setattr(sys, "path", [str(tmp)])


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (None, "gitmlops==9.8.7"),
        ({"url": "https://github.com/acme/gitmlops", "vcs_info": {"vcs": "git", "commit_id": "a" * 40}},
         f"gitmlops @ git+https://github.com/acme/gitmlops@{'a' * 40}"),
        ({"url": "file:///src/gitmlops", "dir_info": {"editable": True}}, "gitmlops @ file:///src/gitmlops"),
        ({"url": "https://files.example/gitmlops-9.8.7.tar.gz", "archive_info": {}},
         "gitmlops @ https://files.example/gitmlops-9.8.7.tar.gz"),
    ],
)
def test_requirement_names_what_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             direct_url: dict | None, expected: str) -> None:
    _fake_dist(tmp_path, monkeypatch, "9.8.7", direct_url)
    assert gitmlops_requirement() == expected
    text = requirements_text()
    assert text.splitlines()[-1] == expected
    assert ("installs on this machine only" in text) == expected.startswith("gitmlops @ file:")


def test_installed_dist_wins_over_a_stale_egg_info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "src" / "gitmlops.egg-info"  # what an in-tree build leaves in a checkout
    stale.mkdir(parents=True)
    (stale / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: gitmlops\nVersion: 0.0.1\n")
    _fake_dist(tmp_path / "site", monkeypatch, "9.8.7", {"url": "file:///src", "dir_info": {"editable": True}})
    monkeypatch.setattr(sys, "path", [str(tmp_path / "src"), str(tmp_path / "site")])
    assert gitmlops_requirement() == "gitmlops @ file:///src"


def test_requirement_with_extras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dist(tmp_path, monkeypatch, "1.2.3", None)
    assert gitmlops_requirement(("s3", "dask")) == "gitmlops[dask,s3]==1.2.3"


def test_init_records_the_spec_and_keeps_an_edited_one(git_repo: Path) -> None:
    result = invoke(git_repo, "init")
    assert result.exit_code == 0, result.output
    spec = git_repo / SPEC_FILE
    assert spec.read_text() == requirements_text()
    assert spec.read_text().splitlines()[-1] == gitmlops_requirement()
    spec.write_text("gitmlops[dask]==0.1.0\n")
    assert invoke(git_repo, "init").exit_code == 0
    assert spec.read_text() == "gitmlops[dask]==0.1.0\n"


def _install_scripts() -> dict[str, str]:
    scripts = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                if step.get("id") == "install" or step.get("name") == "Install":
                    scripts[path.name] = step["run"]
    return scripts


@pytest.mark.slow
def test_every_workflow_installs_the_recorded_gitmlops_in_a_fresh_venv(git_repo: Path, tmp_path: Path) -> None:
    """Each workflow's install commands, as bash runs them on GitHub, in a new virtual environment:
    they install the spec `init` recorded (here this checkout) and `gitmlops --version` matches."""
    scripts = _install_scripts()
    assert set(scripts) == {"pr.yml", "pr-comment.yml", "monitor.yml", "deploy.yml", "pages.yml"}
    assert invoke(git_repo, "init").exit_code == 0
    (git_repo / "base").mkdir()  # pr-comment.yml checks out only the spec of the default branch, under base/
    (git_repo / "base" / SPEC_FILE).write_text((git_repo / SPEC_FILE).read_text())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"  # what actions/setup-python does
    for name, script in scripts.items():
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=git_repo,
                              env=env, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"{name}: the install step failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert f"gitmlops, version {gitmlops.__version__}" in proc.stdout, f"{name}: {proc.stdout[-500:]}"
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "gitmlops"], capture_output=True,
                           text=True, check=True, env=env).stdout
    assert f"Version: {gitmlops.__version__}" in shown
    # the installed gitmlops is the one the spec names, not one from an index
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import gitmlops; print(gitmlops.__file__)"],
                           capture_output=True, text=True, check=True, env=env).stdout.strip()
    spec = (git_repo / SPEC_FILE).read_text().splitlines()[-1]
    if spec.startswith("gitmlops @ file://"):
        source = Path(spec.split("file://", 1)[1])
        assert where.startswith((str(venv), str(source)))

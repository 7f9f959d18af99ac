"""The dependency set installs from binary wheels on Python 3.13 (whylogs, which cannot, is test-only)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDIST_ONLY = ("antlr4-python3-runtime==4.9.3",)


def _dependencies() -> list[str]:
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def test_runtime_dependencies_do_not_name_whylogs() -> None:
    assert not [d for d in _dependencies() if d.lower().startswith("whylogs")]


@pytest.mark.registry
def test_dependencies_resolve_for_python_313_with_wheels_only(tmp_path: Path) -> None:
    # pip resolves the whole set for another interpreter; --dry-run downloads metadata, installs nothing.
    # One exception to wheels only: hydra-core's parser runtime, antlr4-python3-runtime 4.9, exists
    # only as a pure-Python sdist; it is built here into its py3-none-any wheel (no compiler involved)
    # and offered to the resolver beside the registry's wheels.
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), *SDIST_ONLY],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert all(w.name.endswith("-py3-none-any.whl") for w in wheels.iterdir())
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--python-version", "3.13", "--only-binary=:all:", "--find-links", str(wheels),
         "--target", str(tmp_path / "t"),
         "--report", str(tmp_path / "report.json"), *_dependencies()],
        capture_output=True, text=True, check=False, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    installed = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                 for item in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert "datasketches" in installed and "whylogs" not in installed
    assert int(installed["numpy"].split(".")[0]) >= 2  # nothing holds numpy below 2 any more
    assert int(installed["pandas"].split(".")[0]) >= 3  # nor pandas below 3


def _resolve(tmp_path: Path, python: str, requirements: list[str]) -> dict[str, str]:
    """What pip would install for ``python`` from binary wheels only (a dry run: metadata, no install)."""
    report = tmp_path / f"report-{python}.json"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--python-version", python, "--only-binary=:all:", "--target", str(tmp_path / f"t-{python}"),
         "--report", str(report), *requirements],
        capture_output=True, text=True, check=False, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    return {item["metadata"]["name"].lower(): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


@pytest.mark.registry
def test_deploy_bundle_requirements_resolve_with_wheels_only_without_whylogs(tmp_path: Path) -> None:
    from gitmlops.serve.bundle import REQUIREMENTS, requirements

    pinned = [line for line in requirements().splitlines() if line and not line.startswith("#")]
    assert not [line for line in pinned if line.lower().startswith("whylogs")]
    # The bundle's Dockerfile installs the pinned file on the Python it was built with ...
    here = _resolve(tmp_path, f"{sys.version_info.major}.{sys.version_info.minor}", pinned)
    assert {"datasketches", "protobuf"} <= set(here) and "whylogs" not in here
    # ... and the same packages install on Python 3.13 (a bundle built there pins what resolves here).
    on_313 = _resolve(tmp_path, "3.13", list(REQUIREMENTS))
    assert {"datasketches", "protobuf", "numpy", "pandas"} <= set(on_313) and "whylogs" not in on_313


@pytest.mark.registry
def test_on_python_314_only_datasketches_lacks_a_wheel(tmp_path: Path) -> None:
    # README and docs/monitoring.md say so: pip builds datasketches from source on 3.14, nothing else
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), *SDIST_ONLY],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    rest = [d for d in _dependencies() if not d.lower().startswith("datasketches")]
    installed = _resolve(tmp_path, "3.14", [*rest, f"--find-links={wheels}"])
    assert int(installed["numpy"].split(".")[0]) >= 2 and "whylogs" not in installed
    alone = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp_path / "ds"),
         "--python-version", "3.14", "--only-binary=:all:", "datasketches>=5.1"],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert alone.returncode != 0, "datasketches has Python 3.14 wheels now: say so in README.md and docs/monitoring.md"

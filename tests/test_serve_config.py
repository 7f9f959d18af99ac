"""`gitmlops serve` takes options it is not given from the project's `serve` config group."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import git, init_git
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records


def test_serve_options_come_from_the_serve_config_group(tmp_path: Path) -> None:
    repo = init_git(tmp_path / "repo")
    (repo / "params.yaml").write_text("serve:\n  max_rows: 3\n")
    git(repo, "add", "params.yaml")
    git(repo, "commit", "-q", "-m", "serve config")
    bundle = make_bundle(tmp_path / "bundle")
    (repo / "sub").mkdir()
    port = free_port()
    # Started with -C on a subfolder: the config is the repo's, found from its root.
    argv = gitmlops_argv("-C", str(repo / "sub"), "serve", str(bundle), "--port", str(port))
    with ServerProcess(argv, port).start() as server:
        ok = requests.post(server.url + "/predict", json={"records": sample_records(3)}, timeout=10)
        assert ok.status_code == 200, ok.text
        too_many = requests.post(server.url + "/predict", json={"records": sample_records(4)}, timeout=10)
        assert too_many.status_code == 413 and "4 > 3" in too_many.json()["detail"]
    # An option on the command line wins over the config.
    port = free_port()
    argv = gitmlops_argv("-C", str(repo), "serve", str(bundle), "--port", str(port), "--max-rows", "10")
    with ServerProcess(argv, port).start() as server:
        assert requests.post(server.url + "/predict", json={"records": sample_records(4)}, timeout=10).ok

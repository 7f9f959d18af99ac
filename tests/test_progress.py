"""Progress bars: drawn on stderr when it is a terminal (a real pty here), never when piped, never
with --quiet or --json; the library reports progress through a callback and prints nothing."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitmlops.monitor import profile_data

BIN = Path(sys.executable).parent


def _csv(path: Path, rows: int = 20_000) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame({"age": rng.integers(18, 90, rows), "plan": rng.choice(["free", "pro"], rows)}).to_csv(path, index=False)
    return path


def _in_pty(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``argv`` with stdin, stdout and stderr on a pseudo-terminal; (exit code, all it wrote)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once (nothing of pytest's state is used)
        os.chdir(cwd)
        # a new pty is 0x0; give it the size of a real terminal window (24 rows, 100 columns)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execv(argv[0], argv)
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


@pytest.fixture
def data_repo(git_repo: Path) -> Path:
    _csv(git_repo / "big.csv")
    return git_repo


def test_monitor_profile_draws_a_bar_on_a_terminal_only(data_repo: Path) -> None:
    command = [str(BIN / "gitmlops"), "monitor", "profile", "big.csv", "--chunk-size", "1000", "--jobs", "1"]
    code, shown = _in_pty(command, data_repo)
    assert code == 0, shown
    assert "profiling big.csv" in shown and " chunk" in shown and "\r" in shown
    assert "profiled 20000 rows" in shown
    piped = subprocess.run(command, cwd=data_repo, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "profiling big.csv" not in piped.stderr + piped.stdout and "\r" not in piped.stderr
    code, quiet = _in_pty([*command, "--quiet"], data_repo)
    assert code == 0 and "profiling big.csv" not in quiet and "profiled 20000 rows" in quiet
    code, as_json = _in_pty([*command, "--json"], data_repo)
    assert code == 0 and "profiling big.csv" not in as_json
    # with workers the number of chunks is known up front: N of M, elapsed and ETA
    code, parallel = _in_pty([*command[:-1], "2"], data_repo)
    assert code == 0 and "/20 [" in parallel and "<" in parallel, parallel


def test_profile_reports_chunks_done_of_all(tmp_path: Path) -> None:
    data = _csv(tmp_path / "big.csv")
    calls: list[tuple[int, int | None]] = []
    profiled = profile_data(data, chunk_size=1000, jobs=2, progress=lambda done, total: calls.append((done, total)))
    assert profiled.chunks == len(calls) > 1
    assert calls[-1] == (profiled.chunks, profiled.chunks)  # the total is known up front (CSV byte ranges)
    assert [done for done, _ in calls] == list(range(1, profiled.chunks + 1))
    one: list[tuple[int, int | None]] = []
    profile_data(data, chunk_size=1000, jobs=1, progress=lambda done, total: one.append((done, total)))
    assert one[-1] == (20, None)


def test_data_pull_and_push_show_dvc_transfer_bars_on_a_terminal_only(git_repo: Path) -> None:
    gitmlops = str(BIN / "gitmlops")
    subprocess.run([gitmlops, "init"], cwd=git_repo, check=True, capture_output=True, timeout=300)
    (git_repo / "data").mkdir(exist_ok=True)
    (git_repo / "data" / "blob.bin").write_bytes(os.urandom(3_000_000))
    subprocess.run([gitmlops, "data", "add", "data/blob.bin"], cwd=git_repo, check=True, capture_output=True,
                   timeout=300)
    code, pushed = _in_pty([gitmlops, "data", "push"], git_repo)
    assert code == 0 and "Pushing" in pushed and "pushed to" in pushed, pushed

    def forget() -> None:
        import shutil

        shutil.rmtree(git_repo / ".dvc" / "cache")
        (git_repo / "data" / "blob.bin").unlink()

    forget()
    code, pulled = _in_pty([gitmlops, "data", "pull"], git_repo)
    assert code == 0 and "Fetching" in pulled and "fetched from" in pulled, pulled
    forget()
    code, quiet = _in_pty([gitmlops, "data", "pull", "--quiet"], git_repo)
    assert code == 0 and "Fetching" not in quiet and "fetched from" in quiet, quiet
    forget()
    piped = subprocess.run([gitmlops, "data", "pull"], cwd=git_repo, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and "Fetching" not in piped.stderr and "\r" not in piped.stderr, piped.stderr
    assert (git_repo / "data" / "blob.bin").stat().st_size == 3_000_000

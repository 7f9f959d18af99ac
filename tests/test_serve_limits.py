"""Header size limit and header/body read timeouts of `gitmlops serve`, under both engines, with
real sockets: a huge header line, a slow-loris client, an idle connection and a body at a trickle."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0


@pytest.fixture(scope="module", params=["fast", "litserve"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    model_dir = make_bundle(tmp_path_factory.mktemp("limits") / "churn")
    port = free_port()
    argv = gitmlops_argv("serve", str(model_dir), "--engine", request.param, "--port", str(port),
                         "--max-header-bytes", "4096", "--header-timeout", str(HEADER_TIMEOUT),
                         "--body-timeout", str(BODY_TIMEOUT))
    with ServerProcess(argv, port).start() as proc:
        proc.engine = request.param
        yield proc


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read until the server closes the connection: status, headers, body."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _still_serving(server: ServerProcess) -> None:
    answer = requests.post(server.url + "/predict", json={"records": sample_records(2)}, timeout=10)
    assert answer.status_code == 200, answer.text


def _count(server: ServerProcess, status: int) -> int:
    text = requests.get(server.url + "/metrics", timeout=10).text
    total = 0
    for line in text.splitlines():
        if line.startswith("gitmlops_requests_total{") and f'status="{status}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_a_huge_header_is_answered_431(server: ServerProcess) -> None:
    before = _count(server, 431)
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        status, headers, body = _answer(sock)
    assert status == 431 and headers["content-type"] == "application/json"
    assert "at most 4096 bytes" in json.loads(body)["detail"]
    # a header line that never ends (137 MB in the audit) is cut off at the limit, not buffered
    with _connect(server) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        try:
            while sent < 50_000_000:
                sock.sendall(b"b" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 5_000_000  # refused long before
    assert _count(server, 431) >= before + 1
    _still_serving(server)


def test_headers_of_normal_size_pass(server: ServerProcess) -> None:
    with requests.Session() as session:  # one kept-alive connection, several requests
        for _ in range(5):
            answer = session.post(server.url + "/predict", json={"records": sample_records(1)},
                                  headers={"X-Trace": "t" * 3000}, timeout=10)
            assert answer.status_code == 200


def test_a_slow_loris_is_answered_408(server: ServerProcess) -> None:
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        try:
            for _ in range(40):  # one header byte every 0.1 s: never finishes in time
                sock.sendall(b"X")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = _answer(sock)
        took = time.monotonic() - started
    assert status == 408 and "did not arrive within 1 s" in json.loads(body)["detail"]
    assert HEADER_TIMEOUT <= took < HEADER_TIMEOUT + 1.5
    _still_serving(server)


def test_an_idle_connection_is_closed(server: ServerProcess) -> None:
    socks = [_connect(server) for _ in range(50)]  # opened, never sent a byte
    started = time.monotonic()
    try:
        for sock in socks:
            status, _, _ = _answer(sock)
            assert status == 408
    finally:
        for sock in socks:
            sock.close()
    assert time.monotonic() - started < HEADER_TIMEOUT + 1.5
    _still_serving(server)


def test_a_body_at_a_trickle_is_cut_off(server: ServerProcess) -> None:
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        try:
            for _ in range(60):  # a byte every 0.1 s: 100 s for the whole body
                sock.sendall(b" ")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = _answer(sock)
        took = time.monotonic() - started
    assert status == 408 and "body did not arrive" in json.loads(body)["detail"]
    assert took < BODY_TIMEOUT + 2.5
    _still_serving(server)

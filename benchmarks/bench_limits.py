"""What the serving limits cost: uvicorn's stock httptools protocol against gitmlops' guarded one
(`gitmlops.serve.limits.guarded_protocol`: header size limit, header/body read timeouts).

The same tiny ASGI app (a JSON answer to a small POST, so that the protocol's share of each request
is as large as it gets) is served by one uvicorn process per protocol on 127.0.0.1; keep-alive
clients post for a fixed time (`wrk` when it is on PATH, else Python threads, which then bound the
rate themselves); rounds alternate between the two and the medians and their ratio are printed.

    python benchmarks/bench_limits.py [--seconds 3] [--rounds 6] [--clients 16]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

BODY = b'{"records": [{"tenure_months": 1, "monthly_charges": 1, "plan": "pro", "has_partner": true}]}'


async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    """Read the body, answer a small JSON document."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()  # type: ignore[operator]
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,  # type: ignore[operator]
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"predictions": [0.5]}'})  # type: ignore[operator]


def serve(port: int, guarded: bool) -> None:
    """One uvicorn process with the stock or the guarded protocol."""
    import uvicorn

    from gitmlops.serve.limits import guarded_protocol

    http = guarded_protocol(32 * 1024, 10.0, 10.0) if guarded else "httptools"
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http=http,
        loop="uvloop",
        log_level="warning",  # type: ignore[arg-type]
        access_log=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


WRK_SCRIPT = f"""wrk.method = "POST"
wrk.body = '{BODY.decode()}'
wrk.headers["Content-Type"] = "application/json"
"""


def load(port: int, seconds: float, clients: int) -> float:
    """Requests per second from ``clients`` keep-alive connections over ``seconds``."""
    wrk = shutil.which("wrk")
    if wrk:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        try:
            out = subprocess.run(
                [
                    wrk,
                    "-t1",
                    f"-c{clients}",
                    f"-d{max(1, round(seconds))}s",
                    "-s",
                    script.name,
                    f"http://127.0.0.1:{port}/predict",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            os.unlink(script.name)
        if "Non-2xx" in out.stdout:
            raise SystemExit(out.stdout)
        found = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
        if not found:
            raise SystemExit(out.stdout + out.stderr)
        return float(found.group(1))
    return _load_python(port, seconds, clients)


def _load_python(port: int, seconds: float, clients: int) -> float:
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            conn.request("POST", "/predict", BODY, {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ports = {"stock httptools": free_port(), "guarded (limits)": free_port()}
    procs = [
        ctx.Process(target=serve, args=(port, name.startswith("guarded")), daemon=True)
        for name, port in ports.items()
    ]
    for proc in procs:
        proc.start()
    try:
        for port in ports.values():
            wait_ready(port)
            load(port, 0.5, args.clients)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in ports}
        for r in range(args.rounds):
            order = list(ports.items()) if r % 2 == 0 else list(reversed(ports.items()))
            for name, port in order:
                rates[name].append(load(port, args.seconds, args.clients))
        client = "wrk" if shutil.which("wrk") else "Python threads"
        print(
            f"{args.rounds} alternating rounds of {args.seconds:g} s, {args.clients} keep-alive clients ({client})"
        )
        for name, values in rates.items():
            print(
                f"  {name:18} median {statistics.median(values):9,.0f} requests/s "
                f"(min {min(values):,.0f}, max {max(values):,.0f})"
            )
        stock, guarded = (statistics.median(v) for v in rates.values())
        print(f"guarded / stock: {guarded / stock:.3f}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)


if __name__ == "__main__":
    main()

"""Serving throughput, latency and cold start: `gitmlops serve` (both engines) vs FastAPI vs bare ASGI.

All serve the same booster (100 trees) with the same validation code, on 127.0.0.1, in one
run, measured alternately with wrk (32 connections, one-row POST bodies set by a Lua script):

- gitmlops fast: ``gitmlops serve DIR`` with its defaults (fast engine, 1 worker), and with 2 workers;
- gitmlops litserve: ``gitmlops serve DIR --engine litserve`` (a stock LitServer hosting the LitAPI);
- FastAPI: a sync ``def`` handler taking the JSON body as a dict, calling the booster in-process,
  under uvicorn, one process (uvloop + httptools, access log off: uvicorn's best settings);
- bare ASGI: a raw ASGI callable (orjson, booster in-process) under the same uvicorn: the limit;
- LitServe, stock: the same LitAPI hooks on a plain ``LitServer`` with its defaults, for reference;
- gitmlops, 2 models: ``gitmlops serve churn revenue`` (the same booster beside a regressor of 100
  trees), load on ``/models/churn/predict``: one model's requests/s served alongside another, vs alone.

Then rows/s with 1,000-row bodies, and the cold start (command to first successful prediction):
each server started alone, ``--rounds`` times in alternating order before the load runs, median.
Usage: python benchmarks/bench_serve.py [--seconds 3] [--rounds 3] [--json] [--two-models-only]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serve_fixtures import free_port, make_bundle, sample_records  # noqa: E402

TWO_MODELS = "gitmlops, 2 models (load on one)"

COMMON = '''
import sys
sys.path.insert(0, {root!r})
from gitmlops.serve.model import load_booster, load_bundle
from gitmlops.serve.schema import PredictionEncoder, RequestParser

bundle = load_bundle({folder!r})
booster = load_booster(bundle.model_file, bundle.info.md5)
parser = RequestParser(bundle.schema, 10_000)
encoder = PredictionEncoder(bundle.schema)
label = bundle.info.label
'''

FASTAPI_APP = COMMON + '''
from fastapi import Body, FastAPI

app = FastAPI()


@app.post("/predict")
def predict(payload: dict = Body(...)):
    x = parser.records_matrix(payload)
    y = booster.inplace_predict(x, validate_features=False)
    return {{"predictions": encoder.encode(y), "model": label}}
'''

ASGI_APP = COMMON + '''
import orjson


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    x = parser.parse(body)
    y = booster.inplace_predict(x, validate_features=False)
    out = orjson.dumps({{"predictions": encoder.encode(y), "model": label}})
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]}})
    await send({{"type": "http.response.body", "body": out}})
'''

LITSERVE_APP = COMMON + '''
import litserve as ls


class API(ls.LitAPI):
    def decode_request(self, request):
        return parser.records_matrix(request)

    def predict(self, x):
        return booster.inplace_predict(x, validate_features=False)

    def encode_response(self, y):
        return {{"predictions": encoder.encode(y), "model": label}}


if __name__ == "__main__":
    ls.LitServer(API(), accelerator="cpu").run(
        host="127.0.0.1", port=int(sys.argv[1]), generate_client_file=False, log_level="warning"
    )
'''

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
"""


class Server:
    """One server process (own process group), stopped with SIGINT then SIGKILL."""

    def __init__(self, name: str, argv: list[str], port: int, cwd: Path, path: str = "/predict") -> None:
        self.name, self.argv, self.port, self.cwd, self.path = name, argv, port, cwd, path
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, probe: bytes) -> float:
        """Start; return seconds until the first successful prediction."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = t0 + 120
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}")
            try:
                answer = requests.post(self.url + self.path, data=probe, timeout=2,
                                       headers={"Content-Type": "application/json"})
                if answer.status_code == 200:
                    return time.perf_counter() - t0
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise SystemExit(f"{self.name} did not answer within 120 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def wrk(url: str, script: Path, seconds: float, connections: int) -> tuple[float, float]:
    """(requests/s, p99 latency in ms) of one wrk run on ``url``; non-2xx answers abort the benchmark."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one wrk measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median reported)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--two-models-only", action="store_true",
                        help="measure only one model alone vs beside another (gitmlops, fast engine)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    servers: list[Server] = []
    try:
        folder = make_bundle(work / "churn", rounds=100)
        neighbour = make_bundle(work / "revenue", task="regression", rounds=100, seed=1)
        one = json.dumps({"records": sample_records(1)})
        many = json.dumps({"records": sample_records(1000, seed=2)})
        scripts = {}
        for key, body in (("one", one), ("many", many)):
            scripts[key] = work / f"{key}.lua"
            scripts[key].write_text(LUA.format(body=body))
        for name, template in (("fastapi", FASTAPI_APP), ("asgi", ASGI_APP), ("litserve", LITSERVE_APP)):
            (work / f"{name}_app.py").write_text(template.format(root=str(ROOT), folder=str(folder)))

        uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning",
                   "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
        serve = [sys.executable, "-m", "gitmlops", "serve", str(folder)]
        specs = [
            ("gitmlops", [*serve, "--port"]),
            ("gitmlops, 2 workers", [*serve, "--workers", "2", "--port"]),
            ("gitmlops --engine litserve", [*serve, "--engine", "litserve", "--port"]),
            ("fastapi", [*uvicorn, "fastapi_app:app", "--port"]),
            ("bare ASGI", [*uvicorn, "asgi_app:app", "--port"]),
            ("LitServe, stock", [sys.executable, "litserve_app.py"]),
            (TWO_MODELS, [*serve, str(neighbour), "--port"]),
        ]
        if args.two_models_only:
            specs = [spec for spec in specs if spec[0] in ("gitmlops", TWO_MODELS)]
        def server_of(name: str, argv: list[str]) -> Server:
            port = free_port()
            path = "/models/churn/predict" if name == TWO_MODELS else "/predict"
            return Server(name, [*argv, str(port)], port, work, path)

        starts: dict[str, list[float]] = {name: [] for name, _ in specs}
        for round_ in range(args.rounds):  # each alone: nothing else runs while one starts
            for name, argv in specs if round_ % 2 == 0 else list(reversed(specs)):
                server = server_of(name, argv)
                try:
                    starts[name].append(server.start(one.encode()))
                finally:
                    server.stop()
        cold = {name: statistics.median(values) for name, values in starts.items()}
        for name, argv in specs:
            servers.append(server_of(name, argv))
            servers[-1].start(one.encode())

        for server in servers:  # warm up: first requests pay lazy imports and allocations
            wrk(server.url + server.path, scripts["one"], 1, 32)
        rps: dict[str, list[float]] = {s.name: [] for s in servers}
        p99: dict[str, list[float]] = {s.name: [] for s in servers}
        for round_ in range(args.rounds):
            order = servers if round_ % 2 == 0 else list(reversed(servers))
            for server in order:
                r, p = wrk(server.url + server.path, scripts["one"], args.seconds, 32)
                rps[server.name].append(r)
                p99[server.name].append(p)
        rows: dict[str, float] = {}
        for server in servers:
            r, _ = wrk(server.url + server.path, scripts["many"], args.seconds, 4)
            rows[server.name] = r * 1000
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    results = {
        name: {
            "requests_per_s": round(statistics.median(rps[name])),
            "p99_ms": round(statistics.median(p99[name]), 2),
            "rows_per_s_1000_row_bodies": round(rows[name]),
            "cold_start_s": round(cold[name], 2),
        }
        for name in rps
    }
    alone = results["gitmlops"]["requests_per_s"]
    two = {"one_model_beside_another_vs_alone": round(results[TWO_MODELS]["requests_per_s"] / alone, 2)}
    if args.two_models_only:
        if args.json:
            print(json.dumps({"results": results, "ratios": two, "rounds": args.rounds, "seconds": args.seconds},
                             indent=2))
            return
        print_table(results, args)
        print(f"\none model beside another / alone: {two['one_model_beside_another_vs_alone']}x")
        return
    base = results["fastapi"]["requests_per_s"]
    limit = results["bare ASGI"]["requests_per_s"]
    ratios = {
        **two,
        "gitmlops_vs_fastapi": round(results["gitmlops"]["requests_per_s"] / base, 2),
        "gitmlops_vs_bare_asgi": round(results["gitmlops"]["requests_per_s"] / limit, 2),
        "fastapi_vs_bare_asgi": round(base / limit, 2),
        "gitmlops_2_workers_vs_fastapi": round(results["gitmlops, 2 workers"]["requests_per_s"] / base, 2),
        "litserve_engine_vs_fastapi": round(results["gitmlops --engine litserve"]["requests_per_s"] / base, 2),
        "stock_litserve_vs_fastapi": round(results["LitServe, stock"]["requests_per_s"] / base, 2),
        "gitmlops_p99_vs_fastapi_p99": round(results["gitmlops"]["p99_ms"] / results["fastapi"]["p99_ms"], 2),
        "gitmlops_cold_start_vs_fastapi": round(cold["gitmlops"] / cold["fastapi"], 2),
    }
    if args.json:
        print(json.dumps({"results": results, "ratios": ratios, "rounds": args.rounds, "seconds": args.seconds},
                         indent=2))
        return
    print_table(results, args)
    print(f"\none model beside another / alone: {ratios['one_model_beside_another_vs_alone']}x;"
          f" gitmlops / FastAPI: {ratios['gitmlops_vs_fastapi']}x; gitmlops / bare ASGI:"
          f" {ratios['gitmlops_vs_bare_asgi']}x; FastAPI / bare ASGI: {ratios['fastapi_vs_bare_asgi']}x;"
          f" 2 workers / FastAPI: {ratios['gitmlops_2_workers_vs_fastapi']}x;"
          f" litserve engine / FastAPI: {ratios['litserve_engine_vs_fastapi']}x;"
          f" stock LitServe / FastAPI: {ratios['stock_litserve_vs_fastapi']}x;"
          f" gitmlops p99 / FastAPI p99: {ratios['gitmlops_p99_vs_fastapi_p99']}x;"
          f" gitmlops cold start / FastAPI's: {ratios['gitmlops_cold_start_vs_fastapi']}x")


def print_table(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    """The results as a Markdown table."""
    print(f"one-row requests, 32 connections, wrk, median of {args.rounds} alternating rounds of {args.seconds:g} s")
    print("| server | requests/s | p99 latency | rows/s (1,000-row bodies) | cold start |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['requests_per_s']:,} | {r['p99_ms']} ms | {r['rows_per_s_1000_row_bodies']:,} |"
              f" {r['cold_start_s']} s |")


if __name__ == "__main__":
    main()

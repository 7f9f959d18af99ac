"""In-process unit tests of the fast engine's parts: front door, ZeroMQ transport, batching loop.

Each part runs for real; the other side of it is a small fake (a fake worker side, a fake LitAPI).
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi import FastAPI, Request

from gitmlops.serve.api import PredictAPI
from gitmlops.serve.front import FrontDoor
from gitmlops.serve.metrics import ServerMetrics, render
from gitmlops.serve.model import load_bundle
from gitmlops.serve.served import ServedModel
from gitmlops.serve.transport import ApiSide, Channels, WorkerSide
from gitmlops.serve.worker import run_batch, serve_batches
from tests.serve_fixtures import make_bundle, sample_records


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_bundle(make_bundle(tmp_path_factory.mktemp("units") / "churn", rounds=5))


# -- front door ---------------------------------------------------------------------------------


class FakeSide:
    """Stands for the ZeroMQ end: records matrices; answers them (or never, for timeouts)."""

    def __init__(self, answer: bool = True) -> None:
        self.matrices: list[np.ndarray] = []
        self.answer = answer
        self.forgotten = 0

    def submit(self, matrix: np.ndarray) -> asyncio.Future[tuple[int, bytes]]:
        self.matrices.append(matrix)
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        if self.answer:
            fut.set_result((200, orjson.dumps({"rows": len(matrix)})))
        return fut

    def forget(self, fut: Any) -> None:
        self.forgotten += 1


def door(bundle: Any, side: Any, key: str | None = None, timeout: float = 5.0) -> FrontDoor:
    metrics = ServerMetrics(1, 1)
    entry = {**bundle.info.to_dict(), "label": bundle.info.label}
    info = {"model": entry, "models": [entry], "server": {"engine": "fast"}}
    model = ServedModel("churn", PredictAPI(bundle, max_rows=3), metrics, entry)
    front = FrontDoor(None, models=[model], metrics=metrics, info=info, api_key=key,
                      max_body_bytes=65536, timeout=timeout)
    model.side = side
    return front


def call(app: Any, method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
         chunks: list[bytes] | None = None) -> tuple[int, bytes]:
    """One ASGI request, in-process; returns (status, body)."""
    parts = chunks if chunks is not None else [body]
    scope = {"type": "http", "method": method, "path": path, "headers": headers or [], "query_string": b"",
             "root_path": "", "scheme": "http", "http_version": "1.1", "asgi": {"version": "3.0"}}
    messages = [{"type": "http.request", "body": c, "more_body": i < len(parts) - 1} for i, c in enumerate(parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def records_body(n: int = 1) -> bytes:
    return json.dumps({"records": sample_records(n)}).encode()


def test_front_door_sends_valid_matrices_and_answers_bad_ones_itself(bundle: Any) -> None:
    side = FakeSide()
    front = door(bundle, side)
    assert call(front, "POST", "/predict", records_body(2)) == (200, b'{"rows":2}')
    status, body = call(front, "POST", "/predict", b'{"records": [{"tenure_months": 1}]}')
    assert status == 422 and json.loads(body)["field"] == "records[0].monthly_charges"
    assert call(front, "POST", "/predict", records_body(4))[0] == 413  # max_rows=3
    assert len(side.matrices) == 1 and side.matrices[0].shape == (2, 4)


def test_front_door_csv_and_dataframe_split_give_the_same_matrix(bundle: Any) -> None:
    side = FakeSide()
    front = door(bundle, side)
    record = sample_records(1)[0]
    names = list(record)
    split = {"dataframe_split": {"columns": names, "data": [[record[n] for n in names]]}}
    cells = ["" if record[n] is None else str(record[n]).lower() if isinstance(record[n], bool) else str(record[n])
             for n in names]
    csv_body = (",".join(names) + "\n" + ",".join(cells) + "\n").encode()
    assert call(front, "POST", "/predict", records_body(1))[0] == 200
    assert call(front, "POST", "/predict", json.dumps(split).encode())[0] == 200
    assert call(front, "POST", "/predict", csv_body, [(b"content-type", b"text/csv; charset=utf-8")])[0] == 200
    np.testing.assert_array_equal(side.matrices[0], side.matrices[1])
    np.testing.assert_allclose(side.matrices[0], side.matrices[2], rtol=1e-6)
    bad_csv = b"tenure_months,monthly_charges,plan,has_partner\nabc,1,pro,true\n"
    status, body = call(front, "POST", "/predict", bad_csv, [(b"content-type", b"text/csv")])
    assert status == 422 and json.loads(body)["field"] == "records[0].tenure_months"


def test_front_door_limits_auth_routes_and_timeout(bundle: Any) -> None:
    front = door(bundle, FakeSide(), key="k")
    assert call(front, "POST", "/predict", records_body())[0] == 401
    auth = [(b"x-api-key", b"k")]
    assert call(front, "POST", "/predict", records_body(), auth)[0] == 200
    assert call(front, "POST", "/predict", headers=auth, chunks=[b"{", b" " * 70000, b"}"])[0] == 413
    assert call(front, "GET", "/predict", headers=auth)[0] == 405
    assert call(front, "GET", "/nope", headers=auth)[0] == 404
    assert call(front, "GET", "/health") == (503, b"not ready")
    front.metrics.set_ready(0, True)
    assert call(front, "GET", "/health") == (200, b"ok")
    status, doc = call(front, "GET", "/openapi.json", headers=auth)
    assert status == 200 and "Record" in json.loads(doc)["components"]["schemas"]
    status, page = call(front, "GET", "/docs", headers=auth)
    assert status == 200 and b"openapi.json" in page and b"<script src" not in page and b"https://" not in page

    silent = FakeSide(answer=False)
    slow = door(bundle, silent, timeout=0.05)
    status, body = call(slow, "POST", "/predict", records_body())
    assert status == 504 and "0.05 s" in json.loads(body)["detail"]
    assert silent.forgotten == 1
    text = render(slow.metrics.snapshot(), {})
    assert 'gitmlops_requests_total{route="/predict",status="504"} 1' in text


# -- transport ----------------------------------------------------------------------------------


def test_transport_carries_requests_and_answers_between_processes_ends() -> None:
    channels = Channels(n_workers=1, n_consumers=1)
    batches: list[tuple[int, int]] = []
    got: list[list[Any]] = []

    def worker() -> None:
        side = WorkerSide(channels, 0)
        items = side.receive(5000)
        got.append(items)
        side.answer(0, len(items), sum(len(m) for _, _, m in items), [(uid, 200, b"ok%d" % uid) for _, uid, _ in items])

    thread = threading.Thread(target=worker)
    thread.start()

    async def client() -> list[tuple[int, bytes]]:
        side = ApiSide(channels, 0)
        side.start(lambda size, rows: batches.append((size, rows)))
        await asyncio.sleep(0.2)  # the worker's PULL socket is bound
        futures = [side.submit(np.zeros((i + 1, 4), dtype=np.float32)) for i in range(3)]
        answers = await asyncio.wait_for(asyncio.gather(*futures), 5)
        await side.close()
        return answers

    try:
        answers = asyncio.run(client())
    finally:
        thread.join(10)
        channels.close()
    # submitted in one event-loop turn: one message holding all three
    assert len(got) == 1 and [m.shape[0] for _, _, m in got[0]] == [1, 2, 3]
    assert answers == [(200, b"ok1"), (200, b"ok2"), (200, b"ok3")]
    assert batches == [(3, 6)]
    assert not Path(channels.folder).exists()


# -- batching loop ------------------------------------------------------------------------------


class FakeWorkerSide:
    """Queued messages in, answers recorded."""

    def __init__(self, messages: list[list[Any]]) -> None:
        self.messages = messages
        self.sent: list[tuple[int, int, int, list[Any]]] = []

    def receive(self, timeout_ms: int | None) -> list[Any]:
        return self.messages.pop(0) if self.messages else []

    def receive_ready(self) -> list[Any]:
        return self.receive(0)

    def answer(self, consumer: int, size: int, rows: int, answers: list[Any]) -> None:
        self.sent.append((consumer, size, rows, answers))


class FakeAPI:
    max_batch_size = 2
    batch_timeout = 0.0

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail
        self.sizes: list[int] = []

    def batch(self, inputs: list[np.ndarray]) -> np.ndarray:
        self.sizes = [len(x) for x in inputs]
        return np.concatenate(inputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.fail:
            raise ValueError("boom")
        self.calls.append(len(x))
        return x[:, 0]

    def unbatch(self, y: np.ndarray) -> list[np.ndarray]:
        return list(np.split(y, np.cumsum(self.sizes)[:-1]))

    def encode_response(self, y: np.ndarray) -> dict[str, Any]:
        return {"v": y.tolist()}


def item(consumer: int, uid: int, value: float) -> tuple[int, int, np.ndarray]:
    return (consumer, uid, np.full((1, 1), value, dtype=np.float32))


def test_batching_loop_takes_at_most_max_batch_and_keeps_the_rest() -> None:
    side = FakeWorkerSide([[item(0, 1, 1.0), item(1, 2, 2.0), item(0, 3, 3.0)]])
    api = FakeAPI()
    serve_batches(api, side, stop_after=2)
    assert api.calls == [2, 1]
    first = side.sent[:2]
    # one message per HTTP process; the batch counted once (by the first)
    assert [(c, size, rows) for c, size, rows, _ in first] == [(0, 2, 2), (1, 0, 0)]
    assert first[0][3] == [(1, 200, b'{"v":[1.0]}')] and first[1][3] == [(2, 200, b'{"v":[2.0]}')]
    assert side.sent[2][3] == [(3, 200, b'{"v":[3.0]}')]


def test_a_failing_model_call_answers_500_to_every_request_of_the_batch() -> None:
    side = FakeWorkerSide([])
    run_batch(FakeAPI(fail=True), side, [item(0, 1, 1.0), item(0, 2, 2.0)])
    (_, _, _, answers), = side.sent
    assert [(uid, status) for uid, status, _ in answers] == [(1, 500), (2, 500)]
    assert b"traceback" in answers[0][2] and b"boom" not in answers[0][2]


# -- hostile bodies (issue 19): answered 400/422 in the error shape, counted ------------------------

HOSTILE = [
    (b'{"records": [{"tenure_months": ' + b"9" * 400 + b', "monthly_charges": 1, "plan": "pro", "has_partner": true}]}',
     422, "records[0].tenure_months"),
    (b'{"records": [{"tenure_months": 1, "monthly_charges": 1e300, "plan": "pro", "has_partner": true}]}',
     422, "records[0].monthly_charges"),
    (b'{"records": [{"tenure_months": 1, "monthly_charges": 3.5e38, "plan": "pro", "has_partner": true}]}',
     422, "records[0].monthly_charges"),
    (b"[" * 2000 + b"]" * 2000, 400, None),
    (b'{"records": [{"\\ud800": 1, "tenure_months": 1, "monthly_charges": 1, "plan": "pro", "has_partner": true}]}',
     422, "records[0].\\ud800"),
    (b'{"\\ud800": []}', 400, "\\ud800"),
]


@pytest.mark.parametrize(("raw", "status", "field"), HOSTILE)
def test_hostile_bodies_get_json_errors(bundle: Any, raw: bytes, status: int, field: str | None) -> None:
    front = door(bundle, FakeSide())
    got, body = call(front, "POST", "/predict", raw)
    assert got == status, body
    assert json.loads(body)["field"] == field
    text = render(front.metrics.snapshot(), {})
    assert f'gitmlops_requests_total{{route="/predict",status="{status}"}} 1' in text


def test_numbers_beyond_float32_are_refused_on_the_columnar_path_too(bundle: Any) -> None:
    records = sample_records(20)
    records[7]["monthly_charges"] = 1e39
    model = ServedModel("churn", PredictAPI(bundle), ServerMetrics(), {})
    front = FrontDoor(None, models=[model], metrics=model.metrics, info={"model": {}},
                      api_key=None, max_body_bytes=1 << 20, timeout=5)
    model.side = FakeSide()
    status, body = call(front, "POST", "/predict", json.dumps({"records": records}).encode())
    assert status == 422 and json.loads(body)["field"] == "records[7].monthly_charges"


def test_a_feature_name_with_surrounding_whitespace_is_refused_at_start(tmp_path: Path) -> None:
    from gitmlops.serve.model import BundleError

    folder = make_bundle(tmp_path / "m", rounds=2)
    schema = json.loads((folder / "schema.json").read_text())
    schema["features"][0]["name"] = " tenure_months"
    (folder / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(BundleError, match="surrounding whitespace"):
        load_bundle(folder)


def test_a_body_slower_than_the_body_timeout_is_answered_408(bundle: Any) -> None:
    front = door(bundle, FakeSide())
    front.body_timeout = 0.05
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b'{"rec', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop(0)
        await asyncio.sleep(3600)  # a client sending nothing more
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.wait_for(front(scope, receive, send), 5)
        return loop.time() - t0

    took = asyncio.run(run())
    assert sent[0]["status"] == 408 and took < 1
    assert "0.05 s" in json.loads(sent[1]["body"])["detail"]
    assert 'status="408"} 1' in render(front.metrics.snapshot(), {})


def test_a_request_error_in_a_litserve_worker_keeps_its_status_and_shape(bundle: Any) -> None:
    """The litserve engine: the LitAPI's decode_request runs again in LitServe's worker. A RequestError
    there reaches the client as LitServe documents for an HTTPException (its status), and the front
    door gives the body gitmlops' shape. Here a real FastAPI app stands for LitServe's endpoint."""
    import dataclasses

    strict = PredictAPI(bundle)
    strict.schema = dataclasses.replace(bundle.schema, unseen_categories="strict")
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, int]:
        return {"rows": len(strict.decode_request(await request.json()))}

    info = {"model": {**bundle.info.to_dict(), "label": bundle.info.label}, "server": {"engine": "litserve"}}
    model = ServedModel("churn", PredictAPI(bundle), ServerMetrics(1, 1), info["model"])
    front = FrontDoor(app, models=[model], metrics=model.metrics, info=info, api_key=None,
                      max_body_bytes=65536, timeout=5)
    record = {"tenure_months": 1, "monthly_charges": 2.0, "plan": "gold", "has_partner": True}
    status, body = call(front, "POST", "/predict", json.dumps({"records": [record]}).encode(),
                        headers=[(b"content-type", b"application/json")])
    assert status == 422, body
    answer = json.loads(body)
    assert answer["field"] == "records[0].plan" and "not a training category" in answer["detail"]
    csv_body = b"tenure_months,monthly_charges,plan,has_partner\n1,2,basic,true\n"
    status, body = call(front, "POST", "/predict", csv_body, headers=[(b"content-type", b"text/csv")])
    assert (status, json.loads(body)) == (200, {"rows": 1})
    assert 'status="422"} 1' in render(front.metrics.snapshot(), {})

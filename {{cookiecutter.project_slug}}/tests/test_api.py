"""The HTTP API, in-process: probes, predictions, rejected input, metrics and timeouts."""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.specs.openapi.checks import positive_data_acceptance

from {{ cookiecutter.__package_name }}.api import ServiceSettings, create_app
from {{ cookiecutter.__package_name }}.batching import answers, answers_or_refusals
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.middleware import Admission
from {{ cookiecutter.__package_name }}.predictor import Predictor, UnscorableInputError
from {{ cookiecutter.__package_name }}.schema import REQUEST_ID_MAX_LENGTH, Features, Prediction, Scores

from api_testing import (
    MAX_BATCH_SIZE,
    connect,
    expected,
    read_answer,
    send_post,
    served_over_http,
    serving,
)
from contract_testing import CONTRACT, first_name
from request_testing import FEATURES_LOC, STATE_STATUSES, body

NUMBER = first_name("number", "integer", "boolean", "category")
"""An input the value tests below use (numbers are the common case)."""


@pytest.mark.anyio
async def test_alive_and_ready_once_the_model_is_loaded(
    client: httpx.AsyncClient, predictor: Predictor
) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["model_version"] == predictor.model_version


@pytest.mark.anyio
async def test_alive_but_not_ready_without_a_model(
    service_settings: ServiceSettings, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    app = create_app(service_settings.model_copy(update={"model_dir": tmp_path / "no-model"}))
    async with serving(app) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 503
        predict = await client.post("/predict", json=body(rows[0]))
    assert predict.status_code == 503
    assert predict.json() == {"detail": "the model is not loaded"}


@pytest.mark.anyio
async def test_predict_answers_what_the_model_predicts(
    client: httpx.AsyncClient, predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    response = await client.post("/predict", json=body(rows[0]))
    assert response.status_code == 200
    assert response.json() == expected(predictor, rows[:1])[0]
    Prediction.model_validate(response.json())


@pytest.mark.anyio
async def test_batch_answers_every_row_in_order(
    client: httpx.AsyncClient, predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    response = await client.post("/predict/batch", json=[body(row) for row in rows])
    assert response.status_code == 200
    assert response.json() == expected(predictor, rows)


@pytest.mark.anyio
async def test_the_id_a_request_gives_comes_back_beside_its_prediction(
    client: httpx.AsyncClient, predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    one = await client.post("/predict", json={**body(rows[0]), "id": "row-1"})
    assert one.json() == {"id": "row-1", **expected(predictor, rows[:1])[0]}
    batch = [{**body(row), "id": f"row-{i}"} for i, row in enumerate(rows)]
    answers = (await client.post("/predict/batch", json=batch)).json()
    assert [answer.pop("id") for answer in answers] == [request["id"] for request in batch]
    assert answers == expected(predictor, rows)
    # Without an id, none comes back.
    assert "id" not in (await client.post("/predict", json=body(rows[0]))).json()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("request_id", "error_type"),
    [
        ("x" * (REQUEST_ID_MAX_LENGTH + 1), "string_too_long"),
        ("", "string_too_short"),
        (7, "string_type"),
    ],
    ids=["too-long", "empty", "number"],
)
async def test_an_id_that_is_not_short_text_is_a_422_naming_it(
    client: httpx.AsyncClient,
    app: FastAPI,
    rows: list[dict[str, Any]],
    request_id: Any,
    error_type: str,
) -> None:
    response = await client.post("/predict", json={**body(rows[0]), "id": request_id})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "id"], error_type)
    prediction = app.openapi()["components"]["schemas"]["IdentifiedPrediction"]
    assert "id" in prediction["properties"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "finite number"),
        ("Infinity", "finite number"),
        ("-Infinity", "finite number"),
        ("1e999", "finite number"),
        ('"high"', "valid number"),
        ("[1.0]", "valid number"),
    ],
)
async def test_predict_rejects_a_value_that_is_not_a_finite_number(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], value: str, message: str
) -> None:
    # The JSON text is written by hand: NaN and Infinity are not JSON, but parsers accept them.
    request = json.dumps(body({**rows[0], NUMBER: "<value>"}))
    response = await client.post(
        "/predict",
        content=request.replace('"<value>"', value),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == [*FEATURES_LOC, NUMBER]
    assert message in error["msg"]


@pytest.mark.anyio
async def test_a_category_level_never_seen_in_training_is_scored(
    client: httpx.AsyncClient, rows: list[dict[str, Any]]
) -> None:
    """Every category input at once (none when features.yaml has none: the row is scored)."""
    unseen = {item.name: "never-seen-level" for item in CONTRACT.categories}
    response = await client.post("/predict", json=body({**rows[0], **unseen}))
    assert response.status_code == 200


@pytest.mark.anyio
async def test_predict_names_unknown_fields(
    client: httpx.AsyncClient, rows: list[dict[str, Any]]
) -> None:
    response = await client.post("/predict", json=body({**rows[0], "customer_mood": 1.0}))
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == ([*FEATURES_LOC, "customer_mood"], "extra_forbidden")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "content", "error_type"),
    [
        ("/predict", b"{not json", "json_invalid"),
        ("/predict", b"[]", "model_attributes_type"),
        ("/predict/batch", b"[]", "too_short"),
        ("/predict/batch", b"{}", "list_type"),
        # Not UTF-8: the same error as malformed JSON, not a 400 the schema does not list.
        ("/predict", b'{"x": "\xff\xfe"}', "json_invalid"),
        ("/predict/batch", b"[\x80]", "json_invalid"),
        # Nested deeper than the parser recurses: the same error, not a 500.
        ("/predict/batch", b"[" * 100_000, "json_invalid"),
    ],
    ids=["not-json", "array", "empty-batch", "object-batch", "latin-1", "bad-byte", "nested"],
)
async def test_rejects_malformed_bodies(
    client: httpx.AsyncClient, path: str, content: bytes, error_type: str
) -> None:
    response = await client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert [error["type"] for error in response.json()["detail"]] == [error_type]


@pytest.mark.anyio
async def test_batch_larger_than_the_limit_is_rejected(
    client: httpx.AsyncClient, rows: list[dict[str, Any]]
) -> None:
    response = await client.post("/predict/batch", json=[body(rows[0])] * (MAX_BATCH_SIZE + 1))
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "too_long"
    assert f"at most {MAX_BATCH_SIZE} items" in error["msg"]


async def chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.anyio
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_body_over_the_size_limit_gets_a_json_413(
    service_settings: ServiceSettings, framing: str
) -> None:
    app = create_app(service_settings.model_copy(update={"max_body_bytes": 1024}))
    body = json.dumps([{"padding": "x" * 2048}]).encode()
    content = body if framing == "content-length" else chunks(body, 256)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/predict/batch", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "the request body is larger than 1024 bytes"}


def test_every_status_the_prediction_routes_answer_is_in_the_openapi_schema(
    app: FastAPI,
) -> None:
    paths = app.openapi()["paths"]
    for path in ("/predict", "/predict/batch"):
        assert set(paths[path]["post"]["responses"]) == {
            "200",
            "413",
            "422",
            "503",
            "504",
            *STATE_STATUSES,
        }
    assert "Retry-After" in paths["/predict/batch"]["post"]["responses"]["503"]["headers"]


@pytest.mark.anyio
async def test_metrics_count_requests_and_predictions(
    client: httpx.AsyncClient, predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    await client.post("/predict", json=body(rows[0]))
    await client.post("/predict/batch", json=[body(row) for row in rows])
    await client.post("/predict", json={})
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families((await client.get("/metrics")).text)
        for sample in family.samples
    }
    version = ("model_version", predictor.model_version)
    assert samples["predictions_total", (version,)] == 1 + len(rows)
    post = ("method", "POST")
    assert samples["http_requests_total", (post, ("route", "/predict"), ("status", "200"))] == 1
    assert samples["http_requests_total", (post, ("route", "/predict"), ("status", "422"))] == 1
    assert samples["http_request_duration_seconds_count", (post, ("route", "/predict/batch"))] == 1


class SlowPredictor:
    """Answers like the real predictor, after a delay longer than the latency budget; counts
    its model calls."""

    def __init__(self, predictor: Predictor, delay_s: float) -> None:
        self.predictor = predictor
        self.delay_s = delay_s
        self.model_version = predictor.model_version
        self.calls = 0

    def columns_of(self, rows: Sequence[Features]) -> Columns:
        return self.predictor.columns_of(rows)

    def score(self, columns: Columns) -> Scores:
        self.calls += 1
        time.sleep(self.delay_s)
        return self.predictor.score(columns)


@pytest.mark.anyio
async def test_a_request_over_the_latency_budget_gets_504_in_time(
    service_settings: ServiceSettings, predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    slow = SlowPredictor(predictor, delay_s=1.0)
    settings = service_settings.model_copy(update={"request_timeout_ms": 50})
    app = create_app(settings, load_model=lambda _: slow)
    async with serving(app) as client:
        started = time.perf_counter()
        response = await client.post("/predict/batch", json=[body(row) for row in rows])
        elapsed = time.perf_counter() - started
    assert response.status_code == 504
    assert response.json() == {"detail": "the request took longer than the 50 ms latency budget"}
    assert elapsed < slow.delay_s / 2, "the timeout answers before the model finishes"


@pytest.mark.anyio
async def test_a_timed_out_batch_stops_scoring_at_its_next_chunk(
    service_settings: ServiceSettings, predictor: Predictor, rows: list[dict[str, float]]
) -> None:
    update = {"request_timeout_ms": 50, "score_chunk_rows": 1}
    slow = SlowPredictor(predictor, delay_s=0.3)
    app = create_app(service_settings.model_copy(update=update), load_model=lambda _: slow)
    async with serving(app) as client:
        response = await client.post("/predict/batch", json=[body(row) for row in rows])
        # Long enough for every chunk of the batch to be scored, had the thread kept going.
        await asyncio.sleep(slow.delay_s * (len(rows) + 1))
    assert response.status_code == 504
    assert len(rows) > 1
    # None when the budget ran out before scoring began (a loaded machine; with state, the
    # entity lookup comes first), one when it ran out mid-chunk: never the rest of the batch.
    assert slow.calls <= 1, "the thread stopped after the chunk it was scoring"


def test_admission_learns_the_cpu_time_work_costs_per_body_byte() -> None:
    admission = Admission(budget_s=0.1)
    assert admission.admit(1000) == 0.0  # nothing measured yet: admitted, at no cost
    until = time.process_time() + 0.05
    while time.process_time() < until:
        pass
    admission.finish(0.0, 1000)

    assert admission.cpu_s_per_byte >= 0.05 / 1000
    assert admission.admit(1000) == pytest.approx(1000 * admission.cpu_s_per_byte)
    # Idle, nothing is refused; busy with work that fills the budget, more is.
    assert admission.admit(10**6) is None
    assert admission.retry_after_s() >= 1


@pytest.mark.anyio
async def test_work_beyond_the_latency_budget_gets_503_with_retry_after_at_once(
    service_settings: ServiceSettings, predictor: Predictor, rows: list[dict[str, float]]
) -> None:
    slow = SlowPredictor(predictor, delay_s=1.0)
    app = create_app(service_settings, load_model=lambda _: slow)
    batch = [body(row) for row in rows]
    async with serving(app) as client:
        # As if the service had measured that a batch takes longer than the whole budget.
        app.state.admission.cpu_s_per_byte = 1.0
        first = asyncio.create_task(client.post("/predict/batch", json=batch))
        while not slow.calls:
            await asyncio.sleep(0.001)
        refused = await client.post("/predict/batch", json=batch)
        health = await client.get("/health")
        assert not first.done(), "the refusal came while the admitted batch was scored"
        assert (await first).status_code == 200
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert "at capacity" in refused.json()["detail"]
    assert health.status_code == 200
    assert slow.calls == 1, "the refused batch was never scored"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health"), ("GET", "/ready"), ("POST", "/predict"), ("POST", "/predict/batch")],
)
def test_no_input_makes_the_service_fail(app: FastAPI, method: str, path: str) -> None:
    """Whatever the schema allows or forbids, every answer is documented and none is a 5xx."""
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=50, deadline=None)
    def call(case: schemathesis.Case[Any]) -> None:
        # Schema-valid rows can still be refused with the documented 422: values near the
        # float32 limit overflow the model, which no JSON schema can express.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    call()


def approximately(value: Any) -> Any:
    """`value` with every number compared within float32's precision."""
    if isinstance(value, dict):
        return {key: approximately(item) for key, item in value.items()}
    if isinstance(value, list):
        return [approximately(item) for item in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-5, abs=1e-6)
    return value


class GatedPredictor:
    """The real predictor, whose first model call waits until the test opens the gate (so
    that the requests sent meanwhile wait on the worker together); counts its calls."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.model_version = predictor.model_version
        self.first_call = threading.Event()
        self.gate = threading.Event()
        self.calls = 0

    def columns_of(self, rows: Sequence[Features]) -> Columns:
        return self.predictor.columns_of(rows)

    def score(self, columns: Columns) -> Scores:
        self.calls += 1
        self.first_call.set()
        self.gate.wait(timeout=10)
        return self.predictor.score(columns)


@pytest.mark.anyio
@pytest.mark.parametrize("max_wait_ms", [1.0, 0.0], ids=["batching", "off"])
async def test_concurrent_rows_are_scored_together_and_answered_as_one_by_one(
    service_settings: ServiceSettings,
    predictor: Predictor,
    rows: list[dict[str, Any]],
    max_wait_ms: float,
) -> None:
    """Over real HTTP: requests that wait on the worker together share model calls when
    batching is on, each its own call when it is off; each gets its own row's answer."""
    gated = GatedPredictor(predictor)
    settings = service_settings.model_copy(update={"adaptive_batch_max_wait_ms": max_wait_ms})
    app = create_app(settings, load_model=lambda _: gated)
    requests = [{**body(row), "id": f"request-{i}"} for i, row in enumerate(rows * 4)]
    # One by one: a row scored with others may differ in float32's last digits, no more.
    answers = [approximately(expected(predictor, [row])[0]) for row in rows * 4]
    with served_over_http(app) as url:
        connections = [await connect(url) for _ in requests]
        await asyncio.sleep(0.2)  # the server accepts them while it is idle
        await send_post(connections[0], "/predict", requests[0])
        first = asyncio.create_task(read_answer(connections[0]))
        assert await asyncio.to_thread(gated.first_call.wait, 10)
        # The worker is busy with the first row: the others arrive meanwhile, and wait.
        for connection, request in zip(connections[1:], requests[1:], strict=True):
            await send_post(connection, "/predict", request)
        gated.gate.set()
        responses = [
            await first,
            *[await read_answer(connection) for connection in connections[1:]],
        ]
    assert responses == [
        (200, {"id": request["id"], **answer})
        for request, answer in zip(requests, answers, strict=True)
    ]
    if max_wait_ms:
        assert gated.calls < len(requests), "concurrent rows shared model calls"
    else:
        assert gated.calls == len(requests), "with no wait, each request is its own call"


class RefusingPredictor:
    """The real predictor, refusing every row equal to `refused` as the model refuses rows
    it cannot score."""

    def __init__(self, predictor: Predictor, refused: Features) -> None:
        self.predictor = predictor
        self.model_version = predictor.model_version
        self.refused = predictor.columns_of([refused])

    def columns_of(self, rows: Sequence[Features]) -> Columns:
        return self.predictor.columns_of(rows)

    def score(self, columns: Columns) -> Scores:
        equal = (columns.numbers == self.refused.numbers).all(axis=1) & (
            columns.categories == self.refused.categories
        ).all(axis=1)
        if equal.any():
            raise UnscorableInputError(np.flatnonzero(equal), "refused by the test")
        return self.predictor.score(columns)


def test_a_row_the_model_refuses_fails_only_its_own_request_in_a_batch(
    predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    good, bad = Features(**rows[0]), Features(**rows[1])
    model = RefusingPredictor(predictor, refused=bad)
    first, refusal, last = answers_or_refusals(model, [good, bad, good])
    assert first == last == approximately(answers(predictor, [good])[0])
    assert isinstance(refusal, UnscorableInputError)
    assert str(refusal) == "rows [0]: refused by the test", "as if scored alone"

{%- import "python/macros.j2" as py -%}
"""The HTTP API: a FastAPI app factory with prediction routes, probes, metrics and timeouts.

Serve it with host, port and workers from `ServiceSettings`, or with uvicorn's options:

    python -m {{ cookiecutter.__package_name }}.api
    uvicorn --factory {{ cookiecutter.__package_name }}.api:create_app
"""

import asyncio
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

import anyio
import uvicorn
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pydantic import Field
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .artifact import ArtifactError
{%- if cookiecutter.stateful == "yes" %}
from .entities import EntityRequest, IncompleteFeaturesError, UnknownEntityError, complete
{%- endif %}
from .predictor import Predictor, UnscorableInputError
from .schema import Features, Prediction
from .settings import Settings
{%- if cookiecutter.stateful == "yes" %}
from .state import EntityStore, open_store
{%- endif %}

logger = logging.getLogger(__name__)

PEAK_RPS = {{ cookiecutter.peak_rps }}
LATENCY_SLA_MS = {{ cookiecutter.latency_sla_ms }}
# Single-row predictions one worker process sustains on one core with a wide margin
# (`make bench` measures the real figure on your hardware).
RPS_PER_WORKER = 500


class ServiceSettings(Settings):
    """Settings of the HTTP service, on top of the shared ones."""

    host: str = "127.0.0.1"
    """The interface to listen on (the image listens on every interface)."""
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=max(1, math.ceil(PEAK_RPS / RPS_PER_WORKER)), ge=1)
    """uvicorn worker processes, sized for the peak load."""
    max_batch_size: int = Field(default=1000, ge=1)
    """Most rows one /predict/batch call may hold."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    """Larger request bodies get a 413 before they are read."""
    request_timeout_ms: float = Field(default=LATENCY_SLA_MS, gt=0)
    """Latency budget of a request: slower ones get a 504, and work that would not finish
    within it is refused with a 503 before it starts."""
    score_chunk_rows: int = Field(default=100, ge=1)
    """Rows scored per model call in a batch: between calls, a batch whose request timed out
    stops."""


class Metrics:
    """Prometheus metrics of one app (its own registry, so apps never share series)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route and method.",
            ["route", "method"],
            buckets=sorted(
                {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0}
                | {LATENCY_SLA_MS / 1000}
            ),
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions_total",
            "Rows scored, by model version.",
            ["model_version"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            # Several worker processes: aggregate what each of them wrote.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts requests and observes their latency, labelled by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def route_of(self, scope: Scope) -> str:
        """The template of the route that served the request. Unmatched paths share one
        label, so that scanners cannot blow up the number of series."""
        # The API routes record themselves in the scope; the docs routes do not.
        route = scope.get("route") or next(
            (route for route in self.routes if route.matches(scope)[0] is Match.FULL), None
        )
        return getattr(route, "path", "unmatched")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = self.route_of(scope)
            self.metrics.requests.labels(route, scope["method"], str(status_code)).inc()
            self.metrics.latency.labels(route, scope["method"]).observe(
                time.perf_counter() - started
            )


class TimeoutMiddleware:
    """Answers 504 when a request takes longer than the latency budget."""

    def __init__(self, app: ASGIApp, timeout_ms: float) -> None:
        self.app = app
        self.timeout_ms = timeout_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracking_start(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        deadline = asyncio.timeout(self.timeout_ms / 1000)
        try:
            async with deadline:
                await self.app(scope, receive, send_tracking_start)
        except TimeoutError:
            if response_started or not deadline.expired():
                raise
            detail = f"the request took longer than the {self.timeout_ms:g} ms latency budget"
            await JSONResponse({"detail": detail}, status.HTTP_504_GATEWAY_TIMEOUT)(
                scope, receive, send
            )


def json_error(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code, headers=headers)


class BodyLimitMiddleware:
    """413, as JSON, for a request body over the limit: before reading it when its
    Content-Length says so, and as soon as a chunked body passes the limit otherwise."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.detail = f"the request body is larger than {max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await json_error(status.HTTP_413_CONTENT_TOO_LARGE, self.detail)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                # Raised where the route reads the body; FastAPI answers it as JSON.
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self.detail)
            return message

        await self.app(scope, receive_within_limit, send)


class Admission:
    """Admits prediction requests while the work already admitted fits in the latency budget.

    A request's work is estimated from its body size and the CPU time the process spent per
    body byte while busy (measured, so it follows the model and the machine). A request
    arriving when the admitted work would take longer than the budget gets a 503 with
    Retry-After at once: it would time out anyway, and refusing it costs almost nothing.
    """

    SAMPLE_CPU_S = 0.02
    """CPU time over which one measurement of the cost per byte is taken."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.cpu_s_per_byte = 0.0
        self.admitted_s = 0.0
        self.in_flight = 0
        self.cpu_mark = 0.0
        self.bytes_since_mark = 0

    def admit(self, body_bytes: int) -> float | None:
        """The estimated cost of the request in seconds, or None to refuse it."""
        cost = body_bytes * self.cpu_s_per_byte
        if self.in_flight and self.admitted_s + cost > self.budget_s:
            return None
        if not self.in_flight:
            # Idle time since the last request is not work: measure from here.
            self.cpu_mark, self.bytes_since_mark = time.process_time(), 0
        self.in_flight += 1
        self.admitted_s += cost
        return cost

    def finish(self, cost: float, body_bytes: int) -> None:
        self.in_flight -= 1
        self.admitted_s = max(0.0, self.admitted_s - cost)
        self.bytes_since_mark += body_bytes
        spent = time.process_time() - self.cpu_mark
        if spent >= self.SAMPLE_CPU_S and self.bytes_since_mark:
            sample = spent / self.bytes_since_mark
            previous = self.cpu_s_per_byte or sample
            self.cpu_s_per_byte = 0.7 * previous + 0.3 * sample
            self.cpu_mark, self.bytes_since_mark = time.process_time(), 0

    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.admitted_s))


class AdmissionMiddleware:
    """Applies `Admission` to the prediction routes; probes and metrics are always served."""

    def __init__(
        self, app: ASGIApp, admission: Admission, paths: frozenset[str], max_body_bytes: int
    ) -> None:
        self.app = app
        self.admission = admission
        self.paths = paths
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        # A chunked body may be as large as the limit allows.
        body_bytes = int(length) if length.isdigit() else self.max_body_bytes
        cost = self.admission.admit(body_bytes)
        if cost is None:
            retry_after = self.admission.retry_after_s()
            detail = (
                "the service is at capacity: the work already queued fills the"
                f" {self.admission.budget_s * 1000:g} ms latency budget; retry after"
                f" {retry_after} s"
            )
            response = json_error(
                status.HTTP_503_SERVICE_UNAVAILABLE, detail, {"Retry-After": str(retry_after)}
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.finish(cost, body_bytes)


class StrictJSONRequest(Request):
    """A request whose JSON body must be UTF-8 text of bounded nesting: anything else is
    the same json_invalid error as malformed JSON (422), not a 400 nor a 500."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as error:
                message = f"the body is not UTF-8 text: {error.reason}"
                raise json.JSONDecodeError(message, "", error.start) from error
            try:
                self._json = json.loads(text)
            except RecursionError as error:
                raise json.JSONDecodeError("the body is nested too deeply", text, 0) from error
        return self._json


class StrictJSONRoute(APIRoute):
    """Routes that read their body through `StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def score_in_chunks(
    predictor: Predictor, rows: Sequence[Features], chunk_rows: int, cancelled: threading.Event
) -> list[Prediction]:
    """Score `rows` `chunk_rows` at a time, stopping between chunks once `cancelled` is set
    (the request timed out: nobody waits for the answer)."""
    predictions: list[Prediction] = []
    for start in range(0, len(rows), chunk_rows):
        if cancelled.is_set():
            break
        predictions += predictor.predict(rows[start : start + chunk_rows])
    return predictions


async def get_predictor(request: Request) -> Predictor:
    """The loaded predictor; 503 while there is none."""
    predictor: Predictor | None = request.app.state.predictor
    if predictor is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the model is not loaded")
    return predictor


PredictorDep = Annotated[Predictor, Depends(get_predictor)]
{%- if cookiecutter.stateful == "yes" %}


async def get_store(request: Request) -> EntityStore:
    """The per-entity state store opened at startup."""
    store: EntityStore = request.app.state.store
    return store


StoreDep = Annotated[EntityStore, Depends(get_store)]


async def entity_rows(store: EntityStore, requests: list[EntityRequest]) -> list[Features]:
    """The requests' feature rows, completed from the entities' stored state."""
    try:
        return await anyio.to_thread.run_sync(complete, requests, store, abandon_on_cancel=True)
    except UnknownEntityError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except IncompleteFeaturesError as error:
        location = ["body", *([error.position] if len(requests) > 1 else []), "features"]
        raise RequestValidationError(
            [
                {"loc": [*location, name], "msg": str(error), "type": "missing"}
                for name in error.missing
            ]
        ) from error
{%- endif %}


RESPONSES: dict[int | str, dict[str, Any]] = {
{%- if cookiecutter.stateful == "yes" %}
    status.HTTP_404_NOT_FOUND: {"description": "No state is stored for the entity."},
{%- endif %}
    status.HTTP_413_CONTENT_TOO_LARGE: {"description": "The request body is too large."},
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "description": "The body is not JSON (or not UTF-8), or a field is invalid."
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "description": "The model is not loaded, or the service is at capacity.",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying, when at capacity.",
                "schema": {"type": "integer"},
            }
        },
    },
    status.HTTP_504_GATEWAY_TIMEOUT: {"description": "The latency budget was exceeded."},
}


def build_router(settings: ServiceSettings, metrics: Metrics) -> APIRouter:
    """The service's routes; the batch size limit comes from the settings."""
    router = APIRouter(route_class=StrictJSONRoute)

    def predict_row(predictor: Predictor, features: Features) -> Prediction:
        # One row takes the model tens of microseconds, less than a hand-off to a worker
        # thread costs (`make bench`): it runs on the event loop.
        (prediction,) = predictor.predict([features])
        metrics.predictions.labels(predictor.model_version).inc()
        return prediction

    async def predict_rows(predictor: Predictor, rows: list[Features]) -> list[Prediction]:
        # A batch can take milliseconds: it runs in a worker thread, so that the event loop
        # keeps serving and the timeout can answer while the model runs. When the request
        # times out, the thread stops at its next chunk.
        cancelled = threading.Event()
        try:
            predictions = await anyio.to_thread.run_sync(
                score_in_chunks,
                predictor,
                rows,
                settings.score_chunk_rows,
                cancelled,
                abandon_on_cancel=True,
            )
        finally:
            cancelled.set()
        metrics.predictions.labels(predictor.model_version).inc(len(rows))
        return predictions

    @router.get("/health", tags=["probes"], summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        tags=["probes"],
        summary="Readiness: the model is loaded",
        responses={503: RESPONSES[503]},
    )
    async def ready(predictor: PredictorDep) -> dict[str, str]:
        return {"status": "ready", "model_version": predictor.model_version}

    @router.post("/predict", tags=["predictions"], summary="Score one row", responses=RESPONSES)
{%- if cookiecutter.stateful == "yes" %}
    async def predict(
        request: EntityRequest, predictor: PredictorDep, store: StoreDep
    ) -> Prediction:
        (features,) = await entity_rows(store, [request])
        return predict_row(predictor, features)
{%- else %}
    async def predict(features: Features, predictor: PredictorDep) -> Prediction:
        return predict_row(predictor, features)
{%- endif %}

    @router.post(
        "/predict/batch",
        tags=["predictions"],
        summary=f"Score up to {settings.max_batch_size} rows in one call",
        responses=RESPONSES,
    )
{%- if cookiecutter.stateful == "yes" %}
    async def predict_batch(
        requests: Annotated[
            list[EntityRequest], Body(min_length=1, max_length=settings.max_batch_size)
        ],
        predictor: PredictorDep,
        store: StoreDep,
    ) -> list[Prediction]:
        return await predict_rows(predictor, await entity_rows(store, requests))
{%- else %}
    async def predict_batch(
        rows: Annotated[list[Features], Body(min_length=1, max_length=settings.max_batch_size)],
        predictor: PredictorDep,
    ) -> list[Prediction]:
        return await predict_rows(predictor, rows)
{%- endif %}

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


async def reject_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each bad field; the rejected values are not echoed back (a NaN would
    not even serialise to JSON)."""
    detail = [
        {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def reject_unscorable_rows(request: Request, error: UnscorableInputError) -> JSONResponse:
    """422 for valid-looking rows so far outside the training range that the model's output
    would not be finite: the caller's data is the problem, not the service."""
    detail = [{"loc": ["body"], "msg": str(error), "type": "unscorable_input"}]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service; it loads the model at startup (settings from the environment by default)."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.predictor = Predictor.from_settings(settings)
        except ArtifactError as error:
            logger.error("Not ready, the model did not load: %s", error)
{%- if cookiecutter.stateful == "yes" %}
        app.state.store = open_store(settings.state_url)
        try:
            yield
        finally:
            app.state.store.close()
{%- else %}
        yield
{%- endif %}

    metrics = Metrics()
    app = FastAPI(
        title={{ py.string(cookiecutter.project_name) }},
        description={{ py.string(cookiecutter.description) }},
        version=version("{{ cookiecutter.project_slug }}"),
        lifespan=lifespan,
    )
    app.state.predictor = None
    app.include_router(build_router(settings, metrics))
    app.exception_handler(RequestValidationError)(reject_invalid_request)
    app.exception_handler(UnscorableInputError)(reject_unscorable_rows)
    app.add_middleware(TimeoutMiddleware, timeout_ms=settings.request_timeout_ms)
    # On the app's state so that an operator (or a test) can read what it has measured.
    app.state.admission = Admission(settings.request_timeout_ms / 1000)
    app.add_middleware(
        AdmissionMiddleware,
        admission=app.state.admission,
        paths=frozenset({"/predict", "/predict/batch"}),
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.routes)
    return app


def main() -> None:
    """Serve `create_app` with uvicorn, as the settings say."""
    settings = ServiceSettings()
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Every worker process writes its metrics there, and /metrics adds them up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")
    uvicorn.run(
        "{{ cookiecutter.__package_name }}.api:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # Request counts and latencies are in /metrics; a log line per request would cost
        # more than the prediction.
        access_log=False,
    )


if __name__ == "__main__":
    main()

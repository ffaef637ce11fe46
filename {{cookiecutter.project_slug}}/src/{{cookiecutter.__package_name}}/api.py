"""The HTTP API: a FastAPI app factory with prediction routes, probes, metrics and timeouts.

Serve it with host, port and workers from `ServiceSettings`, or with uvicorn's options:

    python -m {{ cookiecutter.__package_name }}.api
    uvicorn --factory {{ cookiecutter.__package_name }}.api:create_app
"""

import json
import logging
import math
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

import anyio
import uvicorn
from fastapi import APIRouter, Body, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field

from .artifact import ArtifactError
from .batching import Answer, Model, RowBatcher, answers
from .middleware import (
    Admission,
    AdmissionMiddleware,
    BodyLimitMiddleware,
    Metrics,
    MetricsMiddleware,
    TimeoutMiddleware,
)
from .predictor import Predictor, UnscorableInputError
from .request_rows import RESPONSES as REQUEST_RESPONSES
from .request_rows import RequestRows, RowRequest, open_request_rows
from .schema import Features, Prediction, RequestId, described, read_json
from .settings import Settings

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
    adaptive_batch_max_rows: int = Field(default=64, ge=1)
    """Most single-row /predict requests scored together in one model call (batching.py)."""
    adaptive_batch_max_wait_ms: float = Field(default=1.0, ge=0, le=LATENCY_SLA_MS)
    """Longest a /predict row waits for requests already on their way to join its model
    call; 0 scores every request alone, at once."""


def decode_json(body: bytes) -> Any:
    """The JSON value of a body (`read_json`) that must be UTF-8 text of bounded nesting:
    anything else raises the same JSONDecodeError as malformed JSON (a 422), not a 400 nor
    a 500."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"the body is not UTF-8 text: {error.reason}"
        raise json.JSONDecodeError(message, "", error.start) from error
    try:
        return read_json(text)
    except RecursionError as error:
        raise json.JSONDecodeError("the body is nested too deeply", text, 0) from error


DECODE_ON_LOOP_BYTES = 64 * 1024
"""Larger bodies are decoded in a worker thread: meanwhile the event loop serves other
requests, and the latency budget, which covers decoding, can answer 504 on time."""


class StrictJSONRequest(Request):
    """A request whose JSON body is read by `decode_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > DECODE_ON_LOOP_BYTES:
                self._json = await anyio.to_thread.run_sync(
                    decode_json, body, abandon_on_cancel=True
                )
            else:
                self._json = decode_json(body)
        return self._json


class StrictJSONRoute(APIRoute):
    """Routes that read their body through `StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def score_in_chunks(
    model: Model, rows: Sequence[Features], chunk_rows: int, cancelled: threading.Event
) -> list[Answer]:
    """Score `rows` `chunk_rows` at a time, stopping between chunks once `cancelled` is set
    (the request timed out: nobody waits for the answer)."""
    scored: list[Answer] = []
    for start in range(0, len(rows), chunk_rows):
        if cancelled.is_set():
            break
        scored += answers(model, rows[start : start + chunk_rows])
    return scored


class IdentifiedPrediction(Prediction):
    """The model's answer for one row, with the `id` the request gave it."""

    id: RequestId | None = Field(default=None, description="The `id` of the request, if any.")


def identified(answer: Answer, request_id: str | None) -> Answer:
    """The answer as the service returns it: the request's `id` beside it when it gave one."""
    return answer if request_id is None else {"id": request_id, **answer}


class Service:
    """What the routes work with, set up once at startup rather than resolved per request:
    the model (None while none is loaded), the reader of requests and the batcher."""

    def __init__(self, batcher: RowBatcher) -> None:
        self.predictor: Model | None = None
        self.request_rows: RequestRows
        self.batcher = batcher

    def model(self) -> Model:
        """The loaded model; 503 while there is none."""
        if self.predictor is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the model is not loaded")
        return self.predictor


RESPONSES: dict[int | str, dict[str, Any]] = {
    **REQUEST_RESPONSES,
    status.HTTP_413_CONTENT_TOO_LARGE: {"description": "The request body is too large."},
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "description": "The body is not JSON (or not UTF-8), a key is given twice in one"
        " object, a field is invalid, or rows lie so far outside the training range that the"
        " model's output would not be finite (`unscorable_input`)."
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


def build_router(settings: ServiceSettings, metrics: Metrics, service: Service) -> APIRouter:
    """The service's routes; the batch size limit comes from the settings.

    Each prediction route returns its JSON response itself: the answers are serialised once,
    not validated again against the response model (which documents them in the schema).
    """
    router = APIRouter(route_class=StrictJSONRoute)
    batcher = service.batcher

    class ArrivingRowRoute(StrictJSONRoute):
        """/predict: its requests count as on their way to the batcher from the start."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def counted_handler(request: Request) -> Response:
                with batcher.arriving():
                    return await handler(request)

            return counted_handler

    async def predict_rows(model: Model, rows: list[Features]) -> list[Answer]:
        # A batch can take milliseconds: it runs in a worker thread, so that the event loop
        # keeps serving and the timeout can answer while the model runs. When the request
        # times out, the thread stops at its next chunk.
        cancelled = threading.Event()
        try:
            scored = await anyio.to_thread.run_sync(
                score_in_chunks,
                model,
                rows,
                settings.score_chunk_rows,
                cancelled,
                abandon_on_cancel=True,
            )
        finally:
            cancelled.set()
        metrics.predictions.labels(model.model_version).inc(len(rows))
        return scored

    @router.get("/health", tags=["probes"], summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        tags=["probes"],
        summary="Readiness: the model is loaded",
        responses={503: RESPONSES[503]},
    )
    async def ready() -> dict[str, str]:
        return {"status": "ready", "model_version": service.model().model_version}

    async def predict(request: RowRequest) -> Response:
        model = service.model()
        (features,) = await service.request_rows.rows([request])
        # One row takes the model tens of microseconds, less than a hand-off to a worker
        # thread costs (`make bench`): it is scored on the event loop, with the rows of the
        # requests that arrived beside it.
        answer = await batcher.answer(model, features)
        metrics.predictions.labels(model.model_version).inc()
        return JSONResponse(identified(answer, request.id))

    router.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        tags=["predictions"],
        summary="Score one row",
        response_model=IdentifiedPrediction,
        responses=RESPONSES,
        route_class_override=ArrivingRowRoute,
    )

    @router.post(
        "/predict/batch",
        tags=["predictions"],
        summary=f"Score up to {settings.max_batch_size} rows in one call",
        response_model=list[IdentifiedPrediction],
        responses=RESPONSES,
    )
    async def predict_batch(
        requests: Annotated[
            list[RowRequest], Body(min_length=1, max_length=settings.max_batch_size)
        ],
    ) -> Response:
        model = service.model()
        scored = await predict_rows(model, await service.request_rows.rows(requests))
        return JSONResponse(
            [
                identified(answer, request.id)
                for answer, request in zip(scored, requests, strict=True)
            ]
        )

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


async def reject_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each bad field."""
    detail = [described(item) for item in error.errors()]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def reject_unscorable_rows(request: Request, error: UnscorableInputError) -> JSONResponse:
    """422 for valid-looking rows so far outside the training range that the model's output
    would not be finite: the caller's data is the problem, not the service."""
    detail = [{"loc": ["body"], "msg": str(error), "type": "unscorable_input"}]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def create_app(
    settings: ServiceSettings | None = None,
    load_model: Callable[[ServiceSettings], Model] = Predictor.from_settings,
) -> FastAPI:
    """The service; it loads the model at startup with `load_model` (settings from the
    environment by default)."""
    settings = settings or ServiceSettings()
    service = Service(
        RowBatcher(settings.adaptive_batch_max_rows, settings.adaptive_batch_max_wait_ms / 1000)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            service.predictor = load_model(settings)
        except ArtifactError as error:
            logger.error("Not ready, the model did not load: %s", error)
        with open_request_rows(settings) as request_rows:
            service.request_rows = request_rows
            yield

    metrics = Metrics(settings.request_timeout_ms / 1000)
    app = FastAPI(
        title={{ cookiecutter.project_name | python_string }},
        description={{ cookiecutter.description | python_string }},
        version=version("{{ cookiecutter.project_slug }}"),
        lifespan=lifespan,
    )
    # On the app's state so that an operator (or a test) can see what the service holds.
    app.state.service = service
    app.include_router(build_router(settings, metrics, service))
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

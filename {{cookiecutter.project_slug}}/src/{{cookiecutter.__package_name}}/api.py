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
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field

from .artifact import ArtifactError
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
from .schema import Features, Prediction, described, read_json
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


async def get_request_rows(request: Request) -> RequestRows:
    """What turns requests into rows, opened at startup."""
    rows: RequestRows = request.app.state.request_rows
    return rows


RequestRowsDep = Annotated[RequestRows, Depends(get_request_rows)]


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
    async def predict(
        request: RowRequest, predictor: PredictorDep, request_rows: RequestRowsDep
    ) -> Prediction:
        (features,) = await request_rows.rows([request])
        return predict_row(predictor, features)

    @router.post(
        "/predict/batch",
        tags=["predictions"],
        summary=f"Score up to {settings.max_batch_size} rows in one call",
        responses=RESPONSES,
    )
    async def predict_batch(
        requests: Annotated[
            list[RowRequest], Body(min_length=1, max_length=settings.max_batch_size)
        ],
        predictor: PredictorDep,
        request_rows: RequestRowsDep,
    ) -> list[Prediction]:
        return await predict_rows(predictor, await request_rows.rows(requests))

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


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service; it loads the model at startup (settings from the environment by default)."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.predictor = Predictor.from_settings(settings)
        except ArtifactError as error:
            logger.error("Not ready, the model did not load: %s", error)
        with open_request_rows(settings) as request_rows:
            app.state.request_rows = request_rows
            yield

    metrics = Metrics(settings.request_timeout_ms / 1000)
    app = FastAPI(
        title={{ cookiecutter.project_name | python_string }},
        description={{ cookiecutter.description | python_string }},
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

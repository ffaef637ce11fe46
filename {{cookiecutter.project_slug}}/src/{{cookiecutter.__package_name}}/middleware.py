"""The service's ASGI middlewares and its metrics: what every request passes through before
and after its route (metrics, body limit, admission control, the latency budget).

Each is a plain ASGI callable: it wraps the app, sees the request's scope and messages, and
answers on its own (413, 503, 504 as JSON) when the request must not reach the route.
"""

import asyncio
import math
import os
import time
from collections.abc import Sequence

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """Prometheus metrics of one app (its own registry, so apps never share series)."""

    def __init__(self, latency_budget_s: float) -> None:
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
                {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, latency_budget_s}
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

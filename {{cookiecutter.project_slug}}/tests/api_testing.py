"""Helpers of the HTTP API's tests: a served app, and what the model answers for rows."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features

MAX_BATCH_SIZE = 4


def documented_statuses(app: FastAPI) -> Callable[[httpx.Response], Awaitable[None]]:
    """A response hook failing the test on a status that the OpenAPI schema does not list
    for the operation answering it: every status a test observes is documented."""
    paths = app.openapi()["paths"]

    async def check(response: httpx.Response) -> None:
        request = response.request
        operation = paths.get(request.url.path, {}).get(request.method.lower())
        if operation is not None:
            assert str(response.status_code) in operation["responses"], (
                f"{request.method} {request.url.path} answered {response.status_code},"
                f" which its OpenAPI schema does not list"
            )

    return check


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, started (its model loaded) as the server would start it; each
    status it gets is checked against the OpenAPI schema."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            event_hooks={"response": [documented_statuses(app)]},
        ) as client,
    ):
        yield client


def expected(predictor: Predictor, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the service must answer for `rows`: the model's predictions, as JSON."""
    predictions = predictor.predict([Features(**row) for row in rows])
    return [prediction.model_dump(mode="json") for prediction in predictions]

"""Helpers of the HTTP API's tests: a served app, and what the model answers for rows."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features

MAX_BATCH_SIZE = 4


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, started (its model loaded) as the server would start it."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def expected(predictor: Predictor, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the service must answer for `rows`: the model's predictions, as JSON."""
    predictions = predictor.predict([Features(**row) for row in rows])
    return [prediction.model_dump(mode="json") for prediction in predictions]

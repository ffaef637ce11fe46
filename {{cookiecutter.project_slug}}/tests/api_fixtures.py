"""Fixtures of the HTTP API's tests (a pytest plugin: conftest.py loads every *_fixtures.py)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from {{ cookiecutter.__package_name }}.api import ServiceSettings, create_app
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.review import scratch_settings

from api_testing import MAX_BATCH_SIZE, serving
from contract_testing import complete_rows
from request_testing import with_state


@pytest.fixture(scope="module")
def rows(held_out: Dataset) -> list[dict[str, Any]]:
    return complete_rows(held_out, MAX_BATCH_SIZE)


@pytest.fixture
def service_settings(
    model_dir: Path, tmp_path: Path, rows: list[dict[str, Any]]
) -> ServiceSettings:
    settings = ServiceSettings(
        model_dir=model_dir,
        max_batch_size=MAX_BATCH_SIZE,
        # Behaviour, not speed, is tested here: a busy CI machine must not turn a slow
        # answer into a 504. The timeout test sets its own budget.
        request_timeout_ms=10_000,
        **scratch_settings(tmp_path),
    )
    return with_state(settings, tmp_path, rows)


@pytest.fixture
def app(service_settings: ServiceSettings) -> FastAPI:
    return create_app(service_settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client

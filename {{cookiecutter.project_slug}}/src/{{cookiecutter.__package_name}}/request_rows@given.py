"""What a prediction request holds: every feature of its row, so a request is the row the
model scores (no per-entity state is stored)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .schema import Features
from .settings import Settings

RowRequest = Features
"""The body of /predict, and each item of /predict/batch's."""

RESPONSES: dict[int | str, dict[str, Any]] = {}
"""What reading requests may answer besides the service's own statuses: nothing."""


class RequestRows:
    """Requests into the rows the model scores: they already are."""

    async def rows(self, requests: list[Features]) -> list[Features]:
        return requests


@contextmanager
def open_request_rows(settings: Settings) -> Iterator[RequestRows]:
    """The rows of requests for the service's lifetime (nothing to open)."""
    yield RequestRows()

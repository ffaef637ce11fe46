"""What a prediction request holds: every feature of its row, so a request is the row the
model scores (no per-entity state is stored)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import create_model

from .features import FEATURE_NAMES
from .schema import Features, Identified
from .settings import Settings

if "id" in FEATURE_NAMES:
    raise ValueError(
        "features.yaml names an input 'id', which the service keeps for the caller's request"
        " id: give that input another `name` in features.yaml (its `column` stays)"
    )

if TYPE_CHECKING:
    RowRequest = Identified
else:
    RowRequest = create_model(
        "RowRequest",
        __base__=(Features, Identified),
        __doc__="One row to score: every input of features.yaml, and your `id` for it if you"
        " like. Unknown fields are rejected.",
    )
"""The body of /predict, and each item of /predict/batch's: the row, and an optional `id`."""

RESPONSES: dict[int | str, dict[str, Any]] = {}
"""What reading requests may answer besides the service's own statuses: nothing."""


class RequestRows:
    """Requests into the rows the model scores: they already are."""

    async def rows(self, requests: list[RowRequest]) -> list[Features]:
        # Each request is the row (its `id` is no input of the model).
        return list(requests)


@contextmanager
def open_request_rows(settings: Settings) -> Iterator[RequestRows]:
    """The rows of requests for the service's lifetime (nothing to open)."""
    yield RequestRows()

"""What a prediction request holds: an entity and the features the caller knows; the
entity's stored state (state.py) completes the row the model scores."""

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import anyio
from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError

from .entities import EntityRequest, IncompleteFeaturesError, UnknownEntityError, complete
from .schema import Features, Identified
from .settings import Settings
from .state import EntityStore, open_store


class RowRequest(EntityRequest, Identified):
    """One row to score: an entity, the features the caller knows about it, and your `id`
    for it if you like."""


RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No state is stored for the entity."},
}
"""What reading requests may answer besides the service's own statuses."""


class RequestRows:
    """Requests into the rows the model scores, completed from the entities' stored state."""

    def __init__(self, store: EntityStore) -> None:
        self.store = store

    async def rows(self, requests: list[RowRequest]) -> list[Features]:
        """404 for an entity with no stored state; 422 naming each feature neither the
        request nor the store gives."""
        try:
            return await anyio.to_thread.run_sync(
                complete, requests, self.store, abandon_on_cancel=True
            )
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


@contextmanager
def open_request_rows(settings: Settings) -> Iterator[RequestRows]:
    """The rows of requests for the service's lifetime: the state store stays open."""
    with closing(open_store(settings.state_url)) as store:
        yield RequestRows(store)

"""What the functions score, completed by the entities' state in DynamoDB (`state_dynamodb.py`).

A `POST /predict` request names its entity and gives the features it knows; a row of an input
file names its entity in an `entity_id` column (copied through like the other columns that
are not inputs). The values stored for the entity fill in the features the request or the row
leaves out, and its own values win (`entities.py`). The state is read by each call, one
BatchGetItem per 100 entities (a request batch or a whole file at once), and never kept: a
change to the table reaches the next request and the next scheduled run without a restart.

An entity without state gets a 404 (a row naming one, or naming none, is rejected with the
reason, `entity_id: ...`); a feature neither the request nor the state gives, a 422.
"""

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .contract import load_contract
from .entities import (
    SAMPLE_ENTITY_ID,
    EntityId,
    EntityRequest,
    FeatureValues,
    IncompleteFeaturesError,
    StateReader,
    UnknownEntityError,
    complete,
    filled,
    state_of,
)
from .schema import Features
from .state_dynamodb import DynamoEntityStore, StateSettings

Request = EntityRequest
"""A `POST /predict` body: the entity, and the features the caller knows about it."""
Row = Mapping[str, str | None]
"""A row of an input file, as `csv.DictReader` reads it."""
Fill = Callable[[dict[str, Any]], dict[str, Any]]
"""Completes the input values read from a row's cells."""
Problem = tuple[HTTPStatus, list[dict[str, Any]]]
"""An HTTP status and the problems it answers (`loc`, `msg`, `type` each)."""

ENTITY_ID = "entity_id"
"""The column naming each row's entity."""
ROW_ID = ENTITY_ID
"""The column naming each row of an input file: its entity."""
ENTITY_IDS = TypeAdapter(EntityId)
CONTRACT = load_contract()


def entity_of(row: Row) -> str:
    """The entity the row names. Raises ValueError naming `entity_id` when the row names
    none, or not a valid entity id."""
    text = row.get(ENTITY_ID)
    if not text:
        raise ValueError(f"{ENTITY_ID}: missing: each row names its entity")
    try:
        return ENTITY_IDS.validate_python(text)
    except ValidationError as error:
        raise ValueError(f"{ENTITY_ID}: {error.errors()[0]['msg']}") from None


def named_entities(rows: Iterable[Row]) -> list[str]:
    """The entities the rows name, each once (rows naming none are left to `entity_fill`)."""
    entity_ids: set[str] = set()
    for row in rows:
        with contextlib.suppress(ValueError):
            entity_ids.add(entity_of(row))
    return sorted(entity_ids)


def entity_fill(row: Row, stored: Mapping[str, FeatureValues]) -> Fill:
    """How the row's values are completed: by its entity's values in `stored` (the state
    `get_many` read), in the inputs the row leaves missing, an absent column too (null where
    nothing is stored: a file may leave out the inputs the state gives). The fill raises
    ValueError naming `entity_id` when the row names no entity, or one without state."""

    def fill(values: dict[str, Any]) -> dict[str, Any]:
        try:
            state = state_of(stored, entity_of(row))
        except UnknownEntityError as error:
            raise ValueError(f"{ENTITY_ID}: {error}") from None
        absent = {item.name: None for item in CONTRACT.inputs if item.name not in row}
        return filled(absent | values, state)

    return fill


class State:
    """The entities' state, read from the store by each call."""

    def __init__(self, store: StateReader) -> None:
        self.store = store

    def features(self, requests: Sequence[EntityRequest]) -> list[Features]:
        """The requests' full feature rows: stored values, overridden by the request's.
        Raises UnknownEntityError for an entity without state, IncompleteFeaturesError
        when a feature is in neither place (`REJECTIONS` answers them)."""
        return complete(requests, self.store)

    def fills(self, rows: Sequence[Row]) -> list[Fill]:
        """How each row's values are completed: by its entity's stored values, read for
        every row in one `get_many`."""
        stored = self.store.get_many(named_entities(rows))
        return [entity_fill(row, stored) for row in rows]


class LambdaSettings(StateSettings):
    """The shared settings, and where the entities' state is."""

    def state(self) -> State:
        """The state in the table these settings name."""
        return State(DynamoEntityStore.from_settings(self))


def unknown_entity(error: UnknownEntityError) -> Problem:
    """404 for an entity without stored state."""
    detail = [{"loc": ["body", ENTITY_ID], "msg": str(error), "type": "unknown_entity"}]
    return HTTPStatus.NOT_FOUND, detail


def incomplete_features(error: IncompleteFeaturesError) -> Problem:
    """422 naming each feature neither the request nor the entity's state gives."""
    location = ["body", error.position, "features"]
    detail = [
        {"loc": [*location, name], "msg": str(error), "type": "missing"} for name in error.missing
    ]
    return HTTPStatus.UNPROCESSABLE_ENTITY, detail


REJECTIONS: dict[type[Exception], Callable[[Any], Problem]] = {
    UnknownEntityError: unknown_entity,
    IncompleteFeaturesError: incomplete_features,
}
"""The answer to each error `State.features` raises."""


def sample_request() -> dict[str, Any]:
    """The `POST /predict` body of the entity `sample-0` (the training data's first row, once
    `state_dynamodb load-sample` stored it), every feature from its state."""
    return {ENTITY_ID: SAMPLE_ENTITY_ID.format(0), "features": {}}


def sample_file(rows: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and lines of a sample input file: `rows` rows naming the entities
    `sample-0`, `sample-1`, ... (the training data's rows, as `state_dynamodb load-sample`
    stores them) and no inputs, every one coming from the state, and one row naming an entity
    without state, which lands in the rejects."""
    lines: list[dict[str, Any]] = [
        {ENTITY_ID: SAMPLE_ENTITY_ID.format(index)} for index in range(rows)
    ]
    lines.append({ENTITY_ID: "no-such-entity"})
    return [ENTITY_ID], lines

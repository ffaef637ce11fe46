"""Events as a project with per-entity state sends them, and the state the consumer's tests
read from a SQLite store of the test's own. A pytest plugin of test_consumer.py and
test_consumer_broker.py, which take everything from it as fixtures."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.state import open_store
from {{ cookiecutter.__package_name }}.state_cache import CachedEntityStore
from {{ cookiecutter.__package_name }}.stream_state import EventState

from contract_testing import complete_rows

Row = dict[str, Any]
Changes = dict[str, Any]

ENTITY = "known"
"""The entity of every event here; its stored state is `stored_row`."""


def entity_event(event_id: str, row: Row) -> bytes:
    """An event for ENTITY giving one row: each input of features.yaml by name."""
    return json.dumps({"id": event_id, "entity_id": ENTITY, "features": row}).encode()


@pytest.fixture
def event() -> Callable[[str, Row], bytes]:
    return entity_event


@pytest.fixture
def stored_row(held_out: Dataset) -> Row:
    return complete_rows(held_out, 3)[2]


@pytest.fixture
def state(tmp_path: Path, stored_row: Row) -> Iterator[EventState]:
    """A SQLite state store holding ENTITY's state, behind the consumer's cache."""
    store = open_store(f"sqlite:///{tmp_path / 'state' / 'entities.db'}")
    store.put_many([(ENTITY, stored_row)])
    state = EventState(CachedEntityStore(store, max_entities=100, ttl_s=30.0))
    yield state
    state.close()


@pytest.fixture
def model_row(stored_row: Row) -> Callable[[Row], Row]:
    """The row the model scores for an event giving a row: a null in the event is a feature
    it does not know, which the stored value fills in."""

    def completed(row: Row) -> Row:
        return stored_row | {name: value for name, value in row.items() if value is not None}

    return completed


class BrokerEvents:
    """The events of the tests against a real broker: event `i` is for `entity-<n>`, whose
    stored state is held-out row n (n = i modulo the rows); a refused one names an entity
    without state."""

    refused_kind = "an unknown entity"
    refusal = "unknown entity: no state is stored for entity"
    """What the dead letter of a refused event says."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def event(self, i: int, prefix: str = "", changes: Changes | None = None) -> bytes:
        """Event `{prefix}{i}`, with the inputs of its entity's row changed by `changes`
        (None: removed)."""
        return self.for_entity(f"entity-{i % len(self.rows)}", i, prefix, changes)

    def refused(self, i: int, prefix: str = "") -> bytes:
        """Event `{prefix}{i}`, for an entity without stored state."""
        return self.for_entity(f"stranger-{i}", i, prefix)

    def for_entity(
        self, entity_id: str, i: int, prefix: str, changes: Changes | None = None
    ) -> bytes:
        features = self.rows[i % len(self.rows)] | (changes or {})
        features = {name: value for name, value in features.items() if value is not None}
        document = {"id": f"{prefix}{i}", "entity_id": entity_id, "features": features}
        return json.dumps(document).encode()


@pytest.fixture
def broker_events(held_out: Dataset) -> BrokerEvents:
    return BrokerEvents(complete_rows(held_out, 50))


@pytest.fixture
def state_settings(tmp_path: Path, broker_events: BrokerEvents) -> dict[str, Any]:
    """The settings of a state store holding the state of every entity `broker_events` sends
    good events for."""
    state_url = f"sqlite:///{tmp_path / 'state' / 'entities.db'}"
    store = open_store(state_url)
    store.put_many((f"entity-{i}", row) for i, row in enumerate(broker_events.rows))
    store.close()
    return {"state_url": state_url}

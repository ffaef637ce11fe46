"""Events as a project with per-entity state sends them, and the state the consumer's tests
read: ENTITY's, a held-out row in a SQLite store of the test's own. A pytest plugin of
test_consumer.py, which takes everything from it as fixtures."""

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

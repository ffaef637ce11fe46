"""The fixtures of test_consumer.py and test_consumer_broker.py with per-entity state, which
they read from a SQLite store of the test's own (a pytest plugin: conftest.py loads every
*_fixtures.py)."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.state import open_store
from {{ cookiecutter.__package_name }}.state_cache import CachedEntityStore
from {{ cookiecutter.__package_name }}.stream_state import EventState

from contract_testing import complete_rows
from event_testing import ENTITY, BrokerEvents, Row, entity_event


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

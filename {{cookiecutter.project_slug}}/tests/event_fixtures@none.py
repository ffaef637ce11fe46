"""The fixtures of test_consumer.py and test_consumer_broker.py without per-entity state (a
pytest plugin: conftest.py loads every *_fixtures.py)."""

from collections.abc import Callable
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.stream_state import EventState

from contract_testing import complete_rows
from event_testing import BrokerEvents, Row, row_event


@pytest.fixture
def event() -> Callable[[str, Row], bytes]:
    return row_event


@pytest.fixture
def state() -> EventState:
    """No state: events are scored as they come."""
    return EventState()


@pytest.fixture
def model_row() -> Callable[[Row], Row]:
    """The row the model scores for an event giving a row: that row."""
    return dict


@pytest.fixture
def broker_events(held_out: Dataset) -> BrokerEvents:
    return BrokerEvents(complete_rows(held_out, 50))


@pytest.fixture
def state_settings() -> dict[str, Any]:
    """No state: nothing to set."""
    return {}

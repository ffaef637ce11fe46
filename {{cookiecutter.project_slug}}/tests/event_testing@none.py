"""Events as a project without per-entity state sends them, each carrying its whole row. A
pytest plugin of test_consumer.py, which takes everything from it as fixtures."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.stream_state import EventState

Row = dict[str, Any]


def row_event(event_id: str, row: Row) -> bytes:
    """An event holding one row: each input of features.yaml by name."""
    return json.dumps({"id": event_id, "features": row}).encode()


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

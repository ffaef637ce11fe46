"""How the tests write a prediction request: the row itself (the service keeps no state)."""

from pathlib import Path
from typing import Any

from {{ cookiecutter.__package_name }}.api import ServiceSettings

FEATURES_LOC = ["body"]
"""Where the features of a request are."""

STATE_STATUSES: set[str] = set()
"""The prediction routes' statuses that come from reading requests: none of their own."""


def body(row: dict[str, Any]) -> dict[str, Any]:
    """The request body that scores `row`."""
    return row


def with_state(
    settings: ServiceSettings, tmp_path: Path, rows: list[dict[str, Any]]
) -> ServiceSettings:
    """The service's settings as they are: there is no state to store."""
    return settings

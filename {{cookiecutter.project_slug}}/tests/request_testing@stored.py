"""How the tests write a prediction request: an entity whose stored state holds its row."""

from pathlib import Path
from typing import Any

from {{ cookiecutter.__package_name }}.api import ServiceSettings
from {{ cookiecutter.__package_name }}.state import open_store

ENTITY = "customer-1"
"""The entity whose stored features are the first test row."""

FEATURES_LOC = ["body", "features"]
"""Where the features of a request are."""

STATE_STATUSES = {"404"}
"""The prediction routes' statuses that come from reading requests: an unknown entity."""


def body(row: dict[str, Any]) -> dict[str, Any]:
    """The request body that scores `row`."""
    return {"entity_id": ENTITY, "features": row}


def with_state(
    settings: ServiceSettings, tmp_path: Path, rows: list[dict[str, Any]]
) -> ServiceSettings:
    """The service's settings with a state store of its own holding `ENTITY`'s features."""
    settings = settings.model_copy(update={"state_url": f"sqlite:///{tmp_path / 'state.db'}"})
    store = open_store(settings.state_url)
    store.put_many([(ENTITY, rows[0])])
    store.close()
    return settings

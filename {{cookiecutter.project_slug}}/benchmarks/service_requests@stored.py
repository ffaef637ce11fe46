"""What the API benchmark sends the service: an entity whose stored features are the row,
so the service completes the request from the store, as in production."""

from pathlib import Path
from typing import Any

from {{ cookiecutter.__package_name }}.state import open_store

ENTITY = "bench-entity"


def service_request(work: Path, row: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """The variables the service needs beyond the model's, and the body that scores `row`."""
    state_url = f"sqlite:///{work / 'state.db'}"
    store = open_store(state_url)
    store.put_many([(ENTITY, row)])
    store.close()
    return {"{{ cookiecutter.__package_name | upper }}_STATE_URL": state_url}, {"entity_id": ENTITY}

"""Requests that name an entity: its stored state completes them, and an entity or a
feature stored nowhere is named in the answer."""

from typing import Any

import httpx
import pytest

from {{ cookiecutter.__package_name }}.api import ServiceSettings
from {{ cookiecutter.__package_name }}.contract import Input
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.state import open_store

from api_testing import expected
from contract_testing import CONTRACT, first_name
from request_testing import ENTITY, body

NUMBER = first_name("number", "integer", "boolean", "category")
"""The one feature the partly stored entity has."""


@pytest.mark.anyio
@pytest.mark.parametrize("item", CONTRACT.inputs, ids=lambda item: item.name)
async def test_null_takes_the_entitys_stored_value(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], item: Input
) -> None:
    response = await client.post("/predict", json=body({**rows[0], item.name: None}))
    assert response.status_code == 200


@pytest.mark.anyio
async def test_scores_an_entity_from_its_stored_features(
    client: httpx.AsyncClient, predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    response = await client.post("/predict", json={"entity_id": ENTITY})
    assert response.status_code == 200
    assert response.json() == expected(predictor, rows[:1])[0]


@pytest.mark.anyio
async def test_answers_404_for_an_unknown_entity(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict/batch", json=[{"entity_id": "nobody"}])
    assert response.status_code == 404
    assert response.json() == {"detail": "no state is stored for entity 'nobody'"}


@pytest.mark.anyio
async def test_names_each_feature_stored_nowhere(
    client: httpx.AsyncClient, service_settings: ServiceSettings
) -> None:
    store = open_store(service_settings.state_url)
    store.put_many([("partial", {NUMBER: 1.0})])
    store.close()
    response = await client.post(
        "/predict/batch", json=[{"entity_id": ENTITY}, {"entity_id": "partial"}]
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [error["loc"] for error in detail] == [
        ["body", 1, "features", name] for name in FEATURE_NAMES if name != NUMBER
    ]
    assert {error["type"] for error in detail} == {"missing"}
    assert "entity 'partial' has no stored value" in detail[0]["msg"]

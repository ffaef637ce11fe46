"""Requests that give every feature: what a null or an absent feature gets."""

from typing import Any

import httpx
import pytest

from {{ cookiecutter.__package_name }}.contract import Input
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES

from contract_testing import CONTRACT
from request_testing import body


@pytest.mark.anyio
@pytest.mark.parametrize("item", CONTRACT.inputs, ids=lambda item: item.name)
async def test_null_is_scored_where_the_contract_allows_it_and_refused_elsewhere(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], item: Input
) -> None:
    response = await client.post("/predict", json=body({**rows[0], item.name: None}))
    if item.nullable:
        assert response.status_code == 200
    else:
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert (error["loc"][-1], error["type"]) == (item.name, "missing")
        assert "missing" in error["msg"]


@pytest.mark.anyio
async def test_predict_names_missing_fields(
    client: httpx.AsyncClient, rows: list[dict[str, Any]]
) -> None:
    row = {name: value for name, value in rows[0].items() if name != FEATURE_NAMES[-1]}
    response = await client.post("/predict", json=row)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", FEATURE_NAMES[-1]], "missing")

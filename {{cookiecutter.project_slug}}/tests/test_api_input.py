"""The HTTP API against hostile input: text that is no Unicode, integers too long to
convert, keys given twice, empty categories, and bodies slow to decode."""

import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from {{ cookiecutter.__package_name }} import api
from {{ cookiecutter.__package_name }}.api import DECODE_ON_LOOP_BYTES, ServiceSettings, create_app

from api_testing import serving
from contract_testing import CONTRACT, first_name
from request_testing import FEATURES_LOC, body

NUMBER = first_name("number", "integer", "boolean", "category")
CATEGORIES = [item.name for item in CONTRACT.categories]
REQUIRED_CATEGORIES = [item.name for item in CONTRACT.categories if not item.nullable]
JSON = {"content-type": "application/json"}


async def post_row(client: httpx.AsyncClient, path: str, text: str) -> httpx.Response:
    """POST the JSON text of one row to /predict, or as a batch of one to /predict/batch."""
    content = text if path == "/predict" else f"[{text}]"
    return await client.post(path, content=content.encode(), headers=JSON)


def row_loc(path: str) -> list[str | int]:
    """Where the one row sent to `path` is."""
    return ["body"] if path == "/predict" else ["body", 0]


def loc_in(path: str, name: str) -> list[str | int]:
    """Where a feature of the one row sent to `path` is."""
    return [*row_loc(path), *FEATURES_LOC[1:], name]


ROUTES = pytest.mark.parametrize("path", ["/predict", "/predict/batch"])


@pytest.mark.anyio
@ROUTES
async def test_a_lone_surrogate_in_a_category_is_a_422_naming_it(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], path: str
) -> None:
    """Every category input at once (with none, there is nothing to refuse: it is scored)."""
    # json.dumps writes the surrogate as the escape `\ud800`: valid JSON, and ASCII.
    text = json.dumps(body({**rows[0], **dict.fromkeys(CATEGORIES, "\ud800")}))
    response = await post_row(client, path, text)
    if not CATEGORIES:
        assert response.status_code == 200
        return
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [loc_in(path, name) for name in CATEGORIES]
    assert {error["type"] for error in errors} == {"string_unicode"}


@pytest.mark.anyio
@ROUTES
async def test_a_lone_surrogate_in_a_key_is_a_422(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], path: str
) -> None:
    text = json.dumps(body({**rows[0], "\udfff": 1.0}))
    response = await post_row(client, path, text)
    assert response.status_code == 422


@pytest.mark.anyio
@ROUTES
@pytest.mark.parametrize("sign", ["", "-"])
async def test_an_integer_of_5000_digits_is_a_422_naming_its_field(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], path: str, sign: str
) -> None:
    text = json.dumps(body({**rows[0], NUMBER: "<value>"})).replace('"<value>"', sign + "7" * 5000)
    response = await post_row(client, path, text)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == loc_in(path, NUMBER)


@pytest.mark.anyio
@ROUTES
async def test_a_key_given_twice_is_a_422_naming_it(
    client: httpx.AsyncClient, rows: list[dict[str, Any]], path: str
) -> None:
    request = body(rows[0])
    first = next(iter(request))
    # The first key again, at the end of the object: JSON parsers let the last one win.
    text = json.dumps(request)[:-1] + f", {json.dumps(first)}: {json.dumps(request[first])}}}"
    response = await post_row(client, path, text)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == ([*row_loc(path), first], "duplicate_key")


@pytest.mark.anyio
async def test_an_empty_category_is_missing_as_the_schema_says(
    client: httpx.AsyncClient, app: FastAPI, rows: list[dict[str, Any]]
) -> None:
    """`""` is the missing level: scored where features.yaml allows a missing value, and a
    422 naming the field elsewhere, which the schema states (`minLength: 1`)."""
    schemas = app.openapi()["components"]["schemas"]
    # With stored state the features a request knows; otherwise the request is the row.
    properties = (schemas.get("KnownFeatures") or schemas["RowRequest"])["properties"]
    for name in CATEGORIES:
        types = properties[name].get("anyOf", [properties[name]])
        if name in REQUIRED_CATEGORIES:
            assert any(kind.get("minLength") == 1 for kind in types if kind["type"] == "string")
        else:
            assert '"" when missing' in properties[name]["description"]
    empty = dict.fromkeys(CATEGORIES, "")
    response = await client.post("/predict", json=body({**rows[0], **empty}))
    if not REQUIRED_CATEGORIES:
        assert response.status_code == 200
        return
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [
        [*FEATURES_LOC, name] for name in REQUIRED_CATEGORIES
    ]
    assert {error["type"] for error in errors} == {"string_too_short"}


@pytest.mark.anyio
async def test_a_batch_slow_to_decode_gets_504_within_the_budget(
    service_settings: ServiceSettings,
    rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The latency budget covers decoding the body, and a large body is decoded off the
    event loop, so the timeout answers on time."""
    delay_s = 1.0
    decode_json = api.decode_json

    def slow_decode(content: bytes) -> Any:
        time.sleep(delay_s)
        return decode_json(content)

    monkeypatch.setattr(api, "decode_json", slow_decode)
    app = create_app(service_settings.model_copy(update={"request_timeout_ms": 50}))
    # Whitespace makes the body large enough to be decoded in a worker thread.
    content = json.dumps([body(row) for row in rows]) + " " * DECODE_ON_LOOP_BYTES
    async with serving(app) as client:
        started = time.perf_counter()
        response = await client.post("/predict/batch", content=content.encode(), headers=JSON)
        elapsed = time.perf_counter() - started
    assert response.status_code == 504
    assert elapsed < delay_s / 2, "the timeout answers before the body is decoded"

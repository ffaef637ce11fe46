"""The HTTP function, called with real API Gateway HTTP API events (payload format 2.0)."""

import base64
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.__package_name }}.contract import Input
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.function import configured, handler
from {{ cookiecutter.__package_name }}.local_lambda import LocalContext, write_sample
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features

from contract_testing import CONTRACT, complete_rows, rows, valid_row
from function_testing import MAX_BATCH_SIZE, MAX_BODY_BYTES, Call, assert_refused, http_event

MODEL_DIR = "{{ cookiecutter.__package_name | upper }}_MODEL_DIR"

Body = Callable[[dict[str, Any]], Any]
"""The request body asking for the prediction of a row (`request_body`)."""


def expected(predictor: Predictor, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the model answers for these rows, as JSON."""
    predictions = predictor.predict([Features.model_validate(body) for body in bodies])
    return [prediction.model_dump(mode="json") for prediction in predictions]


@pytest.fixture
def environment(model_dir: Path, state_environment: dict[str, str]) -> dict[str, str]:
    """The environment of a function reading the test model and the state, if any."""
    return {MODEL_DIR: str(model_dir), **state_environment}


def test_the_sample_event_is_answered_by_the_lambda_handler(
    predictor: Predictor,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # anything the function writes stays in the test's directory
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    configured.cache_clear()
    write_sample(tmp_path / "events" / "predict.json")
    event = json.loads((tmp_path / "events" / "predict.json").read_text(encoding="utf-8"))
    try:
        response = handler(event, LocalContext())
    finally:
        configured.cache_clear()
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    assert body["model_version"] == predictor.model_version


def test_predict_answers_what_the_model_predicts(
    call: Call, request_body: Body, predictor: Predictor, held_out: Dataset
) -> None:
    row = valid_row(held_out)
    status, body = call(http_event(request_body(row)))
    assert status == 200
    assert [body] == expected(predictor, [row])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=rows())
def test_every_row_the_contract_allows_is_answered(
    call: Call,
    request_body: Body,
    predictor: Predictor,
    filled: Callable[[dict[str, Any]], dict[str, Any]],
    row: dict[str, Any],
) -> None:
    status, body = call(http_event(request_body(row)))
    assert status == 200, body
    assert [body] == expected(predictor, [filled(row)])


def test_a_base64_encoded_body_is_decoded(
    call: Call, request_body: Body, held_out: Dataset
) -> None:
    event = http_event(request_body(valid_row(held_out)))
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    status, _ = call(event)
    assert status == 200


def test_predict_batch_answers_in_order(
    call: Call, request_body: Body, predictor: Predictor, held_out: Dataset
) -> None:
    bodies = complete_rows(held_out, 5)
    status, body = call(http_event([request_body(row) for row in bodies], path="/predict/batch"))
    assert status == 200
    assert body == expected(predictor, bodies)


FIRST = CONTRACT.inputs[0]
WRONG_TYPE: dict[str, tuple[Any, str]] = {
    "number": ("abc", "float_type"),
    "integer": ("abc", "int_type"),
    "boolean": ("yes", "bool_type"),
    "category": (12.5, "string_type"),
}
"""A value of another type than each kind, and the error it gets (types are strict)."""
NAMES = [item.name for item in CONTRACT.inputs]
NUMBERS = [item for item in CONTRACT.inputs if item.kind in ("number", "integer")]
CATEGORIES = [item for item in CONTRACT.inputs if item.kind == "category"]


def bad_fields() -> list[Any]:
    """Changes to a valid row, the field each one breaks and the error type it gets."""
    wrong, wrong_type = WRONG_TYPE[FIRST.kind]
    changes = [
        pytest.param(lambda r: r.update(unknown=1.0), "unknown", "extra_forbidden", id="unknown"),
        pytest.param(
            lambda r: r.update({FIRST.name: wrong}), FIRST.name, wrong_type, id="wrong-type"
        ),
    ]
    changes += [
        pytest.param(
            lambda r, name=item.name: r.update({name: 1e39}),
            item.name,
            "less_than_equal",
            id=f"beyond-float32-{item.name}",
        )
        for item in NUMBERS[:1]
    ]
    changes += [
        pytest.param(
            # Valid JSON (json.dumps writes it as the escape \ud800), but no character.
            lambda r, name=item.name: r.update({name: "\ud800"}),
            item.name,
            "string_unicode",
            id=f"lone-surrogate-{item.name}",
        )
        for item in CATEGORIES[:1]
    ]
    return changes


@pytest.mark.parametrize(("change", "field", "error_type"), bad_fields())
def test_a_bad_field_gets_a_422_naming_it(
    call: Call,
    request_body: Body,
    held_out: Dataset,
    change: Callable[[dict[str, Any]], Any],
    field: str,
    error_type: str,
) -> None:
    body = valid_row(held_out)
    change(body)
    assert_refused(*call(http_event(request_body(body))), field, error_type)


@pytest.mark.parametrize("raw", ["{", "[1, 2]", "null", '"text"', ""], ids=repr)
def test_a_body_that_is_not_a_json_object_gets_a_422(call: Call, raw: str) -> None:
    status, answer = call(http_event(raw=raw))
    assert status == 422
    assert answer["detail"]


@pytest.mark.parametrize(
    "body",
    [
        "not base64!",
        base64.b64encode(b"\xff\xfe{").decode(),
        base64.b64encode(b"[" * 20_000).decode(),
    ],
    ids=["not-base64", "not-utf-8", "nested-too-deep"],
)
def test_a_body_that_cannot_be_decoded_gets_the_422_of_malformed_json(
    call: Call, body: str
) -> None:
    event = http_event(raw=body)
    event["isBase64Encoded"] = True
    status, answer = call(event)
    assert status == 422
    (problem,) = answer["detail"]
    assert (problem["loc"], problem["type"]) == (["body"], "json_invalid")
    assert call(http_event(raw="{"))[1]["detail"][0]["type"] == problem["type"]


def test_a_body_that_is_not_json_gets_a_415(
    call: Call, request_body: Body, held_out: Dataset
) -> None:
    event = http_event(request_body(valid_row(held_out)))
    event["headers"]["content-type"] = "text/plain"
    status, answer = call(event)
    assert status == 415
    assert answer["detail"][0]["type"] == "unsupported_content_type"


@pytest.mark.parametrize("item", NUMBERS[:1], ids=lambda item: item.name)
def test_nan_and_infinity_get_a_422(
    call: Call, request_body: Body, held_out: Dataset, item: Input
) -> None:
    for value in (math.nan, math.inf, -math.inf):
        # json.dumps writes them as NaN, Infinity and -Infinity, which Python's parser reads.
        status, answer = call(http_event(request_body({**valid_row(held_out), item.name: value})))
        assert status == 422, value
        assert answer["detail"][0]["loc"][-1] == item.name


@pytest.mark.parametrize("sign", ["", "-"])
def test_an_integer_of_5000_digits_gets_a_422_naming_its_field(
    call: Call, request_body: Body, held_out: Dataset, sign: str
) -> None:
    name = FIRST.name
    raw = json.dumps(request_body({**valid_row(held_out), name: "<value>"}))
    status, answer = call(http_event(raw=raw.replace('"<value>"', sign + "7" * 5000)))
    assert status == 422
    (problem,) = answer["detail"]
    assert problem["loc"][-1] == name


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_a_key_given_twice_gets_a_422_naming_it(
    call: Call, request_body: Body, held_out: Dataset, path: str
) -> None:
    body = request_body(valid_row(held_out))
    first = next(iter(body))
    # The first key again, at the end of the object: JSON parsers let the last one win.
    raw = json.dumps(body)[:-1] + f", {json.dumps(first)}: {json.dumps(body[first])}}}"
    status, answer = call(http_event(raw=raw if path == "/predict" else f"[{raw}]", path=path))
    assert_refused(status, answer, first, "duplicate_key")


def test_an_oversized_body_gets_a_413_before_it_is_parsed(call: Call) -> None:
    status, answer = call(http_event(raw="x" * (MAX_BODY_BYTES + 1)))
    assert status == 413
    assert answer["detail"][0]["type"] == "too_large"


@pytest.mark.parametrize("size", [0, MAX_BATCH_SIZE + 1])
def test_an_empty_or_oversized_batch_gets_a_422(
    call: Call, request_body: Body, held_out: Dataset, size: int
) -> None:
    bodies = [request_body(valid_row(held_out))] * size
    status, _ = call(http_event(bodies, path="/predict/batch"))
    assert status == 422


def test_an_unknown_route_gets_a_404(call: Call, request_body: Body, held_out: Dataset) -> None:
    status, _ = call(http_event(request_body(valid_row(held_out)), path="/nowhere"))
    assert status == 404


finite = st.floats(allow_nan=False, allow_infinity=False)
values = st.one_of(finite, st.none(), st.text(max_size=5), st.booleans(), st.integers())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.dictionaries(st.sampled_from([*NAMES, "other"]), values))
def test_no_body_gets_a_5xx(call: Call, request_body: Body, body: dict[str, Any]) -> None:
    status, _ = call(http_event(request_body(body)))
    assert status < 500


def test_serving_never_imports_scikit_learn(
    environment: dict[str, str], request_body: Body, tmp_path: Path, held_out: Dataset
) -> None:
    program = (
        "import json, sys\n"
        "from {{ cookiecutter.__package_name }}.local_lambda import http_event, invoke\n"
        f"event = http_event({json.dumps(request_body(valid_row(held_out)))!r})\n"
        "assert invoke(event)['statusCode'] == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    env = {**environment, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

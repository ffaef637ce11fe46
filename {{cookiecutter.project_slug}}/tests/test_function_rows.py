"""Requests that give every feature (the function keeps no state): a feature left out, or null
where features.yaml does not allow it, gets a 422 naming it."""

from collections.abc import Callable
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset

from contract_testing import CONTRACT, valid_row
from function_testing import Call, assert_refused, http_event

FIRST = CONTRACT.inputs[0]


def left_out_fields() -> list[Any]:
    """Changes to a valid row that leave a feature out, the feature and the error it gets."""
    changes = [pytest.param(lambda r: r.pop(FIRST.name), FIRST.name, "missing", id="missing")]
    changes += [
        pytest.param(
            lambda r, name=item.name: r.update({name: None}),
            item.name,
            "missing",
            id=f"null-{item.name}",
        )
        for item in [item for item in CONTRACT.inputs if not item.nullable][:1]
    ]
    return changes


@pytest.mark.parametrize(("change", "field", "error_type"), left_out_fields())
def test_a_missing_or_null_feature_gets_a_422_naming_it(
    call: Call,
    held_out: Dataset,
    change: Callable[[dict[str, Any]], Any],
    field: str,
    error_type: str,
) -> None:
    row = valid_row(held_out)
    change(row)
    assert_refused(*call(http_event(row)), field, error_type)

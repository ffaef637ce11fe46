"""Rows that give every input (the function keeps no state): a row reads back as it was
written, and a cell that does not fit its input is refused naming it."""

import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from {{ cookiecutter.__package_name }}.lambda_state import State
from {{ cookiecutter.__package_name }}.scheduled import to_csv, validate
from {{ cookiecutter.__package_name }}.schema import Features

from contract_testing import rows
from scheduled_testing import NAMES, NUMBER


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=rows())
def test_a_row_written_as_csv_reads_back_as_the_same_input(row: dict[str, Any]) -> None:
    (line,) = csv.DictReader(io.StringIO(to_csv(NAMES, [row]).decode()))
    (fill,) = State().fills([line])
    assert validate(line, fill) == Features.model_validate(row)


def test_a_cell_that_does_not_fit_its_kind_is_refused_naming_the_input() -> None:
    row = dict.fromkeys(NAMES, "")
    row[NUMBER.name] = "twelve"
    with pytest.raises(ValueError, match=NUMBER.name) as error:
        validate(row, State().fills([row])[0])
    assert "\n" not in str(error.value)

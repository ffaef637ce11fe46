"""Validation of the batch job's chunks against the feature contract (batch_validation.py):
every kind, read as text or typed, and each bad value named with its column."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from {{ cookiecutter.__package_name }}.batch_validation import NOT_A_BOOLEAN, InputError, validate
from {{ cookiecutter.__package_name }}.contract import Columns, parse_contract
from {{ cookiecutter.__package_name }}.sample_input import bad_cells, sample_frame

from contract_testing import CONTRACT, rows


def test_validation_rejects_each_bad_value_with_its_reason() -> None:
    frame = sample_frame()
    _, reasons = validate(pa.Table.from_pandas(frame), CONTRACT)
    cells = bad_cells(CONTRACT)
    first = len(frame) - len(cells)
    expected = {first + index: cell.reason for index, cell in enumerate(cells) if cell.reason}
    assert reasons == expected  # an allowed empty cell and an unseen level are scored


@hypothesis_settings(max_examples=25, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=5))
def test_valid_rows_read_as_text_or_typed_are_the_columns_the_model_takes(
    batch: list[dict[str, object]],
) -> None:
    expected = Columns.from_records(CONTRACT, batch)
    typed = pa.Table.from_pylist(batch)
    text = pa.Table.from_pandas(pd.DataFrame(batch).astype("string"))
    for table in (typed, text):
        columns, reasons = validate(table, CONTRACT)
        assert reasons == {}
        np.testing.assert_array_equal(columns.numbers, expected.numbers)
        assert columns.categories.tolist() == expected.categories.tolist()


EVERY_KIND = parse_contract(
    """
target: {column: y, kind: number}
inputs:
- {name: amount, column: amount, kind: number}
- {name: count, column: count, kind: integer, nullable: true}
- {name: member, column: member, kind: boolean}
- {name: region, column: region, kind: category, levels: [north, south]}
"""
)


def every_kind_table(**columns: list[str | None]) -> pa.Table:
    good: dict[str, list[str | None]] = {
        "amount": ["1.5"],
        "count": ["3"],
        "member": ["yes"],
        "region": ["north"],
    }
    table = good | columns
    return pa.table({name: pa.array(values, pa.string()) for name, values in table.items()})


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"amount": ["1,5"]}, "amount: not a number"),
        ({"amount": ["1e39"]}, "amount: not finite or outside the float32 range"),
        ({"amount": [None]}, "amount: missing"),
        ({"count": ["2.5"]}, "count: not an integer"),
        ({"count": ["three"]}, "count: not a number"),
        ({"member": ["maybe"]}, f"member: {NOT_A_BOOLEAN}"),
        ({"region": [None]}, "region: missing"),
        ({"amount": ["x"], "region": [None]}, "amount: not a number"),
    ],
)
def test_each_kind_is_parsed_and_a_bad_value_names_its_column(
    cells: dict[str, list[str | None]], reason: str
) -> None:
    _, reasons = validate(every_kind_table(**cells), EVERY_KIND)
    assert reasons == {0: reason}


def test_categories_stay_text_and_unseen_levels_and_allowed_gaps_are_kept() -> None:
    table = every_kind_table(count=[None], member=["FALSE"], region=["007"])
    columns, reasons = validate(table, EVERY_KIND)
    assert reasons == {}
    assert columns.categories.tolist() == [["007"]]
    np.testing.assert_array_equal(columns.numbers, np.array([[1.5, np.nan, 0.0]], np.float32))


def test_typed_columns_are_checked_per_kind() -> None:
    table = pa.table(
        {
            "amount": pa.array([1.0, float("inf")]),
            "count": pa.array([1.0, 1.5]),
            "member": pa.array([True, False]),
            "region": pa.array([7, None]).dictionary_encode(),
        }
    )
    columns, reasons = validate(table, EVERY_KIND)
    assert reasons == {1: "amount: not finite or outside the float32 range"}
    assert columns.categories.tolist() == [["7"], [""]]


def test_validation_refuses_an_input_without_the_input_columns() -> None:
    with pytest.raises(InputError, match=CONTRACT.inputs[0].name):
        validate(pa.table({"other": [1.0]}), CONTRACT)

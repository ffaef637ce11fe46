from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from pydantic import ValidationError

from {{ cookiecutter.__package_name }}.contract import (
    Columns,
    ContractError,
    Input,
    load_contract,
    parse_contract,
    write_contract,
)
from {{ cookiecutter.__package_name }}.contract_inference import identifier
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.evaluation import TOLERANCE, export_difference
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES, model_frame
from {{ cookiecutter.__package_name }}.schema import Features

from contract_testing import CONTRACT, MIXED, MixedModel, first, rows, valid_row

NUMBER = first("number") or first("integer")


def test_feature_names_are_the_contract_inputs_in_model_order() -> None:
    assert all(name.isidentifier() for name in FEATURE_NAMES)
    assert sorted(FEATURE_NAMES) == sorted(item.name for item in CONTRACT.inputs)
    kinds = [item.kind == "category" for item in (*CONTRACT.numbers, *CONTRACT.categories)]
    assert kinds == sorted(kinds)


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("Min.Price", "min_price"),
        ("ShelveLoc", "shelve_loc"),
        ("mean radius (cm)", "mean_radius_cm"),
        ("2nd score", "x_2nd_score"),
        ("class", "x_class"),
    ],
)
def test_column_names_map_to_identifiers(column: str, name: str) -> None:
    assert identifier(column) == name


def test_request_schema_has_one_field_per_input_in_contract_order() -> None:
    assert tuple(Features.model_fields) == tuple(item.name for item in CONTRACT.inputs)


def test_a_valid_row_is_accepted(held_out: Dataset) -> None:
    assert Features(**valid_row(held_out)).model_dump() == valid_row(held_out)


@settings(max_examples=50, deadline=None)
@given(row=rows())
def test_every_row_the_contract_allows_is_accepted(row: dict[str, Any]) -> None:
    assert Features.model_validate(row).model_dump() == row


def test_unknown_fields_are_rejected(held_out: Dataset) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Features.model_validate(valid_row(held_out) | {"unexpected": 1.0})


def test_missing_fields_are_rejected(held_out: Dataset) -> None:
    row = valid_row(held_out)
    del row[FEATURE_NAMES[0]]

    with pytest.raises(ValidationError, match=FEATURE_NAMES[0]):
        Features(**row)


@pytest.mark.parametrize(
    "value", [float("inf"), float("-inf"), float("nan"), 1e39, "many", "17.5", True]
)
def test_numbers_must_be_finite_numbers_without_coercion(held_out: Dataset, value: object) -> None:
    assert NUMBER is not None
    with pytest.raises(ValidationError, match=NUMBER.name):
        Features.model_validate(valid_row(held_out) | {NUMBER.name: value})


def test_a_contract_error_is_one_line_naming_the_field(tmp_path: Path) -> None:
    data = CONTRACT.model_dump(mode="json")
    data["inputs"][0]["kind"] = "decimal"
    text = yaml.safe_dump(data)

    with pytest.raises(ContractError, match=r"inputs\.0\.kind") as error:
        parse_contract(text)

    assert "\n" not in str(error.value)


def test_writing_a_contract_replaces_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    write_contract(CONTRACT, path)

    assert load_contract(path) == CONTRACT
    assert [p.name for p in tmp_path.iterdir()] == ["features.yaml"]


@pytest.mark.parametrize(
    ("model_type", "levels"),
    [("binary_classification", ("a", "b", "c")), ("regression", ("a", "b"))],
)
def test_a_target_that_does_not_fit_the_model_type_is_refused(
    model_type: str, levels: tuple[str, ...]
) -> None:
    contract = CONTRACT.model_copy(
        update={"target": CONTRACT.target.model_copy(update={"kind": "category", "levels": levels})}
    )
    with pytest.raises(ContractError, match="target"):
        contract.check_model_type(model_type)


def test_a_category_needs_its_levels() -> None:
    with pytest.raises(ValidationError, match="levels"):
        Input(name="colour", column="colour", kind="category")


def test_null_numbers_get_the_training_median_inside_the_exported_model(
    mixed_model: MixedModel,
) -> None:
    numbers = mixed_model.pipeline.named_steps["features"].named_transformers_["numbers"]
    median = numbers.named_steps["impute"].statistics_[0]
    rows = mixed_model.rows
    missing, imputed = rows.numbers.copy(), rows.numbers.copy()
    missing[:, 0] = np.nan
    imputed[:, 0] = median

    with_gap = mixed_model.session.run(None, Columns(missing, rows.categories).feeds())
    with_median = mixed_model.session.run(None, Columns(imputed, rows.categories).feeds())

    np.testing.assert_array_equal(with_gap[-1], with_median[-1])


def test_a_level_never_seen_in_training_scores_as_none_of_the_levels(
    mixed_model: MixedModel,
) -> None:
    """The documented policy: an unseen level one-hot encodes as all zeros, and is scored the
    same by the exported model and the fitted pipeline."""
    pipeline, rows = mixed_model.pipeline, mixed_model.rows
    unseen = rows.categories.copy()
    unseen[:, 0] = "never-seen-level"
    columns = Columns(rows.numbers, unseen)
    frame = model_frame(columns, MIXED)
    encoder = pipeline.named_steps["features"].named_transformers_["categories"]

    encoded = encoder.transform(frame[[item.name for item in MIXED.categories]])
    served = mixed_model.session.run(None, columns.feeds())

    assert not encoded[:, : len(encoder.categories_[0])].any()
    # As training checks its export (evaluation.py): the same scores, within its tolerance.
    unlabelled = Dataset(columns, target=np.zeros(len(columns)))
    assert export_difference(pipeline, served, unlabelled, MIXED) <= TOLERANCE

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from {{ cookiecutter.__package_name }}.artifact import load_pipeline
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES, model_frame
from {{ cookiecutter.__package_name }}.predictor import Predictor, UnscorableInputError, score_accepted
from {{ cookiecutter.__package_name }}.schema import FLOAT32_MAX, Features

from answers_testing import (
    answers,
    answers_shape,
    assert_answers_like_the_pipeline,
    assert_well_formed,
)
from contract_testing import CONTRACT, MixedModel, complete_rows, constant_columns, rows


def test_onnx_serving_equals_the_fitted_pipeline_on_held_out_data(
    predictor: Predictor, model_dir: Path, held_out: Dataset
) -> None:
    pipeline = load_pipeline(model_dir)
    frame = model_frame(held_out.columns, CONTRACT)

    predictions = predictor.predict_columns(held_out.columns)

    assert_answers_like_the_pipeline(predictions, pipeline, frame, predictor.metadata.threshold)


def test_validated_rows_and_columns_get_the_same_predictions(
    predictor: Predictor, held_out: Dataset
) -> None:
    validated = [Features(**row) for row in complete_rows(held_out, 5)]

    assert predictor.predict(validated) == predictor.predict_columns(
        predictor.columns_of(validated)
    )


# The predictor fixture is shared by the examples: scoring does not change it.
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=rows())
def test_every_row_the_contract_allows_is_scored(predictor: Predictor, row: dict[str, Any]) -> None:
    nullable = {item.name for item in CONTRACT.inputs if item.nullable}
    if any(value is None and name not in nullable for name, value in row.items()):
        return
    (prediction,) = predictor.predict([Features(**row)])

    assert prediction.model_version == predictor.model_version


def test_a_batch_is_scored_in_one_model_call(
    predictor: Predictor, held_out: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = predictor._session
    calls: list[Any] = []
    run = session.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return run(*args, **kwargs)

    monkeypatch.setattr(session, "run", counting_run)

    assert len(predictor.predict_columns(held_out.columns)) == len(held_out)
    assert len(calls) == 1


def test_predictions_name_the_model_version(predictor: Predictor, held_out: Dataset) -> None:
    (prediction,) = predictor.predict_columns(held_out.columns.take(slice(0, 1)))

    assert prediction.model_version == predictor.model_version
    assert predictor.feature_names == FEATURE_NAMES
    assert_well_formed(prediction)


def test_scores_are_the_predictions_as_arrays(predictor: Predictor, held_out: Dataset) -> None:
    scores = predictor.score(held_out.columns)

    assert scores.predictions() == predictor.predict_columns(held_out.columns)
    assert answers(scores).shape == answers_shape(len(held_out))


def test_no_rows_give_no_predictions(predictor: Predictor) -> None:
    assert predictor.predict([]) == []
    assert len(predictor.score(Columns.empty(CONTRACT))) == 0


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_values_float32_cannot_hold_are_refused(predictor: Predictor, value: float) -> None:
    columns = constant_columns(2, 1.0)
    columns.numbers[1, 0] = value

    with pytest.raises(UnscorableInputError, match=r"rows \[1\]: values must be") as error:
        predictor.predict_columns(columns)
    assert error.value.rows.tolist() == [1]


def test_missing_values_are_refused_only_where_the_contract_does_not_allow_them(
    mixed_predictor: Predictor, mixed_model: MixedModel
) -> None:
    numbers = mixed_model.rows.numbers.copy()
    categories = mixed_model.rows.categories.copy()
    numbers[0, 0] = np.nan  # min_price, nullable
    categories[1, 0] = ""  # country, nullable
    numbers[2, 1] = np.nan  # visits, not nullable
    categories[3, 1] = ""  # segment, not nullable

    accepted, _, refused = score_accepted(mixed_predictor, Columns(numbers, categories))

    assert sorted(refused) == [2, 3]
    assert all("does not allow to be null" in reason for reason in refused.values())
    assert {0, 1} <= set(accepted.tolist())


def test_inputs_that_overflow_the_model_are_refused_or_answered_never_with_nan(
    predictor: Predictor,
) -> None:
    columns = constant_columns(3, 1.0)
    columns.numbers[2] = FLOAT32_MAX / 2

    _, scores, refused = score_accepted(predictor, columns)

    assert set(refused) <= {2}
    assert all("inputs so far outside" in reason for reason in refused.values())
    assert np.isfinite(answers(scores)).all()


def test_columns_of_the_wrong_width_are_refused(predictor: Predictor) -> None:
    columns = constant_columns(2, 1.0)
    wider = Columns(np.hstack([columns.numbers, columns.numbers]), columns.categories)

    with pytest.raises(ValueError, match=r"expected \d+ number and \d+ category columns"):
        predictor.predict_columns(wider)


def test_serving_imports_neither_scikit_learn_nor_the_training_stack() -> None:
    serving = ["predictor", "features", "schema", "contract"]
    imports = ", ".join(f"{{ cookiecutter.__package_name }}.{module}" for module in serving)
    training_stack = {"sklearn", "skl2onnx", "skops", "scipy", "pandas"}
    probe = f"import sys, {imports}; print(sorted({training_stack!r} & set(sys.modules)))"

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"

{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set legal = cookiecutter.legal_review == "yes" -%}
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from {{ cookiecutter.__package_name }}.artifact import load_pipeline
from {{ cookiecutter.__package_name }}.data import {% if classification %}LABELS, {% endif %}Dataset
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.predictor import Predictor, UnscorableInputError
from {{ cookiecutter.__package_name }}.schema import FLOAT32_MAX, Features


def test_onnx_serving_equals_the_fitted_pipeline_on_held_out_data(
    predictor: Predictor, model_dir: Path, held_out: Dataset
) -> None:
    pipeline = load_pipeline(model_dir)

    predictions = predictor.predict_array(held_out.features)

{%- if classification %}
    labels = [LABELS[label] for label in pipeline.predict(held_out.features)]
    assert [prediction.label for prediction in predictions] == labels
    served = np.array([list(prediction.probabilities.values()) for prediction in predictions])
    np.testing.assert_allclose(served, pipeline.predict_proba(held_out.features), rtol=0, atol=1e-6)
{%- else %}
    served = np.array([prediction.value for prediction in predictions])
    expected = pipeline.predict(held_out.features)
    assert np.max(np.abs(served - expected) / np.maximum(1.0, np.abs(expected))) <= 1e-6
{%- endif %}


def test_validated_rows_and_arrays_get_the_same_predictions(
    predictor: Predictor, held_out: Dataset
) -> None:
    rows = [
        Features(**dict(zip(FEATURE_NAMES, row.tolist(), strict=True)))
        for row in held_out.features[:5]
    ]

    assert predictor.predict(rows) == predictor.predict_array(held_out.features[:5])


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

    assert len(predictor.predict_array(held_out.features)) == len(held_out.features)
    assert len(calls) == 1


def test_predictions_name_the_model_version(predictor: Predictor, held_out: Dataset) -> None:
    (prediction,) = predictor.predict_array(held_out.features[:1])

    assert prediction.model_version == predictor.model_version
    assert predictor.feature_names == FEATURE_NAMES
{%- if classification %}
    assert set(prediction.probabilities) == set(LABELS)
    assert sum(prediction.probabilities.values()) == pytest.approx(1, abs=1e-5)
{%- endif %}


def test_scores_are_the_predictions_as_arrays(predictor: Predictor, held_out: Dataset) -> None:
    scores = predictor.score_array(held_out.features)

    assert scores.predictions() == predictor.predict_array(held_out.features)
{%- if classification %}
    assert scores.probabilities.shape == (len(held_out.features), len(LABELS))
{%- else %}
    assert scores.values.shape == (len(held_out.features),)
{%- endif %}


def test_no_rows_give_no_predictions(predictor: Predictor) -> None:
    assert predictor.predict([]) == []
    assert len(predictor.score_array(np.empty((0, len(FEATURE_NAMES))))) == 0


@pytest.mark.parametrize("value", [np.inf, -1e39{% if cookiecutter.feature_engineering == "no" %}, np.nan{% endif %}])
def test_an_array_with_values_float32_cannot_hold_is_refused(
    predictor: Predictor, value: float
) -> None:
    rows = np.ones((2, len(FEATURE_NAMES)))
    rows[1, 0] = value

    with pytest.raises(UnscorableInputError, match=r"rows \[1\]: values must be") as error:
        predictor.predict_array(rows)
    assert error.value.rows.tolist() == [1]


{%- if cookiecutter.framework == "scikit-learn" %}


def test_inputs_that_overflow_the_model_are_refused_not_answered_with_nan(
    predictor: Predictor,
) -> None:
    rows = np.ones((3, len(FEATURE_NAMES)))
    rows[2] = FLOAT32_MAX / 2

    with pytest.raises(UnscorableInputError, match=r"rows \[2\]: inputs so far outside") as error:
        predictor.predict_array(rows)
    assert error.value.rows.tolist() == [2]
{%- else %}


def test_trees_score_the_most_extreme_inputs(predictor: Predictor) -> None:
    rows = np.full((2, len(FEATURE_NAMES)), FLOAT32_MAX)
    rows[1] = -FLOAT32_MAX

    predictions = predictor.predict_array(rows)

{%- if cookiecutter.model_type == "regression" %}
    assert all(np.isfinite(prediction.value) for prediction in predictions)
{%- else %}
    assert all(np.isfinite(list(p.probabilities.values())).all() for p in predictions)
{%- endif %}
{%- endif %}


def test_an_array_of_the_wrong_width_is_refused(predictor: Predictor) -> None:
    with pytest.raises(ValueError, match=r"expected an array of shape \(rows, \d+\)"):
        predictor.predict_array(np.zeros((2, len(FEATURE_NAMES) + 1)))
{%- if legal %}


def test_explanation_is_zero_for_the_training_mean_and_names_every_feature(
    predictor: Predictor, model_dir: Path
) -> None:
    mean = predictor._reference_mean
    shifted = mean.copy()
    shifted[0] += 10 * np.abs(shifted[0]) + 1

    at_mean, moved = predictor.predict_array(np.stack([mean, shifted]))

    assert list(at_mean.explanation) == list(FEATURE_NAMES)
    assert all(value == 0 for value in at_mean.explanation.values())
    assert all(value == 0 for name, value in moved.explanation.items() if name != FEATURE_NAMES[0])
{%- endif %}


def test_serving_imports_neither_scikit_learn_nor_the_training_stack() -> None:
    serving = ["predictor", "features", "schema"]
    imports = ", ".join(f"{{ cookiecutter.__package_name }}.{module}" for module in serving)
    training_stack = {"sklearn", "skl2onnx", "skops", "scipy"}
    probe = f"import sys, {imports}; print(sorted({training_stack!r} & set(sys.modules)))"

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"

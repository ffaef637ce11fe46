{%- set fe = cookiecutter.feature_engineering == "yes" -%}
{%- set trees = cookiecutter.framework != "scikit-learn" -%}
import math
{%- if fe %}
from pathlib import Path
{%- endif %}

{% if fe -%}
import numpy as np
{% endif -%}
import pytest
from pydantic import ValidationError

{% if fe -%}
from {{ cookiecutter.__package_name }}.artifact import load_pipeline
{% endif -%}
from {{ cookiecutter.__package_name }}.data import identifier, load_dataset
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES{% if fe %}, build_feature_pipeline{% endif %}
{%- if fe %}
from {{ cookiecutter.__package_name }}.predictor import Predictor
{%- endif %}
from {{ cookiecutter.__package_name }}.schema import Features


def valid_row() -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, load_dataset().features[0].tolist(), strict=True))


def test_feature_names_are_the_data_set_columns_as_identifiers() -> None:
    assert all(name.isidentifier() for name in FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert load_dataset().features.shape[1] == len(FEATURE_NAMES)
    assert identifier("Mean concave points (cm)") == "mean_concave_points_cm"


def test_request_schema_has_one_field_per_feature_in_model_order() -> None:
    assert tuple(Features.model_fields) == FEATURE_NAMES


def test_a_valid_row_is_accepted() -> None:
    assert Features(**valid_row()).model_dump() == valid_row()


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Features.model_validate(valid_row() | {"unexpected": 1.0})


def test_missing_fields_are_rejected() -> None:
    row = valid_row()
    del row[FEATURE_NAMES[0]]

    with pytest.raises(ValidationError, match=FEATURE_NAMES[0]):
        Features(**row)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e39, "many"])
def test_values_must_be_finite_numbers(value: object) -> None:
    with pytest.raises(ValidationError, match=FEATURE_NAMES[0]):
        Features.model_validate(valid_row() | {FEATURE_NAMES[0]: value})
{%- if fe %}


def test_feature_pipeline_imputes_missing_values{% if not trees %}_and_standardises{% endif %}() -> None:
    features = load_dataset().features
    with_gaps = features.copy()
    with_gaps[::7, 0] = np.nan

    transformed = build_feature_pipeline().fit_transform(with_gaps)

    assert not np.isnan(transformed).any()
{%- if trees %}
    np.testing.assert_array_equal(transformed[:, 1:], features[:, 1:])
{%- else %}
    np.testing.assert_allclose(transformed.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(transformed.std(axis=0), 1, atol=1e-3)
{%- endif %}


def test_null_inputs_get_the_training_median_inside_the_served_model(
    predictor: Predictor, model_dir: Path
) -> None:
    median = load_pipeline(model_dir).named_steps["features"].named_steps["impute"].statistics_[0]
    missing = Features.model_validate(valid_row() | {FEATURE_NAMES[0]: None})
    imputed = Features.model_validate(valid_row() | {FEATURE_NAMES[0]: float(median)})

    assert predictor.predict([missing]) == predictor.predict([imputed])
{%- endif %}

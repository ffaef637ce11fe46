"""The legal review explains each answer by how much every input moved it (review.py)."""

import numpy as np

from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.predictor import Predictor


def test_explanation_is_zero_at_the_reference_and_names_every_feature(
    predictor: Predictor,
) -> None:
    review = predictor._review
    mean = review.reference_numbers
    shifted = mean.copy()
    shifted[0] += 10 * np.abs(shifted[0]) + 1
    categories = np.stack([review.reference_categories] * 2)

    at_mean, moved = predictor.predict_columns(Columns(np.stack([mean, shifted]), categories))

    assert list(at_mean.explanation) == list(FEATURE_NAMES)
    assert all(value == 0 for value in at_mean.explanation.values())
    assert all(value == 0 for name, value in moved.explanation.items() if name != FEATURE_NAMES[0])

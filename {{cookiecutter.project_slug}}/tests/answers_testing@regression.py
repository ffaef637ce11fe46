"""The regressor's answers, as the predictor tests compare them: values."""

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from {{ cookiecutter.__package_name }}.contract import Contract
from {{ cookiecutter.__package_name }}.schema import Prediction, Scores


def answers(scores: Scores) -> npt.NDArray[np.float32]:
    """The answers as one array: the values, (rows,)."""
    return scores.values


def answers_shape(rows: int) -> tuple[int, ...]:
    return (rows,)


def assert_answers_like_the_pipeline(
    predictions: list[Prediction], pipeline: Any, frame: Any, threshold: float | None
) -> None:
    """The fitted pipeline's values, to float32 precision relative to their size (a value
    has no decision `threshold`)."""
    served = np.array([prediction.value for prediction in predictions])
    expected = pipeline.predict(frame)
    assert np.max(np.abs(served - expected) / np.maximum(1.0, np.abs(expected))) <= 1e-6


def assert_well_formed(prediction: Prediction) -> None:
    """A finite value."""
    assert math.isfinite(prediction.value)


def chance_level(contract: Contract) -> tuple[str, float]:
    """The metric a model that learnt something beats, and what guessing scores on it: the
    r2 of predicting the mean, whatever the inputs."""
    return "r2", 0.0

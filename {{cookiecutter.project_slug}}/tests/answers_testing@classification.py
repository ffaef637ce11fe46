"""The classifier's answers, as the predictor tests compare them: labels and probabilities."""

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from {{ cookiecutter.__package_name }}.contract import Contract
from {{ cookiecutter.__package_name }}.schema import Prediction, Scores

from contract_testing import CONTRACT

LABELS = CONTRACT.labels


def answers(scores: Scores) -> npt.NDArray[np.float32]:
    """The answers as one array: the probabilities, (rows, classes)."""
    return scores.probabilities


def answers_shape(rows: int) -> tuple[int, ...]:
    return (rows, len(LABELS))


def assert_answers_like_the_pipeline(
    predictions: list[Prediction], pipeline: Any, frame: Any, threshold: float | None
) -> None:
    """The same labels as the fitted pipeline at the decision `threshold` (none: its most
    probable class), and its probabilities to float32 precision."""
    predicted = pipeline.predict(frame)
    if threshold is not None:
        predicted = (pipeline.predict_proba(frame)[:, 1] >= threshold).astype(int)
    labels = [LABELS[label] for label in predicted]
    assert [prediction.label for prediction in predictions] == labels
    served = np.array([list(prediction.probabilities.values()) for prediction in predictions])
    np.testing.assert_allclose(served, pipeline.predict_proba(frame), rtol=0, atol=1e-6)


def assert_well_formed(prediction: Prediction) -> None:
    """A probability for each class, summing to one."""
    assert set(prediction.probabilities) == set(LABELS)
    assert sum(prediction.probabilities.values()) == pytest.approx(1, abs=1e-5)


def chance_level(contract: Contract) -> tuple[str, float]:
    """The metric a model that learnt something beats, and what guessing scores on it: the
    accuracy of picking one of the classes at random."""
    return "accuracy", 1 / len(contract.labels)

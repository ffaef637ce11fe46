"""How the regressor is judged: its held-out metrics, and how its ONNX export is compared
with the fitted pipeline."""

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyRegressor
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.pipeline import Pipeline

from .contract import Contract
from .data import Dataset
from .features import model_frame

TOLERANCE = 1e-6
"""Largest accepted difference between the ONNX and the fitted pipeline's values, relative to
the value when it exceeds 1 (float32, the ONNX type, resolves 150 only to about 1.5e-5)."""


PROMOTION_METRIC = "r2"
"""The metric the promotion gate compares by default (the `promotion_metric` setting)."""
HIGHER_IS_BETTER = {"rmse": False, "mae": False, "r2": True}


class ExportError(Exception):
    """The ONNX export does not reproduce the fitted pipeline."""


def baseline(training: Dataset) -> BaseEstimator:
    """The model to beat: the training rows' mean."""
    return DummyRegressor(strategy="mean").fit(np.zeros((len(training), 1)), training.target)


def choose_threshold(
    pipeline: Pipeline, held_out: Dataset, contract: Contract, rule: str
) -> float | None:
    """No threshold: a regressor answers a value."""
    return None


def evaluate(
    model: Pipeline | BaseEstimator,
    held_out: Dataset,
    contract: Contract,
    threshold: float | None = None,
) -> dict[str, float]:
    """Metrics on the held-out data (a value has no `threshold`)."""
    predicted = model.predict(model_frame(held_out.columns, contract))
    return {
        "rmse": float(root_mean_squared_error(held_out.target, predicted)),
        "mae": float(mean_absolute_error(held_out.target, predicted)),
        "r2": float(r2_score(held_out.target, predicted)),
    }


def export_options(pipeline: Pipeline) -> dict[int, dict[str, Any]]:
    """skl2onnx options: none, a regressor's output is one array of values."""
    return {}


def export_difference(
    pipeline: Pipeline, outputs: list[npt.NDArray[Any]], held_out: Dataset, contract: Contract
) -> float:
    """The largest difference between the ONNX values and the fitted pipeline's on the
    held-out rows, relative to the value where it exceeds 1."""
    expected = pipeline.predict(model_frame(held_out.columns, contract))
    return float(
        np.max(np.abs(outputs[0].reshape(-1) - expected) / np.maximum(1.0, np.abs(expected)))
    )

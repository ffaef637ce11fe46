"""How the multiclass classifier is judged: its held-out metrics, and how its ONNX export is
compared with the fitted pipeline."""

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.pipeline import Pipeline

from .contract import Contract
from .data import Dataset
from .features import model_frame

TOLERANCE = 1e-6
"""Largest accepted difference between the ONNX and the fitted pipeline's probabilities."""


PROMOTION_METRIC = "f1_macro"
"""The metric the promotion gate compares by default (the `promotion_metric` setting)."""
HIGHER_IS_BETTER = {"accuracy": True, "f1_macro": True, "log_loss": False}


class ExportError(Exception):
    """The ONNX export does not reproduce the fitted pipeline."""


def baseline(training: Dataset) -> BaseEstimator:
    """The model to beat: the training rows' class prior (its label, the majority class)."""
    return DummyClassifier(strategy="prior").fit(np.zeros((len(training), 1)), training.target)


def choose_threshold(
    pipeline: Pipeline, held_out: Dataset, contract: Contract, rule: str
) -> float | None:
    """No threshold: a multiclass model answers its most probable class."""
    return None


def evaluate(
    model: Pipeline | BaseEstimator,
    held_out: Dataset,
    contract: Contract,
    threshold: float | None = None,
) -> dict[str, float]:
    """Metrics on the held-out data (the label is the most probable class: no `threshold`)."""
    frame = model_frame(held_out.columns, contract)
    predicted = model.predict(frame)
    probabilities = model.predict_proba(frame)
    return {
        "accuracy": float(accuracy_score(held_out.target, predicted)),
        "f1_macro": float(f1_score(held_out.target, predicted, average="macro", zero_division=0)),
        "log_loss": float(
            log_loss(held_out.target, probabilities, labels=range(len(contract.labels)))
        ),
    }


def export_options(pipeline: Pipeline) -> dict[int, dict[str, Any]]:
    """skl2onnx options: probabilities as one array, not a list of per-row dictionaries."""
    return {id(pipeline.steps[-1][1]): {"zipmap": False}}


def export_difference(
    pipeline: Pipeline, outputs: list[npt.NDArray[Any]], held_out: Dataset, contract: Contract
) -> float:
    """The largest difference between the ONNX outputs (labels, probabilities) and the fitted
    pipeline's probabilities on the held-out rows; refuses when a predicted label differs."""
    frame = model_frame(held_out.columns, contract)
    if not np.array_equal(outputs[0], pipeline.predict(frame)):
        raise ExportError("the ONNX export predicts other labels than the fitted pipeline")
    return float(np.max(np.abs(outputs[1] - pipeline.predict_proba(frame))))

"""How the binary classifier is judged: its held-out metrics, and how its ONNX export is
compared with the fitted pipeline."""

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from .contract import Contract
from .data import Dataset
from .features import model_frame

TOLERANCE = 1e-6
"""Largest accepted difference between the ONNX and the fitted pipeline's probabilities."""


PROMOTION_METRIC = "roc_auc"
"""The metric the promotion gate compares by default (the `promotion_metric` setting)."""
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "roc_auc": True, "log_loss": False}


class ExportError(Exception):
    """The ONNX export does not reproduce the fitted pipeline."""


def baseline(training: Dataset) -> BaseEstimator:
    """The model to beat: the training rows' class prior (its label, the majority class)."""
    return DummyClassifier(strategy="prior").fit(np.zeros((len(training), 1)), training.target)


def choose_threshold(pipeline: Pipeline, held_out: Dataset, contract: Contract, rule: str) -> float:
    """The positive class's probability from which a row is labelled positive, by `rule`
    on the held-out rows: `f1` (the highest F1), `precision:P` (the most recall at a
    precision of at least P) or `recall:R` (the most precision at a recall of at least R).

    The threshold lies halfway between the chosen row's probability and the next lower one,
    so that no held-out row sits on it (the SQL and the float32 model agree on every label).
    """
    probabilities = pipeline.predict_proba(model_frame(held_out.columns, contract))[:, 1]
    precision, recall, thresholds = precision_recall_curve(held_out.target, probabilities)
    precision, recall = precision[:-1], recall[:-1]
    name, _, wanted = rule.partition(":")
    if name == "f1":
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.nan_to_num(2 * precision * recall / (precision + recall))
        chosen = int(np.argmax(score))
    elif name == "precision":
        reaching = np.flatnonzero(precision >= float(wanted))
        if not len(reaching):
            raise ValueError(
                f"no threshold reaches a precision of {wanted} on the held-out rows (best:"
                f" {precision.max():.3f}): lower it in the threshold_rule setting"
            )
        chosen = int(reaching[np.argmax(recall[reaching])])
    else:
        chosen = int(np.flatnonzero(recall >= float(wanted))[-1])
    lower = probabilities[probabilities < thresholds[chosen]]
    return float((thresholds[chosen] + (lower.max() if len(lower) else 0.0)) / 2)


def evaluate(
    model: Pipeline | BaseEstimator,
    held_out: Dataset,
    contract: Contract,
    threshold: float | None = None,
) -> dict[str, float]:
    """Metrics on the held-out data, labels at `threshold` (none: the most probable class)."""
    frame = model_frame(held_out.columns, contract)
    probabilities = model.predict_proba(frame)
    predicted = model.predict(frame) if threshold is None else probabilities[:, 1] >= threshold
    return {
        "accuracy": float(accuracy_score(held_out.target, predicted)),
        "f1": float(f1_score(held_out.target, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(held_out.target, probabilities[:, 1])),
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

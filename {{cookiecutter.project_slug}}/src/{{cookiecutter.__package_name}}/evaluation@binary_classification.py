"""How the binary classifier is judged: its held-out metrics, and how its ONNX export is
compared with the fitted pipeline."""

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from .contract import Contract
from .data import Dataset
from .features import model_frame

TOLERANCE = 1e-6
"""Largest accepted difference between the ONNX and the fitted pipeline's probabilities."""


class ExportError(Exception):
    """The ONNX export does not reproduce the fitted pipeline."""


def evaluate(pipeline: Pipeline, held_out: Dataset, contract: Contract) -> dict[str, float]:
    """Metrics on the held-out data."""
    frame = model_frame(held_out.columns, contract)
    predicted = pipeline.predict(frame)
    probabilities = pipeline.predict_proba(frame)
    return {
        "accuracy": float(accuracy_score(held_out.target, predicted)),
        "f1": float(f1_score(held_out.target, predicted)),
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

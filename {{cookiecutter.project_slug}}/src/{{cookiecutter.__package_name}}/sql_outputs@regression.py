"""What the regressor's SQL answers, and how it is held to the fitted pipeline: one value,
compared on held-out rows relative to its size. sql.py builds the migrations around these."""

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from .contract import Contract
from .schema import Prediction

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

OUTPUTS: tuple[str, ...] = ("value",)
"""The prediction columns, followed in every object by `model_version` and `reason`."""
OUTPUT_TYPES: tuple[str, ...] = ("FLOAT8",)
"""The SQL type of each of `OUTPUTS`."""
PREDICTION_COLUMN = "predicted_value"
"""The column of the input table the optional trigger fills, of type `PREDICTION_TYPE`."""
PREDICTION_TYPE = "FLOAT8"
MISMATCH = ""
"""How else the SQL can differ from the fitted pipeline (a value only differs by its size)."""


def output_expressions(threshold: float | None) -> list[str]:
    """The outputs over orbital's result, `scored`, in `OUTPUTS` order (a value: no
    decision `threshold`)."""
    return ['"scored"."variable"']


def overflow_margin(
    pipeline: "Pipeline",
    contract: Contract,
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    span: npt.NDArray[np.float64],
) -> float:
    """No limit: a regressor's SQL has no EXP that large inputs could overflow."""
    return math.inf


def predictions(
    pipeline: "Pipeline", frame: pd.DataFrame, threshold: float | None
) -> list[tuple[object, ...]]:
    """The fitted pipeline's outputs on `frame`, as rows of `OUTPUTS` (no `threshold`)."""
    return [(value,) for value in pipeline.predict(frame).tolist()]


def prediction_row(prediction: Prediction) -> tuple[object, ...]:
    """A prediction of the ONNX model (what serving answers) as a row of `OUTPUTS`."""
    return (prediction.value,)


def difference(
    expected_rows: Sequence[tuple[object, ...]], actual_rows: Sequence[tuple[object, ...]]
) -> float:
    """The largest difference between two sets of output rows, relative to the value when
    it exceeds 1."""
    if len(expected_rows) != len(actual_rows):
        return float("inf")
    largest = 0.0
    for want, got in zip(expected_rows, actual_rows, strict=True):
        if got[0] is None:
            return float("inf")
        a, b = float(want[0]), float(got[0])  # type: ignore[arg-type]
        largest = max(largest, abs(a - b) / max(1.0, abs(a)))
    return largest

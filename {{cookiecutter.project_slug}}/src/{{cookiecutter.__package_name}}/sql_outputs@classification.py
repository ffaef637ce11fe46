"""What the classifier's SQL answers, and how it is held to the fitted pipeline: the label
and one probability per class, compared on held-out rows; a differing label is never
accepted. sql.py builds the migrations around these."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from .contract import MISSING_LEVEL, Columns, Contract, load_contract
from .contract_inference import identifier
from .features import model_frame
from .schema import Prediction
from .sql_syntax import text

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

LABELS = load_contract().labels
OUTPUTS: tuple[str, ...] = ("label", *(f"probability_{identifier(label)}" for label in LABELS))
"""The prediction columns, followed in every object by `model_version` and `reason`."""
OUTPUT_TYPES: tuple[str, ...] = ("TEXT", *("FLOAT8" for _ in LABELS))
"""The SQL type of each of `OUTPUTS`."""
PREDICTION_COLUMN = "predicted_label"
"""The column of the input table the optional trigger fills, of type `PREDICTION_TYPE`."""
PREDICTION_TYPE = "TEXT"
MISMATCH = " or predicts other labels"
"""How else the SQL can differ from the fitted pipeline (for the refusal's message)."""
EXP_LIMIT = 700.0
"""PostgreSQL's EXP overflows (an error) above about 709: logits must stay below this."""


def output_expressions(threshold: float | None) -> list[str]:
    """The outputs over orbital's result, `scored`, in `OUTPUTS` order: the label is the
    positive class from the decision `threshold` up (binary classifiers, as serving answers;
    metadata.threshold), else the most probable class."""
    if threshold is None:
        cases = " ".join(f"WHEN {index} THEN {text(name)}" for index, name in enumerate(LABELS))
        label = f'CASE "scored"."output_label" {cases} END'
    else:
        label = (
            f'CASE WHEN "scored"."output_probability.1" >= CAST({threshold!r} AS FLOAT8)'
            f" THEN {text(LABELS[1])} ELSE {text(LABELS[0])} END"
        )
    return [label] + [f'"scored"."output_probability.{index}"' for index in range(len(LABELS))]


def overflow_margin(
    pipeline: "Pipeline",
    contract: Contract,
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    span: npt.NDArray[np.float64],
) -> float:
    """The widest margin (in range widths) within which every logit stays below `EXP_LIMIT`.

    The feature pipeline and the linear model are affine in the numbers and in each one-hot
    category: over a box around the centre of the training range, the largest logit is the
    centre's, plus each boolean's and each category's largest move (fixed), plus each number's
    largest move, which grows linearly with the margin.
    """
    centre = (low + high) / 2
    unseen = np.full(len(contract.categories), "\x00", dtype=object)
    points: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]] = [(centre, unseen)]
    for index, item in enumerate(contract.numbers):
        moves = [low[index], high[index]] if item.kind == "boolean" else [high[index] + span[index]]
        for value in moves:
            moved = centre.copy()
            moved[index] = value
            points.append((moved, unseen))
    for index, item in enumerate(contract.categories):
        for level in (*(item.levels or ()), MISSING_LEVEL):
            category = unseen.copy()
            category[index] = level
            points.append((centre, category))
    columns = Columns(
        np.array([numbers for numbers, _ in points], dtype=np.float32).reshape(len(points), -1),
        np.array([categories for _, categories in points], dtype=object).reshape(len(points), -1),
    )
    raw = np.asarray(pipeline.decision_function(model_frame(columns, contract)))
    raw = raw.reshape(len(points), -1)
    logits = np.abs(raw - raw[0])
    fixed = np.abs(raw[0])
    per_span = np.zeros_like(fixed)
    row = 1
    for item in contract.numbers:
        if item.kind == "boolean":
            fixed += logits[row : row + 2].max(axis=0)
            row += 2
        else:
            per_span += logits[row]
            row += 1
    for item in contract.categories:
        count = len(item.levels or ()) + 1
        fixed += logits[row : row + count].max(axis=0)
        row += count
    margin = float(np.min((EXP_LIMIT - fixed) / np.maximum(per_span, 1e-300) - 0.5))
    if margin < 0:
        name, step = pipeline.steps[-1]
        raise ValueError(
            f"pipeline step {name!r} ({type(step).__name__}) reaches logits over {EXP_LIMIT:.0f}"
            " within the training range: EXP would overflow in PostgreSQL"
        )
    return margin


def predictions(
    pipeline: "Pipeline", frame: pd.DataFrame, threshold: float | None
) -> list[tuple[object, ...]]:
    """The fitted pipeline's outputs on `frame`, as rows of `OUTPUTS`, labels at the decision
    `threshold` as `output_expressions`."""
    probabilities = pipeline.predict_proba(frame)
    predicted = pipeline.predict(frame) if threshold is None else (probabilities[:, 1] >= threshold)
    labels = [LABELS[index] for index in np.asarray(predicted, dtype=np.intp)]
    return [(label, *row) for label, row in zip(labels, probabilities.tolist(), strict=True)]


def prediction_row(prediction: Prediction) -> tuple[object, ...]:
    """A prediction of the ONNX model (what serving answers) as a row of `OUTPUTS`."""
    return (prediction.label, *prediction.probabilities.values())


def difference(
    expected_rows: Sequence[tuple[object, ...]], actual_rows: Sequence[tuple[object, ...]]
) -> float:
    """The largest difference between two sets of output rows; infinite when a label differs."""
    if len(expected_rows) != len(actual_rows):
        return float("inf")
    largest = 0.0
    for want, got in zip(expected_rows, actual_rows, strict=True):
        if want[0] != got[0] or any(value is None for value in got):
            return float("inf")
        for a, b in zip(want[1:], got[1:], strict=True):
            largest = max(largest, abs(float(a) - float(b)))  # type: ignore[arg-type]
    return largest

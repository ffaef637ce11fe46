"""The classifier's scores as the batch job's output columns: the label, and one probability
column per class."""

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .schema import Scores


def output_columns(scores: Scores) -> dict[str, pa.Array | npt.NDArray[Any]]:
    """The label (dictionary-encoded: few distinct values), then `probability_<label>` per class."""
    labels = pa.DictionaryArray.from_arrays(scores.predicted.astype(np.int32), scores.labels)
    columns: dict[str, pa.Array | npt.NDArray[Any]] = {"label": labels}
    for index, label in enumerate(scores.labels):
        columns[f"probability_{label}"] = scores.probabilities[:, index].astype(np.float64)
    return columns

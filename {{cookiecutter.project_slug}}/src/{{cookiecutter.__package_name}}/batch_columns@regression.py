"""The regressor's scores as the batch job's output columns: the predicted value."""

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .schema import Scores


def output_columns(scores: Scores) -> dict[str, pa.Array | npt.NDArray[Any]]:
    return {"value": scores.values.astype(np.float64)}

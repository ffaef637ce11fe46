"""The regressor's answers: `Prediction` for one row (what a service returns), `Scores` for a
batch (arrays, which batch consumers write as columns directly)."""

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from .contract import Contract


class Prediction(BaseModel):
    """The model's answer for one row."""

    model_config = ConfigDict(frozen=True)

    value: float = Field(description="The predicted target.")
    model_version: str = Field(description="Version of the model that answered.")


@dataclass(frozen=True)
class Scores:
    """The model's answers for a batch, one array entry per row.

    `predictions()` builds the per-row objects a service answers with (that costs
    microseconds per row, the model call does not).
    """

    model_version: str
    values: npt.NDArray[np.float32]

    @classmethod
    def of(
        cls,
        model_version: str,
        contract: Contract,
        outputs: list[npt.NDArray[Any]],
    ) -> Self:
        """The answers from the ONNX output: values."""
        return cls(model_version, np.asarray(outputs[0], dtype=np.float32).reshape(-1))

    def __len__(self) -> int:
        return len(self.values)

    def overflowed(self) -> npt.NDArray[np.bool_]:
        """Rows whose answers are not finite: inputs the model's arithmetic overflowed on."""
        return ~np.isfinite(self.values)

    def outputs(self) -> list[dict[str, Any]]:
        """Each row's answer as the plain fields of `Prediction`, without the model version."""
        return [{"value": value} for value in self.values.tolist()]

    def predictions(self) -> list[Prediction]:
        return [Prediction(**output, model_version=self.model_version) for output in self.outputs()]


def empty_outputs(contract: Contract) -> list[npt.NDArray[Any]]:
    """The ONNX output for zero rows (some converted models refuse an empty input)."""
    return [np.empty(0, dtype=np.float32)]

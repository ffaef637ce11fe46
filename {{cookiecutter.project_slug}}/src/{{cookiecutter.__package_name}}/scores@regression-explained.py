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
    explanation: dict[str, float] = Field(
        description=(
            "How much each input moved this prediction: the value minus the one obtained with"
            " that input set to its training mean."
        )
    )


@dataclass(frozen=True)
class Scores:
    """The model's answers for a batch, one array entry per row.

    `predictions()` builds the per-row objects a service answers with (that costs
    microseconds per row, the model call does not).
    """

    model_version: str
    values: npt.NDArray[np.float32]
    feature_names: tuple[str, ...]
    explanations: npt.NDArray[np.float32]
    """(rows, features): what each input moved the prediction by (see `Prediction`)."""

    @classmethod
    def of(
        cls,
        model_version: str,
        contract: Contract,
        outputs: list[npt.NDArray[Any]],
        feature_names: tuple[str, ...],
    ) -> Self:
        """The answers from the ONNX output (values) of the rows followed, per row, by one
        copy per input with that input at its reference value."""
        width = len(feature_names)
        values = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        rows = len(values) // (width + 1)
        # Overflowed outputs make NaN here; `overflowed` finds those rows.
        with np.errstate(invalid="ignore"):
            explanations = values[:rows, np.newaxis] - values[rows:].reshape(rows, width)
        return cls(model_version, values[:rows], feature_names, explanations)

    def __len__(self) -> int:
        return len(self.values)

    def overflowed(self) -> npt.NDArray[np.bool_]:
        """Rows whose answers are not finite: inputs the model's arithmetic overflowed on."""
        return np.asarray(~(np.isfinite(self.values) & np.isfinite(self.explanations).all(axis=1)))

    def outputs(self) -> list[dict[str, Any]]:
        """Each row's answer as the plain fields of `Prediction`, without the model version."""
        explanations = self.explanations.tolist()
        return [
            {"value": value, "explanation": dict(zip(self.feature_names, explanation, strict=True))}
            for value, explanation in zip(self.values.tolist(), explanations, strict=True)
        ]

    def predictions(self) -> list[Prediction]:
        return [Prediction(**output, model_version=self.model_version) for output in self.outputs()]


def empty_outputs(contract: Contract) -> list[npt.NDArray[Any]]:
    """The ONNX output for zero rows (some converted models refuse an empty input)."""
    return [np.empty(0, dtype=np.float32)]

"""The classifier's answers: `Prediction` for one row (what a service returns), `Scores` for a
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

    label: str = Field(description="The most probable class.")
    probabilities: dict[str, float] = Field(description="Probability of each class.")
    model_version: str = Field(description="Version of the model that answered.")


@dataclass(frozen=True)
class Scores:
    """The model's answers for a batch, one array entry per row.

    `predictions()` builds the per-row objects a service answers with (that costs
    microseconds per row, the model call does not).
    """

    model_version: str
    labels: tuple[str, ...]
    predicted: npt.NDArray[np.intp]
    """Index into `labels` of each row's most probable class."""
    probabilities: npt.NDArray[np.float32]
    """(rows, labels): the probability of each class."""

    @classmethod
    def of(
        cls,
        model_version: str,
        contract: Contract,
        outputs: list[npt.NDArray[Any]],
    ) -> Self:
        """The answers from the ONNX outputs: labels, probabilities."""
        labels = contract.labels
        predicted = np.asarray(outputs[0], dtype=np.intp).reshape(-1)
        probabilities = np.asarray(outputs[1], dtype=np.float32).reshape(-1, len(labels))
        return cls(model_version, labels, predicted, probabilities)

    def __len__(self) -> int:
        return len(self.predicted)

    def overflowed(self) -> npt.NDArray[np.bool_]:
        """Rows whose answers are not finite: inputs the model's arithmetic overflowed on."""
        return np.asarray(~np.isfinite(self.probabilities).all(axis=1))

    def predicted_labels(self) -> npt.NDArray[np.object_]:
        return np.asarray(self.labels, dtype=object)[self.predicted]

    def outputs(self) -> list[dict[str, Any]]:
        """Each row's answer as the plain fields of `Prediction`, without the model version."""
        labels = self.predicted_labels().tolist()
        probabilities = self.probabilities.tolist()
        return [
            {"label": label, "probabilities": dict(zip(self.labels, row, strict=True))}
            for label, row in zip(labels, probabilities, strict=True)
        ]

    def predictions(self) -> list[Prediction]:
        return [Prediction(**output, model_version=self.model_version) for output in self.outputs()]


def empty_outputs(contract: Contract) -> list[npt.NDArray[Any]]:
    """The ONNX outputs for zero rows (some converted models refuse an empty input)."""
    return [np.empty(0, dtype=np.intp), np.empty((0, len(contract.labels)), np.float32)]

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
    explanation: dict[str, float] = Field(
        description=(
            "How much each input moved this prediction: the predicted class's probability minus"
            " the one obtained with that input set to its training mean."
        )
    )


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
        """The answers from the ONNX outputs (labels, probabilities) of the rows followed,
        per row, by one copy per input with that input at its reference value."""
        labels = contract.labels
        width = len(feature_names)
        probabilities = np.asarray(outputs[1], dtype=np.float32).reshape(-1, len(labels))
        rows = len(probabilities) // (width + 1)
        predicted = np.asarray(outputs[0], dtype=np.intp).reshape(-1)[:rows]
        ablated = probabilities[rows:].reshape(rows, width, len(labels))
        probabilities = probabilities[:rows]
        # Overflowed outputs make NaN here; `overflowed` finds those rows.
        with np.errstate(invalid="ignore"):
            explanations = (
                probabilities[np.arange(rows), predicted][:, np.newaxis]
                - ablated[np.arange(rows), :, predicted]
            )
        return cls(model_version, labels, predicted, probabilities, feature_names, explanations)

    def __len__(self) -> int:
        return len(self.predicted)

    def overflowed(self) -> npt.NDArray[np.bool_]:
        """Rows whose answers are not finite: inputs the model's arithmetic overflowed on."""
        finite = np.isfinite(self.probabilities).all(axis=1)
        return np.asarray(~(finite & np.isfinite(self.explanations).all(axis=1)))

    def predicted_labels(self) -> npt.NDArray[np.object_]:
        return np.asarray(self.labels, dtype=object)[self.predicted]

    def outputs(self) -> list[dict[str, Any]]:
        """Each row's answer as the plain fields of `Prediction`, without the model version."""
        labels = self.predicted_labels().tolist()
        probabilities = self.probabilities.tolist()
        explanations = self.explanations.tolist()
        return [
            {
                "label": label,
                "probabilities": dict(zip(self.labels, row, strict=True)),
                "explanation": dict(zip(self.feature_names, explanation, strict=True)),
            }
            for label, row, explanation in zip(labels, probabilities, explanations, strict=True)
        ]

    def predictions(self) -> list[Prediction]:
        return [Prediction(**output, model_version=self.model_version) for output in self.outputs()]


def empty_outputs(contract: Contract) -> list[npt.NDArray[Any]]:
    """The ONNX outputs for zero rows (some converted models refuse an empty input)."""
    return [np.empty(0, dtype=np.intp), np.empty((0, len(contract.labels)), np.float32)]

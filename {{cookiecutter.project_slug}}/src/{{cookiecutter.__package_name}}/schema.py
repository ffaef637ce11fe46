{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set legal = cookiecutter.legal_review == "yes" -%}
{%- import "core/dataset.j2" as sample -%}
{%- set dataset = sample.datasets[cookiecutter.model_type] -%}
{%- set value_type = "Float32 | None" if cookiecutter.feature_engineering == "yes" else "Float32" -%}
"""What a caller sends (`Features`) and gets back (`Prediction`, or `Scores` for many rows)."""

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: the model computes in float32, and a larger input would become inf."""

Float32 = Annotated[float, Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A finite number that float32 holds."""


class Features(BaseModel):
    """One row to score: the {{ dataset.features | length }} inputs of the {{ dataset.title }} data set.
{%- if cookiecutter.feature_engineering == "yes" %}

    Every field is required and must be a finite number within float32 range, or null when
    the value is missing (the feature pipeline then imputes the training median). Unknown
    fields are rejected.
{%- else %}

    Every field is required and must be a finite number within float32 range. Unknown fields
    are rejected.
{%- endif %}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
{% for name, source in dataset.features %}
    {{ name }}: {{ value_type }} = Field(description={{ sample.descriptions.get(name, source) | tojson }})
{%- endfor %}


class Prediction(BaseModel):
    """The model's answer for one row."""

    model_config = ConfigDict(frozen=True)
{% if cookiecutter.model_type == "regression" %}
    value: float = Field(description="Predicted {{ dataset.target }}.")
{%- else %}
    label: str = Field(description="The most probable class.")
    probabilities: dict[str, float] = Field(description="Probability of each class.")
{%- endif %}
    model_version: str = Field(description="Version of the model that answered.")
{%- if cookiecutter.legal_review == "yes" %}
    explanation: dict[str, float] = Field(
        description=(
            "How much each input moved this prediction: the {% if cookiecutter.model_type == "regression" %}value{% else %}predicted class's probability{% endif %} minus the"
            " one obtained with that input set to its training mean."
        )
    )
{%- endif %}


@dataclass(frozen=True)
class Scores:
    """The model's answers for a batch, one array entry per row.

    Batch consumers write these arrays as columns directly; `predictions()` builds the per-row
    objects a service answers with (that costs microseconds per row, the model call does not).
    """

    model_version: str
{%- if classification %}
    labels: tuple[str, ...]
    predicted: npt.NDArray[np.intp]
    """Index into `labels` of each row's most probable class."""
    probabilities: npt.NDArray[np.float32]
    """(rows, labels): the probability of each class."""
{%- else %}
    values: npt.NDArray[np.float32]
{%- endif %}
{%- if legal %}
    feature_names: tuple[str, ...]
    explanations: npt.NDArray[np.float32]
    """(rows, features): what each input moved the prediction by (see `Prediction`)."""
{%- endif %}

    def __len__(self) -> int:
        return len(self.{% if classification %}predicted{% else %}values{% endif %})
{%- if classification %}

    def predicted_labels(self) -> npt.NDArray[np.object_]:
        return np.asarray(self.labels, dtype=object)[self.predicted]
{%- endif %}

    def outputs(self) -> list[dict[str, Any]]:
        """Each row's answer as the plain fields of `Prediction`, without the model version."""
{%- if classification %}
        labels = self.predicted_labels().tolist()
        probabilities = self.probabilities.tolist()
{%- if legal %}
        explanations = self.explanations.tolist()
        return [
            {
                "label": label,
                "probabilities": dict(zip(self.labels, row, strict=True)),
                "explanation": dict(zip(self.feature_names, explanation, strict=True)),
            }
            for label, row, explanation in zip(labels, probabilities, explanations, strict=True)
        ]
{%- else %}
        return [
            {"label": label, "probabilities": dict(zip(self.labels, row, strict=True))}
            for label, row in zip(labels, probabilities, strict=True)
        ]
{%- endif %}
{%- else %}
{%- if legal %}
        explanations = self.explanations.tolist()
        return [
            {"value": value, "explanation": dict(zip(self.feature_names, explanation, strict=True))}
            for value, explanation in zip(self.values.tolist(), explanations, strict=True)
        ]
{%- else %}
        return [{"value": value} for value in self.values.tolist()]
{%- endif %}
{%- endif %}

    def predictions(self) -> list[Prediction]:
        return [Prediction(**output, model_version=self.model_version) for output in self.outputs()]

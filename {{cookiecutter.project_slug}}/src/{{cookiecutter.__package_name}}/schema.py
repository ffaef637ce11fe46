{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set legal = cookiecutter.legal_review == "yes" -%}
"""What a caller sends (`Features`) and gets back (`Prediction`, or `Scores` for many rows).

`Features` is built from the feature contract (features.yaml) when this module is imported:
one required field per input, typed strictly by its kind, so a caller gets a 422 naming the
field rather than a silent conversion (`true` or `"17.5"` is not a number).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, Strict, create_model

from .contract import Contract, Input, load_contract

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: the model computes in float32, and a larger input would become inf."""

Float32 = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A finite number that float32 holds (an integer is a number too; a boolean is not)."""
Integer = Annotated[int, Strict(), Field(ge=-int(FLOAT32_MAX), le=int(FLOAT32_MAX))]
Boolean = Annotated[bool, Strict()]
Category = Annotated[str, Strict()]
KIND_TYPES: dict[str, Any] = {
    "number": Float32,
    "integer": Integer,
    "boolean": Boolean,
    "category": Category,
}


def field_of(item: Input) -> tuple[Any, Any]:
    """The request field of one input: its type by kind, null allowed when nullable."""
    description = item.description or f"column {item.column!r} of the training data"
    if item.levels:
        description += f"; one of {', '.join(item.levels)} (another level scores as none of them)"
    if item.nullable:
        description += "; null when missing"
    value_type = KIND_TYPES[item.kind] | None if item.nullable else KIND_TYPES[item.kind]
    return value_type, Field(description=description)


def features_model(contract: Contract) -> type[BaseModel]:
    """The request model of one row: a field per input, in the contract's order."""
    fields: dict[str, Any] = {item.name: field_of(item) for item in contract.inputs}
    model: type[BaseModel] = create_model(
        "Features",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One row to score: every input of features.yaml. Unknown fields are rejected.",
        **fields,
    )
    return model


if TYPE_CHECKING:
    # For the type checker a row is a model whose fields are known only at run time.
    Features = BaseModel
else:
    Features = features_model(load_contract())


class Prediction(BaseModel):
    """The model's answer for one row."""

    model_config = ConfigDict(frozen=True)
{% if cookiecutter.model_type == "regression" %}
    value: float = Field(description="The predicted target.")
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

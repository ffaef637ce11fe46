{%- import "core/dataset.j2" as sample -%}
{%- set dataset = sample.datasets[cookiecutter.model_type] -%}
{%- set value_type = "Float32 | None" if cookiecutter.feature_engineering == "yes" else "Float32" -%}
"""What a caller sends (`Features`) and gets back (`Prediction`)."""

from typing import Annotated

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

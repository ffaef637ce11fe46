{%- import "core/dataset.j2" as sample -%}
{%- set dataset = sample.datasets[cookiecutter.model_type] -%}
{%- set trees = cookiecutter.framework != "scikit-learn" -%}
{%- if cookiecutter.feature_engineering == "yes" -%}
"""The model's inputs and the feature pipeline that prepares them.

The pipeline is fitted with the model and exported inside the same ONNX graph, so training
and serving transform features with one implementation and cannot skew.
"""
{%- else -%}
"""The model's inputs."""
{%- endif %}
{%- if cookiecutter.feature_engineering == "yes" %}

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
{%- endif %}

FEATURE_NAMES: tuple[str, ...] = (
{%- for name, _ in dataset.features %}
    "{{ name }}",
{%- endfor %}
)
"""The model's input columns, in the order the model expects them."""
{%- if cookiecutter.feature_engineering == "yes" %}


def build_feature_pipeline() -> "Pipeline":
    """Missing values (null inputs) become the training median{% if not trees %}, then every feature is
    standardised (the linear model's coefficients are then comparable and its solver converges){% endif %}.
{%- if trees %}

    No scaling: trees split on thresholds and do not need it, and scaling in float32 inside the
    ONNX graph rounds values across split thresholds (measured: probabilities off by 0.74).
{%- endif %}

    scikit-learn is imported here, not with the module: serving reads `FEATURE_NAMES` without it.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
{%- if not trees %}
    from sklearn.preprocessing import StandardScaler
{%- endif %}

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
{%- if not trees %}
            ("scale", StandardScaler()),
{%- endif %}
        ]
    )
{%- endif %}

{%- set classification = cookiecutter.model_type != "regression" -%}
"""The estimator: scikit-learn's {{ "logistic regression" if classification else "ridge regression" }}, which skl2onnx converts as is."""

from sklearn.linear_model import {{ "LogisticRegression" if classification else "Ridge" }}

SCALES_INPUTS = True
"""The feature pipeline standardises numbers: a linear model converges on them, and the ONNX
graph's float32 arithmetic stays within the export tolerance of the fitted pipeline's."""


def build_estimator() -> {{ "LogisticRegression" if classification else "Ridge" }}:
    return {{ "LogisticRegression(max_iter=1000)" if classification else "Ridge(alpha=1.0)" }}

{%- import "core/dataset.j2" as sample -%}
{%- set dataset = sample.datasets[cookiecutter.model_type] -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set framework = cookiecutter.framework -%}
{%- set estimator = {
  "scikit-learn": {True: "LogisticRegression", False: "Ridge"},
  "xgboost": {True: "XGBClassifier", False: "XGBRegressor"},
  "lightgbm": {True: "LGBMClassifier", False: "LGBMRegressor"},
}[framework][classification] -%}
{%- set estimator_call = {
  "LogisticRegression": "LogisticRegression(max_iter=1000)",
  "Ridge": "Ridge(alpha=1.0)",
  "XGBClassifier": "XGBClassifier(n_estimators=100, max_depth=3, learning_rate=0.05, n_jobs=1)",
  "XGBRegressor": "XGBRegressor(n_estimators=100, max_depth=3, learning_rate=0.05, n_jobs=1)",
  "LGBMClassifier": "LGBMClassifier(max_depth=3, num_leaves=8, learning_rate=0.05, verbose=-1)",
  "LGBMRegressor": "LGBMRegressor(max_depth=3, num_leaves=8, learning_rate=0.05, verbose=-1)",
}[estimator] -%}
{%- set kind = "classifier" if classification else "regressor" -%}
"""Train the model, check its ONNX export, and write a new artifact version.

    {{ cookiecutter.__package_name }}-train [--models-dir models]

{{ ("The fitted pipeline (" ~ ("feature pipeline and " if cookiecutter.feature_engineering == "yes" else "") ~ estimator ~ ") is exported to ONNX, the format the model is served in. Training refuses to write an artifact whose ONNX predictions differ from the fitted pipeline's on the held-out data by more than `TOLERANCE`.") | wordwrap(92) }}
"""

import argparse
{%- if framework == "lightgbm" %}
import re
{%- endif %}
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
{%- if framework == "lightgbm" %}
from lightgbm import Booster, {{ estimator }}
{%- endif %}
{%- if framework == "xgboost" %}
from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
{%- elif framework == "lightgbm" %}
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
{%- endif %}
from skl2onnx import convert_sklearn{% if framework != "scikit-learn" %}, update_registered_converter{% endif %}
from skl2onnx.common.data_types import FloatTensorType
{%- if framework != "scikit-learn" %}
from skl2onnx.common.shape_calculator import calculate_linear_{{ kind }}_output_shapes
{%- endif %}
{%- if framework == "scikit-learn" %}
from sklearn.linear_model import {{ estimator }}
{%- endif %}
{%- if classification %}
from sklearn.metrics import accuracy_score, f1_score, log_loss{% if cookiecutter.model_type == "binary_classification" %}, roc_auc_score{% endif %}
{%- else %}
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
{%- endif %}
from sklearn.pipeline import Pipeline
{%- if framework == "scikit-learn" and cookiecutter.feature_engineering == "no" %}
from sklearn.preprocessing import StandardScaler
{%- endif %}
{%- if framework == "xgboost" %}
from xgboost import {{ estimator }}
{%- endif %}

from .artifact import FeatureRange, Metadata, TrainingData, installed_versions, save
from .data import {% if classification %}LABELS, {% endif %}Dataset, load_dataset, split
from .features import FEATURE_NAMES{% if cookiecutter.feature_engineering == "yes" %}, build_feature_pipeline{% endif %}

ONNX_INPUT = "features"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
TOLERANCE = 1e-6
"""Largest accepted difference between ONNX and the fitted pipeline{% if classification %} (probabilities){% else %}, relative to the
value when it exceeds 1 (float32, the ONNX type, resolves 150 only to about 1.5e-5){% endif %}."""
REFERENCE_ROWS = 5000
"""Training rows kept in the artifact as the reference for drift checks{% if cookiecutter.legal_review == "yes" %} and explanations{% endif %}."""
{%- if framework != "scikit-learn" %}

update_registered_converter(
    {{ estimator }},
    "{{ "XGBoost" if framework == "xgboost" else "LightGbm" }}{{ estimator }}",
    calculate_linear_{{ kind }}_output_shapes,
    convert_{{ framework }},
{%- if classification %}
    options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
{%- endif %}
)
{%- endif %}


class ExportError(Exception):
    """The ONNX export does not reproduce the fitted pipeline."""


def build_model() -> Pipeline:
    model = {{ estimator_call }}
{%- if cookiecutter.feature_engineering == "yes" %}
    return Pipeline([("features", build_feature_pipeline()), ("model", model)])
{%- elif framework == "scikit-learn" %}
    # Standardising is part of fitting a linear model: the solver converges, and the ONNX
    # graph's float32 arithmetic stays within TOLERANCE of the fitted pipeline's.
    return Pipeline([("scale", StandardScaler()), ("model", model)])
{%- else %}
    return Pipeline([("model", model)])
{%- endif %}
{%- if framework == "lightgbm" %}


def round_thresholds_down(model: {{ estimator }}) -> None:
    """Make LightGBM's float64 split thresholds exact in float32, without changing a split.

    The ONNX graph compares float32 inputs with float32 thresholds. Rounding a threshold to
    the nearest float32 can move it onto an input value and send that row the other way
    (measured on the diabetes sample data: a prediction off by 3.0). For a float32 input x,
    `x <= t` holds exactly when `x <= t32`, t32 the largest float32 not above t.
    """

    def round_down(match: re.Match[str]) -> str:
        thresholds = []
        for text in match.group(1).split():
            threshold = np.float32(text)
            if threshold > float(text):
                threshold = np.nextafter(threshold, np.float32(-np.inf))
            thresholds.append(repr(float(threshold)))
        return "threshold=" + " ".join(thresholds)

    text = re.sub(r"^threshold=(.*)$", round_down, model.booster_.model_to_string(), flags=re.M)
    # The header's byte sizes of the trees no longer hold: without them the trees are read
    # one after the other.
    text = re.sub(r"^tree_sizes=.*\n", "", text, flags=re.M)
    model._Booster = Booster(model_str=text)
{%- endif %}


def fit(training: Dataset) -> Pipeline:
    """The model fitted to the training rows{% if framework == "lightgbm" %}, its thresholds made exact in float32{% endif %}."""
    pipeline = build_model().fit(training.features, training.target)
{%- if framework == "lightgbm" %}
    round_thresholds_down(pipeline.steps[-1][1])
{%- endif %}
    return pipeline


def evaluate(pipeline: Pipeline, held_out: Dataset) -> dict[str, float]:
    """Metrics on the held-out data."""
{%- if classification %}
    predicted = pipeline.predict(held_out.features)
    probabilities = pipeline.predict_proba(held_out.features)
    return {
        "accuracy": float(accuracy_score(held_out.target, predicted)),
{%- if cookiecutter.model_type == "binary_classification" %}
        "f1": float(f1_score(held_out.target, predicted)),
        "roc_auc": float(roc_auc_score(held_out.target, probabilities[:, 1])),
{%- else %}
        "f1_macro": float(f1_score(held_out.target, predicted, average="macro")),
{%- endif %}
        "log_loss": float(log_loss(held_out.target, probabilities)),
    }
{%- else %}
    predicted = pipeline.predict(held_out.features)
    return {
        "rmse": float(root_mean_squared_error(held_out.target, predicted)),
        "mae": float(mean_absolute_error(held_out.target, predicted)),
        "r2": float(r2_score(held_out.target, predicted)),
    }
{%- endif %}


def export_onnx(pipeline: Pipeline) -> bytes:
    """The fitted pipeline as an ONNX graph: float32 rows in, {% if classification %}labels and probabilities{% else %}values{% endif %} out."""
    onnx_model = convert_sklearn(
        pipeline,
        initial_types=[(ONNX_INPUT, FloatTensorType([None, len(FEATURE_NAMES)]))],
{%- if classification %}
        options={id(pipeline.steps[-1][1]): {"zipmap": False}},
{%- endif %}
        target_opset=TARGET_OPSET,
    )
    serialized: bytes = onnx_model.SerializeToString()
    return serialized


def check_export(pipeline: Pipeline, onnx_model: bytes, held_out: Dataset) -> float:
    """The largest difference between ONNX and the pipeline on held-out rows; refuses above
    `TOLERANCE`{% if classification %} or when a predicted label differs{% endif %}."""
    session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {ONNX_INPUT: held_out.features})
{%- if classification %}
    if not np.array_equal(outputs[0], pipeline.predict(held_out.features)):
        raise ExportError("the ONNX export predicts other labels than the fitted pipeline")
    expected = pipeline.predict_proba(held_out.features)
    difference = float(np.max(np.abs(outputs[1] - expected)))
{%- else %}
    expected = pipeline.predict(held_out.features)
    difference = float(
        np.max(np.abs(outputs[0].reshape(-1) - expected) / np.maximum(1.0, np.abs(expected)))
    )
{%- endif %}
    if difference > TOLERANCE:
        raise ExportError(
            f"the ONNX export differs from the fitted pipeline by {difference:.2e} on held-out"
            f" data (tolerance {TOLERANCE:.0e}): no artifact written"
        )
    return difference


def train(models_dir: Path) -> Path:
    """Fit, evaluate, export and save a new version; returns its directory."""
    dataset = load_dataset()
    training, held_out = split(dataset)
    pipeline = fit(training)
    onnx_model = export_onnx(pipeline)
    difference = check_export(pipeline, onnx_model, held_out)
    fingerprint = dataset.fingerprint()
    created_at = datetime.now(UTC)
    metadata = Metadata(
        version=f"{created_at:%Y%m%dT%H%M%S%fZ}-{fingerprint[:8]}",
        created_at=created_at,
        model_type="{{ cookiecutter.model_type }}",
        estimator="{{ estimator }}",
        libraries=installed_versions(),
        data=TrainingData(
            name="{{ dataset.name }} (scikit-learn sample data)",
            sha256=fingerprint,
            rows=len(training.features),
            held_out_rows=len(held_out.features),
        ),
        metrics=evaluate(pipeline, held_out) | {"onnx_max_difference": difference},
        input_schema=[
            FeatureRange(name=name, min=float(low), max=float(high))
            for name, low, high in zip(
                FEATURE_NAMES,
                np.nanmin(training.features, axis=0),
                np.nanmax(training.features, axis=0),
                strict=True,
            )
        ],
{%- if classification %}
        labels=list(LABELS),
{%- endif %}
    )
    # The training split is shuffled: its first rows are a random sample.
    reference = training.features[:REFERENCE_ROWS]
    return save(models_dir, metadata, onnx_model, pipeline, reference)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the model and write a new artifact.")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    try:
        directory = train(args.models_dir)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"model {directory.name} written to {directory}, now current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

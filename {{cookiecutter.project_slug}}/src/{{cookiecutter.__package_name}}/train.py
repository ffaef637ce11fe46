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

    {{ cookiecutter.__package_name }}-train [--data table.csv|table.parquet] [--models-dir models]

{{ ("The data is read per the feature contract, features.yaml (default: the sample data set; see data.py). The fitted pipeline (feature pipeline and " ~ estimator ~ ") is exported to ONNX, the format the model is served in. Training refuses to write an artifact whose ONNX predictions differ from the fitted pipeline's on the held-out data by more than `TOLERANCE`.") | wordwrap(92) }}
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
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
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
{%- if framework == "xgboost" %}
from xgboost import {{ estimator }}
{%- endif %}

from .artifact import Metadata, TrainingData, installed_versions, save
from .contract import CATEGORIES_INPUT, NUMBERS_INPUT, Contract, ContractError, load_contract
from .data import DataError, Dataset, load_dataset, split
from .features import build_feature_pipeline, model_frame
from .settings import Settings

SCALES_INPUTS = {{ "True" if framework == "scikit-learn" else "False" }}
"""Whether the feature pipeline standardises numbers: a linear model converges on them, and
the ONNX graph's float32 arithmetic stays within `TOLERANCE` of the fitted pipeline's."""
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


def build_model(contract: Contract) -> Pipeline:
    model = {{ estimator_call }}
    features = build_feature_pipeline(contract, scale=SCALES_INPUTS)
    return Pipeline([("features", features), ("model", model)])
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


def fit(training: Dataset, contract: Contract) -> Pipeline:
    """The model fitted to the training rows{% if framework == "lightgbm" %}, its thresholds made exact in float32{% endif %}."""
    pipeline = build_model(contract).fit(model_frame(training.columns, contract), training.target)
{%- if framework == "lightgbm" %}
    round_thresholds_down(pipeline.steps[-1][1])
{%- endif %}
    return pipeline


def evaluate(pipeline: Pipeline, held_out: Dataset, contract: Contract) -> dict[str, float]:
    """Metrics on the held-out data."""
    frame = model_frame(held_out.columns, contract)
{%- if classification %}
    predicted = pipeline.predict(frame)
    probabilities = pipeline.predict_proba(frame)
    return {
        "accuracy": float(accuracy_score(held_out.target, predicted)),
{%- if cookiecutter.model_type == "binary_classification" %}
        "f1": float(f1_score(held_out.target, predicted)),
        "roc_auc": float(roc_auc_score(held_out.target, probabilities[:, 1])),
{%- else %}
        "f1_macro": float(f1_score(held_out.target, predicted, average="macro")),
{%- endif %}
        "log_loss": float(
            log_loss(held_out.target, probabilities, labels=range(len(contract.labels)))
        ),
    }
{%- else %}
    predicted = pipeline.predict(frame)
    return {
        "rmse": float(root_mean_squared_error(held_out.target, predicted)),
        "mae": float(mean_absolute_error(held_out.target, predicted)),
        "r2": float(r2_score(held_out.target, predicted)),
    }
{%- endif %}


def export_onnx(pipeline: Pipeline, contract: Contract) -> bytes:
    """The fitted pipeline as an ONNX graph: a float32 block and a text block of inputs in,
    {% if classification %}labels and probabilities{% else %}values{% endif %} out."""
    inputs = []
    if contract.numbers:
        inputs.append((NUMBERS_INPUT, FloatTensorType([None, len(contract.numbers)])))
    if contract.categories:
        inputs.append((CATEGORIES_INPUT, StringTensorType([None, len(contract.categories)])))
    onnx_model = convert_sklearn(
        pipeline,
        initial_types=inputs,
{%- if classification %}
        options={id(pipeline.steps[-1][1]): {"zipmap": False}},
{%- endif %}
        target_opset=TARGET_OPSET,
    )
    serialized: bytes = onnx_model.SerializeToString()
    return serialized


def check_export(
    pipeline: Pipeline, onnx_model: bytes, held_out: Dataset, contract: Contract
) -> float:
    """The largest difference between ONNX and the pipeline on held-out rows; refuses above
    `TOLERANCE`{% if classification %} or when a predicted label differs{% endif %}."""
    session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    outputs = session.run(None, held_out.columns.feeds())
    frame = model_frame(held_out.columns, contract)
{%- if classification %}
    if not np.array_equal(outputs[0], pipeline.predict(frame)):
        raise ExportError("the ONNX export predicts other labels than the fitted pipeline")
    expected = pipeline.predict_proba(frame)
    difference = float(np.max(np.abs(outputs[1] - expected)))
{%- else %}
    expected = pipeline.predict(frame)
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


def trained_contract(contract: Contract, training: Dataset) -> Contract:
    """The contract with the training range of every number and integer."""
    inputs = []
    for index, item in enumerate(contract.numbers):
        values = training.columns.numbers[:, index]
        if item.kind in ("number", "integer") and not np.isnan(values).all():
            item = item.model_copy(
                update={"min": float(np.nanmin(values)), "max": float(np.nanmax(values))}
            )
        inputs.append(item)
    by_name = {item.name: item for item in (*inputs, *contract.categories)}
    return contract.model_copy(update={"inputs": tuple(by_name[i.name] for i in contract.inputs)})


def train(models_dir: Path, data: Path | None = None) -> Path:
    """Fit, evaluate, export and save a new version on `data` (default: the sample data
    set); returns its directory."""
    contract = load_contract()
    contract.check_model_type()
    dataset = load_dataset(data, contract)
    if dataset.dropped:
        print(f"{dataset.dropped} rows without a target left out", file=sys.stderr)
    training, held_out = split(dataset)
    pipeline = fit(training, contract)
    onnx_model = export_onnx(pipeline, contract)
    difference = check_export(pipeline, onnx_model, held_out, contract)
    fingerprint = dataset.fingerprint(contract)
    created_at = datetime.now(UTC)
    metadata = Metadata(
        version=f"{created_at:%Y%m%dT%H%M%S%fZ}-{fingerprint[:8]}",
        created_at=created_at,
        model_type="{{ cookiecutter.model_type }}",
        estimator="{{ estimator }}",
        libraries=installed_versions(),
        data=TrainingData(
            name=str(data) if data else "the sample data set",
            sha256=fingerprint,
            rows=len(training),
            held_out_rows=len(held_out),
        ),
        metrics=evaluate(pipeline, held_out, contract) | {"onnx_max_difference": difference},
        contract=trained_contract(contract, training),
    )
    # The training split is shuffled: its first rows are a random sample.
    reference = training.columns.take(np.arange(min(REFERENCE_ROWS, len(training))))
    return save(models_dir, metadata, onnx_model, pipeline, reference)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the model and write a new artifact.")
    parser.add_argument(
        "--data",
        type=Path,
        default=Settings().training_data,
        help="a CSV or Parquet table per features.yaml (default: the training_data setting,"
        " else the sample data set)",
    )
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    try:
        directory = train(args.models_dir, args.data)
    except (ExportError, ContractError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"model {directory.name} written to {directory}, now current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

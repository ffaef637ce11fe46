"""Train the model, check its ONNX export, and write a new artifact version.

    {{ cookiecutter.__package_name }}-train [--data table.csv|table.parquet] [--models-dir models]

The data is read per the feature contract, features.yaml (default: the sample data set; see
data.py). The fitted pipeline (the feature pipeline of features.py and the estimator of
estimator.py) is exported to ONNX, the format the model is served in. Training refuses to
write an artifact whose ONNX predictions differ from the fitted pipeline's on the held-out
data by more than `TOLERANCE` (see evaluation.py).
"""

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pydantic import SecretStr
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from .artifact import Metadata, TrainingData, installed_versions, save
from .contract import (
    CATEGORIES_INPUT,
    MODEL_TYPE,
    NUMBERS_INPUT,
    Contract,
    ContractError,
    load_contract,
)
from .data import DataError, Dataset, load_dataset, split
from .estimator import SCALES_INPUTS, build_estimator
from .evaluation import TOLERANCE, ExportError, evaluate, export_difference, export_options
from .features import build_feature_pipeline, model_frame
from .settings import Settings

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
REFERENCE_ROWS = 5000
"""Training rows kept in the artifact: the reference that drift is measured against."""


def build_model(contract: Contract) -> Pipeline:
    features = build_feature_pipeline(contract, scale=SCALES_INPUTS)
    return Pipeline([("features", features), ("model", build_estimator())])


def fit(training: Dataset, contract: Contract) -> Pipeline:
    """The model fitted to the training rows."""
    return build_model(contract).fit(model_frame(training.columns, contract), training.target)


def export_onnx(pipeline: Pipeline, contract: Contract) -> bytes:
    """The fitted pipeline as one ONNX graph: a float32 block and a text block of inputs in,
    the model's answers out."""
    inputs = []
    if contract.numbers:
        inputs.append((NUMBERS_INPUT, FloatTensorType([None, len(contract.numbers)])))
    if contract.categories:
        inputs.append((CATEGORIES_INPUT, StringTensorType([None, len(contract.categories)])))
    onnx_model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options=export_options(pipeline),
        target_opset=TARGET_OPSET,
    )
    serialized: bytes = onnx_model.SerializeToString()
    return serialized


def check_export(
    pipeline: Pipeline, onnx_model: bytes, held_out: Dataset, contract: Contract
) -> float:
    """The largest difference between ONNX and the pipeline on held-out rows; refuses above
    `TOLERANCE` (see `evaluation.export_difference`)."""
    session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    outputs = session.run(None, held_out.columns.feeds())
    difference = export_difference(pipeline, outputs, held_out, contract)
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


def train(models_dir: Path, data: Path | None = None, signing_key: SecretStr | None = None) -> Path:
    """Fit, evaluate, export and save a new version on `data` (default: the sample data
    set), its metadata signed with `signing_key` if given; returns its directory."""
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
        model_type=MODEL_TYPE,
        estimator=type(pipeline.steps[-1][1]).__name__,
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
    return save(models_dir, metadata, onnx_model, pipeline, reference, signing_key)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the model and write a new artifact.")
    settings = Settings()
    parser.add_argument(
        "--data",
        type=Path,
        default=settings.training_data,
        help="a CSV or Parquet table per features.yaml (default: the training_data setting,"
        " else the sample data set)",
    )
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    try:
        directory = train(args.models_dir, args.data, settings.model_signing_key)
    except (ExportError, ContractError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"model {directory.name} written to {directory}, now current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

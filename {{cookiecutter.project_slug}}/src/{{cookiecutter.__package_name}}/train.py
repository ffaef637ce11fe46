"""Train the model, check its ONNX export, and write a new artifact version.

    {{ cookiecutter.__package_name }}-train [--data table.csv|table.parquet] [--models-dir models]

The data is read per the feature contract, features.yaml (default: the sample data set; see
data.py). The fitted pipeline (the feature pipeline of features.py and the estimator of
estimator.py) is exported to ONNX, the format the model is served in. Training refuses to
write an artifact whose ONNX predictions differ from the fitted pipeline's on the held-out
data by more than `TOLERANCE` (see evaluation.py).

Each run reports the held-out metrics beside a baseline's (the class prior, or the mean)
and the current version's on the same rows, writes the report's figures beside the version
and, for a binary classifier, chooses the decision threshold by the `threshold_rule`
setting. The new version becomes current only if the promotion gate lets it (promotion.py):
otherwise it stays a candidate, and the command says why and exits 1.
"""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from .artifact import (
    ArtifactError,
    Comparison,
    Metadata,
    TrainingData,
    current_version,
    installed_versions,
    load_held_out,
    load_metadata,
    load_pipeline,
    save,
)
from .contract import (
    CATEGORIES_INPUT,
    MISSING_LEVEL,
    MODEL_TYPE,
    NUMBERS_INPUT,
    Columns,
    Contract,
    ContractError,
    load_contract,
)
from .data import DataError, Dataset, load_dataset, split
from .estimator import SCALES_INPUTS, build_estimator
from .evaluation import (
    HIGHER_IS_BETTER,
    PROMOTION_METRIC,
    TOLERANCE,
    ExportError,
    baseline,
    choose_threshold,
    evaluate,
    export_difference,
    export_options,
)
from .features import build_feature_pipeline, model_frame
from .promotion import move, refusal
from .report import figures, summary, write_card
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


@dataclass(frozen=True)
class Trained:
    """A new version, and whether it became current (and why, or why not)."""

    directory: Path
    metadata: Metadata
    promoted: bool
    reason: str


def data_in_numbers(dataset: Dataset, contract: Contract) -> dict[str, dict[str, int]]:
    """Rows per class (classifiers) and missing values per input, in the whole table."""
    gaps = dict(
        zip(
            (item.name for item in contract.numbers),
            np.isnan(dataset.columns.numbers).sum(axis=0).tolist(),
            strict=True,
        )
    )
    for index, item in enumerate(contract.categories):
        gaps[item.name] = int((dataset.columns.categories[:, index] == MISSING_LEVEL).sum())
    classes = {}
    if contract.labels:
        counts = np.bincount(dataset.target, minlength=len(contract.labels)).tolist()
        classes = dict(zip(contract.labels, counts, strict=True))
    return {"classes": classes, "gaps": {name: gaps[name] for name in contract.names}}


def compare(
    models_dir: Path,
    pipeline: Pipeline,
    threshold: float | None,
    held_out: Dataset,
    contract: Contract,
) -> Comparison | None:
    """The current version and the new one (`pipeline`, `threshold`) measured on the same
    rows: the new held-out rows and the ones the current version was measured on (a model
    of a broken table fails on those). None when there is no current version or it cannot be
    loaded any more (other library versions, other inputs): nothing to compare with."""
    if current_version(models_dir) is None:
        return None
    pointer = models_dir / "current"
    try:
        directory, metadata = load_metadata(pointer)
        current = load_pipeline(pointer)
        stored = load_held_out(directory, metadata)
    except ArtifactError as error:
        print(f"the current version is not compared: {error}", file=sys.stderr)
        return None
    rows = held_out
    if stored is not None:
        columns, target = stored
        rows = Dataset(
            Columns(
                np.concatenate([held_out.columns.numbers, columns.numbers]),
                np.concatenate([held_out.columns.categories, columns.categories]),
            ),
            np.concatenate([held_out.target, target]),
        )
    return Comparison(
        version=metadata.version,
        rows=len(rows),
        metrics=evaluate(current, rows, contract, metadata.threshold),
        new_metrics=evaluate(pipeline, rows, contract, threshold),
    )


def train(models_dir: Path, data: Path | None = None, settings: Settings | None = None) -> Trained:
    """Fit, evaluate, export and save a new version on `data` (default: the sample data
    set), then promote it if the gate lets it; `settings` (default: the environment's) say
    how it is signed, its threshold chosen and its promotion decided."""
    settings = settings or Settings()
    contract = load_contract()
    contract.check_model_type()
    dataset = load_dataset(data, contract)
    if dataset.dropped:
        print(f"{dataset.dropped} rows without a target left out", file=sys.stderr)
    training, held_out = split(dataset)
    pipeline = fit(training, contract)
    onnx_model = export_onnx(pipeline, contract)
    difference = check_export(pipeline, onnx_model, held_out, contract)
    threshold = choose_threshold(pipeline, held_out, contract, settings.threshold_rule)
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
            **data_in_numbers(dataset, contract),
        ),
        metrics=evaluate(pipeline, held_out, contract, threshold)
        | {"onnx_max_difference": difference},
        baseline=evaluate(baseline(training), held_out, contract),
        previous=compare(models_dir, pipeline, threshold, held_out, contract),
        threshold=threshold,
        threshold_rule=None if threshold is None else settings.threshold_rule,
        contract=trained_contract(contract, training),
    )
    drawn = figures(pipeline, held_out, dataset, contract, threshold, settings.importance_repeats)
    # The training split is shuffled: its first rows are a random sample.
    reference = training.columns.take(np.arange(min(REFERENCE_ROWS, len(training))))
    directory = save(
        models_dir,
        metadata,
        onnx_model,
        pipeline,
        reference,
        settings.model_signing_key,
        drawn,
        (held_out.columns, held_out.target),
    )
    metric = settings.promotion_metric or PROMOTION_METRIC
    if metadata.previous is None:
        reason = "the first version comparable with features.yaml"
    else:
        refused = refusal(
            metric,
            HIGHER_IS_BETTER.get(metric, True),
            settings.promotion_tolerance,
            metadata.previous.new_metrics,
            metadata.previous.metrics,
        )
        if refused is not None:
            return Trained(directory, metadata, promoted=False, reason=refused)
        reason = (
            f"{metric} {metadata.previous.new_metrics[metric]:.4f}, current"
            f" {metadata.previous.version}"
            f" {metadata.previous.metrics[metric]:.4f} (tolerance {settings.promotion_tolerance:g})"
        )
    move(models_dir, metadata.version, f"trained: {reason}")
    write_card(metadata, models_dir)
    return Trained(directory, metadata, promoted=True, reason=reason)


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
        trained = train(args.models_dir, args.data, settings)
    except (ExportError, ContractError, DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary(trained.metadata))
    version = trained.metadata.version
    if not trained.promoted:
        print(
            f"error: model {version} not promoted: {trained.reason}; it stays a candidate"
            f" in {trained.directory} (make promote VERSION={version} serves it anyway)",
            file=sys.stderr,
        )
        return 1
    print(f"model {version} written to {trained.directory}, now current ({trained.reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

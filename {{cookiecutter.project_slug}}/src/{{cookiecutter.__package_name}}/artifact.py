"""The versioned model artifact and the metadata that says what made it.

    models/
      20260101T020000123456Z-3f2a1b9c/  one directory per trained version, never modified
        model.onnx                the feature pipeline and the model: what serving runs
        model.skops               the fitted scikit-learn pipeline, for inspection and retraining
        metadata.json             library versions, data fingerprint, metrics, the feature
                                  contract trained on (with the training range of each number),
                                  the sha256 of every other file of the version
        reference.npz             a sample of the training inputs (the drift reference)
      current                     a text file naming the version to serve

Loading refuses an artifact made by other library versions than the running ones, a file
whose sha256 differs from the one recorded at training, and a `current` that points outside
the models directory. Nothing here unpickles: ONNX and JSON are data, and skops loads only
the types listed below.
"""

import hashlib
import zipfile
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ValidationError

from . import framework
from .contract import Columns, Contract, load_contract

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.onnx"
PIPELINE_FILE = "model.skops"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.npz"
POINTER_FILE = "current"
HASHED_FILES = (MODEL_FILE, PIPELINE_FILE, REFERENCE_FILE)
"""The files of a version whose sha256 the metadata records and loading verifies."""

LIBRARIES = ("numpy", "onnxruntime", "onnx", "scikit-learn", "skl2onnx", *framework.LIBRARIES)
"""Libraries whose version shapes the artifact or its predictions. Training records them all;
loading compares the ones installed (a serving image has only numpy and onnxruntime)."""

TRUSTED_PIPELINE_TYPES = frozenset({"numpy.dtype"}) | framework.PIPELINE_TYPES
"""Types outside skops' default allow-list that the fitted pipeline is made of."""


class ArtifactError(Exception):
    """The artifact cannot be used: missing, incomplete, altered, malformed, or made by other
    library versions."""


class TrainingData(BaseModel):
    name: str
    sha256: str
    rows: int
    held_out_rows: int


class Metadata(BaseModel):
    version: str
    created_at: datetime
    model_type: str
    estimator: str
    libraries: dict[str, str]
    data: TrainingData
    metrics: dict[str, float]
    contract: Contract
    """The feature contract the model was trained with; `min`/`max` are the training range."""
    files: dict[str, str] = {}
    """sha256 of each of `HASHED_FILES`, recorded by `save`."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.contract.names

    def takes(self, contract: Contract) -> bool:
        """Whether the model takes the inputs and predicts the target `contract` describes
        (ranges and descriptions aside)."""
        ignored = {"min", "max", "description"}
        trained = [item.model_dump(exclude=ignored) for item in self.contract.inputs]
        wanted = [item.model_dump(exclude=ignored) for item in contract.inputs]
        return trained == wanted and self.contract.target == contract.target


def installed_versions() -> dict[str, str]:
    """Versions of the `LIBRARIES` installed in the running environment."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def resolve(model_dir: Path) -> Path:
    """The version directory `model_dir` names: itself, or the one a pointer file names.

    A pointer must name a directory inside its own models directory (no `..`, no absolute
    path, no link leading elsewhere).
    """
    if not model_dir.is_file():
        return model_dir
    models = model_dir.parent.resolve()
    try:
        name = model_dir.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as error:
        raise ArtifactError(f"{model_dir} does not name a model version: {error}") from error
    directory = (models / name).resolve()
    if directory.parent != models:
        raise ArtifactError(
            f"{model_dir} points at {name!r}, outside {models}: it must name a version"
            " directory inside the models directory"
        )
    return directory


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(directory: Path, metadata: Metadata) -> None:
    """Refuse a version whose files differ from the ones training wrote."""
    for name in HASHED_FILES:
        path = directory / name
        recorded = metadata.files.get(name)
        if recorded is None:
            raise ArtifactError(
                f"model {metadata.version} records no sha256 for {name}: retrain (make train)"
            )
        if not path.is_file():
            raise ArtifactError(f"model {metadata.version} is incomplete: {path} is missing")
        if sha256(path) != recorded:
            raise ArtifactError(
                f"{path} differs from the file model {metadata.version} was trained with"
                " (sha256 mismatch): not loading it; retrain or restore the version"
            )


def load_metadata(model_dir: Path) -> tuple[Path, Metadata]:
    """The version directory and its metadata; refuses other library versions.

    Raises ArtifactError with a one-line message when the artifact is missing or unusable.
    """
    directory = resolve(model_dir)
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"no model artifact at {model_dir}: train one first (make train)")
    try:
        metadata = Metadata.model_validate_json(path.read_bytes())
    except ValidationError as error:
        problem = error.errors()[0]["msg"]
        raise ArtifactError(f"{path} is not valid model metadata: {problem}") from error
    mismatches = [
        f"{name} {recorded} (installed: {installed})"
        for name, installed in installed_versions().items()
        if (recorded := metadata.libraries.get(name)) is not None and recorded != installed
    ]
    if mismatches:
        raise ArtifactError(
            f"model {metadata.version} was made with {', '.join(mismatches)}: install the pinned"
            " versions or retrain (make train)"
        )
    verify_files(directory, metadata)
    if not metadata.takes(load_contract()):
        raise ArtifactError(
            f"model {metadata.version} takes other inputs or predicts another target than"
            " features.yaml describes: retrain (make train)"
        )
    return directory, metadata


def load_reference(directory: Path) -> Columns:
    """The sample of training inputs stored with the model."""
    path = directory / REFERENCE_FILE
    try:
        with np.load(path, allow_pickle=False) as reference:
            numbers, categories = reference["numbers"], reference["categories"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"{path} is not a reference sample: {error}") from error
    if numbers.dtype != np.float32 or numbers.ndim != 2 or categories.ndim != 2:
        raise ArtifactError(
            f"{path} holds {numbers.dtype} numbers of {numbers.ndim} dimensions and categories"
            f" of {categories.ndim}: expected a float32 table and a text table"
        )
    return Columns(numbers, categories.astype(object))


def load_pipeline(model_dir: Path) -> "Pipeline":
    """The fitted scikit-learn pipeline, for inspection and retraining (needs the train extra).

    skops refuses every type outside its allow-list and `TRUSTED_PIPELINE_TYPES`, so a
    tampered file cannot run code on load.
    """
    from skops.io import get_untrusted_types, load

    directory, _ = load_metadata(model_dir)
    path = directory / PIPELINE_FILE
    try:
        untrusted = set(get_untrusted_types(file=path))
        if unexpected := untrusted - TRUSTED_PIPELINE_TYPES:
            raise ArtifactError(
                f"{path} holds unexpected types {sorted(unexpected)}: not loading it"
            )
        pipeline: Pipeline = load(path, trusted=sorted(untrusted))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"{path} is not a skops file: {error}") from error
    return pipeline


def save(
    models_dir: Path,
    metadata: Metadata,
    onnx_model: bytes,
    pipeline: "Pipeline",
    reference: Columns,
) -> Path:
    """Write a new version directory, then point `models_dir/current` at it.

    The directory is complete before the pointer moves (both steps are atomic renames), so
    a reader never sees a half-written model.
    """
    from skops.io import dump

    directory = models_dir / metadata.version
    staging = models_dir / f".{metadata.version}.partial"
    staging.mkdir(parents=True)
    (staging / MODEL_FILE).write_bytes(onnx_model)
    dump(pipeline, staging / PIPELINE_FILE)
    # Text as a fixed-width unicode array: loading it needs no pickle.
    categories = reference.categories.astype(str)
    np.savez_compressed(staging / REFERENCE_FILE, numbers=reference.numbers, categories=categories)
    files = {name: sha256(staging / name) for name in HASHED_FILES}
    metadata_json = metadata.model_copy(update={"files": files}).model_dump_json(indent=2) + "\n"
    (staging / METADATA_FILE).write_text(metadata_json, encoding="utf-8")
    staging.rename(directory)
    pointer = models_dir / f".{POINTER_FILE}.partial"
    pointer.write_text(metadata.version + "\n", encoding="utf-8")
    pointer.replace(models_dir / POINTER_FILE)
    return directory

"""The versioned model artifact and the metadata that says what made it.

    models/
      20260101T020000123456Z-3f2a1b9c/  one directory per trained version, never modified
        model.onnx                the feature pipeline and the model: what serving runs
        model.skops               the fitted scikit-learn pipeline, for inspection and retraining
        metadata.json             library versions, data fingerprint, metrics, the feature
                                  contract trained on (with the training range of each number),
                                  the sha256 of every other file of the version
        reference.npz             a sample of the training inputs (the drift reference)
        held_out.npz              the held-out rows, which the next version is compared on
        metadata.sig              HMAC-SHA256 of metadata.json, when a signing key is set
        report/                   the training report's figures (train.py, report.py)
      current                     a text file naming the version to serve
      history.jsonl               every move of `current`: when, from, to, why (promotion.py)

Loading refuses an artifact made by other library versions than the running ones, a file
whose sha256 differs from the one recorded at training, a `current` that points outside
the models directory, a symbolic link or a world-writable file or directory in the version,
and a metadata.json over `METADATA_MAX_BYTES` or with keys it does not know. Nothing here
unpickles: ONNX and JSON are data, and skops loads only the types listed below.

The sha256s protect the files against change, not against whoever can write the models
directory: they can swap the model and metadata.json together. A team for which that
matters sets `model_signing_key`: training then signs metadata.json (HMAC-SHA256, in
`SIGNATURE_FILE`) and loading refuses a version whose signature is missing or wrong.
"""

import hashlib
import hmac
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import framework
from .contract import Columns, Contract, load_contract

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.onnx"
PIPELINE_FILE = "model.skops"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.npz"
HELD_OUT_FILE = "held_out.npz"
"""The held-out rows (inputs and target) the next version is compared on (promotion.py)."""
SIGNATURE_FILE = "metadata.sig"
POINTER_FILE = "current"
REPORT_DIR = "report"
"""The training report's figures, in the version directory (not hashed: nothing loads them)."""
HASHED_FILES = (MODEL_FILE, PIPELINE_FILE, REFERENCE_FILE)
"""The files of a version whose sha256 the metadata records and loading verifies."""

METADATA_MAX_BYTES = 4 * 1024 * 1024
"""The largest metadata.json loading reads: a thousand inputs take a few hundred kilobytes,
and a larger file is refused before it is parsed."""

LIBRARIES = ("numpy", "onnxruntime", "onnx", "scikit-learn", "skl2onnx", *framework.LIBRARIES)
"""Libraries whose version shapes the artifact or its predictions. Training records them all;
loading compares the ones installed (a serving image has only numpy and onnxruntime)."""

TRUSTED_PIPELINE_TYPES = frozenset({"numpy.dtype"}) | framework.PIPELINE_TYPES
"""Types outside skops' default allow-list that the fitted pipeline is made of."""


class ArtifactError(Exception):
    """The artifact cannot be used: missing, incomplete, altered, malformed, or made by other
    library versions."""


SIGNING_KEY_MIN_LENGTH = 32


class ArtifactSettings(BaseSettings):
    """How artifacts are signed (a part of `Settings`)."""

    model_config = SettingsConfigDict(
        env_prefix="{{ cookiecutter.__package_name | upper }}_",
        env_file=".env",
        extra="ignore",
    )

    model_signing_key: SecretStr | None = None
    """A secret of at least `SIGNING_KEY_MIN_LENGTH` characters; when set, training signs
    metadata.json with it and loading refuses a version it did not sign. Unset: versions
    are neither signed nor checked."""

    @field_validator("model_signing_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < SIGNING_KEY_MIN_LENGTH:
            raise ValueError(f"a signing key has at least {SIGNING_KEY_MIN_LENGTH} characters")
        return key

    @field_serializer("model_signing_key", when_used="json")
    def _shipped_whole(self, key: SecretStr | None) -> str | None:
        """The key itself in JSON: the batch engines ship the settings to their workers so."""
        return None if key is None else key.get_secret_value()


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str
    rows: int
    held_out_rows: int
    classes: dict[str, int] = {}
    """Rows of each class in the whole table (classifiers; empty for a regressor)."""
    gaps: dict[str, int] = {}
    """Missing values of each input in the whole table."""


class Comparison(BaseModel):
    """The version that was current when this one was trained, and this one, measured on the
    same rows: this version's held-out rows and the current one's (`HELD_OUT_FILE`)."""

    model_config = ConfigDict(extra="forbid")

    version: str
    rows: int
    metrics: dict[str, float]
    """The current version's metrics on the comparison rows."""
    new_metrics: dict[str, float]
    """This version's metrics on the same rows: what the promotion gate compares."""


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    created_at: datetime
    model_type: str
    estimator: str
    libraries: dict[str, str]
    data: TrainingData
    metrics: dict[str, float]
    baseline: dict[str, float] = {}
    """The same metrics of the baseline on the same rows: the class prior (the majority
    class for labels) of a classifier, the training mean of a regressor."""
    previous: Comparison | None = None
    """The version current at training, on the same held-out rows; none for the first."""
    threshold: float | None = None
    """Binary classifiers: the positive class's probability from which serving answers the
    positive label, chosen at training by `threshold_rule` (settings.py); none otherwise."""
    threshold_rule: str | None = None
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


def signature(metadata_json: bytes, key: SecretStr) -> str:
    """The HMAC-SHA256 of metadata.json under `key`, in hex."""
    return hmac.new(key.get_secret_value().encode(), metadata_json, hashlib.sha256).hexdigest()


def check_not_world_writable(path: Path, mode: int) -> None:
    if mode & stat.S_IWOTH:
        raise ArtifactError(
            f"{path} is writable by every user of the machine: not loading it;"
            " remove the permission (chmod o-w) or retrain"
        )


def read_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a file of a version, read through one descriptor: refuses a symbolic
    link, anything but a regular file, a world-writable file and a file over `limit` bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError as error:
        raise ArtifactError(f"the model version is incomplete: {path} is missing") from error
    except OSError as error:
        raise ArtifactError(f"cannot read {path}: {error.strerror}") from error
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise ArtifactError(f"{path} is not a regular file: not loading it")
        check_not_world_writable(path, status.st_mode)
        if limit is None:
            return file.read()
        content = file.read(limit + 1)
    if len(content) > limit:
        raise ArtifactError(f"{path} holds more than the {limit} bytes allowed: not loading it")
    return content


def check_directory(directory: Path) -> None:
    """Refuse a world-writable version directory and any symbolic link in it: a version
    holds its own files only, which nobody but their owner may replace."""
    check_not_world_writable(directory, directory.stat().st_mode)
    for entry in sorted(directory.iterdir()):
        if entry.is_symlink():
            raise ArtifactError(
                f"{entry} is a symbolic link: a version directory holds its own files only;"
                " not loading it"
            )


def verify_files(directory: Path, metadata: Metadata) -> bytes:
    """Refuse a version whose files differ from the ones training wrote; the bytes of its
    model, as they were verified."""
    verified = {}
    for name in HASHED_FILES:
        path = directory / name
        recorded = metadata.files.get(name)
        if recorded is None:
            raise ArtifactError(
                f"model {metadata.version} records no sha256 for {name}: retrain (make train)"
            )
        content = read_file(path)
        if hashlib.sha256(content).hexdigest() != recorded:
            raise ArtifactError(
                f"{path} differs from the file model {metadata.version} was trained with"
                " (sha256 mismatch): not loading it; retrain or restore the version"
            )
        verified[name] = content
    return verified[MODEL_FILE]


def verify_signature(directory: Path, metadata_json: bytes, key: SecretStr) -> None:
    """Refuse metadata.json unless `SIGNATURE_FILE` holds its HMAC under `key`."""
    path = directory / SIGNATURE_FILE
    if not path.exists():
        raise ArtifactError(
            f"{path} is missing and a signing key is set: not loading an unsigned model"
            " version; retrain with the key set (make train)"
        )
    recorded = read_file(path, limit=1024).strip()
    if not hmac.compare_digest(recorded, signature(metadata_json, key).encode()):
        raise ArtifactError(
            f"{path} is not the signature of {directory / METADATA_FILE} under the signing"
            " key set: not loading it; retrain or restore the version"
        )


@dataclass(frozen=True)
class Artifact:
    """A loaded version: where it is, what it records, and its model as verified."""

    directory: Path
    metadata: Metadata
    model: bytes
    """The ONNX model, the very bytes whose sha256 was checked."""


def load_artifact(model_dir: Path, settings: ArtifactSettings | None = None) -> Artifact:
    """The version `model_dir` names, checked; refuses other library versions.

    `settings` says which key signs the artifacts; unset, they are read from the environment
    like every setting. Raises ArtifactError with a one-line message when the artifact is
    missing or unusable.
    """
    key = (settings or ArtifactSettings()).model_signing_key
    directory = resolve(model_dir)
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"no model artifact at {model_dir}: train one first (make train)")
    check_directory(directory)
    metadata_json = read_file(path, limit=METADATA_MAX_BYTES)
    if key is not None:
        verify_signature(directory, metadata_json, key)
    try:
        metadata = Metadata.model_validate_json(metadata_json)
    except ValidationError as error:
        problem = error.errors()[0]
        where = " at " + ".".join(map(str, problem["loc"])) if problem["loc"] else ""
        raise ArtifactError(
            f"{path} is not valid model metadata: {problem['msg']}{where}"
        ) from error
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
    model = verify_files(directory, metadata)
    if not metadata.takes(load_contract()):
        raise ArtifactError(
            f"model {metadata.version} takes other inputs or predicts another target than"
            " features.yaml describes: retrain (make train)"
        )
    return Artifact(directory, metadata, model)


def load_metadata(
    model_dir: Path, settings: ArtifactSettings | None = None
) -> tuple[Path, Metadata]:
    """The version directory and its metadata, checked as `load_artifact` does."""
    artifact = load_artifact(model_dir, settings)
    return artifact.directory, artifact.metadata


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


def load_held_out(directory: Path, metadata: Metadata) -> tuple[Columns, "npt.NDArray[Any]"] | None:
    """The held-out rows stored with a version, checked against their recorded sha256; none
    for a version that stored none."""
    recorded = metadata.files.get(HELD_OUT_FILE)
    if recorded is None:
        return None
    content = read_file(directory / HELD_OUT_FILE)
    if hashlib.sha256(content).hexdigest() != recorded:
        raise ArtifactError(f"{directory / HELD_OUT_FILE} differs from the file training wrote")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as stored:
            numbers, categories, target = stored["numbers"], stored["categories"], stored["target"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"{directory / HELD_OUT_FILE} is not held-out rows: {error}") from error
    return Columns(numbers.astype(np.float32), categories.astype(object)), target


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
    signing_key: SecretStr | None = None,
    figures: dict[str, bytes] | None = None,
    held_out: tuple[Columns, "npt.NDArray[Any]"] | None = None,
) -> Path:
    """Write a new version directory; `point` makes it current.

    The directory is complete before it appears (an atomic rename), so a reader never sees
    a half-written model. Its files are writable by their owner only,
    whatever the umask, and metadata.json is signed when a `signing_key` is given.
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
    written = list(HASHED_FILES)
    if held_out is not None:
        rows, target = held_out
        np.savez_compressed(
            staging / HELD_OUT_FILE,
            numbers=rows.numbers,
            categories=rows.categories.astype(str),
            target=target,
        )
        written.append(HELD_OUT_FILE)
    files = {name: hashlib.sha256((staging / name).read_bytes()).hexdigest() for name in written}
    metadata_json = metadata.model_copy(update={"files": files}).model_dump_json(indent=2) + "\n"
    (staging / METADATA_FILE).write_bytes(metadata_json.encode())
    if signing_key is not None:
        signed = signature(metadata_json.encode(), signing_key)
        (staging / SIGNATURE_FILE).write_text(signed + "\n", encoding="ascii")
    for path in staging.iterdir():
        path.chmod(0o644)
    if figures:
        report = staging / REPORT_DIR
        report.mkdir()
        for name, content in figures.items():
            (report / name).write_bytes(content)
            (report / name).chmod(0o644)
        report.chmod(0o755)
    staging.chmod(0o755)
    staging.rename(directory)
    return directory


def current_version(models_dir: Path) -> str | None:
    """The version `models_dir/current` names; none before the first is promoted."""
    pointer = models_dir / POINTER_FILE
    if not pointer.is_file():
        return None
    return pointer.read_text(encoding="utf-8").strip() or None


def point(models_dir: Path, version: str) -> None:
    """Make `version` current (an atomic rename: a reader sees the old or the new name)."""
    pointer = models_dir / f".{POINTER_FILE}.partial"
    pointer.write_text(version + "\n", encoding="utf-8")
    pointer.replace(models_dir / POINTER_FILE)

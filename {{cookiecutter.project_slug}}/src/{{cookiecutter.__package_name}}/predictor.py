"""Scores rows with the exported ONNX model.

Serving needs onnxruntime, numpy and pydantic only: scikit-learn and the training framework
stay out of the serving image, and the feature pipeline runs inside the ONNX graph.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .artifact import MODEL_FILE, ArtifactError, Metadata, load_artifact
from .contract import MISSING_LEVEL, Columns
from .review import Review
from .schema import Features, Prediction, Scores
from .scores import empty_outputs
from .settings import Settings


class UnscorableInputError(ValueError):
    """Rows the model cannot score: a missing value where features.yaml allows none, values
    float32 cannot hold, or inputs so far outside the training range that the model's
    arithmetic overflows."""

    def __init__(self, rows: npt.NDArray[np.intp], reason: str) -> None:
        super().__init__(f"rows {rows.tolist()}: {reason}")
        self.rows = rows
        """Positions, in the batch, of the rows refused; the others can be scored."""
        self.reason = reason


class Predictor:
    """The model of one artifact version, ready to score batches of rows."""

    def __init__(
        self,
        session: ort.InferenceSession,
        metadata: Metadata,
        review: Review,
    ) -> None:
        self._session = session
        self._metadata = metadata
        contract = metadata.contract
        self._contract = contract
        # Read on every call: kept rather than rebuilt from the metadata each time.
        self._feature_names = contract.names
        self._required_numbers = np.array(
            [not item.nullable for item in contract.numbers], dtype=bool
        )
        self._required_categories = np.array(
            [not item.nullable for item in contract.categories], dtype=bool
        )
        self._review = review
        self._threshold = metadata.threshold

    @classmethod
    def load(cls, model_dir: Path, settings: Settings) -> Self:
        """Load the artifact at `model_dir` (a version directory or the `current` pointer),
        its signature checked and its answers reviewed as `settings` say (artifact.py,
        review.py).

        Raises ArtifactError when it is missing, altered, was made with other library
        versions or takes other inputs than features.yaml describes.
        """
        artifact = load_artifact(model_dir, settings)
        options = ort.SessionOptions()
        # One thread per session: a service scales with worker processes, and single-row
        # latency is lowest without thread hand-offs.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        path = artifact.directory / MODEL_FILE
        try:
            # The bytes whose sha256 was checked, not the file again: it may have changed since.
            session = ort.InferenceSession(
                artifact.model, options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ArtifactError(f"cannot load {path}: {error}") from error
        return cls(session, artifact.metadata, Review.load(artifact.directory, settings))

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The predictor the settings describe."""
        return cls.load(settings.model_dir, settings)

    @property
    def model_version(self) -> str:
        return self._metadata.version

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The inputs in model order: the float32 block, then the categories."""
        return self._feature_names

    @property
    def metadata(self) -> Metadata:
        return self._metadata

    def predict(self, rows: Sequence[Features]) -> list[Prediction]:
        """Score validated rows in one model call."""
        return self.score(self.columns_of(rows)).predictions()

    def columns_of(self, rows: Sequence[Features]) -> Columns:
        """Validated rows as the columns the model takes."""
        return Columns.from_records(self._contract, [vars(row) for row in rows])

    def predict_columns(self, columns: Columns) -> list[Prediction]:
        """Score a batch of columns in one model call."""
        return self.score(columns).predictions()

    def score(self, columns: Columns) -> Scores:
        """Like `predict_columns`, but the answers stay arrays: the fast path for many rows."""
        numbers = np.asarray(columns.numbers, dtype=np.float32)
        categories = columns.categories
        if numbers.shape[1:] != (len(self._required_numbers),) or categories.shape[1:] != (
            len(self._required_categories),
        ):
            raise ValueError(
                f"expected {len(self._required_numbers)} number and"
                f" {len(self._required_categories)} category columns,"
                f" got shapes {numbers.shape} and {categories.shape}"
            )
        # NaN marks a missing value, which the feature pipeline imputes where it is allowed.
        if not np.isfinite(numbers).all():
            infinite = np.isinf(numbers).any(axis=1)
            if infinite.any():
                raise UnscorableInputError(
                    np.flatnonzero(infinite), "values must be finite and within float32 range"
                )
            missing = np.isnan(numbers[:, self._required_numbers]).any(axis=1)
        else:
            missing = np.zeros(len(numbers), dtype=bool)
        if categories.size:
            missing |= (categories[:, self._required_categories] == MISSING_LEVEL).any(axis=1)
        if missing.any():
            raise UnscorableInputError(
                np.flatnonzero(missing),
                "inputs that features.yaml does not allow to be null are missing",
            )
        batch = Columns(numbers, categories)
        scores = self._review.score(self._run, self._metadata, batch)
        overflowed = scores.overflowed()
        if overflowed.any():
            raise UnscorableInputError(
                np.flatnonzero(overflowed),
                "inputs so far outside the training range that the model's output is not finite",
            )
        self._review.record(batch, scores)
        return scores

    def _run(self, batch: Columns) -> list[npt.NDArray[Any]]:
        """The model's outputs for `batch`; no call for zero rows (some converted models
        refuse an empty input), just outputs of the right shapes."""
        if not len(batch):
            return empty_outputs(self._contract)
        outputs = list(self._session.run(None, batch.feeds()))
        return outputs if self._threshold is None else thresholded(outputs, self._threshold)


def thresholded(outputs: list[npt.NDArray[Any]], threshold: float) -> list[npt.NDArray[Any]]:
    """A binary classifier's ONNX outputs (labels, probabilities) with each label decided by
    the decision threshold training chose (metadata.threshold) rather than the more
    probable class: positive from `threshold` up."""
    labels, probabilities = outputs[0], outputs[1]
    positive = np.asarray(probabilities)[:, 1] >= threshold
    return [positive.astype(np.asarray(labels).dtype), *outputs[1:]]


def score_accepted(
    predictor: Predictor, columns: Columns
) -> tuple[npt.NDArray[np.intp], Scores, dict[int, str]]:
    """Score the rows the model accepts: their positions in `columns`, their scores, and
    why each refused row was refused, by position. A refused row is left out and the rest
    scored again, so one bad row costs one more model call rather than the whole batch."""
    accepted = np.arange(len(columns))
    remaining = columns
    refused: dict[int, str] = {}
    while True:
        try:
            return accepted, predictor.score(remaining), refused
        except UnscorableInputError as error:
            refused |= dict.fromkeys(accepted[error.rows].tolist(), error.reason)
            keep = np.ones(len(accepted), dtype=bool)
            keep[error.rows] = False
            accepted, remaining = accepted[keep], remaining.take(keep)

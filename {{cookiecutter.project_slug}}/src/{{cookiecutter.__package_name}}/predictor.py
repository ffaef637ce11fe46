{%- set legal = cookiecutter.legal_review == "yes" -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
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

from .artifact import MODEL_FILE, ArtifactError, Metadata, load_metadata{% if legal %}, load_reference{% endif %}
{%- if legal %}
from .audit import AuditLog
{%- endif %}
from .schema import Features, Prediction, Scores
from .settings import Settings


class UnscorableInputError(ValueError):
{%- if cookiecutter.feature_engineering == "yes" %}
    """Rows the model cannot score: values float32 cannot hold, or inputs so far outside the
    training range that the model's arithmetic overflows."""
{%- else %}
    """Rows the model cannot score: missing values, values float32 cannot hold, or inputs so
    far outside the training range that the model's arithmetic overflows."""
{%- endif %}

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
{%- if legal %}
        reference_mean: npt.NDArray[np.float32],
        audit_log: AuditLog,
{%- endif %}
    ) -> None:
        self._session = session
        self._input_name: str = session.get_inputs()[0].name
        self._metadata = metadata
        # Read on every call: kept rather than rebuilt from the metadata each time.
        self._feature_names = metadata.feature_names
{%- if classification %}
        self._labels = tuple(metadata.labels)
{%- endif %}
{%- if legal %}
        self._reference_mean = reference_mean
        self._audit_log = audit_log
{%- endif %}

    @classmethod
    def load(cls, model_dir: Path{% if legal %}, audit_log: AuditLog{% endif %}) -> Self:
        """Load the artifact at `model_dir` (a version directory or the `current` pointer).

        Raises ArtifactError when it is missing or was made with other library versions.
        """
        directory, metadata = load_metadata(model_dir)
        options = ort.SessionOptions()
        # One thread per session: a service scales with worker processes, and single-row
        # latency is lowest without thread hand-offs.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(
                str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ArtifactError(f"cannot load {directory / MODEL_FILE}: {error}") from error
{%- if legal %}
        reference_mean = np.nanmean(load_reference(directory), axis=0).astype(np.float32)
        return cls(session, metadata, reference_mean, audit_log)
{%- else %}
        return cls(session, metadata)
{%- endif %}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The predictor the settings describe{% if legal %}, auditing to `settings.audit_log_path`{% endif %}."""
{%- if legal %}
        return cls.load(settings.model_dir, AuditLog(settings.audit_log_path))
{%- else %}
        return cls.load(settings.model_dir)
{%- endif %}

    @property
    def model_version(self) -> str:
        return self._metadata.version

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._feature_names

    @property
    def metadata(self) -> Metadata:
        return self._metadata

    def predict(self, rows: Sequence[Features]) -> list[Prediction]:
        """Score validated rows in one model call."""
        return self.predict_array(self.features_of(rows))

    def features_of(self, rows: Sequence[Features]) -> npt.NDArray[np.float32]:
        """Validated rows as the (rows, features) array the model takes."""
        return np.array(
            [[getattr(row, name) for name in self.feature_names] for row in rows],
            dtype=np.float32,
        ).reshape(len(rows), len(self.feature_names))

    def predict_array(self, features: npt.ArrayLike) -> list[Prediction]:
        """Score a (rows, features) array whose columns are `feature_names`, in one model call."""
        return self.score_array(features).predictions()

    def score_array(self, features: npt.ArrayLike) -> Scores:
        """Like `predict_array`, but the answers stay arrays: the fast path for many rows."""
        # A value beyond float32's range becomes infinite here, and is refused below.
        with np.errstate(over="ignore"):
            x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected an array of shape (rows, {len(self.feature_names)}), got {x.shape}"
            )
{%- if cookiecutter.feature_engineering == "yes" %}
        # NaN marks a missing value, which the feature pipeline imputes.
        refused = np.isinf(x)
        if refused.any():
            raise UnscorableInputError(
                np.flatnonzero(refused.any(axis=1)),
                "values must be finite and within float32 range",
            )
{%- else %}
        refused = ~np.isfinite(x)
        if refused.any():
            raise UnscorableInputError(
                np.flatnonzero(refused.any(axis=1)),
                "values must be present, finite and within float32 range",
            )
{%- endif %}
        rows = len(x)
{%- if legal %}
        width = x.shape[1]
        # The rows and, per row, one copy per feature with that feature set to its training
        # mean: the explanations come from the same single model call.
        ablated = np.repeat(x[:, np.newaxis, :], width, axis=1)
        ablated[:, np.arange(width), np.arange(width)] = self._reference_mean
        outputs = self._run(np.concatenate([x, ablated.reshape(rows * width, width)]))
{%- else %}
        outputs = self._run(x)
{%- endif %}
{%- if classification %}
        labels = self._labels
        predicted = np.asarray(outputs[0], dtype=np.intp).reshape(-1)[:rows]
        probabilities = np.asarray(outputs[1], dtype=np.float32).reshape(-1, len(labels))
{%- if legal %}
        ablated_probabilities = probabilities[rows:].reshape(rows, width, len(labels))
        probabilities = probabilities[:rows]
        explanations = (
            probabilities[np.arange(rows), predicted][:, np.newaxis]
            - ablated_probabilities[np.arange(rows), :, predicted]
        )
        self._refuse_overflows(probabilities, explanations)
{%- else %}
        self._refuse_overflows(probabilities)
{%- endif %}
        scores = Scores(
            model_version=self.model_version,
            labels=labels,
            predicted=predicted,
            probabilities=probabilities,
{%- else %}
        values = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
{%- if legal %}
        explanations = values[:rows, np.newaxis] - values[rows:].reshape(rows, width)
{%- endif %}
        values = values[:rows]
        self._refuse_overflows(values[:, np.newaxis]{% if legal %}, explanations{% endif %})
        scores = Scores(
            model_version=self.model_version,
            values=values,
{%- endif %}
{%- if legal %}
            feature_names=self.feature_names,
            explanations=explanations,
        )
        self._audit_log.record(self.feature_names, x, scores)
        return scores
{%- else %}
        )
        return scores
{%- endif %}

    def _run(self, batch: npt.NDArray[np.float32]) -> list[npt.NDArray[Any]]:
        """The model's outputs for `batch`; no call for zero rows (some converted models
        refuse an empty input), just outputs of the right shapes."""
        if len(batch):
            return list(self._session.run(None, {self._input_name: batch}))
{%- if classification %}
        return [np.empty(0, dtype=np.intp), np.empty((0, len(self._labels)), np.float32)]
{%- else %}
        return [np.empty(0, dtype=np.float32)]
{%- endif %}

    @staticmethod
    def _refuse_overflows(*outputs: npt.NDArray[np.float32]) -> None:
        """Refuse rows whose outputs are not finite rather than answer NaN."""
        if all(np.isfinite(output).all() for output in outputs):
            return
        overflowed = np.zeros(len(outputs[0]), dtype=bool)
        for output in outputs:
            overflowed |= ~np.isfinite(output).all(axis=1)
        raise UnscorableInputError(
            np.flatnonzero(overflowed),
            "inputs so far outside the training range that the model's output is not finite",
        )


def score_accepted(
    predictor: Predictor, features: npt.NDArray[np.floating[Any]]
) -> tuple[npt.NDArray[np.intp], Scores, dict[int, str]]:
    """Score the rows the model accepts: their positions in `features`, their scores, and
    why each refused row was refused, by position. A refused row is left out and the rest
    scored again, so one bad row costs one more model call rather than the whole batch."""
    accepted = np.arange(len(features))
    remaining = features
    refused: dict[int, str] = {}
    while True:
        try:
            return accepted, predictor.score_array(remaining), refused
        except UnscorableInputError as error:
            refused |= dict.fromkeys(accepted[error.rows].tolist(), error.reason)
            keep = np.ones(len(accepted), dtype=bool)
            keep[error.rows] = False
            accepted, remaining = accepted[keep], remaining[keep]

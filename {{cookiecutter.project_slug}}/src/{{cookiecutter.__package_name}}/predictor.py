{%- set legal = cookiecutter.legal_review == "yes" -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
"""Scores rows with the exported ONNX model.

Serving needs onnxruntime, numpy and pydantic only: scikit-learn and the training framework
stay out of the serving image, and the feature pipeline runs inside the ONNX graph.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .artifact import MODEL_FILE, ArtifactError, Metadata, load_metadata{% if legal %}, load_reference{% endif %}
{%- if legal %}
from .audit import AuditLog
{%- endif %}
from .schema import FLOAT32_MAX, Features, Prediction
from .settings import Settings


class UnscorableInputError(ValueError):
{%- if cookiecutter.feature_engineering == "yes" %}
    """Rows the model cannot score: values float32 cannot hold, or inputs so far outside the
    training range that the model's arithmetic overflows."""
{%- else %}
    """Rows the model cannot score: missing values, values float32 cannot hold, or inputs so
    far outside the training range that the model's arithmetic overflows."""
{%- endif %}


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
        return self._metadata.feature_names

    @property
    def metadata(self) -> Metadata:
        return self._metadata

    def predict(self, rows: Sequence[Features]) -> list[Prediction]:
        """Score validated rows in one model call."""
        features = np.array(
            [[getattr(row, name) for name in self.feature_names] for row in rows],
            dtype=np.float32,
        ).reshape(len(rows), len(self.feature_names))
        return self.predict_array(features)

    def predict_array(self, features: npt.ArrayLike) -> list[Prediction]:
        """Score a (rows, features) array whose columns are `feature_names`, in one model call."""
        data = np.asarray(features, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected an array of shape (rows, {len(self.feature_names)}), got {data.shape}"
            )
{%- if cookiecutter.feature_engineering == "yes" %}
        # NaN marks a missing value, which the feature pipeline imputes.
        if (np.abs(data) > FLOAT32_MAX).any():
            raise UnscorableInputError("values must be finite and within float32 range")
{%- else %}
        if not np.isfinite(data).all() or (np.abs(data) > FLOAT32_MAX).any():
            raise UnscorableInputError("values must be present, finite and within float32 range")
{%- endif %}
        x = data.astype(np.float32)
        if len(x) == 0:
            return []
{%- if legal %}
        rows, width = x.shape
        # The rows and, per row, one copy per feature with that feature set to its training
        # mean: the explanations come from the same single model call.
        ablated = np.repeat(x[:, np.newaxis, :], width, axis=1)
        ablated[:, np.arange(width), np.arange(width)] = self._reference_mean
        batch = np.concatenate([x, ablated.reshape(rows * width, width)])
        outputs = self._session.run(None, {self._input_name: batch})
{%- else %}
        rows = len(x)
        outputs = self._session.run(None, {self._input_name: x})
{%- endif %}
{%- if classification %}
        labels = self._metadata.labels
        predicted: npt.NDArray[np.int64] = outputs[0][:rows]
        probabilities: npt.NDArray[np.float32] = outputs[1][:rows]
{%- if legal %}
        ablated_probabilities = outputs[1][rows:].reshape(rows, width, -1)
        contributions = (
            probabilities[np.arange(rows), predicted][:, np.newaxis]
            - ablated_probabilities[np.arange(rows), :, predicted]
        )
{%- endif %}
        self._refuse_overflows(probabilities{% if legal %}, contributions{% endif %})
        predictions = [
            Prediction(
                label=labels[predicted[i]],
                probabilities=dict(zip(labels, probabilities[i].tolist(), strict=True)),
                model_version=self.model_version,
{%- if legal %}
                explanation=dict(zip(self.feature_names, contributions[i].tolist(), strict=True)),
{%- endif %}
            )
            for i in range(rows)
        ]
{%- else %}
        values: npt.NDArray[np.float32] = outputs[0].reshape(-1)[:rows]
{%- if legal %}
        contributions = values[:, np.newaxis] - outputs[0].reshape(-1)[rows:].reshape(rows, width)
{%- endif %}
        self._refuse_overflows(values[:, np.newaxis]{% if legal %}, contributions{% endif %})
        predictions = [
            Prediction(
                value=float(values[i]),
                model_version=self.model_version,
{%- if legal %}
                explanation=dict(zip(self.feature_names, contributions[i].tolist(), strict=True)),
{%- endif %}
            )
            for i in range(rows)
        ]
{%- endif %}
{%- if legal %}
        self._audit_log.record(self.feature_names, x, predictions)
{%- endif %}
        return predictions

    @staticmethod
    def _refuse_overflows(*outputs: npt.NDArray[np.float32]) -> None:
        """Refuse rows whose outputs are not finite rather than answer NaN."""
        overflowed = np.zeros(len(outputs[0]), dtype=bool)
        for output in outputs:
            overflowed |= ~np.isfinite(output).all(axis=1)
        if overflowed.any():
            raise UnscorableInputError(
                f"rows {np.flatnonzero(overflowed).tolist()} are so far outside the training"
                " range that the model's output is not finite"
            )

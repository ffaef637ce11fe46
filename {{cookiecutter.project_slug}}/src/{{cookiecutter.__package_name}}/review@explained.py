"""The legal review of the model's answers: each is explained by its inputs and recorded.

An answer's explanation says how much each input moved it: the answer minus the one the
model gives with that input set to its training reference value (the mean of a number, the
most frequent level of a category). The rows and all their ablated copies go through one
model call. Every answer is then appended to the audit log (audit.py).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydantic_settings import BaseSettings

from .artifact import Metadata, load_reference
from .audit import AuditLog
from .contract import Columns
from .scores import Scores

Model = Callable[[Columns], list[npt.NDArray[Any]]]
"""The model's outputs for a batch of columns."""


class ReviewSettings(BaseSettings):
    """Where the answers are recorded (a part of `Settings`)."""

    audit_log_path: Path = Path("audit/predictions.jsonl")
    """Append-only JSON lines: one record per prediction (input hash, output, model version)."""


def scratch_settings(directory: Path) -> dict[str, Any]:
    """The settings that audit to a log in `directory` rather than the project's: tests and
    benchmarks make predictions no one asked for."""
    return {"audit_log_path": directory / "audit" / "predictions.jsonl"}


class Review:
    """Explains every answer against the training reference and records it in the audit log."""

    def __init__(self, reference: Columns, audit_log: AuditLog) -> None:
        # What an input is set to when its contribution is measured: the training mean of a
        # number, the most frequent training level of a category.
        self.reference_numbers = np.nanmean(reference.numbers, axis=0).astype(np.float32)
        self.reference_categories = np.array(
            [
                max(set(column.tolist()), key=column.tolist().count) if len(column) else ""
                for column in reference.categories.T
            ],
            dtype=object,
        )
        self.audit_log = audit_log

    @classmethod
    def load(cls, directory: Path, settings: ReviewSettings) -> Self:
        """The review of the model version at `directory` (its stored training reference),
        auditing to `settings.audit_log_path`."""
        return cls.of(load_reference(directory), settings)

    @classmethod
    def of(cls, reference: Columns, settings: ReviewSettings) -> Self:
        """The review against `reference` (training inputs), auditing to
        `settings.audit_log_path`."""
        return cls(reference, AuditLog(settings.audit_log_path))

    def score(self, model: Model, metadata: Metadata, batch: Columns) -> Scores:
        """The answers for `batch`, each with its explanation."""
        # The rows and, per row, one copy per input with that input set to its reference
        # value: the explanations come from the same single model call.
        ablated = self._ablated(batch)
        outputs = model(
            Columns(
                np.concatenate([batch.numbers, ablated.numbers]),
                np.concatenate([batch.categories, ablated.categories]),
            )
        )
        contract = metadata.contract
        return Scores.of(metadata.version, contract, outputs, contract.names)

    def record(self, batch: Columns, scores: Scores) -> None:
        """Append the answers the caller gets to the audit log."""
        self.audit_log.record(scores.feature_names, batch, scores)

    def _ablated(self, batch: Columns) -> Columns:
        """Per row, one copy per input (model order) with that input at its reference value."""
        numbers_width = batch.numbers.shape[1]
        width = numbers_width + batch.categories.shape[1]
        rows = len(batch)
        numbers = np.repeat(batch.numbers[:, np.newaxis, :], width, axis=1)
        categories = np.repeat(batch.categories[:, np.newaxis, :], width, axis=1)
        own = np.arange(numbers_width)
        numbers[:, own, own] = self.reference_numbers
        own = np.arange(width - numbers_width)
        categories[:, numbers_width + own, own] = self.reference_categories
        return Columns(
            numbers.reshape(rows * width, numbers_width),
            categories.reshape(rows * width, width - numbers_width),
        )


def explanation_columns(scores: Scores) -> dict[str, npt.NDArray[np.float64]]:
    """The explanations as columns, one per input: `explanation_<input>`."""
    return {
        f"explanation_{name}": scores.explanations[:, index].astype(np.float64)
        for index, name in enumerate(scores.feature_names)
    }

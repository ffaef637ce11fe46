"""The model's answers as they are: this project has no legal review (it was generated with
`legal_review=no`), so answers are neither explained by their inputs nor recorded in an
audit log. A project with a legal review does both in this module instead, and its batch
outputs carry the explanations as columns.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydantic_settings import BaseSettings

from .artifact import Metadata
from .contract import Columns
from .scores import Scores

Model = Callable[[Columns], list[npt.NDArray[Any]]]
"""The model's outputs for a batch of columns."""


class ReviewSettings(BaseSettings):
    """No legal review: nothing to set (a part of `Settings`)."""


def scratch_settings(directory: Path) -> dict[str, Any]:
    """No audit log to keep in `directory` for tests and benchmarks: no settings."""
    return {}


class Review:
    """Passes the model's answers on unreviewed."""

    @classmethod
    def load(cls, directory: Path, settings: ReviewSettings) -> Self:
        """No review of the model version at `directory`: nothing to read."""
        return cls()

    @classmethod
    def of(cls, reference: Columns, settings: ReviewSettings) -> Self:
        """No review against `reference`: nothing to measure."""
        return cls()

    def score(self, model: Model, metadata: Metadata, batch: Columns) -> Scores:
        """The model's answers for `batch`."""
        return Scores.of(metadata.version, metadata.contract, model(batch))

    def record(self, batch: Columns, scores: Scores) -> None:
        """Nothing to record: no audit log."""


def explanation_columns(scores: Scores) -> dict[str, npt.NDArray[np.float64]]:
    """No explanations: no columns."""
    return {}

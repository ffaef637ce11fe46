{%- import "core/dataset.j2" as sample -%}
{%- set dataset = sample.datasets[cookiecutter.model_type] -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
"""The training data: {{ dataset.title }}, the sample data set scikit-learn ships.

{{ (dataset.summary ~ ". Replace `load_dataset` with your own source: everything downstream needs only a `Dataset` whose columns are `FEATURE_NAMES`, in that order.") | wordwrap(92) }}
"""

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.datasets import {{ dataset.loader }}
from sklearn.model_selection import train_test_split

from .features import FEATURE_NAMES

HELD_OUT_FRACTION = 0.25
SEED = 20240611
{%- if classification %}
LABELS: tuple[str, ...] = ({{ dataset.labels | map("tojson") | join(", ") }})
"""Class names, indexed by the integer class the model predicts."""
{%- endif %}


@dataclass(frozen=True)
class Dataset:
    """Features (float32, as the exported model sees them) and targets, row by row."""

    features: npt.NDArray[np.float32]
    target: npt.NDArray[np.{{ "int64" if classification else "float64" }}]

    def fingerprint(self) -> str:
        """sha256 of the feature names, features and target: identifies the training data."""
        digest = hashlib.sha256()
        digest.update("\n".join(FEATURE_NAMES).encode())
        digest.update(np.ascontiguousarray(self.features).tobytes())
        digest.update(np.ascontiguousarray(self.target).tobytes())
        return digest.hexdigest()


def identifier(column: str) -> str:
    """A column name as a Python identifier: `mean radius (cm)` -> `mean_radius_cm`."""
    return re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_")


def load_dataset() -> Dataset:
    bunch = {{ dataset.loader }}()
    columns = tuple(identifier(str(name)) for name in bunch.feature_names)
    if columns != FEATURE_NAMES:
        raise ValueError(f"the data set's columns {columns} are not FEATURE_NAMES {FEATURE_NAMES}")
    return Dataset(
        features=np.asarray(bunch.data, dtype=np.float32),
        target=np.asarray(bunch.target, dtype=np.{{ "int64" if classification else "float64" }}),
    )


def split(dataset: Dataset) -> tuple[Dataset, Dataset]:
    """The training part and the held-out part the metrics are measured on (deterministic)."""
    train_x, test_x, train_y, test_y = train_test_split(
        dataset.features,
        dataset.target,
        test_size=HELD_OUT_FRACTION,
        random_state=SEED,
{%- if classification %}
        stratify=dataset.target,
{%- endif %}
    )
    return Dataset(train_x, train_y), Dataset(test_x, test_y)

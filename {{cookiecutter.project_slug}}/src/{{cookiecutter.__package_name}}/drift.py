"""Data drift: do new inputs still look like the data the model was trained on?

Each input of a batch of new rows is compared with the training reference stored in the
model artifact (`reference.npz`) by two measures:

- PSI, the population stability index: over the reference's deciles for a number, integer
  or boolean, over the levels' shares for a category (a level never seen in training counts
  as one more level). Under 0.1 the feature is stable, 0.1 to 0.25 it moved a little, over
  `PSI_THRESHOLD` (0.25) it moved a lot.
- A two-sample test: Kolmogorov-Smirnov for a number, chi-square on the level counts for a
  category. A p-value under `ALPHA` divided by the number of inputs (Bonferroni) says the
  distribution changed.

An input drifts when both agree: PSI alone is noisy on small batches (a few rows spread over
many levels always look moved), and a test alone flags negligible shifts on large ones.

The command line checks a CSV file of rows the model was asked to score, or without one the
training data, and exits with 1 when any input drifts:

    python -m {{ cookiecutter.__package_name }}.drift [new_rows.csv] [--model-dir models/current]
"""

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2_contingency, ks_2samp

from .artifact import load_metadata, load_reference
from .contract import Columns, Contract, parse_text
from .data import load_dataset
from .settings import Settings

PSI_THRESHOLD = 0.25
ALPHA = 0.01
BINS = 10
# Share given to an empty bin so that PSI stays finite.
EMPTY_BIN_SHARE = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    test: str
    """The two-sample test: "KS" (Kolmogorov-Smirnov) or "chi2" (chi-square)."""
    statistic: float
    pvalue: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    features: tuple[FeatureDrift, ...]

    @property
    def drifted(self) -> bool:
        return any(feature.drifted for feature in self.features)

    def render(self) -> str:
        header = ("feature", "PSI", "test", "statistic", "p-value")
        lines = ["{:<30} {:>8} {:>5} {:>10} {:>10}  drifted".format(*header)]
        lines += [
            f"{f.name:<30} {f.psi:>8.3f} {f.test:>5} {f.statistic:>10.3f} {f.pvalue:>10.2e}  "
            + ("yes" if f.drifted else "no")
            for f in self.features
        ]
        return "\n".join(lines)


def psi(reference: npt.NDArray[np.float32], current: npt.NDArray[np.float32]) -> float:
    """Population stability index of `current` against `reference`, over reference deciles."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, BINS + 1)[1:-1]))

    def shares(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        return np.clip(counts / len(values), EMPTY_BIN_SHARE, None)

    expected, actual = shares(reference), shares(current)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def level_counts(
    reference: npt.NDArray[np.object_], current: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """How often each level occurs in `reference` (first row) and `current` (second row),
    over the levels either holds."""
    levels = sorted(set(reference.tolist()) | set(current.tolist()))
    return np.array(
        [[np.count_nonzero(values == level) for level in levels] for values in (reference, current)]
    )


def level_psi(counts: npt.NDArray[np.int64]) -> float:
    """Population stability index of a category's level shares (`level_counts`)."""
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    expected, actual = np.clip(counts / totals, EMPTY_BIN_SHARE, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def level_test(counts: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Chi-square test that both samples share one distribution of levels (`level_counts`):
    the statistic and its p-value (1 when there is nothing to compare)."""
    seen = counts[:, counts.sum(axis=0) > 0]
    if seen.shape[1] < 2 or (seen.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = chi2_contingency(seen)
    return float(result.statistic), float(result.pvalue)


def compare(reference: Columns, current: Columns, contract: Contract) -> DriftReport:
    """Compare every input of `current` with the same input of `reference`."""
    alpha = ALPHA / len(contract.inputs)
    features = []
    for column, item in enumerate(contract.numbers):
        expected = reference.numbers[:, column][~np.isnan(reference.numbers[:, column])]
        actual = current.numbers[:, column][~np.isnan(current.numbers[:, column])]
        index = psi(expected, actual)
        test = ks_2samp(expected, actual)
        statistic, pvalue = float(test.statistic), float(test.pvalue)
        drifted = index > PSI_THRESHOLD and pvalue < alpha
        features.append(FeatureDrift(item.name, index, "KS", statistic, pvalue, drifted))
    for column, item in enumerate(contract.categories):
        counts = level_counts(reference.categories[:, column], current.categories[:, column])
        index = level_psi(counts)
        statistic, pvalue = level_test(counts)
        drifted = index > PSI_THRESHOLD and pvalue < alpha
        features.append(FeatureDrift(item.name, index, "chi2", statistic, pvalue, drifted))
    return DriftReport(tuple(features))


def check(model_dir: Path, current: Columns) -> DriftReport:
    """Compare `current` with the model's training reference."""
    directory, metadata = load_metadata(model_dir)
    return compare(load_reference(directory), current, metadata.contract)


def read_csv(path: Path, contract: Contract) -> Columns:
    """The inputs of a CSV file with a header row; empty cells are missing values."""
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        missing = {item.name for item in contract.inputs} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks the columns {', '.join(sorted(missing))}")
        records = [
            {item.name: parse_text(item, row[item.name]) for item in contract.inputs}
            for row in reader
        ]
    return Columns.from_records(contract, records)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare new rows with the training data.")
    parser.add_argument(
        "csv",
        type=Path,
        nargs="?",
        help="rows with a header naming the inputs (default: the training data)",
    )
    parser.add_argument("--model-dir", type=Path, default=Path("models/current"))
    args = parser.parse_args(argv)
    if args.csv is None:
        current = load_dataset(Settings().training_data).columns
    else:
        current = read_csv(args.csv, load_metadata(args.model_dir)[1].contract)
    report = check(args.model_dir, current)
    print(report.render())
    return 1 if report.drifted else 0


if __name__ == "__main__":
    sys.exit(main())

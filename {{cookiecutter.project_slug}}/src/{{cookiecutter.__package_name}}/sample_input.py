"""Writes sample input for the batch job: the bundled data set's rows, plus a few bad ones.

    python -m {{ cookiecutter.__package_name }}.sample_input data/sample.csv   # or .parquet

The bad rows (a value that is not a number, an infinite value, a value float32 cannot hold,
an empty cell) show where rejected rows go; the job scores every other row{% if cookiecutter.feature_engineering == "yes" %}, and imputes
the empty cell{% endif %}.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from .data import load_dataset
from .features import FEATURE_NAMES

BAD_VALUES: tuple[object, ...] = ("not a number", np.inf, 1e39, None)


def sample_frame(repeat: int = 1) -> pd.DataFrame:
    """The data set's rows `repeat` times, then one row per bad value (features as text)."""
    features = np.tile(load_dataset().features.astype(np.float64), (repeat, 1))
    frame = pd.DataFrame(features, columns=list(FEATURE_NAMES)).astype(object)
    bad = frame.iloc[: len(BAD_VALUES)].copy()
    for index, value in enumerate(BAD_VALUES):
        bad.iloc[index, index % len(FEATURE_NAMES)] = value
    return pd.concat([frame, bad], ignore_index=True)


def write_sample(path: Path) -> int:
    """Write the sample rows to `path` (.csv or .parquet); returns how many."""
    frame = sample_frame()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.astype("string").to_parquet(path, index=False)
    return len(frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the file to write (.csv or .parquet)")
    path = parser.parse_args(argv).path
    print(f"wrote {write_sample(path)} sample rows to {path}")


if __name__ == "__main__":
    main()

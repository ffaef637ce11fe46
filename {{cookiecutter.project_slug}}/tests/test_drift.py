from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from {{ cookiecutter.__package_name }}.artifact import load_reference, resolve
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.drift import (
    ALPHA,
    BINS,
    PSI_THRESHOLD,
    check,
    compare,
    main,
    psi,
    read_csv,
)
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES

from contract_testing import CONTRACT


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Columns:
    return load_reference(resolve(model_dir))


def shifted(columns: Columns, reference: Columns) -> Columns:
    """Every number moved past the training maximum (whole numbers stay whole), every
    category to its last level."""
    numbers = columns.numbers.astype(np.float64)
    for position, item in enumerate(CONTRACT.numbers):
        trained, given = reference.numbers[:, position], numbers[:, position]
        if np.isnan(trained).all() or np.isnan(given).all():
            continue
        offset = np.nanmax(trained) - np.nanmin(given) + max(float(np.nanstd(trained)), 1.0)
        numbers[:, position] += offset if item.kind == "number" else np.ceil(offset)
    categories = columns.categories.copy()
    for position, item in enumerate(CONTRACT.categories):
        categories[:, position] = (item.levels or ("",))[-1]
    return Columns(np.asarray(numbers, dtype=np.float32), categories)


def separable(trained: npt.NDArray[np.float32], given: npt.NDArray[np.float32]) -> bool:
    """The check can flag `given` moved wholly past `trained`: PSI over the training deciles
    sees it (no value holds half the training rows, so the top decile is not most of them) and
    so does the KS test at the check's significance (these sample sizes allow it)."""
    trained, given = trained[~np.isnan(trained)], given[~np.isnan(given)]
    if len(trained) == 0 or len(given) == 0 or np.ptp(trained) == 0:
        return False
    _, counts = np.unique(trained, return_counts=True)
    apart = ks_2samp(np.arange(len(trained)), np.arange(len(given)) + len(trained)).pvalue
    return bool(counts.max() < len(trained) / 2 and apart < ALPHA / len(CONTRACT.inputs))


def write_csv(path: Path, columns: Columns) -> Path:
    """The rows as a CSV file of the inputs, each written as its kind (true/false, ...)."""
    pd.DataFrame(columns.by_input(CONTRACT)).to_csv(path, index=False)
    return path


def test_the_reference_does_not_drift_from_itself(reference: Columns) -> None:
    report = compare(reference, reference, CONTRACT)

    assert not report.drifted
    assert all(feature.psi == 0 for feature in report.features)


def test_held_out_rows_do_not_drift(model_dir: Path, held_out: Dataset) -> None:
    report = check(model_dir, held_out.columns)

    assert not report.drifted, report.render()


def test_rows_moved_past_the_training_range_drift_on_every_number_that_can_show_it(
    model_dir: Path, held_out: Dataset, reference: Columns
) -> None:
    report = check(model_dir, shifted(held_out.columns, reference))

    drifted = {feature.name for feature in report.features if feature.drifted}
    shown = [
        item.name
        for position, item in enumerate(CONTRACT.numbers)
        if separable(reference.numbers[:, position], held_out.columns.numbers[:, position])
    ]
    if not shown:
        pytest.skip("no numeric input whose move the check can show (spread, rows)")
    assert set(shown) <= drifted


def test_shifted_rows_drift_on_every_category_they_move(
    model_dir: Path, held_out: Dataset, reference: Columns
) -> None:
    report = check(model_dir, shifted(held_out.columns, reference))

    drifted = {feature.name for feature in report.features if feature.drifted}
    for position, item in enumerate(CONTRACT.categories):
        last = (item.levels or ("",))[-1]
        # Moving every row to a level most reference rows already hold moves little.
        if np.mean(reference.categories[:, position] == last) < 0.5:
            assert item.name in drifted


def test_psi_grows_with_the_shift(reference: Columns) -> None:
    # A number with many values: a boolean or a few whole numbers move between deciles in
    # steps, not gradually.
    varied = [
        column[~np.isnan(column)]
        for column in reference.numbers.T
        if len(np.unique(column[~np.isnan(column)])) >= 2 * BINS
    ]
    if not varied:
        pytest.skip(f"no numeric input with {2 * BINS} or more distinct values")
    column = max(varied, key=lambda values: len(np.unique(values)))
    # In float64: the variance of values near float32's smallest normal underflows in float32.
    spread = float(column.std(dtype=np.float64))

    small = psi(column, column + 0.1 * spread)
    large = psi(column, column + 2 * spread)

    assert 0 <= small < large
    assert large > PSI_THRESHOLD


def test_command_line_exits_1_on_drift(
    model_dir: Path,
    held_out: Dataset,
    reference: Columns,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    same = write_csv(tmp_path / "same.csv", held_out.columns)
    moved = write_csv(tmp_path / "moved.csv", shifted(held_out.columns, reference))

    assert main([str(same), "--model-dir", str(model_dir)]) == 0
    assert main([str(moved), "--model-dir", str(model_dir)]) == 1
    assert FEATURE_NAMES[0] in capsys.readouterr().out


def test_a_csv_without_a_feature_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partial.csv"
    path.write_text(",".join(item.name for item in CONTRACT.inputs[1:]) + "\n", encoding="utf-8")

    with pytest.raises(ValueError, match=f"lacks the columns {CONTRACT.inputs[0].name}"):
        read_csv(path, CONTRACT)

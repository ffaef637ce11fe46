from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.__package_name }}.artifact import load_reference, resolve
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.drift import PSI_THRESHOLD, check, compare, main, psi, read_csv
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES

from contract_testing import CONTRACT


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Columns:
    return load_reference(resolve(model_dir))


def shifted(columns: Columns) -> Columns:
    """Every number moved by three standard deviations (whole numbers stay whole), every
    category to its last level."""
    numbers = columns.numbers + 3 * np.nanstd(columns.numbers, axis=0)
    whole = [item.kind != "number" for item in CONTRACT.numbers]
    numbers[:, whole] = np.round(numbers[:, whole])
    categories = columns.categories.copy()
    for position, item in enumerate(CONTRACT.categories):
        categories[:, position] = (item.levels or ("",))[-1]
    return Columns(np.asarray(numbers, dtype=np.float32), categories)


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


def test_shifted_rows_drift_on_every_number(model_dir: Path, held_out: Dataset) -> None:
    report = check(model_dir, shifted(held_out.columns))

    drifted = [feature.name for feature in report.features if feature.drifted]
    constant = np.nanstd(held_out.columns.numbers, axis=0) == 0
    numbers = [item.name for item, flat in zip(CONTRACT.numbers, constant, strict=True) if not flat]
    assert set(numbers) <= set(drifted)


def test_shifted_rows_drift_on_every_category_they_move(
    model_dir: Path, held_out: Dataset, reference: Columns
) -> None:
    report = check(model_dir, shifted(held_out.columns))

    drifted = {feature.name for feature in report.features if feature.drifted}
    for position, item in enumerate(CONTRACT.categories):
        last = (item.levels or ("",))[-1]
        # Moving every row to a level most reference rows already hold moves little.
        if np.mean(reference.categories[:, position] == last) < 0.5:
            assert item.name in drifted


def test_psi_grows_with_the_shift(reference: Columns) -> None:
    column = reference.numbers[:, 0][~np.isnan(reference.numbers[:, 0])]
    spread = float(column.std())

    small = psi(column, column + 0.1 * spread)
    large = psi(column, column + 2 * spread)

    assert 0 <= small < large
    assert large > PSI_THRESHOLD


def test_command_line_exits_1_on_drift(
    model_dir: Path, held_out: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = write_csv(tmp_path / "same.csv", held_out.columns)
    moved = write_csv(tmp_path / "moved.csv", shifted(held_out.columns))

    assert main([str(same), "--model-dir", str(model_dir)]) == 0
    assert main([str(moved), "--model-dir", str(model_dir)]) == 1
    assert FEATURE_NAMES[0] in capsys.readouterr().out


def test_a_csv_without_a_feature_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partial.csv"
    path.write_text(",".join(item.name for item in CONTRACT.inputs[1:]) + "\n", encoding="utf-8")

    with pytest.raises(ValueError, match=f"lacks the columns {CONTRACT.inputs[0].name}"):
        read_csv(path, CONTRACT)

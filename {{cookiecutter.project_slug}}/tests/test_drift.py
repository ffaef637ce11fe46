from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from {{ cookiecutter.__package_name }}.artifact import load_reference, resolve
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.drift import PSI_THRESHOLD, check, compare, main, psi, read_csv
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> npt.NDArray[np.float32]:
    return load_reference(resolve(model_dir))


def shifted(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Every feature moved by three standard deviations."""
    return np.asarray(rows + 3 * rows.std(axis=0), dtype=np.float32)


def write_csv(path: Path, rows: npt.NDArray[np.float32]) -> Path:
    lines = [",".join(FEATURE_NAMES)] + [",".join(map(str, row.tolist())) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_reference_does_not_drift_from_itself(reference: npt.NDArray[np.float32]) -> None:
    report = compare(reference, reference, FEATURE_NAMES)

    assert not report.drifted
    assert all(feature.psi == 0 and feature.ks_statistic == 0 for feature in report.features)


def test_held_out_rows_do_not_drift(model_dir: Path, held_out: Dataset) -> None:
    report = check(model_dir, held_out.features)

    assert not report.drifted, report.render()


def test_shifted_rows_drift_on_every_feature(model_dir: Path, held_out: Dataset) -> None:
    report = check(model_dir, shifted(held_out.features))

    assert report.drifted
    assert [feature.name for feature in report.features if feature.drifted] == list(FEATURE_NAMES)


def test_psi_grows_with_the_shift(reference: npt.NDArray[np.float32]) -> None:
    column = reference[:, 0]
    spread = float(column.std())

    small = psi(column, column + 0.1 * spread)
    large = psi(column, column + 2 * spread)

    assert 0 < small < large
    assert large > PSI_THRESHOLD


def test_command_line_exit_code_says_whether_a_file_drifted(
    tmp_path: Path, model_dir: Path, held_out: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    same = write_csv(tmp_path / "same.csv", held_out.features)
    moved = write_csv(tmp_path / "moved.csv", shifted(held_out.features))

    assert main([str(same), "--model-dir", str(model_dir)]) == 0
    assert main([str(moved), "--model-dir", str(model_dir)]) == 1
    assert FEATURE_NAMES[0] in capsys.readouterr().out


def test_command_line_checks_the_training_data_source_by_default(model_dir: Path) -> None:
    assert main(["--model-dir", str(model_dir)]) == 0


def test_csv_reader_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(",".join(FEATURE_NAMES[1:]) + "\n", encoding="utf-8")

    with pytest.raises(ValueError, match=f"lacks the columns {FEATURE_NAMES[0]}"):
        read_csv(path, FEATURE_NAMES)

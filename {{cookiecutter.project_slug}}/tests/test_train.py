import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.__package_name }}.artifact import (
    HELD_OUT_FILE,
    LIBRARIES,
    METADATA_FILE,
    MODEL_FILE,
    PIPELINE_FILE,
    REFERENCE_FILE,
    REPORT_DIR,
    installed_versions,
)
from {{ cookiecutter.__package_name }}.contract import load_contract
from {{ cookiecutter.__package_name }}.data import DataError, Dataset, load_dataset, split
from {{ cookiecutter.__package_name }}.evaluation import ExportError
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.train import (
    check_export,
    export_onnx,
    fit,
    main,
)

from answers_testing import chance_level


def test_training_writes_a_complete_version_and_points_current_at_it(models_dir: Path) -> None:
    version = (models_dir / "current").read_text(encoding="utf-8").strip()
    files = {path.name for path in (models_dir / version).iterdir()}
    assert files == {
        MODEL_FILE,
        PIPELINE_FILE,
        METADATA_FILE,
        REFERENCE_FILE,
        HELD_OUT_FILE,
        REPORT_DIR,
    }


def test_metadata_records_libraries_data_metrics_and_schema(model_dir: Path) -> None:
    directory = model_dir.parent / model_dir.read_text(encoding="utf-8").strip()
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["libraries"] == installed_versions()
    assert set(metadata["libraries"]) == set(LIBRARIES)
    data = Settings().training_data
    assert metadata["data"]["sha256"] == load_dataset(data).fingerprint(load_contract())
    assert metadata["version"] == directory.name
    assert metadata["version"].endswith(metadata["data"]["sha256"][:8])
    # Better than guessing, whatever the data.
    metric, guessing = chance_level(load_contract())
    assert metadata["metrics"][metric] > guessing
    assert metadata["metrics"]["onnx_max_difference"] <= 1e-6
    training, _ = split(load_dataset(data))
    contract = load_contract()
    inputs = {item["name"]: item for item in metadata["contract"]["inputs"]}
    assert list(inputs) == [item.name for item in contract.inputs]
    for position, item in enumerate(contract.numbers):
        if item.kind in ("number", "integer"):
            values = training.columns.numbers[:, position]
            assert inputs[item.name]["min"] == pytest.approx(float(np.nanmin(values)))
            assert inputs[item.name]["max"] == pytest.approx(float(np.nanmax(values)))


def test_export_check_refuses_an_onnx_graph_of_another_model(held_out: Dataset) -> None:
    training, _ = split(load_dataset(Settings().training_data))
    contract = load_contract()
    fitted = fit(training, contract)
    other = fit(training.take(np.arange(len(training) // 2)), contract)

    with pytest.raises(ExportError, match=r"differs from the fitted pipeline|other labels"):
        check_export(fitted, export_onnx(other, contract), held_out, contract)


def test_export_check_accepts_the_onnx_graph_of_the_same_model(held_out: Dataset) -> None:
    training, _ = split(load_dataset(Settings().training_data))
    contract = load_contract()
    fitted = fit(training, contract)

    assert check_export(fitted, export_onnx(fitted, contract), held_out, contract) <= 1e-6


def test_command_line_trains_a_new_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--models-dir", str(tmp_path)]) == 0

    version = (tmp_path / "current").read_text(encoding="utf-8").strip()
    assert version in capsys.readouterr().out
    assert np.load(tmp_path / version / REFERENCE_FILE)["numbers"].dtype == np.float32


def test_training_on_a_file_drops_and_counts_rows_without_a_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = load_contract()
    dataset = load_dataset(Settings().training_data)
    # Each input as its kind (booleans as booleans), under the training data's column names.
    table = pd.DataFrame(dataset.columns.by_input(contract)).rename(
        columns={item.name: item.column for item in contract.inputs}
    )
    target = dataset.target.astype(object)
    if contract.labels:
        target = np.asarray(contract.labels, dtype=object)[dataset.target]
    table[contract.target.column] = target
    table.loc[table.index[:3], contract.target.column] = None
    path = tmp_path / "table.parquet"
    table.to_parquet(path)

    assert main(["--data", str(path), "--models-dir", str(tmp_path / "models")]) == 0
    assert "3 rows without a target left out" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("table.txt", "a,b\n1,2\n", "not a CSV or Parquet file"),
        ("table.csv", "", "the file is empty"),
        ("table.csv", "a,b\n1,2\n3,4,5\n", "cannot be read"),
        ("table.csv", "a,b\n1,2\n", "no column"),
    ],
)
def test_unusable_training_data_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert main(["--data", str(path), "--models-dir", str(tmp_path / "models")]) == 1
    error = capsys.readouterr().err
    assert problem in error
    assert error.count("\n") == 1
    assert not (tmp_path / "models").exists()


def test_data_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "absent.csv")


def test_trainings_in_the_same_second_get_distinct_versions(tmp_path: Path) -> None:
    assert main(["--models-dir", str(tmp_path)]) == 0
    first = (tmp_path / "current").read_text(encoding="utf-8").strip()
    assert main(["--models-dir", str(tmp_path)]) == 0
    second = (tmp_path / "current").read_text(encoding="utf-8").strip()

    # Same data, so the same fingerprint: the time, to the microsecond, tells them apart and
    # orders them (migrations apply versions in name order).
    assert first < second
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == [first, second]

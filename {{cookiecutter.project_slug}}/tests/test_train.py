{%- set classification = cookiecutter.model_type != "regression" -%}
import json
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.__package_name }}.artifact import (
    LIBRARIES,
    METADATA_FILE,
    MODEL_FILE,
    PIPELINE_FILE,
    REFERENCE_FILE,
    installed_versions,
)
from {{ cookiecutter.__package_name }}.data import Dataset, load_dataset, split
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.train import (
    ExportError,
    check_export,
    export_onnx,
    fit,
    main,
)


def test_training_writes_a_complete_version_and_points_current_at_it(models_dir: Path) -> None:
    version = (models_dir / "current").read_text(encoding="utf-8").strip()
    files = {path.name for path in (models_dir / version).iterdir()}
    assert files == {MODEL_FILE, PIPELINE_FILE, METADATA_FILE, REFERENCE_FILE}


def test_metadata_records_libraries_data_metrics_and_schema(model_dir: Path) -> None:
    directory = model_dir.parent / model_dir.read_text(encoding="utf-8").strip()
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["libraries"] == installed_versions()
    assert set(metadata["libraries"]) == set(LIBRARIES)
    assert metadata["data"]["sha256"] == load_dataset().fingerprint()
    assert metadata["version"] == directory.name
    assert metadata["version"].endswith(metadata["data"]["sha256"][:8])
{%- if classification %}
    assert metadata["metrics"]["accuracy"] > 0.85
{%- else %}
    assert metadata["metrics"]["r2"] > 0.2
{%- endif %}
    assert metadata["metrics"]["onnx_max_difference"] <= 1e-6
    training, _ = split(load_dataset())
    assert [feature["name"] for feature in metadata["input_schema"]] == list(FEATURE_NAMES)
    assert [feature["min"] for feature in metadata["input_schema"]] == pytest.approx(
        training.features.min(axis=0).tolist()
    )
    assert [feature["max"] for feature in metadata["input_schema"]] == pytest.approx(
        training.features.max(axis=0).tolist()
    )


def test_export_check_refuses_an_onnx_graph_of_another_model(held_out: Dataset) -> None:
    training, _ = split(load_dataset())
    half = len(training.features) // 2
    fitted = fit(training)
    other = fit(Dataset(training.features[:half], training.target[:half]))

    with pytest.raises(ExportError, match=r"differs from the fitted pipeline|other labels"):
        check_export(fitted, export_onnx(other), held_out)


def test_export_check_accepts_the_onnx_graph_of_the_same_model(held_out: Dataset) -> None:
    training, _ = split(load_dataset())
    fitted = fit(training)

    assert check_export(fitted, export_onnx(fitted), held_out) <= 1e-6


def test_command_line_trains_a_new_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--models-dir", str(tmp_path)]) == 0

    version = (tmp_path / "current").read_text(encoding="utf-8").strip()
    assert version in capsys.readouterr().out
    assert np.load(tmp_path / version / REFERENCE_FILE)["features"].dtype == np.float32


def test_trainings_in_the_same_second_get_distinct_versions(tmp_path: Path) -> None:
    assert main(["--models-dir", str(tmp_path)]) == 0
    first = (tmp_path / "current").read_text(encoding="utf-8").strip()
    assert main(["--models-dir", str(tmp_path)]) == 0
    second = (tmp_path / "current").read_text(encoding="utf-8").strip()

    # Same data, so the same fingerprint: the time, to the microsecond, tells them apart and
    # orders them (migrations apply versions in name order).
    assert first < second
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == [first, second]

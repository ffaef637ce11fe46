import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.__package_name }}.artifact import (
    METADATA_FILE,
    ArtifactError,
    installed_versions,
    load_metadata,
    load_pipeline,
    resolve,
)
from {{ cookiecutter.__package_name }}.contract import load_contract
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.features import model_frame


@pytest.fixture
def version_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the trained version that a test may tamper with."""
    return Path(shutil.copytree(resolve(model_dir), tmp_path / "version"))


def test_pointer_and_version_directory_load_the_same_model(model_dir: Path) -> None:
    directory, metadata = load_metadata(model_dir)

    assert directory == model_dir.parent / metadata.version
    assert load_metadata(directory) == (directory, metadata)


def test_missing_artifact_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no model artifact at .*: train one first"):
        load_metadata(tmp_path / "current")


def test_other_library_version_is_refused_with_a_one_line_message(version_copy: Path) -> None:
    metadata = json.loads((version_copy / METADATA_FILE).read_text(encoding="utf-8"))
    metadata["libraries"]["numpy"] = "1.0.0"
    (version_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    message = str(refused.value)
    assert "\n" not in message
    assert f"numpy 1.0.0 (installed: {installed_versions()['numpy']})" in message
    assert "retrain" in message


def test_library_missing_from_the_running_environment_is_not_compared(
    version_copy: Path,
) -> None:
    metadata = json.loads((version_copy / METADATA_FILE).read_text(encoding="utf-8"))
    metadata["libraries"]["a-library-serving-does-not-install"] = "1.0.0"
    (version_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")

    assert load_metadata(version_copy)[1].libraries == metadata["libraries"]


def test_a_model_of_other_inputs_is_refused(version_copy: Path) -> None:
    metadata = json.loads((version_copy / METADATA_FILE).read_text(encoding="utf-8"))
    metadata["contract"]["inputs"].reverse()
    (version_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")

    with pytest.raises(ArtifactError, match="takes other inputs or predicts another target"):
        load_metadata(version_copy)


def test_corrupt_metadata_is_refused(version_copy: Path) -> None:
    (version_copy / METADATA_FILE).write_text("{}", encoding="utf-8")

    with pytest.raises(ArtifactError, match="is not valid model metadata"):
        load_metadata(version_copy)


def test_fitted_pipeline_loads_with_its_trusted_types_only(
    model_dir: Path, held_out: Dataset
) -> None:
    pipeline = load_pipeline(model_dir)
    frame = model_frame(held_out.columns, load_contract())

    assert pipeline.predict(frame).shape == (len(held_out),)
    assert np.isfinite(pipeline.predict(frame)).all()

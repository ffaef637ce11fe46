import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from pydantic import SecretStr, ValidationError

from {{ cookiecutter.__package_name }} import predictor as predictor_module
from {{ cookiecutter.__package_name }}.artifact import (
    HASHED_FILES,
    HELD_OUT_FILE,
    METADATA_FILE,
    METADATA_MAX_BYTES,
    MODEL_FILE,
    PIPELINE_FILE,
    POINTER_FILE,
    REFERENCE_FILE,
    REPORT_DIR,
    SIGNATURE_FILE,
    Artifact,
    ArtifactError,
    ArtifactSettings,
    installed_versions,
    load_artifact,
    load_metadata,
    load_pipeline,
    load_reference,
    point,
    resolve,
    save,
)
from {{ cookiecutter.__package_name }}.contract import load_contract
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.features import model_frame
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.review import scratch_settings
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.train import main as train_main

KEY = SecretStr("a signing key long enough to be one, for tests")
OTHER_KEY = SecretStr("another signing key, just as long as the first")


@pytest.fixture
def version_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the trained version that a test may tamper with."""
    return Path(shutil.copytree(resolve(model_dir), tmp_path / "version"))


def record_hash(version: Path, name: str) -> None:
    """Rewrite the metadata's sha256 of `name`, as a tamperer covering their tracks would."""
    metadata = json.loads((version / METADATA_FILE).read_text(encoding="utf-8"))
    metadata["files"][name] = hashlib.sha256((version / name).read_bytes()).hexdigest()
    (version / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")


def one_line(refused: pytest.ExceptionInfo[ArtifactError]) -> str:
    message = str(refused.value)
    assert "\n" not in message
    return message


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


def test_metadata_records_the_sha256_of_every_file_of_the_version(model_dir: Path) -> None:
    directory, metadata = load_metadata(model_dir)

    assert metadata.files == {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in (*HASHED_FILES, HELD_OUT_FILE)
    }
    assert {path.name for path in directory.iterdir()} == {
        *HASHED_FILES,
        HELD_OUT_FILE,
        METADATA_FILE,
        REPORT_DIR,
    }


def test_another_valid_onnx_model_in_place_of_the_trained_one_is_refused(
    version_copy: Path,
) -> None:
    other = onnx.load(version_copy / MODEL_FILE)
    other.doc_string = "a model with the same inputs that training did not write"
    onnx.save(other, version_copy / MODEL_FILE)

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    assert f"{MODEL_FILE} differs from the file model" in one_line(refused)
    assert "sha256 mismatch" in one_line(refused)


@pytest.mark.parametrize("name", HASHED_FILES)
def test_any_altered_file_of_the_version_is_refused(version_copy: Path, name: str) -> None:
    with (version_copy / name).open("ab") as file:
        file.write(b"\0")

    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        load_metadata(version_copy)


def test_a_missing_file_of_the_version_is_refused(version_copy: Path) -> None:
    (version_copy / REFERENCE_FILE).unlink()

    with pytest.raises(ArtifactError, match=f"is incomplete: .*{REFERENCE_FILE} is missing"):
        load_metadata(version_copy)


def test_metadata_without_file_hashes_is_refused(version_copy: Path) -> None:
    metadata = json.loads((version_copy / METADATA_FILE).read_text(encoding="utf-8"))
    del metadata["files"]
    (version_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")

    with pytest.raises(ArtifactError, match=f"records no sha256 for {MODEL_FILE}: retrain"):
        load_metadata(version_copy)


@pytest.mark.parametrize("target", ["../../outside_model", "../outside_model", "/", ".."])
def test_a_pointer_outside_the_models_directory_is_refused(
    models_dir: Path, tmp_path: Path, target: str
) -> None:
    models = Path(shutil.copytree(models_dir, tmp_path / "a" / "models"))
    outside = Path(shutil.copytree(resolve(models / POINTER_FILE), tmp_path / "outside_model"))
    # A complete, valid version: only its place is wrong.
    assert load_metadata(outside)[0] == outside
    (models / POINTER_FILE).write_text(target + "\n", encoding="utf-8")

    with pytest.raises(ArtifactError) as refused:
        load_metadata(models / POINTER_FILE)

    assert "inside the models directory" in one_line(refused)


def test_a_pickle_in_place_of_the_skops_file_is_an_artifact_error(version_copy: Path) -> None:
    (version_copy / PIPELINE_FILE).write_bytes(pickle.dumps({"not": "a pipeline"}))
    record_hash(version_copy, PIPELINE_FILE)

    with pytest.raises(ArtifactError) as refused:
        load_pipeline(version_copy)

    assert f"{PIPELINE_FILE} is not a skops file" in one_line(refused)


def test_an_object_array_in_the_reference_sample_is_an_artifact_error(
    version_copy: Path,
) -> None:
    objects = np.array([["a", 1], [None, 2.0]], dtype=object)
    np.savez_compressed(version_copy / REFERENCE_FILE, numbers=objects, categories=objects)
    record_hash(version_copy, REFERENCE_FILE)

    with pytest.raises(ArtifactError) as refused:
        load_reference(load_metadata(version_copy)[0])

    assert f"{REFERENCE_FILE} is not a reference sample" in one_line(refused)


def test_a_reference_sample_of_another_shape_is_an_artifact_error(version_copy: Path) -> None:
    np.savez_compressed(
        version_copy / REFERENCE_FILE, numbers=np.arange(3.0), categories=np.arange(3.0)
    )
    record_hash(version_copy, REFERENCE_FILE)

    with pytest.raises(ArtifactError, match="expected a float32 table"):
        load_reference(load_metadata(version_copy)[0])


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b""])
def test_malformed_metadata_is_a_one_line_artifact_error(
    version_copy: Path, content: bytes
) -> None:
    (version_copy / METADATA_FILE).write_bytes(content)

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    assert "is not valid model metadata" in one_line(refused)


@pytest.mark.parametrize("name", [METADATA_FILE, *HASHED_FILES])
def test_a_symbolic_link_in_the_version_is_refused(
    version_copy: Path, tmp_path: Path, name: str
) -> None:
    # The very same bytes, kept outside the version: only the link is wrong.
    outside = Path(shutil.copy(version_copy / name, tmp_path / "outside"))
    (version_copy / name).unlink()
    (version_copy / name).symlink_to(outside)

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    assert f"{version_copy / name} is a symbolic link" in one_line(refused)


def test_metadata_over_the_size_limit_is_refused_before_it_is_parsed(
    version_copy: Path,
) -> None:
    metadata = (version_copy / METADATA_FILE).read_bytes()
    # Valid JSON still: trailing whitespace.
    (version_copy / METADATA_FILE).write_bytes(metadata + b" " * METADATA_MAX_BYTES)

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    assert f"more than the {METADATA_MAX_BYTES} bytes allowed" in one_line(refused)


@pytest.mark.parametrize("where", [(), ("data",)])
def test_metadata_with_a_key_it_does_not_know_is_refused(
    version_copy: Path, where: tuple[str, ...]
) -> None:
    metadata = json.loads((version_copy / METADATA_FILE).read_text(encoding="utf-8"))
    part = metadata
    for key in where:
        part = part[key]
    part["unexpected"] = "x" * 100
    (version_copy / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    assert "is not valid model metadata: Extra inputs are not permitted" in one_line(refused)
    assert ".".join((*where, "unexpected")) in one_line(refused)


@pytest.mark.parametrize("name", [".", METADATA_FILE, *HASHED_FILES])
def test_a_world_writable_version_directory_or_file_is_refused(
    version_copy: Path, name: str
) -> None:
    path = version_copy / name
    path.chmod(path.stat().st_mode | 0o002)

    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy)

    assert f"{path} is writable by every user" in one_line(refused)


def test_training_writes_files_nobody_else_may_write(model_dir: Path) -> None:
    directory = resolve(model_dir)

    for path in [directory, *directory.iterdir()]:
        assert path.stat().st_mode & 0o022 == 0, path


def test_the_predictor_runs_the_model_bytes_that_were_verified(
    version_copy: Path, held_out: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def load_then_swap(model_dir: Path, settings: ArtifactSettings) -> Artifact:
        artifact = load_artifact(model_dir, settings)
        # Replaced between the check and the load: the file must not be read again.
        (version_copy / MODEL_FILE).write_bytes(b"not the model that was verified")
        return artifact

    version = load_metadata(version_copy)[1].version
    monkeypatch.setattr(predictor_module, "load_artifact", load_then_swap)

    predictor = Predictor.load(version_copy, Settings(**scratch_settings(tmp_path)))

    assert predictor.model_version == version
    assert len(predictor.predict_columns(held_out.columns.take(np.arange(3)))) == 3


@pytest.fixture
def signed_models(model_dir: Path, tmp_path: Path) -> Path:
    """A models directory whose one version, the trained one, is signed with `KEY`."""
    artifact = load_artifact(model_dir, ArtifactSettings())
    models = tmp_path / "signed"
    reference = load_reference(artifact.directory)
    pipeline = load_pipeline(model_dir)
    save(models, artifact.metadata, artifact.model, pipeline, reference, signing_key=KEY)
    point(models, artifact.metadata.version)
    return models


def test_a_signed_version_loads_with_its_key(signed_models: Path) -> None:
    settings = ArtifactSettings(model_signing_key=KEY)

    directory, _ = load_metadata(signed_models / POINTER_FILE, settings)

    assert (directory / SIGNATURE_FILE).is_file()


def test_an_unsigned_version_is_refused_when_a_key_is_set(version_copy: Path) -> None:
    with pytest.raises(ArtifactError) as refused:
        load_metadata(version_copy, ArtifactSettings(model_signing_key=KEY))

    assert f"{version_copy / SIGNATURE_FILE} is missing" in one_line(refused)


def test_a_version_signed_with_another_key_is_refused(signed_models: Path) -> None:
    with pytest.raises(ArtifactError) as refused:
        load_metadata(signed_models / POINTER_FILE, ArtifactSettings(model_signing_key=OTHER_KEY))

    assert "is not the signature of" in one_line(refused)


def test_metadata_changed_after_signing_is_refused(signed_models: Path) -> None:
    directory = resolve(signed_models / POINTER_FILE)
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    metadata["metrics"] = dict.fromkeys(metadata["metrics"], 1.0)
    (directory / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")

    with pytest.raises(ArtifactError) as refused:
        load_metadata(directory, ArtifactSettings(model_signing_key=KEY))

    assert f"is not the signature of {directory / METADATA_FILE}" in one_line(refused)


SIGNING_KEY_VARIABLE = "{{ cookiecutter.__package_name | upper }}_MODEL_SIGNING_KEY"


def test_the_signing_key_is_read_from_the_environment_by_default(
    version_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIGNING_KEY_VARIABLE, KEY.get_secret_value())

    with pytest.raises(ArtifactError, match="not loading an unsigned model version"):
        load_metadata(version_copy)


def test_training_signs_the_version_when_the_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIGNING_KEY_VARIABLE, KEY.get_secret_value())

    assert train_main(["--models-dir", str(tmp_path)]) == 0

    directory, _ = load_metadata(tmp_path / POINTER_FILE)
    assert (directory / SIGNATURE_FILE).is_file()
    with pytest.raises(ArtifactError, match="is not the signature of"):
        load_metadata(directory, ArtifactSettings(model_signing_key=OTHER_KEY))


def test_a_short_signing_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ArtifactSettings(model_signing_key=SecretStr("short"))


def test_the_signing_key_survives_the_json_the_batch_engines_ship_to_workers() -> None:
    settings = ArtifactSettings(model_signing_key=KEY)

    shipped = ArtifactSettings.model_validate_json(settings.model_dump_json())

    assert shipped.model_signing_key == KEY

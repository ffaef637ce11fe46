"""Fixtures shared by the test modules: one model, trained once per session."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from {{ cookiecutter.__package_name }}.artifact import Metadata, TrainingData
from {{ cookiecutter.__package_name }}.contract import MODEL_TYPE
from {{ cookiecutter.__package_name }}.data import Dataset, load_dataset, split
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.review import Review, scratch_settings
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.train import export_onnx, fit, train

from contract_testing import MIXED, MixedModel, synthetic_table

TRAINING_DATA_SETTING = "{{ cookiecutter.__package_name | upper }}_TRAINING_DATA"

# A strategy's own fixtures live in tests/<name>_fixtures.py, each loaded as a plugin.
pytest_plugins = sorted(path.stem for path in Path(__file__).parent.glob("*_fixtures.py"))


@pytest.fixture(scope="session", autouse=True)
def training_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """The project's training data, or where it is not on this machine (a fresh clone in
    CI), a table drawn from features.yaml in its place: the suite checks the code, and needs
    no user data. Set for the whole session, so every `Settings()` reads the same."""
    configured = Settings().training_data
    if configured is None or configured.exists():
        yield configured
        return
    path = tmp_path_factory.mktemp("data") / "synthetic.parquet"
    synthetic_table(rows=400).to_parquet(path)
    previous = os.environ.get(TRAINING_DATA_SETTING)
    os.environ[TRAINING_DATA_SETTING] = str(path)
    yield path
    if previous is None:
        del os.environ[TRAINING_DATA_SETTING]
    else:
        os.environ[TRAINING_DATA_SETTING] = previous


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding one freshly trained version, trained on the project's
    training data (the `training_data` setting; the sample data set by default)."""
    models = tmp_path_factory.mktemp("models")
    train(models, Settings().training_data)
    return models


@pytest.fixture(scope="session")
def mixed_model(tmp_path_factory: pytest.TempPathFactory) -> MixedModel:
    """A model trained and exported with every kind of input, whatever features.yaml holds."""
    import onnxruntime as ort

    path = tmp_path_factory.mktemp("mixed") / "mixed.parquet"
    synthetic_table(rows=400, contract=MIXED).to_parquet(path)
    dataset = load_dataset(path, MIXED)
    pipeline = fit(dataset, MIXED)
    session = ort.InferenceSession(export_onnx(pipeline, MIXED), providers=["CPUExecutionProvider"])
    return MixedModel(pipeline, session, dataset.columns.take(slice(0, 20)))


@pytest.fixture(scope="session")
def mixed_predictor(mixed_model: MixedModel, tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """A predictor of `mixed_model`, as if loaded from an artifact trained on `MIXED`."""
    metadata = Metadata(
        version="mixed",
        created_at=datetime.now(UTC),
        model_type=MODEL_TYPE,
        estimator="pipeline",
        libraries={},
        data=TrainingData(name="synthetic", sha256="", rows=400, held_out_rows=0),
        metrics={},
        contract=MIXED,
    )
    settings = Settings(**scratch_settings(tmp_path_factory.mktemp("mixed-review")))
    return Predictor(mixed_model.session, metadata, Review.of(mixed_model.rows, settings))


@pytest.fixture(scope="session")
def model_dir(models_dir: Path) -> Path:
    """The `current` pointer of `models_dir`, as a service is configured with it."""
    return models_dir / "current"


@pytest.fixture(scope="session")
def held_out() -> Dataset:
    """The rows the model was not trained on."""
    return split(load_dataset(Settings().training_data))[1]


@pytest.fixture(scope="session")
def predictor(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """The predictor of `model_dir`, its answers reviewed as the project's are (review.py),
    out of the project's own files."""
    settings = Settings(**scratch_settings(tmp_path_factory.mktemp("review")))
    return Predictor.load(model_dir, settings)

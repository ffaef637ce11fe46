{%- set legal = cookiecutter.legal_review == "yes" -%}
"""Fixtures shared by the test modules: one model, trained once per session."""

from pathlib import Path

import pytest

{% if legal -%}
from {{ cookiecutter.__package_name }}.audit import AuditLog
{% endif -%}
from {{ cookiecutter.__package_name }}.data import Dataset, load_dataset, split
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.train import train


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding one freshly trained version, trained on the project's
    training data (the `training_data` setting; the sample data set by default)."""
    models = tmp_path_factory.mktemp("models")
    train(models, Settings().training_data)
    return models


@pytest.fixture(scope="session")
def model_dir(models_dir: Path) -> Path:
    """The `current` pointer of `models_dir`, as a service is configured with it."""
    return models_dir / "current"


@pytest.fixture(scope="session")
def held_out() -> Dataset:
    """The rows the model was not trained on."""
    return split(load_dataset(Settings().training_data))[1]
{%- if legal %}


@pytest.fixture
def audit_log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit" / "predictions.jsonl")


@pytest.fixture
def predictor(model_dir: Path, audit_log: AuditLog) -> Predictor:
    return Predictor.load(model_dir, audit_log)
{%- else %}


@pytest.fixture(scope="session")
def predictor(model_dir: Path) -> Predictor:
    return Predictor.load(model_dir)
{%- endif %}

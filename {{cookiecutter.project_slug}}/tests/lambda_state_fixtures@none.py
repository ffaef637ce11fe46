"""The functions' tests without state: a request or a row is scored with the features it gives
(a pytest plugin: conftest.py loads every *_fixtures.py)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.lambda_state import State
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import score_pending

from scheduled_testing import ENV_PREFIX, Score


@pytest.fixture
def request_body() -> Callable[[dict[str, Any]], Any]:
    """The `POST /predict` body asking for the prediction of a row: the row itself."""
    return lambda row: row


@pytest.fixture
def filled() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The row the model scores for `request_body(row)`: the row itself."""
    return lambda row: row


@pytest.fixture
def state_settings() -> dict[str, Any]:
    """The function's settings naming where the state is: there is none."""
    return {}


@pytest.fixture
def state_environment() -> dict[str, str]:
    """The variables naming where the state is: there is none."""
    return {}


@pytest.fixture
def score(predictor: Predictor) -> Score:
    """Score the files pending in a storage."""
    return lambda storage: score_pending(storage, predictor, State())


@pytest.fixture
def scheduled_environment(model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The scheduled handler's settings: the test model (the data URL is the test's)."""
    monkeypatch.chdir(tmp_path)  # anything the function writes stays in the test's directory
    monkeypatch.setenv(ENV_PREFIX + "MODEL_DIR", str(model_dir))

"""Fixtures of the precompute job's tests (a pytest plugin: conftest.py loads every
*_fixtures.py)."""

from pathlib import Path

import pytest

PREFIX = "{{ cookiecutter.__package_name | upper }}_"


@pytest.fixture
def job_environment(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of the job's command line, but its store: the test model, and an audit
    log of the test's own."""
    monkeypatch.setenv(f"{PREFIX}MODEL_DIR", str(model_dir))
    monkeypatch.setenv(f"{PREFIX}AUDIT_LOG_PATH", str(tmp_path / "audit.jsonl"))

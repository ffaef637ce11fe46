"""Shared fixtures for the template's tests."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent
sys.path.insert(
    0, str(TEMPLATE)
)  # the pure modules (decision/, local_extensions) are tested directly

# cookiecutter imports `local_extensions` by name, from the template copy of the first bake,
# and later bakes in the same process reuse that module after the copy is deleted: import
# the template's own first (a test module importing it did this by chance, not a lone
# `pytest tests/test_generated.py`).
import local_extensions  # noqa: E402, F401

# Tests never talk to a questionnaire unless they start one in a pseudo-terminal themselves.
os.environ["ML_DEPLOY_QUESTIONNAIRE"] = "off"

# `make test-fuzz SEEDS=...` runs these; the fixed seeds are in the harness's combinations.
collect_ignore = [] if os.environ.get("ML_DEPLOY_FUZZ_SEEDS") else ["test_fuzz_projects.py"]


@pytest.fixture(scope="session")
def template() -> Path:
    return TEMPLATE


def cookiecutter_requirement() -> str:
    """`cookiecutter==X`, as the template's pyproject pins it."""
    text = (TEMPLATE / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'"(cookiecutter==[^"]+)"', text)
    assert found, "pyproject.toml pins cookiecutter"
    return found.group(1)


@pytest.fixture(scope="session")
def cookiecutter_alone() -> Path:
    """The `cookiecutter` of an environment that has cookiecutter (at the template's pin)
    and its own dependencies only, as `pipx install cookiecutter` gives it: no questionary.

    Built once with uv, outside the repo, under the user cache (parallel workers wait for
    the one that builds it; a build that failed half-way is redone).
    """
    requirement = cookiecutter_requirement()
    venvs = Path.home() / ".cache" / "cookiecutter-ml-deploy" / "cookiecutter-alone"
    venv = venvs / requirement.replace("==", "-")
    venvs.mkdir(parents=True, exist_ok=True)
    with (venvs / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").is_file():
            uv = str(Path(sys.executable).with_name("uv"))
            subprocess.run([uv, "venv", "-q", "--clear", str(venv)], check=True)
            install = [uv, "pip", "install", "-q", "-p", str(venv / "bin" / "python")]
            subprocess.run([*install, requirement], check=True)
            (venv / ".complete").touch()
    python = str(venv / "bin" / "python")
    probe = subprocess.run([python, "-c", "import questionary"], capture_output=True)
    assert probe.returncode != 0, f"{venv} must not have questionary"
    return venv / "bin" / "cookiecutter"

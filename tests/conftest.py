"""Shared fixtures for the template's tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent
sys.path.insert(
    0, str(TEMPLATE)
)  # the pure modules (decision/, local_extensions) are tested directly

# Tests never talk to a questionnaire unless they start one in a pseudo-terminal themselves.
os.environ["ML_DEPLOY_QUESTIONNAIRE"] = "off"


@pytest.fixture(scope="session")
def template() -> Path:
    return TEMPLATE

"""How the template is laid out: what varies by framework or model type is rendered whole
from a partial (templates/frameworks/, templates/model_types/), never branched inside the
modules an ML engineer edits."""

import re
from pathlib import Path

import pytest

PACKAGE = (
    Path(__file__).resolve().parent.parent
    / "{{cookiecutter.project_slug}}"
    / "src"
    / "{{cookiecutter.__package_name}}"
)
EDITED = ["train.py", "predictor.py", "schema.py", "sql.py", "features.py"]
VARIATION = re.compile(r"\{[{%][^}]*\b(model_type|framework)\b")


@pytest.mark.parametrize("name", EDITED)
def test_edited_modules_do_not_vary_by_framework_or_model_type(name: str) -> None:
    text = (PACKAGE / name).read_text(encoding="utf-8")
    lines = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), 1)
        if VARIATION.search(line)
    ]
    assert not lines, f"{name} branches on the framework or model type:\n" + "\n".join(lines)

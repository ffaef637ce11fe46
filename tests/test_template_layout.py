"""How the template is laid out: options are ports with whole-file variants chosen by the
manifests (hooks/manifest.py), so the template's Python reads as plain Python; what varies by
framework or model type never branches inside the modules an ML engineer edits."""

import re
import shutil
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent
PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
PACKAGE = PROJECT / "src" / "{{cookiecutter.__package_name}}"
sys.path.insert(0, str(TEMPLATE / "tools"))
EDITED = ["train.py", "predictor.py", "schema.py", "sql.py", "features.py"]
VARIATION = re.compile(r"\{[{%][^}]*\b(model_type|framework)\b")


def python_files() -> dict[str, str]:
    """Every Python file a project can get, by its path in the project (`{package}` for the
    package directory)."""
    files = {
        str(path.relative_to(PROJECT)).replace("{{cookiecutter.__package_name}}", "{package}"): (
            path.read_text(encoding="utf-8")
        )
        for path in PROJECT.rglob("*.py")
    }
    files |= {
        str(path.relative_to(TEMPLATE)): path.read_text()
        for path in TEMPLATE.glob("templates/**/*.py.j2")
    }
    return files


def test_no_python_file_branches_with_jinja() -> None:
    tagged = [
        f"{path}: {text.count('{%')} tags" for path, text in python_files().items() if "{%" in text
    ]
    assert not tagged, (
        "Python files branch with Jinja (use a port with whole-file variants):\n"
        + "\n".join(sorted(tagged))
    )


@pytest.mark.parametrize("name", EDITED)
def test_edited_modules_do_not_vary_by_framework_or_model_type(name: str) -> None:
    text = (PACKAGE / name).read_text(encoding="utf-8")
    lines = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), 1)
        if VARIATION.search(line)
    ]
    assert not lines, f"{name} branches on the framework or model type:\n" + "\n".join(lines)


def test_the_template_python_without_tags_is_ruff_clean() -> None:
    """Checked as it stands, in seconds, before any bake (tools/lint_template_python.py)."""
    import lint_template_python

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    findings = [
        f for name in lint_template_python.NAMES for f in lint_template_python.lint(ruff, name)
    ]
    assert not findings, "\n".join(findings)

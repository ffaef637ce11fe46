"""How the template is laid out: options are ports with whole-file variants chosen by the
manifests (hooks/manifest.py), so the template's Python reads as plain Python; what varies by
framework or model type never branches inside the modules an ML engineer edits."""

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent
PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
PACKAGE = PROJECT / "src" / "{{cookiecutter.__package_name}}"
BUDGET = Path(__file__).with_name("branched_python.yaml")
sys.path.insert(0, str(TEMPLATE / "tools"))
EDITED = ["train.py", "predictor.py", "schema.py", "sql.py", "features.py"]
VARIATION = re.compile(r"\{[{%][^}]*\b(model_type|framework)\b")


def python_files() -> dict[str, str]:
    """Every Python file a project can get, by its path in BUDGET's terms."""
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


def test_no_python_file_gains_a_jinja_tag_and_the_budget_only_goes_down() -> None:
    budget: dict[str, int] = yaml.safe_load(BUDGET.read_text(encoding="utf-8")) or {}
    counts = {path: text.count("{%") for path, text in python_files().items()}
    over = [
        f"{p}: {n} tags, {budget.get(p, 0)} allowed"
        for p, n in counts.items()
        if n > budget.get(p, 0)
    ]
    assert not over, (
        "Python files branch with Jinja (use a port with whole-file variants):\n"
        + "\n".join(sorted(over))
    )
    stale = [
        f"{p}: {budget[p]} allowed, {counts.get(p, 0)} now"
        for p in budget
        if counts.get(p, 0) < budget[p]
    ]
    assert not stale, f"lower these counts in {BUDGET.name} (drop a file at 0):\n" + "\n".join(
        sorted(stale)
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

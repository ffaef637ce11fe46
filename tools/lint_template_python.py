"""ruff on the template's Python as it stands: the first, seconds-long tier of `make test`.

Every Python file a project can get (none carries a Jinja tag:
tests/test_template_layout.py) is copied with its names substituted, not baked: the package
name and its upper-case form, the distribution name, and any other `{{ ... }}` as a number.
The generated projects' own ruff settings (pyproject.toml's [tool.ruff] tables) are applied,
for the shortest and the longest package name a project can have, so a line that only fits
for short names is caught here rather than in a bake. Variant files (`<stem>@<choice>.py`)
are checked as they are; the harness bakes each combination for the rest.

    python tools/lint_template_python.py      # exits 1 and prints ruff's findings
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "{{cookiecutter.project_slug}}"
PACKAGE_DIR = "{{cookiecutter.__package_name}}"
NAMES = ("ab", "zz_" + "a" * 17)
"""The shortest and longest package names the template lays its code out for."""


def substituted(text: str, package: str) -> str:
    text = text.replace("{{ cookiecutter.__package_name | upper }}", package.upper())
    text = text.replace("{{ cookiecutter.__package_name }}", package)
    text = text.replace("{{ cookiecutter.project_slug }}", package.replace("_", "-"))
    text = re.sub(r"\{\{ cookiecutter\.\w+ \| python_string \}\}", '"Name"', text)
    # The oldest Python a project can target: the rules are checked for it.
    text = text.replace("{{ cookiecutter.python_version | replace('.', '') }}", "311")
    return re.sub(r"\{\{.*?\}\}", "1", text)


def ruff_settings(package: str) -> str:
    """The generated projects' [tool.ruff] tables, as a ruff.toml."""
    pyproject = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")
    tables = re.findall(r"^\[tool\.ruff[^\]]*\]\n(?:(?!^\[).*\n?)*", pyproject, re.MULTILINE)
    text = substituted("".join(tables), package)
    return text.replace("[tool.ruff]\n", "").replace("[tool.ruff.", "[")


def plain_python() -> list[Path]:
    return sorted(
        path for path in PROJECT.rglob("*.py") if "{%" not in path.read_text(encoding="utf-8")
    )


def lint(ruff: str, package: str) -> list[str]:
    """ruff's findings for the plain files, with `package` as the package name."""
    with tempfile.TemporaryDirectory(prefix="template-python-") as scratch:
        tree = Path(scratch)
        for path in plain_python():
            relative = str(path.relative_to(PROJECT)).replace(PACKAGE_DIR, package)
            target = tree / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(substituted(path.read_text(encoding="utf-8"), package))
        (tree / "ruff.toml").write_text(ruff_settings(package))
        findings = []
        for command in (["check", "--output-format", "concise", "."], ["format", "--check", "."]):
            result = subprocess.run(
                [ruff, *command, "--no-cache"], cwd=tree, capture_output=True, text=True
            )
            if result.returncode:
                findings.append(f"ruff {command[0]} ({package}):\n{result.stdout}{result.stderr}")
        return findings


def main() -> int:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    findings = [finding for package in NAMES for finding in lint(ruff, package)]
    print("\n".join(findings) or f"{len(plain_python())} plain Python files are ruff clean")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

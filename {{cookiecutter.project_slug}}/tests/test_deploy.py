"""The Kubernetes manifests in deploy/: images pinned to the project's version, and
credentials in Secrets only."""

import re
import tomllib
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((PROJECT / "deploy").rglob("*.yaml"))
IMAGE = re.compile(r"^\s*(?:image:|spark\.kubernetes\.container\.image)\s+(\S+)\s*$", re.MULTILINE)
"""A container's image, or the image Spark starts its executor pods with."""
CREDENTIALS = re.compile(r"\w+://[^\s/@:]+:[^\s/@]+@")
"""A URL with a user and a password in it."""


def project_version() -> str:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    version: str = pyproject["project"]["version"]
    return version


def without_comments(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_every_image_is_tagged_with_the_project_version() -> None:
    images = {manifest.name: IMAGE.findall(without_comments(manifest)) for manifest in MANIFESTS}
    assert any(images.values()), "no manifest in deploy/ runs an image"
    for name, found in images.items():
        for image in found:
            assert image.rsplit(":", 1)[-1] == project_version(), (
                f"{name}: {image} is not tagged {project_version()}: a manifest runs the"
                " release it was written for, never :latest"
            )


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda path: path.name)
def test_no_credentials_outside_secrets(manifest: Path) -> None:
    assert not CREDENTIALS.findall(without_comments(manifest))

"""hooks/manifest.py: which files a project keeps and which variant fills each port."""

from __future__ import annotations

from typing import Any

import pytest

import local_extensions
from hooks import manifest

MANIFESTS: dict[str, dict[str, Any]] = {
    manifest.SHARED: {
        "options": [{"when": {"legal_review": "yes"}, "paths": ["src/{package}/audit.py"]}],
        "variants": {"src/{package}/review.py": {"legal": {"legal_review": "yes"}, "none": {}}},
    },
    "batch": {
        "files": ["src/{package}/batch.py", "deploy/batch/"],
        "options": [{"when": {"batch_engine": "dask"}, "paths": ["deploy/batch/dask.yaml"]}],
        "variants": {"src/{package}/state_join.py": {"stored": {"stateful": "yes"}}},
    },
    "rest": {"files": ["src/{package}/api.py"]},
}


def values(**answers: str) -> dict[str, str]:
    return {"strategy": "batch", "batch_engine": "pandas", "legal_review": "no"} | answers


def test_a_strategy_keeps_its_own_files_and_drops_the_others() -> None:
    plan = manifest.plan(values(stateful="yes"), "pkg", MANIFESTS)
    assert "src/pkg/api.py" in plan.remove
    assert "src/pkg/batch.py" not in plan.remove
    assert "deploy/batch/dask.yaml" in plan.remove
    assert "src/pkg/audit.py" in plan.remove


def test_the_first_choice_that_holds_is_moved_into_place_and_the_others_removed() -> None:
    plan = manifest.plan(values(legal_review="yes", stateful="yes"), "pkg", MANIFESTS)
    assert ("src/pkg/review@legal.py", "src/pkg/review.py") in plan.moves
    assert "src/pkg/review@none.py" in plan.remove
    assert "src/pkg/review@legal.py" not in plan.remove
    assert ("src/pkg/state_join@stored.py", "src/pkg/state_join.py") in plan.moves


def test_an_empty_when_is_the_fallback_choice() -> None:
    plan = manifest.plan(values(stateful="yes"), "pkg", MANIFESTS)
    assert ("src/pkg/review@none.py", "src/pkg/review.py") in plan.moves
    assert "src/pkg/review@legal.py" in plan.remove


def test_the_variants_of_another_strategy_are_all_removed() -> None:
    plan = manifest.plan(values(strategy="rest", stateful="yes"), "pkg", MANIFESTS)
    assert "src/pkg/state_join@stored.py" in plan.remove
    # A project regenerated from batch holds the variant under its own name.
    assert "src/pkg/state_join.py" in plan.remove
    assert all(path != "src/pkg/state_join.py" for _, path in plan.moves)


def test_a_variant_no_choice_of_which_holds_is_refused_naming_it() -> None:
    with pytest.raises(manifest.ManifestError, match=r"state_join\.py"):
        manifest.plan(values(stateful="no"), "pkg", MANIFESTS)


def test_every_variant_file_of_the_template_is_declared_and_every_declared_one_exists(
    template,
) -> None:
    """A stray `name@choice.py` would be generated as it is; a missing one breaks a bake."""
    project = template / "{{cookiecutter.project_slug}}"
    package = "{{cookiecutter.__package_name}}"
    declared = {
        path.format(package=package)
        for path in manifest.declared_choice_files(local_extensions.manifests())
    }
    on_disk = {str(p.relative_to(project)) for p in project.rglob("*@*") if p.is_file()}
    assert on_disk == declared

"""Which files a generated project keeps, and which whole-file variant fills each port.

This is the one mechanism that decides what a project contains. It reads the manifests:
`hooks/manifest.yaml` (files shared by strategies, kept by option) and
`templates/strategies/<strategy>/manifest.yaml` (a strategy's own files). Each may hold:

- `files`: paths only projects of that strategy keep (strategy manifests only);
- `options`: `{when: {...}, paths: [...]}`: paths kept only while `when` holds;
- `variants`: `{path: {choice: when, ...}}`: the file at `path` is the first choice whose
  `when` holds (`{}` always does), written in the template as `<stem>@<choice><suffix>`
  beside `path`. A port's implementations are whole files: the code using the port is
  written once, and a fork adds an option by adding a file and a line here.

A path kept by any entry stays. Paths are relative to the project root; `{package}` is the
package name. Pure: the answers and the manifests in, the plan out (unit-tested directly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from decision.engine import matches

SHARED = "shared"
"""The owner of hooks/manifest.yaml's entries: every strategy."""


class ManifestError(ValueError):
    """A manifest that cannot be applied: no choice of a variant holds for the answers."""


@dataclass(frozen=True)
class FilePlan:
    remove: list[str] = field(default_factory=list)
    """Paths (files or directories) to delete, sorted."""
    moves: list[tuple[str, str]] = field(default_factory=list)
    """(chosen variant file, the path it takes), sorted by path."""


def choice_path(path: str, choice: str) -> str:
    """The template file holding `choice` of the variant at `path`: `<stem>@<choice><suffix>`."""
    pure = PurePosixPath(path)
    return str(pure.with_name(f"{pure.stem}@{choice}{pure.suffix}"))


def plan(
    values: Mapping[str, Any], package: str, manifests: Mapping[str, Mapping[str, Any]]
) -> FilePlan:
    """The files to remove and the variants to move into place for `values` (the answers
    with the resolved `strategy` and `batch_engine`). `manifests` maps an owner (a strategy,
    or SHARED) to its manifest."""
    strategy = values["strategy"]
    owned: list[tuple[str, bool]] = []
    variants: list[tuple[str, bool, Mapping[str, Mapping[str, Any]]]] = []
    for owner, manifest in manifests.items():
        mine = owner in (SHARED, strategy)
        owned += [(path, mine) for path in manifest.get("files", [])]
        owned += [
            (path, mine and matches(rule["when"], values))
            for rule in manifest.get("options", [])
            for path in rule["paths"]
        ]
        variants += [(path, mine, choice) for path, choice in manifest.get("variants", {}).items()]
    kept = {path for path, wanted in owned if wanted}
    removed = {path for path, _ in owned if path not in kept}
    moves = []
    for path, mine, choices in variants:
        files = [choice_path(path, choice) for choice in choices]
        if not mine or path in removed:
            # The path itself too: a regenerated project may hold it from before.
            removed.update([*files, path])
            continue
        chosen = next((c for c, when in choices.items() if matches(when or {}, values)), None)
        if chosen is None:
            raise ManifestError(f"no choice of the variant {path} holds for these answers")
        source = choice_path(path, chosen)
        moves.append((source.format(package=package), path.format(package=package)))
        removed.update(file for file in files if file != source)
    return FilePlan(
        remove=sorted(path.format(package=package) for path in removed),
        moves=sorted(moves, key=lambda move: move[1]),
    )


def declared_choice_files(manifests: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every variant file the manifests name, `{package}` unformatted."""
    return {
        choice_path(path, choice)
        for manifest in manifests.values()
        for path, choices in manifest.get("variants", {}).items()
        for choice in choices
    }

"""Which version is served: the promotion gate, and moving `current` on purpose.

    python -m {{ cookiecutter.__package_name }}.promotion promote VERSION [--why TEXT]
    python -m {{ cookiecutter.__package_name }}.promotion rollback [--why TEXT]

Training promotes a new version only when it is no worse than the current one on the new
version's held-out rows, by the `promotion_metric` setting within `promotion_tolerance`;
otherwise the version stays a candidate beside the current one. Every move of `current`
(training, promote, rollback) is a line of `HISTORY_FILE` in the models directory: when,
from, to, why.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from .artifact import ArtifactError, current_version, load_artifact, point

HISTORY_FILE = "history.jsonl"


def refusal(
    metric: str,
    higher_is_better: bool,
    tolerance: float,
    new: dict[str, float],
    current: dict[str, float],
) -> str | None:
    """Why the new metrics are worse than the current version's by more than `tolerance`;
    none when they are not."""
    if metric not in new or metric not in current:
        raise ValueError(
            f"promotion_metric {metric!r} is not among the metrics: {', '.join(sorted(new))}"
        )
    worse = current[metric] - new[metric] if higher_is_better else new[metric] - current[metric]
    if worse <= tolerance:
        return None
    return (
        f"{metric} {new[metric]:.4f} is worse than the current version's {current[metric]:.4f}"
        f" on the same rows by more than {tolerance:g}"
    )


def history(models_dir: Path) -> list[dict[str, str | None]]:
    """Every recorded move of `current`, oldest first."""
    path = models_dir / HISTORY_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def move(models_dir: Path, version: str, why: str) -> None:
    """Make `version` current and record the move."""
    previous = current_version(models_dir)
    point(models_dir, version)
    entry = {"at": datetime.now(UTC).isoformat(), "from": previous, "to": version, "why": why}
    with (models_dir / HISTORY_FILE).open("a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")


def promote(models_dir: Path, version: str, why: str) -> None:
    """Make `version`, a loadable version of `models_dir`, current."""
    directory = models_dir / version
    if "/" in version or version.startswith(".") or not directory.is_dir():
        versions = sorted(path.name for path in models_dir.iterdir() if path.is_dir())
        raise ArtifactError(
            f"no version {version!r} in {models_dir}: one of {', '.join(versions) or 'none'}"
        )
    load_artifact(directory)
    move(models_dir, version, why)


def rollback(models_dir: Path, why: str) -> str:
    """Make the version that was current before the last move current again; returns it."""
    current = current_version(models_dir)
    for entry in reversed(history(models_dir)):
        if entry["to"] == current and entry["from"]:
            previous = str(entry["from"])
            promote(models_dir, previous, why)
            return previous
    raise ArtifactError(
        f"nothing to roll back to: {models_dir / HISTORY_FILE} records no version before {current}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Move the served model version on purpose.")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    commands = parser.add_subparsers(dest="command", required=True)
    promoting = commands.add_parser("promote", help="make VERSION current")
    promoting.add_argument("version")
    promoting.add_argument("--why", default="promoted by hand")
    rolling = commands.add_parser("rollback", help="make the previous current version current")
    rolling.add_argument("--why", default="rolled back by hand")
    args = parser.parse_args(argv)
    before = current_version(args.models_dir)
    try:
        if args.command == "promote":
            promote(args.models_dir, args.version, args.why)
        else:
            rollback(args.models_dir, args.why)
    except ArtifactError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"current: {before} -> {current_version(args.models_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

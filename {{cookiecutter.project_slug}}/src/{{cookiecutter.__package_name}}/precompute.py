"""The precompute job: score every entity once and write the predictions to the store.

    {{ cookiecutter.__package_name }}-precompute load-sample   # the training data as the entities table
    {{ cookiecutter.__package_name }}-precompute run           # score what has no current prediction, then check
    {{ cookiecutter.__package_name }}-precompute check         # the completeness check alone

The run is safe to repeat: entities that already have a prediction (or a reject) from the
current model version are skipped, so a rerun after a crash scores only what is left, and
every batch is upserted in its own transaction. `run --rescore` scores every entity again.
The completeness check exits 1 unless every entity has exactly one current prediction or a
reject that says why it could not be scored.

The entities table has one column per input of features.yaml (`stores.ENTITY_TYPES`). An
entity is rejected, with the reason, for a NULL where features.yaml says `nullable: false`, a
number that is NaN, infinite or beyond float32, an id that occurs twice, or a row the model
refuses; a NULL where the input is nullable is scored as missing, and a category level never
seen in training is scored as none of the known levels. What the per-entity state adds is in
precompute_state.py (its settings and commands) and store_state.py (its tables and rejects).
"""

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from pydantic import Field

from . import output_columns
from .artifact import ArtifactError
from .contract import MISSING_LEVEL, Columns, Contract
from .precompute_state import StateSettings, add_state_commands
from .predictor import Predictor, score_accepted
from .schema import FLOAT32_MAX
from .store_source import Store, open_store
from .store_state import Pending, Tables
from .stores import IDENTIFIER, Completeness, Rejected, Scored, StoreError

PROG = "{{ cookiecutter.__package_name }}-precompute"


class PrecomputeSettings(StateSettings):
    """Settings of the precompute job, on top of the shared ones."""

    source: str = "data/entities.duckdb"
    """The store: a DuckDB file, `postgresql://user:password@host:5432/database`, or a
    directory of Parquet files (`<entities_table>.parquet` in, `<predictions_table>.parquet`
    and `<rejects_table>.parquet` out; an existing directory, or a path ending in `/`)."""
    entities_table: str = Field(default="entities", pattern=IDENTIFIER)
    """The entities to score: an entity id column and one column per input of features.yaml."""
    entity_id_column: str = Field(default="entity_id", pattern=IDENTIFIER)
    predictions_table: str = Field(default="predictions", pattern=IDENTIFIER)
    rejects_table: str = Field(default="prediction_rejects", pattern=IDENTIFIER)
    batch_size: int = Field(default=50_000, ge=1)
    """Entities read, scored and upserted together: memory is bounded by the batch."""
    show: int = Field(default=20, ge=0)
    """How many missing entity ids and rejects the report lists."""

    def tables(self) -> Tables:
        return Tables(
            entities=self.entities_table,
            predictions=self.predictions_table,
            rejects=self.rejects_table,
            entity_id=self.entity_id_column,
            **self.state_tables(),
        )


@dataclass(frozen=True)
class RunCounts:
    scored: int
    rejected: int
    seconds: float


def problems(batch: Pending, contract: Contract) -> list[str | None]:
    """Why each entity of the batch cannot be scored, or None when it can."""
    numbers = batch.numbers
    # By row, the inputs that are NULL, for the rows that have any.
    nulls = {row: set(names.split(", ")) for row, names in enumerate(batch.missing) if names}
    required = {item.name for item in contract.inputs if not item.nullable}
    null_numbers = np.zeros(numbers.shape, dtype=bool)
    missing_required = np.zeros(len(numbers), dtype=bool)
    for row, names in nulls.items():
        null_numbers[row] = [item.name in names for item in contract.numbers]
        missing_required[row] = bool(names & required)
    # NULL is a missing value; NaN stored as a value is not.
    not_a_number = np.isnan(numbers) & ~null_numbers
    infinite = np.isinf(numbers)
    too_large = np.abs(np.where(np.isfinite(numbers), numbers, 0.0)) > FLOAT32_MAX
    copies = np.array(batch.copies, dtype=np.int64)
    flagged = (
        missing_required
        | not_a_number.any(axis=1)
        | infinite.any(axis=1)
        | too_large.any(axis=1)
        | (copies > 1)
    )
    reasons: list[str | None] = [None] * len(batch.entity_ids)
    for row in np.flatnonzero(flagged).tolist():
        found = []
        if copies[row] > 1:
            found.append(f"entity id occurs {copies[row]} times in the source")
        null = nulls.get(row, set()) & required
        if missing := [item.name for item in contract.inputs if item.name in null]:
            found.append(f"missing: {', '.join(missing)}")
        for label, mask in (
            ("not a number", not_a_number[row]),
            ("infinite", infinite[row]),
            ("outside float32 range", too_large[row]),
        ):
            if inputs := [contract.numbers[i].name for i in np.flatnonzero(mask).tolist()]:
                found.append(f"{label}: {', '.join(inputs)}")
        reasons[row] = "; ".join(found)
    # Rejected for the entity itself: what its inputs lack says nothing more.
    for row, reason in batch.entity_rejects().items():
        reasons[row] = reason
    return reasons


def columns_of(batch: Pending, rows: npt.NDArray[np.intp]) -> Columns:
    """Rows of the batch as the model takes them (a missing category is the missing level)."""
    categories = batch.categories[rows]
    categories[categories == None] = MISSING_LEVEL  # noqa: E711 (elementwise)
    return Columns(batch.numbers[rows].astype(np.float32), categories)


def score(predictor: Predictor, batch: Pending, now: datetime) -> tuple[Scored, Rejected]:
    """The batch's predictions and rejects, made `now` (when the run started reading)."""
    reasons = problems(batch, predictor.metadata.contract)
    valid = np.flatnonzero([reason is None for reason in reasons])
    accepted, scores, refused = score_accepted(predictor, columns_of(batch, valid))
    for position, reason in refused.items():
        reasons[int(valid[position])] = reason
    scored_ids = [batch.entity_ids[row] for row in valid[accepted].tolist()]
    rejected = [row for row, reason in enumerate(reasons) if reason is not None]
    return (
        Scored(
            entity_ids=scored_ids,
            outputs=output_columns.columns(scores),
            model_version=predictor.model_version,
            scored_at=now,
        ),
        Rejected(
            entity_ids=[batch.entity_ids[row] for row in rejected],
            reasons=[str(reasons[row]) for row in rejected],
            model_version=predictor.model_version,
            rejected_at=now,
        ),
    )


def run(predictor: Predictor, store: Store, batch_size: int, *, rescore: bool = False) -> RunCounts:
    """Score the entities without a current prediction (every entity with `rescore`)."""
    started = time.perf_counter()
    store.prepare()
    # Taken once, before the entities are read: every batch of the run is stamped with it.
    now = datetime.now(UTC)
    scored = rejected = 0
    batches = store.pending(
        predictor.metadata.contract, predictor.model_version, batch_size, rescore=rescore
    )
    for batch in batches:
        predictions, rejects = score(predictor, batch, now)
        store.save(predictions, rejects)
        scored += len(predictions.entity_ids)
        rejected += len(rejects.entity_ids)
    return RunCounts(scored, rejected, time.perf_counter() - started)


def report(result: Completeness, settings: PrecomputeSettings, model_version: str) -> str:
    lines = [
        f"{result.entities} entities: {result.predicted} with a current prediction,"
        f" {result.rejected} rejected, {result.missing} missing (model {model_version})"
    ]
    if result.first_rejects:
        lines.append(f"rejected (first {len(result.first_rejects)} of {result.rejected}):")
        lines += [f"  {entity_id}: {reason}" for entity_id, reason in result.first_rejects]
    if result.missing:
        lines.append(
            f"INCOMPLETE: {result.missing} entities have neither a current prediction nor a"
            f" reject; first {len(result.first_missing)}: {', '.join(result.first_missing)}"
        )
    if result.without_id:
        lines.append(
            f"INCOMPLETE: {result.without_id} rows of {settings.entities_table} have no"
            f" {settings.entity_id_column}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("load-sample", help="replace the entities table with the training data")
    run_parser = commands.add_parser("run", help="score the entities, then check completeness")
    run_parser.add_argument(
        "--rescore", action="store_true", help="score every entity again, not only the pending"
    )
    commands.add_parser("check", help="check that every entity has a current prediction")
    state_commands = add_state_commands(commands)
    arguments = parser.parse_args(argv)
    settings = PrecomputeSettings()

    store = open_store(settings.source, settings.tables())
    try:
        if arguments.command == "load-sample":
            from .data import DataError  # reading the training data needs the train extra

            try:
                rows = settings.load_sample(store)
            except DataError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print(f"loaded {rows} entities into {settings.entities_table}, {store.location}")
            return 0
        if arguments.command in state_commands:
            return state_commands[arguments.command](arguments, store)
        try:
            predictor = Predictor.from_settings(settings)
        except ArtifactError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        try:
            if arguments.command == "run":
                counts = run(predictor, store, settings.batch_size, rescore=arguments.rescore)
                print(
                    f"scored {counts.scored} entities and rejected {counts.rejected}"
                    f" in {counts.seconds:.1f} s"
                )
            result = store.check(predictor.model_version, settings.show)
        except StoreError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(report(result, settings, predictor.model_version))
        print(
            f"predictions: table {settings.predictions_table}, rejects: table"
            f" {settings.rejects_table}, in {store.location}"
        )
        return 0 if result.complete else 1
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())

{%- set package = cookiecutter.__package_name -%}
{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The precompute job: score every entity once and write the predictions to the store.

    {{ package }}-precompute load-sample   # the training data as the entities table
{%- if stateful %}
    {{ package }}-precompute load-state state.csv   # store the state of its entities
{%- endif %}
    {{ package }}-precompute run           # score what has no current prediction, then check
    {{ package }}-precompute check         # the completeness check alone

The run is safe to repeat: entities that already have a prediction (or a reject) from the
current model version are skipped, so a rerun after a crash scores only what is left, and
every batch is upserted in its own transaction. `run --rescore` scores every entity again.
The completeness check exits 1 unless every entity has exactly one current prediction or a
reject that says why it could not be scored.

The entities table has one column per input of features.yaml (`stores.ENTITY_TYPES`). An
entity is rejected, with the reason, for a NULL where features.yaml says `nullable: false`, a
number that is NaN, infinite or beyond float32, an id that occurs twice, or a row the model
refuses; a NULL where the input is nullable is scored as missing, and a category level never
seen in training is scored as none of the known levels.
{%- if stateful %}

The per-entity state (`state_table`, see stores.py; `load-sample` stores the training data's
rows as the state of its entities too) fills the inputs an entity's row leaves NULL; where
both have a value, the row's wins. An entity with no stored state is rejected with that
reason. A prediction made before the entity's state last changed is not current: the next
run scores the entity again, with the new state.
{%- endif %}
"""

import argparse
{%- if stateful %}
import csv
{%- endif %}
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
{%- if stateful %}
from typing import Any
{%- endif %}

import numpy as np
import numpy.typing as npt
from pydantic import Field

from . import output_columns
from .artifact import ArtifactError
from .contract import MISSING_LEVEL, Columns, Contract, load_contract{% if stateful %}, parse_text{% endif %}
from .predictor import Predictor, score_accepted
from .schema import FLOAT32_MAX
from .settings import Settings
{%- if stateful %}
from .store_rows import state_table
{%- endif %}
from .stores import (
    IDENTIFIER,
    Completeness,
    Pending,
    Rejected,
    Scored,
    Store,
    StoreError,
    Tables,
    open_store,
)

PROG = "{{ package }}-precompute"
SAMPLE_ID_PREFIX = "sample-"
{%- if stateful %}
UNKNOWN_ENTITY = "no state is stored for this entity"
{%- endif %}


class PrecomputeSettings(Settings):
    """Settings of the precompute job, on top of the shared ones."""

    source: str = "data/entities.duckdb"
    """The store: a DuckDB file, `postgresql://user:password@host:5432/database`, or a
    directory of Parquet files (`<entities_table>.parquet` in, `<predictions_table>.parquet`
    and `<rejects_table>.parquet` out; an existing directory, or a path ending in `/`)."""
    entities_table: str = Field(default="entities", pattern=IDENTIFIER)
    """The entities to score: an entity id column and one column per input of features.yaml."""
    entity_id_column: str = Field(default="entity_id", pattern=IDENTIFIER)
{%- if stateful %}
    state_table: str = Field(default="entity_features", pattern=f"{IDENTIFIER}|^$")
    """The per-entity state that fills the inputs an entity's row leaves NULL (one column
    per input). Empty: the entities table gives every input and no state is read."""
{%- endif %}
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
{%- if stateful %}
            state=self.state_table,
{%- endif %}
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
{%- if stateful %}
    unknown = ~np.array(batch.known, dtype=bool)
    flagged |= unknown
{%- endif %}
    reasons: list[str | None] = [None] * len(batch.entity_ids)
    for row in np.flatnonzero(flagged).tolist():
{%- if stateful %}
        if unknown[row]:
            # Nothing filled its inputs: what they lack says nothing more.
            reasons[row] = UNKNOWN_ENTITY
            continue
{%- endif %}
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
{%- if stateful %}


def load_sample(
    store: Store, training_data: Path | None = None, *, with_state: bool = False
) -> int:
    """The training data (the sample data set by default) as the entities table, one entity
    per row: `sample-0`, ...; `with_state`: as their stored state too."""
{%- else %}


def load_sample(store: Store, training_data: Path | None = None) -> int:
    """The training data (the sample data set by default) as the entities table, one entity
    per row: `sample-0`, ..."""
{%- endif %}
    from .data import load_dataset  # reading the training data needs the train extra

    columns = load_dataset(training_data).columns
    entity_ids = [f"{SAMPLE_ID_PREFIX}{row}" for row in range(len(columns))]
{%- if stateful %}
    contract = load_contract()
    store.load_entities(contract, entity_ids, columns)
    if with_state:
        # The same rows as each entity's stored state.
        values = columns.by_input(contract)
        store.load_state(contract, state_table(contract, entity_ids, values))
{%- else %}
    store.load_entities(load_contract(), entity_ids, columns)
{%- endif %}
    return len(entity_ids)
{%- if stateful %}


def read_state_csv(path: Path, contract: Contract) -> tuple[list[str], dict[str, list[Any]]]:
    """The entity ids and input values of a CSV file with an `entity_id` column and a column
    per input it stores (an empty cell, or an absent column, stores nothing)."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    columns = set(rows[0]) if rows else set()
    names = {item.name for item in contract.inputs}
    if "entity_id" not in columns or not columns - {"entity_id"} <= names:
        unknown = sorted(columns - names - {"entity_id"})
        raise ValueError(
            f"{path}: the columns are entity_id and inputs of features.yaml;"
            f" {'no entity_id' if 'entity_id' not in columns else f'unknown: {unknown}'}"
        )
    values = {
        item.name: [parse_text(item, row.get(item.name)) for row in rows]
        for item in contract.inputs
    }
    return [row["entity_id"] for row in rows], values
{%- endif %}


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
{%- if stateful %}
    load_state = commands.add_parser(
        "load-state", help="store the state of the entities of a CSV file (entity_id + inputs)"
    )
    load_state.add_argument("csv", type=Path)
{%- endif %}
    arguments = parser.parse_args(argv)
    settings = PrecomputeSettings()

    store = open_store(settings.source, settings.tables())
    try:
        if arguments.command == "load-sample":
            from .data import DataError  # reading the training data needs the train extra

            try:
{%- if stateful %}
                with_state = bool(settings.state_table)
                rows = load_sample(store, settings.training_data, with_state=with_state)
{%- else %}
                rows = load_sample(store, settings.training_data)
{%- endif %}
            except DataError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print(f"loaded {rows} entities into {settings.entities_table}, {store.location}")
            return 0
{%- if stateful %}
        if arguments.command == "load-state":
            contract = load_contract()
            try:
                entity_ids, values = read_state_csv(arguments.csv, contract)
            except (OSError, ValueError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            store.load_state(contract, state_table(contract, entity_ids, values))
            print(f"stored the state of {len(entity_ids)} entities in {store.location}")
            return 0
{%- endif %}
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

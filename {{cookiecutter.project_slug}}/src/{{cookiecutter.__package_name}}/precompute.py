{%- set package = cookiecutter.__package_name -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set legal = cookiecutter.legal_review == "yes" -%}
{%- set imputes = cookiecutter.feature_engineering == "yes" -%}
"""The precompute job: score every entity once and write the predictions to the store.

    {{ package }}-precompute load-sample   # the sample data set as the entities table
    {{ package }}-precompute run           # score what has no current prediction, then check
    {{ package }}-precompute check         # the completeness check alone

The run is safe to repeat: entities that already have a prediction (or a reject) from the
current model version are skipped, so a rerun after a crash scores only what is left, and
every batch is upserted in its own transaction. `run --rescore` scores every entity again.
The completeness check exits 1 unless every entity has exactly one current prediction or a
reject that says why it could not be scored.
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pydantic import Field

from .artifact import ArtifactError
from .features import FEATURE_NAMES
from .predictor import Predictor, score_accepted
from .schema import FLOAT32_MAX
from .settings import Settings
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


class PrecomputeSettings(Settings):
    """Settings of the precompute job, on top of the shared ones."""

    source: str = "data/entities.duckdb"
    """The store: a DuckDB file, `postgresql://user:password@host:5432/database`, or a
    directory of Parquet files (`<entities_table>.parquet` in, `<predictions_table>.parquet`
    and `<rejects_table>.parquet` out; an existing directory, or a path ending in `/`)."""
    entities_table: str = Field(default="entities", pattern=IDENTIFIER)
    """The entities to score: an entity id column and one column per feature."""
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
        )


@dataclass(frozen=True)
class RunCounts:
    scored: int
    rejected: int
    seconds: float


def problems(batch: Pending, feature_names: Sequence[str]) -> list[str | None]:
    """Why each entity of the batch cannot be scored, or None when it can."""
    features = batch.features
    nulls = np.array([len(names.split(", ")) if names else 0 for names in batch.missing])
    not_a_number = np.isnan(features)
    infinite = np.isinf(features)
    too_large = np.abs(np.where(np.isfinite(features), features, 0.0)) > FLOAT32_MAX
    copies = np.array(batch.copies)
{%- if imputes %}
    # NULL is a missing value the feature pipeline imputes; NaN stored as a value is not.
    flagged = (not_a_number.sum(axis=1) > nulls) | infinite.any(axis=1) | too_large.any(axis=1)
{%- else %}
    flagged = (nulls > 0) | not_a_number.any(axis=1) | infinite.any(axis=1) | too_large.any(axis=1)
{%- endif %}
    flagged |= copies > 1
    reasons: list[str | None] = [None] * len(batch.entity_ids)
    for row in np.flatnonzero(flagged):
        null_names = set(batch.missing[row].split(", ")) if batch.missing[row] else set()
        found = []
        if copies[row] > 1:
            found.append(f"entity id occurs {copies[row]} times in the source")
{%- if not imputes %}
        if null_names:
            found.append(f"missing: {batch.missing[row]}")
{%- endif %}
        for label, mask in (
            ("not a number", not_a_number[row]),
            ("infinite", infinite[row]),
            ("outside float32 range", too_large[row]),
        ):
            names = [feature_names[i] for i in np.flatnonzero(mask).tolist()]
            if names := [name for name in names if name not in null_names]:
                found.append(f"{label}: {', '.join(names)}")
        reasons[row] = "; ".join(found)
    return reasons


def score(predictor: Predictor, batch: Pending) -> tuple[Scored, Rejected]:
    """The batch's predictions and rejects."""
    now = datetime.now(UTC)
    reasons = problems(batch, predictor.feature_names)
    valid = np.flatnonzero([reason is None for reason in reasons])
    accepted, scores, refused = score_accepted(predictor, batch.features[valid])
    for row in valid[list(refused)].tolist():
        reasons[row] = "the model's output is not finite: inputs far outside the training range"
    scored_ids = [batch.entity_ids[row] for row in valid[accepted].tolist()]
    rejected = [row for row, reason in enumerate(reasons) if reason is not None]
    return (
        Scored(
            entity_ids=scored_ids,
{%- if classification %}
            labels=scores.predicted_labels().tolist(),
            probabilities=[
                json.dumps(dict(zip(scores.labels, row, strict=True)))
                for row in scores.probabilities.tolist()
            ],
{%- else %}
            values=scores.values.tolist(),
{%- endif %}
{%- if legal %}
            explanations=[
                json.dumps(dict(zip(scores.feature_names, row, strict=True)))
                for row in scores.explanations.tolist()
            ],
{%- endif %}
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
    scored = rejected = 0
    batches = store.pending(
        predictor.feature_names, predictor.model_version, batch_size, rescore=rescore
    )
    for batch in batches:
        predictions, rejects = score(predictor, batch)
        store.save(predictions, rejects)
        scored += len(predictions.entity_ids)
        rejected += len(rejects.entity_ids)
    return RunCounts(scored, rejected, time.perf_counter() - started)


def load_sample(store: Store) -> int:
    """The sample data set as the entities table, one entity per row: `sample-0`, ..."""
    from .data import load_dataset  # the sample data needs the train extra

    features = load_dataset().features.astype(np.float64)
    entity_ids = [f"{SAMPLE_ID_PREFIX}{row}" for row in range(len(features))]
    store.load_entities(FEATURE_NAMES, entity_ids, features)
    return len(entity_ids)


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
    commands.add_parser("load-sample", help="replace the entities table with the sample data")
    run_parser = commands.add_parser("run", help="score the entities, then check completeness")
    run_parser.add_argument(
        "--rescore", action="store_true", help="score every entity again, not only the pending"
    )
    commands.add_parser("check", help="check that every entity has a current prediction")
    arguments = parser.parse_args(argv)
    settings = PrecomputeSettings()

    store = open_store(settings.source, settings.tables())
    try:
        if arguments.command == "load-sample":
            rows = load_sample(store)
            print(f"loaded {rows} sample entities into {settings.entities_table}, {store.location}")
            return 0
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

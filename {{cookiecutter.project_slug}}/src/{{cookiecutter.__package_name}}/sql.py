{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set imputes = cookiecutter.feature_engineering == "yes" -%}
"""Compile the fitted scikit-learn pipeline to SQL, and write it as versioned migrations.

    migrations/
      duckdb/<model version>.up.sql     scoring view (DuckDB, the embedded default)
      duckdb/<model version>.down.sql   drops that version's objects
      postgres/<model version>.up.sql   scoring function and view (and the optional trigger)
      postgres/<model version>.down.sql

orbital translates the pipeline into SQL; this module wraps it in the objects the application
uses, with input checks in front: a row with {% if imputes %}a value that is not a number or{% else %}a missing value, or a value{% endif %} outside the
accepted range gets NULL predictions and a `reason`, never an error that aborts its insert.
Compiling refuses SQL whose predictions differ from the fitted pipeline's on the held-out data
by more than `TOLERANCE`{% if classification %} or that predicts another label{% endif %}: the database never answers differently from
the Python model.
"""

# Every SQL name in the queries below is a constant of this package, never input.
# ruff: noqa: S608

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from .artifact import Metadata, load_metadata, load_pipeline
from .data import {% if classification %}LABELS, {% endif %}identifier, load_dataset, split
from .features import FEATURE_NAMES

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

Dialect = Literal["duckdb", "postgres"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "postgres")

TOLERANCE = 1e-9
"""Largest accepted difference between the SQL and the fitted pipeline on held-out rows."""
RANGE_MARGIN = 1.0
"""Accepted inputs: the training range widened by this many range widths on each side."""
EXP_LIMIT = 700.0
"""PostgreSQL's EXP overflows (an error) above about 709: logits must stay below this."""

INPUT_TABLE = "model_input"
"""The application's table: an `id` key and one FLOAT8 column per feature."""
VIEW = "model_predictions"
FUNCTION = "model_score"
TRIGGER = "model_score_on_insert"
{%- if classification %}
OUTPUTS: tuple[str, ...] = ("label", *(f"probability_{identifier(label)}" for label in LABELS))
{%- else %}
OUTPUTS: tuple[str, ...] = ("value",)
{%- endif %}
"""The prediction columns, followed in every object by `model_version` and `reason`."""
{%- if classification %}
OUTPUT_COLUMNS = ", ".join(["label TEXT", *(f"{column} FLOAT8" for column in OUTPUTS[1:])])
{%- else %}
OUTPUT_COLUMNS = "value FLOAT8"
{%- endif %}
PREDICTION_COLUMN = "{{ "predicted_label" if classification else "predicted_value" }}"
"""The column of the input table the optional trigger fills."""


class SupportsExecute(Protocol):
    def execute(self, query: str, /) -> Any: ...


class CompileError(Exception):
    """The pipeline cannot be compiled to SQL that reproduces it."""


@dataclass(frozen=True)
class Migration:
    """One model version's SQL for one dialect."""

    version: str
    dialect: Dialect
    up: str
    down: str


def object_suffix(version: str) -> str:
    """A model version in SQL names:
    `20260101T020000123456Z-3f2a` -> `v20260101t020000123456z_3f2a`."""
    return "v" + identifier(version)


def literal(value: float) -> str:
    """A float as an SQL literal both DuckDB and PostgreSQL read as FLOAT8, exactly."""
    return f"CAST({float(value)!r} AS FLOAT8)"


def text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def accepted_ranges(pipeline: "Pipeline", metadata: Metadata) -> dict[str, tuple[float, float]]:
    """Per feature, the inputs the SQL scores: the training range widened by `RANGE_MARGIN`
    range widths on each side{% if classification %}, less where the model's logits would overflow EXP{% endif %}."""
    low = np.array([feature.min for feature in metadata.input_schema])
    high = np.array([feature.max for feature in metadata.input_schema])
    span = np.where(high > low, high - low, 1.0)
{%- if classification %}
    margin = min(RANGE_MARGIN, logit_margin(pipeline, low, high, span))
{%- else %}
    margin = RANGE_MARGIN
{%- endif %}
    return {
        name: (float(lo), float(hi))
        for name, lo, hi in zip(
            FEATURE_NAMES, low - margin * span, high + margin * span, strict=True
        )
    }
{%- if classification %}


def logit_margin(
    pipeline: "Pipeline",
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    span: npt.NDArray[np.float64],
) -> float:
    """The widest margin (in range widths) within which every logit stays below `EXP_LIMIT`.

    The feature pipeline and the linear model are affine: over a box around the centre of the
    training range, the largest logit is the centre's plus each feature's largest move, and
    that move grows linearly with the margin.
    """
    centre = (low + high) / 2
    points = np.vstack([centre, centre + np.diag(span)])
    logits = np.asarray(pipeline.decision_function(points)).reshape(len(points), -1)
    at_centre = np.abs(logits[0])
    per_span = np.abs(logits[1:] - logits[0]).sum(axis=0)
    margin = float(np.min((EXP_LIMIT - at_centre) / np.maximum(per_span, 1e-300) - 0.5))
    if margin < 0:
        name, step = pipeline.steps[-1]
        raise CompileError(
            f"pipeline step {name!r} ({type(step).__name__}) reaches logits over {EXP_LIMIT:.0f}"
            " within the training range: EXP would overflow in PostgreSQL"
        )
    return margin
{%- endif %}


def parse(pipeline: "Pipeline") -> dict[Dialect, str]:
    """The pipeline as one SQL query per dialect, over a relation `scorable` (id, reason and the
    features); refuses with the name of the first step orbital cannot translate."""
    from sklearn.pipeline import Pipeline

    try:
        return translatable(pipeline)
    except Exception as error:
        for end in range(1, len(pipeline.steps) + 1):
            try:
                translatable(Pipeline(pipeline.steps[:end]))
            except Exception:
                name, step = pipeline.steps[end - 1]
                raise CompileError(
                    f"pipeline step {name!r} ({type(step).__name__}) cannot be compiled to SQL:"
                    f" {str(error).splitlines()[0]}"
                ) from error
        raise CompileError(f"the pipeline cannot be compiled to SQL: {error}") from error


def translatable(pipeline: "Pipeline") -> dict[Dialect, str]:
    """orbital's SQL for the pipeline, per dialect (id and reason passed through)."""
    import orbital  # type: ignore[import-untyped]
    import orbital.types  # type: ignore[import-untyped]

    columns: dict[str, orbital.types.ColumnType] = {
        name: orbital.types.DoubleColumnType() for name in FEATURE_NAMES
    }
    columns["id"] = orbital.types.Int64ColumnType(passthrough=True)
    columns["reason"] = orbital.types.StringColumnType(passthrough=True)
    parsed = orbital.parse_pipeline(pipeline, features=columns)
    projection = orbital.ResultsProjection(select=["id", "reason"])
    return {
        dialect: orbital.export_sql("scorable", parsed, dialect=dialect, projection=projection)
        for dialect in DIALECTS
    }


def scoring_query(
    model: str,
    source: str,
    version: str,
    ranges: dict[str, tuple[float, float]],
    dialect: Dialect,
) -> str:
    """SELECT id, the outputs, model_version, reason FROM `source` (id and the features).

    `model` is orbital's query over `scorable`; rows that fail the input checks reach it with
    NULL features, and their outputs are discarded. PostgreSQL would inline the checks into
    every use of every feature (measured: 30 times slower); MATERIALIZED computes them once.
    """
    fence = "MATERIALIZED " if dialect == "postgres" else ""
    checks = []
    for name in FEATURE_NAMES:
        low, high = ranges[name]
{%- if imputes %}
        # A missing value is imputed by the feature pipeline.
        checks.append(
            f"WHEN {name} IS NOT NULL AND NOT ({name} BETWEEN {literal(low)} AND {literal(high)})"
            f" THEN {text(f'{name} is outside the accepted range [{low:.6g}, {high:.6g}]')}"
        )
{%- else %}
        checks.append(f"WHEN {name} IS NULL THEN {text(f'{name} is missing')}")
        checks.append(
            f"WHEN NOT ({name} BETWEEN {literal(low)} AND {literal(high)})"
            f" THEN {text(f'{name} is outside the accepted range [{low:.6g}, {high:.6g}]')}"
        )
{%- endif %}
    reason = "CASE\n    " + "\n    ".join(checks) + "\n  END"
    features = ", ".join(FEATURE_NAMES)
    masked = ", ".join(
        f"CASE WHEN reason IS NULL THEN {name} END AS {name}" for name in FEATURE_NAMES
    )
{%- if classification %}
    label = " ".join(f"WHEN {index} THEN {text(name)}" for index, name in enumerate(LABELS))
    outputs = [f"CASE scored.output_label {label} END"] + [
        f'scored."output_probability.{index}"' for index in range(len(LABELS))
    ]
{%- else %}
    outputs = ["scored.variable"]
{%- endif %}
    projected = ",\n  ".join(
        f"CASE WHEN scored.reason IS NULL THEN {expression} END AS {column}"
        for expression, column in zip(outputs, OUTPUTS, strict=True)
    )
    return (
        f"WITH checked AS {fence}(\n"
        f"  SELECT id, {features},\n  {reason} AS reason\n  FROM {source}\n),\n"
        f"scorable AS {fence}(SELECT id, reason, {masked} FROM checked)\n"
        f"SELECT scored.id,\n  {projected},\n  {text(version)} AS model_version,\n  scored.reason\n"
        f"FROM (\n{model}\n) AS scored"
    )


def migrations(
    model: dict[Dialect, str],
    version: str,
    ranges: dict[str, tuple[float, float]],
    *,
    trigger: bool = False,
) -> list[Migration]:
    """The DuckDB and PostgreSQL migrations of one model version."""
    suffix = object_suffix(version)
    header = f"-- Model {version}, compiled from its fitted pipeline by orbital.\n"
    view = f"{VIEW}_{suffix}"
    duckdb_view = scoring_query(model["duckdb"], INPUT_TABLE, version, ranges, "duckdb")
    duckdb_up = (
        f"{header}CREATE OR REPLACE VIEW {view} AS\n{duckdb_view};\n"
        f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * FROM {view};\n"
    )
    duckdb_down = f"{header}DROP VIEW IF EXISTS {view};\n"

    function = f"{FUNCTION}_{suffix}"
    parameters = ", ".join(f"{name} FLOAT8" for name in FEATURE_NAMES)
    positional = ", ".join(f"${index}" for index in range(1, len(FEATURE_NAMES) + 1))
    returns = f"TABLE ({OUTPUT_COLUMNS}, model_version TEXT, reason TEXT)"
    arguments = ", ".join(f"${index} AS {name}" for index, name in enumerate(FEATURE_NAMES, 1))
    row = f"(SELECT CAST(NULL AS BIGINT) AS id, {arguments}) AS arguments"
    columns = ", ".join([*OUTPUTS, "model_version", "reason"])
    postgres_function = scoring_query(model["postgres"], row, version, ranges, "postgres")
    postgres_view = scoring_query(model["postgres"], INPUT_TABLE, version, ranges, "postgres")
    postgres_up = (
        f"{header}CREATE OR REPLACE FUNCTION {function}({parameters})\n"
        f"RETURNS {returns}\nLANGUAGE sql IMMUTABLE PARALLEL SAFE AS $score$\n"
        f"SELECT {columns} FROM (\n{postgres_function}\n) AS scores\n$score$;\n"
        f"CREATE OR REPLACE VIEW {view} AS\n{postgres_view};\n"
        f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * FROM {view};\n"
        f"CREATE OR REPLACE FUNCTION {FUNCTION}({parameters})\n"
        f"RETURNS {returns}\nLANGUAGE sql STABLE PARALLEL SAFE AS $score$\n"
        f"SELECT * FROM {function}({positional})\n$score$;\n"
    )
    if trigger:
        arguments = ", ".join(f"NEW.{name}" for name in FEATURE_NAMES)
        postgres_up += (
            f"ALTER TABLE {INPUT_TABLE}\n"
            f"  ADD COLUMN IF NOT EXISTS {PREDICTION_COLUMN} {{ "TEXT" if classification else "FLOAT8" }},\n"
            "  ADD COLUMN IF NOT EXISTS prediction_model_version TEXT,\n"
            "  ADD COLUMN IF NOT EXISTS prediction_reason TEXT;\n"
            f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $fill$\n"
            "BEGIN\n"
            f"  SELECT scores.{OUTPUTS[0]}, scores.model_version, scores.reason\n"
            f"  INTO NEW.{PREDICTION_COLUMN}, NEW.prediction_model_version, NEW.prediction_reason\n"
            f"  FROM {FUNCTION}({arguments}) AS scores;\n"
            "  RETURN NEW;\n"
            "END\n$fill$;\n"
            f"CREATE OR REPLACE TRIGGER {TRIGGER}\n"
            f"  BEFORE INSERT OR UPDATE OF {', '.join(FEATURE_NAMES)} ON {INPUT_TABLE}\n"
            f"  FOR EACH ROW EXECUTE FUNCTION {TRIGGER}();\n"
        )
    postgres_down = f"{header}DROP VIEW IF EXISTS {view};\nDROP FUNCTION IF EXISTS {function};\n"
    return [
        Migration(version, "duckdb", duckdb_up, duckdb_down),
        Migration(version, "postgres", postgres_up, postgres_down),
    ]


def expected(pipeline: "Pipeline", features: npt.NDArray[np.float64]) -> list[tuple[object, ...]]:
    """The fitted pipeline's outputs, as rows of `OUTPUTS`."""
{%- if classification %}
    labels = [LABELS[index] for index in pipeline.predict(features)]
    probabilities = pipeline.predict_proba(features)
    return [(label, *row) for label, row in zip(labels, probabilities.tolist(), strict=True)]
{%- else %}
    return [(value,) for value in pipeline.predict(features).tolist()]
{%- endif %}


def difference(
    expected_rows: Sequence[tuple[object, ...]], actual_rows: Sequence[tuple[object, ...]]
) -> float:
    """The largest difference between two sets of output rows{% if classification %}; infinite when a label differs{% endif %}."""
    if len(expected_rows) != len(actual_rows):
        return float("inf")
    largest = 0.0
    for want, got in zip(expected_rows, actual_rows, strict=True):
{%- if classification %}
        if want[0] != got[0] or any(value is None for value in got):
            return float("inf")
        for a, b in zip(want[1:], got[1:], strict=True):
            largest = max(largest, abs(float(a) - float(b)))  # type: ignore[arg-type]
{%- else %}
        if got[0] is None:
            return float("inf")
        a, b = float(want[0]), float(got[0])  # type: ignore[arg-type]
        largest = max(largest, abs(a - b) / max(1.0, abs(a)))
{%- endif %}
    return largest


def check_parity(pipeline: "Pipeline", migration: Migration) -> float:
    """Score the held-out rows with the DuckDB migration in memory; refuse above `TOLERANCE`."""
    import duckdb

    held_out = split(load_dataset())[1]
    features = held_out.features.astype(np.float64)
    connection = duckdb.connect()
    try:
        create_input_table(connection)
        connection.executemany(
            f"INSERT INTO {INPUT_TABLE} VALUES ({', '.join('?' * (len(FEATURE_NAMES) + 1))})",
            [[index, *row] for index, row in enumerate(features.tolist())],
        )
        connection.execute(migration.up)
        actual = connection.execute(
            f"SELECT {', '.join(OUTPUTS)} FROM {VIEW} ORDER BY id"
        ).fetchall()
    finally:
        connection.close()
    largest = difference(expected(pipeline, features), actual)
    if largest > TOLERANCE:
        raise CompileError(
            f"the SQL differs from the fitted pipeline by {largest:.2e} on held-out data"
            f" (tolerance {TOLERANCE:.0e}){% if classification %} or predicts other labels{% endif %}: no migration written"
        )
    return largest


def create_input_table(connection: "SupportsExecute") -> None:
    """The input table as the sample data and the tests use it: `id` and the features."""
    columns = ", ".join(f"{name} FLOAT8" for name in FEATURE_NAMES)
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {INPUT_TABLE} (id BIGINT PRIMARY KEY, {columns})"
    )


def compile_model(model_dir: Path, migrations_dir: Path, *, trigger: bool = False) -> list[Path]:
    """Compile the model at `model_dir`, check it, and write its migrations; returns their paths."""
    pipeline = load_pipeline(model_dir)
    _, metadata = load_metadata(model_dir)
    ranges = accepted_ranges(pipeline, metadata)
    compiled = migrations(parse(pipeline), metadata.version, ranges, trigger=trigger)
    check_parity(pipeline, compiled[0])
    written = []
    for migration in compiled:
        directory = migrations_dir / migration.dialect
        directory.mkdir(parents=True, exist_ok=True)
        for kind, sql in (("up", migration.up), ("down", migration.down)):
            path = directory / f"{migration.version}.{kind}.sql"
            path.write_text(sql, encoding="utf-8")
            written.append(path)
    return written

"""Compile the fitted scikit-learn pipeline to SQL, and write it as versioned migrations.

    migrations/
      duckdb/<model version>.up.sql     scoring view (DuckDB, the embedded default)
      duckdb/<model version>.down.sql   drops that version's objects
      postgres/<model version>.up.sql   scoring function and view (and the optional trigger)
      postgres/<model version>.down.sql

orbital translates the pipeline into SQL; this module wraps it in the objects the application
uses, with input checks in front: a row with a missing value where features.yaml does not
allow one, or a number outside the accepted range, gets NULL predictions and a `reason`,
never an error that aborts its insert. A category level the model never saw is scored as
none of the known levels (as in Python).
Compiling refuses SQL whose predictions differ from the fitted pipeline's on the held-out data
(by more than `TOLERANCE`, as `sql_outputs.difference` measures it): the database never
answers differently from the Python model. What the SQL answers (`OUTPUTS`) is the model
type's, in sql_outputs.py.
"""

# Every SQL name below is quoted and every string a literal of sql_syntax.text.
# ruff: noqa: S608

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from .artifact import Metadata, load_metadata, load_pipeline
from .contract import MISSING_LEVEL, Columns, Contract, Input, load_contract
from .contract_inference import identifier
from .data import load_dataset, split
from .features import model_frame
from .settings import Settings
from .sql_outputs import (
    MISMATCH,
    OUTPUT_TYPES,
    OUTPUTS,
    PREDICTION_COLUMN,
    PREDICTION_TYPE,
    difference,
    output_expressions,
    overflow_margin,
    predictions,
)
from .sql_syntax import portable, quoted, text

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

Dialect = Literal["duckdb", "postgres"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "postgres")

TOLERANCE = 1e-9
"""Largest accepted difference between the SQL and the fitted pipeline on held-out rows."""
RANGE_MARGIN = 1.0
"""Accepted inputs: the training range widened by this many range widths on each side."""

CONTRACT = load_contract()
NAMES = CONTRACT.names
"""The inputs, in model order."""
SQL_TYPES = {"number": "FLOAT8", "integer": "BIGINT", "boolean": "BOOLEAN", "category": "TEXT"}
"""The SQL type of each kind of input."""
INPUT_TABLE = "model_input"
"""The application's table: an `id` key and one column per input of features.yaml."""
INSERT = (
    f"INSERT INTO {quoted(INPUT_TABLE)}"
    f" ({', '.join(quoted(name) for name in ['id', *(item.name for item in CONTRACT.inputs)])})"
    f" VALUES ({', '.join('?' * (len(CONTRACT.inputs) + 1))})"
)
"""Inserts one row of the input table: its id, then every input in contract order."""
VIEW = "model_predictions"
FUNCTION = "model_score"
TRIGGER = "model_score_on_insert"


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


def ranged(contract: Contract) -> tuple[Input, ...]:
    """The inputs with an accepted range: numbers and integers."""
    return tuple(item for item in contract.numbers if item.kind in ("number", "integer"))


def training_range(item: Input) -> tuple[float, float]:
    """An input's training range (0 to 1 for a boolean, or when training saw no value)."""
    if item.min is None or item.max is None:
        return 0.0, 1.0
    return item.min, item.max


def accepted_ranges(pipeline: "Pipeline", metadata: Metadata) -> dict[str, tuple[float, float]]:
    """Per number and integer, the inputs the SQL scores: the training range widened by
    `RANGE_MARGIN` range widths on each side, less where the SQL's EXP would overflow."""
    low, high = np.array([training_range(item) for item in metadata.contract.numbers]).T.reshape(
        2, len(metadata.contract.numbers)
    )
    span = np.where(high > low, high - low, 1.0)
    try:
        margin = min(RANGE_MARGIN, overflow_margin(pipeline, metadata.contract, low, high, span))
    except ValueError as error:
        raise CompileError(str(error)) from error
    return {
        item.name: (float(lo), float(hi))
        for item, lo, hi in zip(
            metadata.contract.numbers, low - margin * span, high + margin * span, strict=True
        )
        if item.kind in ("number", "integer")
    }


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

    # By position, in model order: the numbers, then the categories.
    columns: dict[str, orbital.types.ColumnType] = {
        item.name: orbital.types.DoubleColumnType() for item in CONTRACT.numbers
    } | {item.name: orbital.types.StringColumnType() for item in CONTRACT.categories}
    columns["id"] = orbital.types.Int64ColumnType(passthrough=True)
    columns["reason"] = orbital.types.StringColumnType(passthrough=True)
    parsed = orbital.parse_pipeline(pipeline, features=columns)
    projection = orbital.ResultsProjection(select=["id", "reason"])
    return {
        dialect: portable(
            orbital.export_sql("scorable", parsed, dialect=dialect, projection=projection)
        )
        for dialect in DIALECTS
    }


def scoring_query(
    model: str,
    source: str,
    version: str,
    ranges: dict[str, tuple[float, float]],
    dialect: Dialect,
    threshold: float | None,
) -> str:
    """SELECT id, the outputs, model_version, reason FROM `source` (id and the features).

    `model` is orbital's query over `scorable`; rows that fail the input checks reach it with
    NULL features, and their outputs are discarded. PostgreSQL would inline the checks into
    every use of every feature (measured: 30 times slower); MATERIALIZED computes them once.
    """
    fence = "MATERIALIZED " if dialect == "postgres" else ""
    checks = [check for item in CONTRACT.inputs for check in input_checks(item, ranges)]
    reason = "CASE\n    " + "\n    ".join(checks) + "\n  END"
    features = ", ".join(quoted(name) for name in NAMES)
    masked = ", ".join(
        f'CASE WHEN "reason" IS NULL THEN {model_input(item)} END AS {quoted(item.name)}'
        for item in (*CONTRACT.numbers, *CONTRACT.categories)
    )
    projected = ",\n  ".join(
        f'CASE WHEN "scored"."reason" IS NULL THEN {expression} END AS {quoted(column)}'
        for expression, column in zip(output_expressions(threshold), OUTPUTS, strict=True)
    )
    return (
        f'WITH "checked" AS {fence}(\n'
        f'  SELECT "id", {features},\n  {reason} AS "reason"\n  FROM {source}\n),\n'
        f'"scorable" AS {fence}(SELECT "id", "reason", {masked} FROM "checked")\n'
        f'SELECT "scored"."id",\n  {projected},\n  {text(version)} AS "model_version",\n'
        f'  "scored"."reason"\n'
        f'FROM (\n{model}\n) AS "scored"'
    )


def input_checks(item: Input, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """The CASE branches that give a row of this input its `reason` not to be scored."""
    name, column = item.name, quoted(item.name)
    checks = []
    if not item.nullable:
        empty = f" OR {column} = ''" if item.kind == "category" else ""
        checks.append(f"WHEN {column} IS NULL{empty} THEN {text(f'{name} is missing')}")
    if name in ranges:
        # NaN and the infinities are outside every range.
        low, high = ranges[name]
        checks.append(
            f"WHEN NOT ({column} BETWEEN {literal(low)} AND {literal(high)})"
            f" THEN {text(f'{name} is outside the accepted range [{low:.6g}, {high:.6g}]')}"
        )
    return checks


def model_input(item: Input) -> str:
    """An input as the compiled model takes it: FLOAT8, or the text of a category (a missing
    one is the missing level, as in training)."""
    column = quoted(item.name)
    if item.kind == "category":
        return f"COALESCE({column}, {text(MISSING_LEVEL)})"
    if item.kind == "boolean":
        # PostgreSQL casts a BOOLEAN to an INTEGER, not to a FLOAT8.
        return f"CAST(CAST({column} AS INTEGER) AS FLOAT8)"
    return f"CAST({column} AS FLOAT8)"


def declarations(contract: Contract) -> str:
    """`"name" TYPE` of every input, in contract order."""
    return ", ".join(f"{quoted(item.name)} {SQL_TYPES[item.kind]}" for item in contract.inputs)


def migrations(
    model: dict[Dialect, str],
    version: str,
    ranges: dict[str, tuple[float, float]],
    *,
    threshold: float | None,
    trigger: bool = False,
) -> list[Migration]:
    """The DuckDB and PostgreSQL migrations of one model version, labelling at its decision
    `threshold` (metadata.threshold) as serving does."""
    suffix = object_suffix(version)
    header = f"-- Model {version}, compiled from its fitted pipeline by orbital.\n"
    table, stable_view = quoted(INPUT_TABLE), quoted(VIEW)
    view = quoted(f"{VIEW}_{suffix}")
    duckdb_view = scoring_query(model["duckdb"], table, version, ranges, "duckdb", threshold)
    duckdb_up = (
        f"{header}CREATE OR REPLACE VIEW {view} AS\n{duckdb_view};\n"
        f"CREATE OR REPLACE VIEW {stable_view} AS SELECT * FROM {view};\n"
    )
    duckdb_down = f"{header}DROP VIEW IF EXISTS {view};\n"

    function, stable_function = quoted(f"{FUNCTION}_{suffix}"), quoted(FUNCTION)
    parameters = declarations(CONTRACT)
    positional = ", ".join(f"${index}" for index in range(1, len(NAMES) + 1))
    outputs = [f"{quoted(name)} {kind}" for name, kind in zip(OUTPUTS, OUTPUT_TYPES, strict=True)]
    returns = f'TABLE ({", ".join(outputs)}, "model_version" TEXT, "reason" TEXT)'
    arguments = ", ".join(
        f"${index} AS {quoted(item.name)}" for index, item in enumerate(CONTRACT.inputs, 1)
    )
    row = f'(SELECT CAST(NULL AS BIGINT) AS "id", {arguments}) AS "arguments"'
    columns = ", ".join(quoted(name) for name in [*OUTPUTS, "model_version", "reason"])
    postgres_function = scoring_query(
        model["postgres"], row, version, ranges, "postgres", threshold
    )
    postgres_view = scoring_query(model["postgres"], table, version, ranges, "postgres", threshold)
    postgres_up = (
        f"{header}CREATE OR REPLACE FUNCTION {function}({parameters})\n"
        f"RETURNS {returns}\nLANGUAGE sql IMMUTABLE PARALLEL SAFE AS $score$\n"
        f'SELECT {columns} FROM (\n{postgres_function}\n) AS "scores"\n$score$;\n'
        f"CREATE OR REPLACE VIEW {view} AS\n{postgres_view};\n"
        f"CREATE OR REPLACE VIEW {stable_view} AS SELECT * FROM {view};\n"
        f"CREATE OR REPLACE FUNCTION {stable_function}({parameters})\n"
        f"RETURNS {returns}\nLANGUAGE sql STABLE PARALLEL SAFE AS $score$\n"
        f"SELECT * FROM {function}({positional})\n$score$;\n"
    )
    if trigger:
        trigger_name = quoted(TRIGGER)
        prediction = quoted(PREDICTION_COLUMN)
        arguments = ", ".join(f"NEW.{quoted(item.name)}" for item in CONTRACT.inputs)
        postgres_up += (
            f"ALTER TABLE {table}\n"
            f"  ADD COLUMN IF NOT EXISTS {prediction} {PREDICTION_TYPE},\n"
            '  ADD COLUMN IF NOT EXISTS "prediction_model_version" TEXT,\n'
            '  ADD COLUMN IF NOT EXISTS "prediction_reason" TEXT;\n'
            f"CREATE OR REPLACE FUNCTION {trigger_name}() RETURNS trigger\n"
            "LANGUAGE plpgsql AS $fill$\n"
            "BEGIN\n"
            f'  SELECT "scores".{quoted(OUTPUTS[0])}, "scores"."model_version", "scores"."reason"\n'
            f'  INTO NEW.{prediction}, NEW."prediction_model_version", NEW."prediction_reason"\n'
            f'  FROM {stable_function}({arguments}) AS "scores";\n'
            "  RETURN NEW;\n"
            "END\n$fill$;\n"
            f"CREATE OR REPLACE TRIGGER {trigger_name}\n"
            f"  BEFORE INSERT OR UPDATE OF {', '.join(quoted(name) for name in NAMES)} ON {table}\n"
            f"  FOR EACH ROW EXECUTE FUNCTION {trigger_name}();\n"
        )
    postgres_down = f"{header}DROP VIEW IF EXISTS {view};\nDROP FUNCTION IF EXISTS {function};\n"
    return [
        Migration(version, "duckdb", duckdb_up, duckdb_down),
        Migration(version, "postgres", postgres_up, postgres_down),
    ]


def expected(
    pipeline: "Pipeline", columns: Columns, threshold: float | None
) -> list[tuple[object, ...]]:
    """The fitted pipeline's outputs, as rows of `OUTPUTS` with labels at the decision
    `threshold`, computed in float64 as the SQL is (scikit-learn would keep float32 numbers
    float32 through the feature pipeline)."""
    frame = model_frame(columns, CONTRACT)
    numbers = [item.name for item in CONTRACT.numbers]
    frame[numbers] = frame[numbers].astype(np.float64)
    return predictions(pipeline, frame, threshold)


def values(columns: Columns) -> list[list[object]]:
    """The rows of `columns` as SQL values, in contract order (NULL where missing)."""
    return [list(record.values()) for record in columns.records(CONTRACT)]


def check_parity(pipeline: "Pipeline", migration: Migration, threshold: float | None) -> float:
    """Score the held-out rows with the DuckDB migration in memory; refuse above `TOLERANCE`."""
    import duckdb

    held_out = split(load_dataset(Settings().training_data))[1]
    connection = duckdb.connect()
    try:
        create_input_table(connection)
        connection.executemany(
            INSERT, [[index, *row] for index, row in enumerate(values(held_out.columns))]
        )
        connection.execute(migration.up)
        actual = connection.execute(
            f'SELECT {", ".join(map(quoted, OUTPUTS))} FROM {quoted(VIEW)} ORDER BY "id"'
        ).fetchall()
    finally:
        connection.close()
    largest = difference(expected(pipeline, held_out.columns, threshold), actual)
    if largest > TOLERANCE:
        raise CompileError(
            f"the SQL differs from the fitted pipeline by {largest:.2e} on held-out data"
            f" (tolerance {TOLERANCE:.0e}){MISMATCH}: no migration written"
        )
    return largest


def create_input_table(connection: "SupportsExecute") -> None:
    """The input table as the sample data and the tests use it: `id` and the inputs, each
    typed by its kind (FLOAT8, BIGINT, BOOLEAN or TEXT)."""
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {quoted(INPUT_TABLE)}"
        f' ("id" BIGINT PRIMARY KEY, {declarations(CONTRACT)})'
    )


def compile_model(model_dir: Path, migrations_dir: Path, *, trigger: bool = False) -> list[Path]:
    """Compile the model at `model_dir`, check it, and write its migrations; returns their paths."""
    pipeline = load_pipeline(model_dir)
    _, metadata = load_metadata(model_dir)
    if not metadata.takes(CONTRACT):
        raise CompileError(
            f"model {metadata.version} was trained on other inputs than features.yaml"
            " describes: train again"
        )
    ranges = accepted_ranges(pipeline, metadata)
    compiled = migrations(
        parse(pipeline), metadata.version, ranges, threshold=metadata.threshold, trigger=trigger
    )
    check_parity(pipeline, compiled[0], metadata.threshold)
    written = []
    for migration in compiled:
        directory = migrations_dir / migration.dialect
        directory.mkdir(parents=True, exist_ok=True)
        for kind, sql in (("up", migration.up), ("down", migration.down)):
            path = directory / f"{migration.version}.{kind}.sql"
            path.write_text(sql, encoding="utf-8")
            written.append(path)
    return written

"""The compiled SQL against the Python model, in DuckDB and in a real PostgreSQL."""

# The SQL names in these queries are the package's constants.
# ruff: noqa: S608

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline

from {{ cookiecutter.__package_name }}.artifact import load_metadata, load_pipeline
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.db import (
    Database,
    DatabaseSettings,
    MigrationError,
    connect,
    main,
    migrate,
    rollback,
)
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.sql import (
    CONTRACT,
    FUNCTION,
    INPUT_TABLE,
    INSERT,
    TOLERANCE,
    VIEW,
    CompileError,
    Migration,
    check_parity,
    compile_model,
    create_input_table,
    expected,
    parse,
    values,
)
from {{ cookiecutter.__package_name }}.sql_outputs import (
    OUTPUTS,
    PREDICTION_COLUMN,
    difference,
    prediction_row,
)
from {{ cookiecutter.__package_name }}.sql_syntax import quoted, text
from {{ cookiecutter.__package_name }}.train import train

from contract_testing import complete_rows, rows
from postgres_testing import LOCAL_POSTGRES, in_schema, own_schema

ONNX_TOLERANCE = 1e-5
"""How far the ONNX model serving uses elsewhere may be from the SQL: its float32 precision."""

NAMES = [item.name for item in CONTRACT.inputs]
"""The input table's columns after `id`."""
HOSTILE_TEXTS = ("a\\b", "z\\'); DROP TABLE model_input; --", "it's", "tab\\tend\\", "\\")
"""Strings whose backslashes and quotes escape a literal that is written carelessly."""


def python_rows(model_dir: Path, columns: Columns) -> list[tuple[object, ...]]:
    """The fitted pipeline's outputs as the SQL answers them: labels at the model's decision
    threshold (binary classifiers)."""
    return expected(load_pipeline(model_dir), columns, load_metadata(model_dir)[1].threshold)


@pytest.fixture(scope="session")
def migrations_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session model's migrations, with the PostgreSQL trigger."""
    directory = tmp_path_factory.mktemp("migrations")
    compile_model(model_dir, directory, trigger=True)
    return directory


def postgres_server() -> str:
    """The configured PostgreSQL database (as CI sets it), or a local server."""
    configured = DatabaseSettings().database_url
    return configured if configured.startswith("postgresql://") else LOCAL_POSTGRES


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections work in a schema of their own, dropped afterwards."""
    server = postgres_server()
    with own_schema(server, "test_database") as schema:
        yield in_schema(server, schema)


@pytest.fixture(params=["duckdb", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database with the input table."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'scoring.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with connect(url) as database:
        create_input_table(database)
        yield database


def insert(database: Database, table: list[list[object]]) -> None:
    database.insert_many(INSERT, [[index, *row] for index, row in enumerate(table)])


def as_values(records: list[dict[str, object]]) -> list[list[object]]:
    """Request rows as input table rows (contract order)."""
    return [[record[name] for name in NAMES] for record in records]


def scored(database: Database) -> list[tuple[object, ...]]:
    return database.query(f"SELECT {', '.join(OUTPUTS)} FROM {VIEW} ORDER BY id")


def versions(database: Database) -> set[str]:
    """The model versions the scoring view answers with."""
    return {row[0] for row in database.query(f"SELECT model_version FROM {VIEW}")}


def test_sql_equals_the_python_model_on_held_out_rows(
    database: Database,
    migrations_dir: Path,
    model_dir: Path,
    held_out: Dataset,
    predictor: Predictor,
) -> None:
    insert(database, values(held_out.columns))
    migrate(database, migrations_dir)

    actual = scored(database)
    assert difference(python_rows(model_dir, held_out.columns), actual) <= TOLERANCE
    # The ONNX model serving uses elsewhere agrees too, within its float32 precision.
    predictions = predictor.predict_columns(held_out.columns)
    assert difference([prediction_row(p) for p in predictions], actual) <= ONNX_TOLERANCE


@given(drawn=rows())
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_sql_equals_the_python_model_on_any_valid_row(
    drawn: dict[str, object], migrations_dir: Path, model_dir: Path
) -> None:
    """Rows drawn from features.yaml: every kind, missing values where allowed."""
    with connect("duckdb:///:memory:") as database:
        create_input_table(database)
        migrate(database, migrations_dir)
        insert(database, as_values([drawn]))
        actual = scored(database)
    columns = Columns.from_records(CONTRACT, [drawn])
    assert difference(python_rows(model_dir, columns), actual) <= TOLERANCE


def refused_rows(good: dict[str, object]) -> dict[str, tuple[str, dict[str, object]]]:
    """Rows the SQL does not score, by what is wrong with them: (the input named, the row)."""
    bad: dict[str, tuple[str, dict[str, object]]] = {}
    for item in CONTRACT.inputs:
        if not item.nullable:
            bad[f"{item.name} missing"] = (item.name, good | {item.name: None})
        if item.kind == "number":
            bad[f"{item.name} out of range"] = (item.name, good | {item.name: 1e300})
            bad[f"{item.name} not a number"] = (item.name, good | {item.name: math.nan})
            bad[f"{item.name} infinite"] = (item.name, good | {item.name: -math.inf})
        elif item.kind == "integer":
            bad[f"{item.name} out of range"] = (item.name, good | {item.name: 2**62})
    return bad


def test_bad_rows_get_null_predictions_and_a_reason(
    database: Database, migrations_dir: Path, held_out: Dataset
) -> None:
    migrate(database, migrations_dir)
    (good,) = complete_rows(held_out, 1)
    bad = refused_rows(good)
    assert bad, "features.yaml has no input a row can be refused for"
    # Inserting bad rows succeeds (with the PostgreSQL trigger too): they are not scored.
    insert(database, as_values([good, *(row for _, row in bad.values())]))

    results = database.query(f"SELECT {', '.join(OUTPUTS)}, reason FROM {VIEW} ORDER BY id")
    assert results[0][-1] is None
    assert all(value is not None for value in results[0][:-1])
    for result, (what, (name, _)) in zip(results[1:], bad.items(), strict=True):
        assert all(value is None for value in result[:-1]), what
        assert isinstance(result[-1], str), what
        assert result[-1].startswith(f"{name} is "), what


def test_missing_values_and_unseen_levels_score_as_in_python(
    database: Database, migrations_dir: Path, model_dir: Path, held_out: Dataset
) -> None:
    """Where features.yaml allows a missing value, SQL imputes it as the pipeline does; a
    category level never seen in training scores as none of the known levels."""
    changed = [item for item in CONTRACT.inputs if item.nullable or item.kind == "category"]
    records = complete_rows(held_out, max(len(changed), 1))
    for record, item in zip(records, changed, strict=False):
        record[item.name] = None if item.nullable else "a level never seen in training"
    insert(database, as_values(records))
    migrate(database, migrations_dir)

    columns = Columns.from_records(CONTRACT, records)
    assert difference(python_rows(model_dir, columns), scored(database)) <= TOLERANCE


def test_postgres_function_and_trigger_score_like_the_view(
    postgres_url: str, migrations_dir: Path, held_out: Dataset
) -> None:
    with connect(postgres_url) as database:
        create_input_table(database)
        migrate(database, migrations_dir)
        table = values(held_out.columns.take(slice(0, 3)))
        insert(database, table)

        view = database.query(f"SELECT {OUTPUTS[0]}, model_version FROM {VIEW} ORDER BY id")
        filled = database.query(
            f"SELECT {PREDICTION_COLUMN}, prediction_model_version FROM {INPUT_TABLE} ORDER BY id"
        )
        called = [
            database.query(
                f"SELECT {OUTPUTS[0]}, model_version FROM {FUNCTION}({', '.join('?' * len(row))})",
                row,
            )[0]
            for row in table
        ]
    assert filled == view
    assert called == view


def test_names_and_strings_mean_the_same_under_either_string_setting(database: Database) -> None:
    """SQL keywords are names like any other, and a string reads back as it was written,
    in DuckDB and in PostgreSQL with `standard_conforming_strings` on and off."""
    names = ["select", "order", "user", 'say "when"']
    table = quoted("from")
    database.execute(f"CREATE TABLE {table} ({', '.join(f'{quoted(n)} TEXT' for n in names)})")
    stored = HOSTILE_TEXTS[: len(names)]
    database.insert_many(f"INSERT INTO {table} VALUES ({', '.join('?' * len(names))})", [stored])
    matches = " AND ".join(f"{quoted(n)} = {text(v)}" for n, v in zip(names, stored, strict=True))
    for setting in ("on", "off") if database.dialect == "postgres" else ("",):
        if setting:
            database.execute(f"SET standard_conforming_strings = {setting}")
        written = database.query(f"SELECT {', '.join(text(value) for value in HOSTILE_TEXTS)}")
        assert written == [HOSTILE_TEXTS], setting
        assert database.query(f"SELECT count(*) FROM {table} WHERE {matches}") == [(1,)], setting


def test_postgres_scores_like_python_with_standard_conforming_strings_off(
    postgres_url: str, migrations_dir: Path, model_dir: Path, held_out: Dataset
) -> None:
    """With `standard_conforming_strings=off` (where a backslash in '...' is an escape) in
    the session that migrates and scores: every level, with a backslash or not, scores as in
    Python, and a level made to escape its literal is only an unseen level."""
    records = complete_rows(held_out, 20)
    for item in CONTRACT.categories:
        records += [
            records[0] | {item.name: level} for level in (*(item.levels or ()), *HOSTILE_TEXTS)
        ]
    with connect(postgres_url) as database:
        database.execute("SET standard_conforming_strings = off")
        create_input_table(database)
        migrate(database, migrations_dir)
        insert(database, as_values(records))
        actual = scored(database)
        filled = database.query(f"SELECT {PREDICTION_COLUMN} FROM {INPUT_TABLE} ORDER BY id")
    columns = Columns.from_records(CONTRACT, records)
    assert difference(python_rows(model_dir, columns), actual) <= TOLERANCE
    assert filled == [row[:1] for row in actual]


@pytest.fixture(scope="session")
def two_versions(
    migrations_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """Migrations of two model versions, the session's and a newer one; and both versions."""
    directory = shutil.copytree(migrations_dir, tmp_path_factory.mktemp("two") / "migrations")
    (first,) = {path.name.removesuffix(".up.sql") for path in directory.glob("*/*.up.sql")}
    models = tmp_path_factory.mktemp("models")
    train(models, Settings().training_data)
    compile_model(models / "current", directory, trigger=True)
    _, second = load_metadata(models / "current")
    return directory, first, second.version


def test_migrate_is_idempotent_and_rollback_returns_to_the_previous_version(
    database: Database, two_versions: tuple[Path, str, str], held_out: Dataset
) -> None:
    directory, first, second = two_versions
    insert(database, values(held_out.columns.take(slice(0, 3))))
    assert migrate(database, directory) == [first, second]
    assert migrate(database, directory) == []
    assert versions(database) == {second}

    assert rollback(database, directory) == (second, first)
    assert versions(database) == {first}
    with pytest.raises(MigrationError, match="no previous model version"):
        rollback(database, directory)


def test_cli_compiles_migrates_and_reports_status(
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = "{{ cookiecutter.__package_name | upper }}_"
    monkeypatch.setenv(prefix + "MODEL_DIR", str(model_dir))
    monkeypatch.setenv(prefix + "MIGRATIONS_DIR", str(tmp_path / "migrations"))
    monkeypatch.setenv(prefix + "DATABASE_URL", f"duckdb:///{tmp_path / 'scoring.duckdb'}")
    _, metadata = load_metadata(model_dir)

    for command in (["compile"], ["load-sample"], ["migrate"], ["show"], ["status"]):
        assert main(command) == 0
    output = capsys.readouterr().out
    assert f"applied {metadata.version}" in output
    assert f"current model: {metadata.version}" in output
    assert "1 not scored" in output

    assert main(["rollback"]) == 1
    assert "no previous model version" in capsys.readouterr().err


def test_a_step_orbital_cannot_compile_is_refused_by_name() -> None:
    pipeline = Pipeline([("neighbours", KNeighborsRegressor())])
    pipeline.fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(CompileError, match="step 'neighbours'"):
        parse(pipeline)


def test_sql_that_differs_from_the_model_is_refused(migrations_dir: Path, model_dir: Path) -> None:
    _, metadata = load_metadata(model_dir)
    up = (migrations_dir / "duckdb" / f"{metadata.version}.up.sql").read_text(encoding="utf-8")
    last = OUTPUTS[-1]
    assert f"END AS {quoted(last)}" in up
    up = up.replace(f"END AS {quoted(last)}", f"END + 1e-6 AS {quoted(last)}")
    tampered = Migration(metadata.version, "duckdb", up, "")
    with pytest.raises(CompileError, match="differs from the fitted pipeline"):
        check_parity(load_pipeline(model_dir), tampered, metadata.threshold)

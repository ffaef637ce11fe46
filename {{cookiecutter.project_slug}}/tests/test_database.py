{%- set package = cookiecutter.__package_name -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set imputes = cookiecutter.feature_engineering == "yes" -%}
"""The compiled SQL against the Python model, in DuckDB and in a real PostgreSQL."""

# The SQL names in these queries are the package's constants.
# ruff: noqa: S608

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighbors{{ "Classifier" if classification else "Regressor" }}
from sklearn.pipeline import Pipeline

from {{ package }}.artifact import load_metadata, load_pipeline
from {{ package }}.data import Dataset
from {{ package }}.db import (
    Database,
    DatabaseSettings,
    MigrationError,
    connect,
    main,
    migrate,
    rollback,
)
from {{ package }}.features import FEATURE_NAMES
from {{ package }}.predictor import Predictor
from {{ package }}.sql import (
    FUNCTION,
    INPUT_TABLE,
    OUTPUTS,
    PREDICTION_COLUMN,
    TOLERANCE,
    VIEW,
    CompileError,
    Migration,
    check_parity,
    compile_model,
    create_input_table,
    difference,
    expected,
    parse,
)
from {{ package }}.train import train

from postgres_testing import LOCAL_POSTGRES, in_schema, own_schema

COLUMNS = ", ".join(["id", *FEATURE_NAMES])
PLACEHOLDERS = ", ".join("?" * (len(FEATURE_NAMES) + 1))


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


def insert(database: Database, rows: list[list[float | None]], first_id: int = 0) -> None:
    database.insert_many(
        f"INSERT INTO {INPUT_TABLE} ({COLUMNS}) VALUES ({PLACEHOLDERS})",
        [[first_id + index, *row] for index, row in enumerate(rows)],
    )


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
    features = held_out.features.astype(np.float64)
    insert(database, features.tolist())
    migrate(database, migrations_dir)

    actual = scored(database)
    assert difference(expected(load_pipeline(model_dir), features), actual) <= TOLERANCE
    # The ONNX model serving uses elsewhere agrees too, within its float32 precision.
    predictions = predictor.predict_array(held_out.features)
{%- if classification %}
    assert [row[0] for row in actual] == [prediction.label for prediction in predictions]
    onnx = np.array([list(prediction.probabilities.values()) for prediction in predictions])
    assert np.allclose(np.array([row[1:] for row in actual], dtype=float), onnx, atol=1e-5)
{%- else %}
    onnx = np.array([prediction.value for prediction in predictions])
    assert np.allclose(np.array([row[0] for row in actual], dtype=float), onnx, rtol=1e-5)
{%- endif %}


def test_bad_rows_get_null_predictions_and_a_reason(
    database: Database, migrations_dir: Path, held_out: Dataset
) -> None:
    migrate(database, migrations_dir)
    good = held_out.features[0].astype(np.float64).tolist()
    rows = {
{%- if not imputes %}
        "is missing": [None, *good[1:]],
{%- endif %}
        "outside the accepted range": [1e300, *good[1:]],
        "not a number": [float("nan"), *good[1:]],
        "infinite": [*good[:-1], float("-inf")],
    }
    # Inserting bad rows succeeds (with the PostgreSQL trigger too): they are not scored.
    insert(database, [good, *rows.values()])

    results = database.query(f"SELECT {', '.join(OUTPUTS)}, reason FROM {VIEW} ORDER BY id")
    assert results[0][-1] is None
    assert all(value is not None for value in results[0][:-1])
    names = [FEATURE_NAMES[0]] * (len(rows) - 1) + [FEATURE_NAMES[-1]]
    for result, name in zip(results[1:], names, strict=True):
        assert all(value is None for value in result[:-1])
        assert isinstance(result[-1], str)
        assert result[-1].startswith(name)
{%- if imputes %}


def test_missing_values_are_imputed_as_in_python(
    database: Database, migrations_dir: Path, model_dir: Path, held_out: Dataset
) -> None:
    features = held_out.features[:5].astype(np.float64)
    features[:, 0] = np.nan
    insert(database, [[None, *row[1:]] for row in features.tolist()])
    migrate(database, migrations_dir)

    assert difference(expected(load_pipeline(model_dir), features), scored(database)) <= TOLERANCE
{%- endif %}


def test_postgres_function_and_trigger_score_like_the_view(
    postgres_url: str, migrations_dir: Path, held_out: Dataset
) -> None:
    with connect(postgres_url) as database:
        create_input_table(database)
        migrate(database, migrations_dir)
        rows = held_out.features[:3].astype(np.float64).tolist()
        insert(database, rows)

        view = database.query(f"SELECT {OUTPUTS[0]}, model_version FROM {VIEW} ORDER BY id")
        filled = database.query(
            f"SELECT {PREDICTION_COLUMN}, prediction_model_version FROM {INPUT_TABLE} ORDER BY id"
        )
        called = [
            database.query(
                f"SELECT {OUTPUTS[0]}, model_version FROM {FUNCTION}({', '.join('?' * len(row))})",
                row,
            )[0]
            for row in rows
        ]
    assert filled == view
    assert called == view


@pytest.fixture(scope="session")
def two_versions(
    migrations_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """Migrations of two model versions, the session's and a newer one; and both versions."""
    directory = shutil.copytree(migrations_dir, tmp_path_factory.mktemp("two") / "migrations")
    (first,) = {path.name.removesuffix(".up.sql") for path in directory.glob("*/*.up.sql")}
    models = tmp_path_factory.mktemp("models")
    train(models)
    compile_model(models / "current", directory, trigger=True)
    _, second = load_metadata(models / "current")
    return directory, first, second.version


def test_migrate_is_idempotent_and_rollback_returns_to_the_previous_version(
    database: Database, two_versions: tuple[Path, str, str], held_out: Dataset
) -> None:
    directory, first, second = two_versions
    insert(database, held_out.features[:3].astype(np.float64).tolist())
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
    prefix = "{{ package | upper }}_"
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


def test_a_step_orbital_cannot_compile_is_refused_by_name(held_out: Dataset) -> None:
    pipeline = Pipeline([("neighbours", KNeighbors{{ "Classifier" if classification else "Regressor" }}())])
    pipeline.fit(held_out.features, held_out.target)
    with pytest.raises(CompileError, match="step 'neighbours'"):
        parse(pipeline)


def test_sql_that_differs_from_the_model_is_refused(migrations_dir: Path, model_dir: Path) -> None:
    _, metadata = load_metadata(model_dir)
    up = (migrations_dir / "duckdb" / f"{metadata.version}.up.sql").read_text(encoding="utf-8")
    last = OUTPUTS[-1]
    assert f"END AS {last}" in up
    up = up.replace(f"END AS {last}", f"END + 1e-6 AS {last}")
    tampered = Migration(metadata.version, "duckdb", up, "")
    with pytest.raises(CompileError, match="differs from the fitted pipeline"):
        check_parity(load_pipeline(model_dir), tampered)

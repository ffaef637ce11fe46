"""The per-entity state store, on SQLite and on a real PostgreSQL."""

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.entities import (
    EntityRequest,
    IncompleteFeaturesError,
    KnownFeatures,
    UnknownEntityError,
    complete,
)
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.state import EntityStore, main, open_store

from contract_testing import first_name, valid_row
from postgres_testing import LOCAL_POSTGRES, in_schema, own_schema

STATE_URL_VARIABLE = "{{ cookiecutter.__package_name | upper }}_STATE_URL"


NUMBER = first_name("number", "integer")
"""A number input the value tests below use."""


@pytest.fixture(scope="module")
def row(held_out: Dataset) -> dict[str, Any]:
    return {name: value for name, value in valid_row(held_out).items() if value is not None}


def postgres_server() -> str:
    """The configured PostgreSQL state store (as CI sets it), or a local server."""
    configured = Settings().state_url
    return configured if configured.startswith("postgresql://") else LOCAL_POSTGRES


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections work in a schema of their own, dropped afterwards."""
    server = postgres_server()
    with own_schema(server, "test_state") as schema:
        yield in_schema(server, schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'entities.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[EntityStore]:
    store = open_store(store_url)
    yield store
    store.close()


def test_stores_and_reads_back_entities(store: EntityStore, row: dict[str, Any]) -> None:
    partial = {NUMBER: 1.5}
    assert store.put_many([("a", row), ("b", partial)]) == 2
    assert store.get_many(["a", "b", "unknown"]) == {"a": row, "b": partial}
    assert store.get_many([]) == {}


def test_storing_again_replaces_the_values(store: EntityStore, row: dict[str, Any]) -> None:
    store.put_many([("a", row)])
    store.put_many([("a", {NUMBER: 2.0})])
    assert store.get_many(["a"]) == {"a": {NUMBER: 2.0}}


def test_the_store_outlives_its_connection(store_url: str, row: dict[str, Any]) -> None:
    first = open_store(store_url)
    first.put_many([("a", row)])
    first.close()
    second = open_store(store_url)
    assert second.get_many(["a"]) == {"a": row}
    second.close()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"customer_mood": 1.0}, "unknown features"),
        ({NUMBER: float("nan")}, "finite number"),
        ({NUMBER: "high"}, "valid number"),
    ],
)
def test_refuses_values_the_model_cannot_use_and_stores_nothing(
    store: EntityStore, row: dict[str, Any], values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.put_many([("good", row), ("bad", values)])
    assert store.get_many(["good", "bad"]) == {}


def test_postgres_reconnects_after_the_server_drops_the_connection(
    postgres_url: str, row: dict[str, Any]
) -> None:
    store = open_store(postgres_url)
    store.put_many([("a", row)])
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
            " AND query LIKE '%entity_features%'"
        )
    assert store.get_many(["a"]) == {"a": row}
    store.close()


def test_complete_fills_the_gaps_from_the_stored_values(
    store: EntityStore, row: dict[str, Any]
) -> None:
    store.put_many([("a", row)])
    given = EntityRequest(entity_id="a", features=KnownFeatures(**{NUMBER: 42.0}))
    (features,) = complete([given], store)
    assert features == Features(**{**row, NUMBER: 42.0})


def test_complete_refuses_an_unknown_entity(store: EntityStore) -> None:
    with pytest.raises(UnknownEntityError, match="'nobody'"):
        complete([EntityRequest(entity_id="nobody")], store)


def test_complete_names_features_stored_nowhere(store: EntityStore, row: dict[str, Any]) -> None:
    store.put_many([("a", row), ("b", {NUMBER: 1.0})])
    with pytest.raises(IncompleteFeaturesError) as raised:
        complete([EntityRequest(entity_id="a"), EntityRequest(entity_id="b")], store)
    missing = tuple(name for name in FEATURE_NAMES if name != NUMBER)
    assert (raised.value.position, raised.value.missing) == (1, missing)


def test_command_line_loads_a_csv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: dict[str, Any]
) -> None:
    csv = tmp_path / "entities.csv"
    csv.write_text(
        "entity_id," + ",".join(row) + "\n" + "a," + ",".join(map(str, row.values())) + "\n"
    )
    url = f"sqlite:///{tmp_path / 'entities.db'}"
    monkeypatch.setenv(STATE_URL_VARIABLE, url)
    main(["load", str(csv)])
    store = open_store(url)
    assert store.get_many(["a"]) == {"a": row}
    store.close()


def test_command_line_rejects_a_bad_csv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "entities.csv"
    csv.write_text("entity_id,customer_mood\na,1.0\n")
    monkeypatch.setenv(STATE_URL_VARIABLE, f"sqlite:///{tmp_path / 'e.db'}")
    with pytest.raises(SystemExit):
        main(["load", str(csv)])
    assert "unknown features ['customer_mood']" in capsys.readouterr().err


def test_a_batch_reads_the_columns_it_asks_for_in_one_query(
    store: EntityStore, row: dict[str, Any]
) -> None:
    store.put_many([("a", row), ("b", {NUMBER: 2.0})])
    ids, values = store.read_columns(["b", "a", "nobody"], [NUMBER])
    assert sorted(zip(ids, values, strict=True)) == [("a", row[NUMBER]), ("b", 2.0)]


def test_a_table_in_the_first_json_layout_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "entities.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "CREATE TABLE entity_features (entity_id TEXT PRIMARY KEY, features TEXT)"
        )
    with pytest.raises(ValueError, match=r"has the old layout .* load the state again"):
        open_store(f"sqlite:///{path}")

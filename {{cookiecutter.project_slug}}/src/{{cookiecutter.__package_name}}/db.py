"""The model in the application's database: compile it, migrate, roll back, inspect.

    {{ cookiecutter.__package_name }}-db compile [--trigger]  write the current model's migrations
    {{ cookiecutter.__package_name }}-db migrate              apply pending migrations (the newest is current)
    {{ cookiecutter.__package_name }}-db rollback             back to the previous model version
    {{ cookiecutter.__package_name }}-db status               applied, current and pending model versions
    {{ cookiecutter.__package_name }}-db load-sample          fill the input table with the sample data
    {{ cookiecutter.__package_name }}-db show [--limit N]     print scored rows from the scoring view

The database is `{{ cookiecutter.__package_name | upper }}_DATABASE_URL`: `duckdb:///path.duckdb` (the embedded
default) or `postgresql://user@host:5432/database` (add
`?options=-csearch_path%3Dschema` to work in a schema).
Applied versions are recorded in the `model_migrations` table.
"""

# Every SQL name below is quoted and every string a literal of sql_syntax.text (or a parameter).
# ruff: noqa: S608

import argparse
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import psycopg

from .artifact import ArtifactError
from .data import DataError, load_dataset
from .settings import Settings
from .sql import (
    CONTRACT,
    INPUT_TABLE,
    INSERT,
    VIEW,
    CompileError,
    Dialect,
    create_input_table,
    ranged,
    values,
)
from .sql_syntax import quoted, text

LEDGER = "model_migrations"


class DatabaseSettings(Settings):
    """Settings of the database strategy."""

    database_url: str = "duckdb:///data/scoring.duckdb"
    """Where the model is deployed: `duckdb:///file.duckdb` or `postgresql://...`."""

    migrations_dir: Path = Path("migrations")
    """Where `compile` writes the migrations and `migrate` reads them."""


class MigrationError(Exception):
    """The migrations cannot be applied or rolled back as asked."""


class Database(ABC):
    """One connection to the database the model is deployed in."""

    dialect: Dialect

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of one statement (none for a statement without results); `?` placeholders."""

    @abstractmethod
    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one INSERT statement (`?` placeholders) for each row."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run one statement or a script of several, without parameters."""

    def transaction(self, *scripts: str) -> None:
        """Run the scripts in one transaction: all of them or none."""
        self.execute("BEGIN")
        try:
            for script in scripts:
                self.execute(script)
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")


class DuckDatabase(Database):
    dialect: Dialect = "duckdb"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(path)

    def close(self) -> None:
        self._connection.close()

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        self._connection.execute(sql, list(parameters))
        return self._connection.fetchall() if self._connection.description else []

    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._connection.executemany(sql, [list(row) for row in rows])

    def execute(self, sql: str) -> None:
        self._connection.execute(sql)


class PostgresDatabase(Database):
    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._connection = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        self._connection.close()

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        cursor = self._connection.execute(placeholders(sql), list(parameters))
        return cursor.fetchall() if cursor.description else []

    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self._connection.cursor() as cursor:
            cursor.executemany(placeholders(sql), rows)

    def execute(self, sql: str) -> None:
        # Bytes: psycopg runs a script of several statements (with no parameters) as it is.
        self._connection.execute(sql.encode())


def placeholders(sql: str) -> str:
    """`?` placeholders as psycopg's `%s`."""
    return sql.replace("?", "%s")


def connect(url: str) -> Database:
    """The database `url` names: `duckdb:///path.duckdb` or `postgresql://...`."""
    if url.startswith("duckdb:///"):
        return DuckDatabase(url.removeprefix("duckdb:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    raise MigrationError(
        f"database URL {url.split('://')[0]}://... is not supported: use duckdb:///file.duckdb"
        " or postgresql://user@host:port/database"
    )


def available(migrations_dir: Path, dialect: Dialect) -> list[str]:
    """Model versions with a migration for `dialect`, oldest first."""
    directory = migrations_dir / dialect
    return sorted(path.name.removesuffix(".up.sql") for path in directory.glob("*.up.sql"))


def applied(database: Database) -> list[str]:
    """Model versions applied to the database, oldest first (the last one is current)."""
    database.execute(
        f"CREATE TABLE IF NOT EXISTS {quoted(LEDGER)}"
        ' ("version" TEXT PRIMARY KEY, "applied_at" TEXT NOT NULL)'
    )
    return [row[0] for row in database.query(f'SELECT "version" FROM {quoted(LEDGER)} ORDER BY 1')]


def read(migrations_dir: Path, dialect: Dialect, version: str, kind: str) -> str:
    path = migrations_dir / dialect / f"{version}.{kind}.sql"
    if not path.is_file():
        raise MigrationError(f"{path} is missing")
    return path.read_text(encoding="utf-8")


def migrate(database: Database, migrations_dir: Path) -> list[str]:
    """Apply the pending migrations, oldest first, each in its own transaction; returns them."""
    done = applied(database)
    pending = [
        version for version in available(migrations_dir, database.dialect) if version not in done
    ]
    if done and pending and pending[0] < done[-1]:
        raise MigrationError(
            f"migration {pending[0]} is older than the current model version {done[-1]}:"
            " remove its files, or roll back first"
        )
    for version in pending:
        database.transaction(
            read(migrations_dir, database.dialect, version, "up"),
            f"INSERT INTO {quoted(LEDGER)}"
            f" VALUES ({text(version)}, {text(datetime.now(UTC).isoformat())})",
        )
    return pending


def rollback(database: Database, migrations_dir: Path) -> tuple[str, str]:
    """Make the previous model version current again and drop the current one's objects."""
    done = applied(database)
    if len(done) < 2:
        raise MigrationError("no previous model version to roll back to")
    current, previous = done[-1], done[-2]
    database.transaction(
        # Re-applying the previous version points the stable view and function back at it.
        read(migrations_dir, database.dialect, previous, "up"),
        read(migrations_dir, database.dialect, current, "down"),
        f'DELETE FROM {quoted(LEDGER)} WHERE "version" = {text(current)}',
    )
    return current, previous


def status(database: Database, migrations_dir: Path) -> str:
    done = applied(database)
    pending = [
        version for version in available(migrations_dir, database.dialect) if version not in done
    ]
    lines = [f"database: {database.dialect}", f"current model: {done[-1] if done else 'none'}"]
    lines += [f"applied: {version}" for version in done]
    lines += [f"pending: {version}" for version in pending]
    return "\n".join(lines)


def load_sample(database: Database, training_data: Path | None = None) -> int:
    """Fill the input table with the training data (the sample data set by default), and one
    row the model refuses to show a rejection: its first number far out of range, or else its
    first required input missing."""
    create_input_table(database)
    rows = values(load_dataset(training_data).columns)
    refused = list(rows[-1])
    names = [item.name for item in CONTRACT.inputs]
    if numbers := ranged(CONTRACT):
        refused[names.index(numbers[0].name)] = 10**12
    else:
        refused[next((i for i, item in enumerate(CONTRACT.inputs) if not item.nullable), 0)] = None
    database.execute(f"DELETE FROM {quoted(INPUT_TABLE)}")
    database.insert_many(INSERT, [[index, *row] for index, row in enumerate([*rows, refused])])
    return len(rows) + 1


def show(database: Database, limit: int) -> str:
    """The first scored rows, the rejected ones and a count, as a text table."""
    view = quoted(VIEW)
    rows = database.query(f'SELECT * FROM {view} ORDER BY "id" LIMIT {int(limit)}')
    rejected = database.query(
        f'SELECT * FROM {view} WHERE "reason" IS NOT NULL ORDER BY "id" LIMIT {int(limit)}'
    )
    total, failed = database.query(f'SELECT count(*), count("reason") FROM {view}')[0]
    header = describe(database)
    table = [header, *[[format_value(value) for value in row] for row in [*rows, *rejected]]]
    widths = [max(len(line[index]) for line in table) for index in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in table
    ]
    lines.append(f"{total} rows in {VIEW}, {failed} not scored (see reason)")
    return "\n".join(lines)


def describe(database: Database) -> list[str]:
    if database.dialect == "duckdb":
        return [row[0] for row in database.query(f"DESCRIBE SELECT * FROM {quoted(VIEW)}")]
    return [
        row[0]
        for row in database.query(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
            [VIEW],
        )
    ]


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6f}"
    return "NULL" if value is None else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Deploy the model into the application's database."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    compile_command = commands.add_parser("compile", help="write the current model's migrations")
    compile_command.add_argument(
        "--trigger", action="store_true", help="PostgreSQL: fill a prediction column on insert"
    )
    commands.add_parser("migrate", help="apply pending migrations")
    commands.add_parser("rollback", help="back to the previous model version")
    commands.add_parser("status", help="applied, current and pending model versions")
    commands.add_parser("load-sample", help="fill the input table with the sample data")
    show_command = commands.add_parser("show", help="print scored rows")
    show_command.add_argument("--limit", type=int, default=5)
    args = parser.parse_args(argv)
    settings = DatabaseSettings()
    try:
        if args.command == "compile":
            from .sql import compile_model

            for path in compile_model(
                settings.model_dir, settings.migrations_dir, trigger=args.trigger
            ):
                print(f"wrote {path}")
            return 0
        with connect(settings.database_url) as database:
            if args.command == "migrate":
                versions = migrate(database, settings.migrations_dir)
                print(f"applied {', '.join(versions)}" if versions else "nothing to apply")
            elif args.command == "rollback":
                current, previous = rollback(database, settings.migrations_dir)
                print(f"rolled back {current}: {previous} is current")
            elif args.command == "status":
                print(status(database, settings.migrations_dir))
            elif args.command == "load-sample":
                loaded = load_sample(database, settings.training_data)
                print(f"loaded {loaded} rows into {INPUT_TABLE}")
            else:
                print(show(database, args.limit))
    except (
        ArtifactError,
        CompileError,
        DataError,
        MigrationError,
        duckdb.Error,
        psycopg.Error,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

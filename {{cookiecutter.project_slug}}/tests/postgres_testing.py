"""A PostgreSQL schema of its own for each test that needs the real server.

The schema is created before the test and dropped after it, so tests start cleanly against
a shared server and leave nothing behind. A test is skipped, saying so, when the server
cannot be reached; with `REQUIRE_POSTGRES=1` (set in CI) it fails instead, so a broken CI
service cannot pass as a green skip.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def own_schema(server: str, prefix: str) -> Iterator[str]:
    """A new schema named `<prefix>_<random>` on `server`, dropped with what it holds."""
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL is not reachable at {server}: {error}"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def in_schema(server: str, schema: str) -> str:
    """`server`'s URL, with `schema` first on the search path of every connection."""
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options={quote(f'-csearch_path={schema}')}"

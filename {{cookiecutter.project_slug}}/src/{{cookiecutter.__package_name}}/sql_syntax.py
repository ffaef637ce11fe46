"""Names and strings in the SQL the project writes, read alike by DuckDB and by PostgreSQL.

Every name is quoted: a column of the training data called `select`, `order` or `user`
(PostgreSQL's current user, unquoted) is a column like any other. Every string is a literal
that means the same under PostgreSQL's `standard_conforming_strings` on (the default) and off,
where a backslash in '...' starts an escape: a string with a backslash is written as an
escape string, E'...', whose backslashes are doubled (DuckDB reads E'...' the same way).
"""

import re

QUOTED = re.compile(r"\"(?:[^\"]|\"\")*\"|'((?:[^']|'')*)'")
"""A quoted name, or a string literal (its text in group 1), in standard SQL."""


def quoted(name: str) -> str:
    """A name as a quoted SQL identifier: `select` -> `"select"`."""
    return '"' + name.replace('"', '""') + '"'


def text(value: str) -> str:
    """A string as an SQL literal: `it's` -> `'it''s'`, `a\\b` -> `E'a\\\\b'`."""
    doubled = value.replace("'", "''")
    if "\\" in value:
        return "E'" + doubled.replace("\\", "\\\\") + "'"
    return "'" + doubled + "'"


def portable(query: str) -> str:
    """A query in standard SQL (backslashes as they are, as orbital writes it) with every
    string literal as `text` writes it."""

    def rewrite(match: re.Match[str]) -> str:
        literal = match.group(1)
        return match.group(0) if literal is None else text(literal.replace("''", "'"))

    return QUOTED.sub(rewrite, query)

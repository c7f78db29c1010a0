"""Quoting helpers for the SQL the catalog readers assemble.

Most SQL comes from server-rendered fragments (pg_get_*def, format_type, and
quote_ident in the .sql files); these helpers cover the rest with ``psycopg.sql``.
Identifiers are always double-quoted: exact for every name, keywords included.
"""

from __future__ import annotations

import sys
from typing import Any

from psycopg import sql


def ident(*names: str) -> str:
    """A dotted, quoted identifier: ``ident("public", "My T") -> "public"."My T"``.

    The same text as ``sql.Identifier(*names).as_string(None)``, written out because
    it runs for every name of every chunk (that call costs microseconds each).
    """
    if len(names) == 1:  # most calls; a third of the time of the general case
        return '"' + names[0].replace('"', '""') + '"'
    if not names:
        raise TypeError("Identifier cannot be empty")
    return ".".join(['"' + name.replace('"', '""') + '"' for name in names])


def literal(value: str) -> str:
    """A SQL string literal, e.g. for COMMENT ON ... IS '...'."""
    return sql.Literal(value).as_string(None)


def share_strings(row: dict[str, Any], *keys: str) -> None:
    """Make ``row``'s strings under ``keys`` the one copy of each (``sys.intern``):
    a schema or owner that the entries of every chunk repeat is then kept once."""
    for key in keys:
        value = row[key]
        if type(value) is str:
            row[key] = sys.intern(value)

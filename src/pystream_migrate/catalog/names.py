"""Quoting helpers for the SQL the catalog readers assemble.

Most SQL comes from server-rendered fragments (pg_get_*def, format_type, and
quote_ident in the .sql files); these helpers cover the rest with ``psycopg.sql``.
Identifiers are always double-quoted: exact for every name, keywords included.
"""

from __future__ import annotations

from psycopg import sql


def ident(*names: str) -> str:
    """A dotted, quoted identifier: ``ident("public", "My T") -> "public"."My T"``."""
    return sql.Identifier(*names).as_string(None)


def literal(value: str) -> str:
    """A SQL string literal, e.g. for COMMENT ON ... IS '...'."""
    return sql.Literal(value).as_string(None)

"""Catalog reader for sequences.

* ``SEQUENCE`` (pre-data): ``CREATE SEQUENCE`` with every option, for standalone and
  serial (OWNED BY) sequences. Identity sequences are created by their table's
  ``CREATE TABLE`` (see :mod:`tables`), which registers them.
* ``SEQUENCE OWNED BY`` (pre-data, after the table): ``ALTER SEQUENCE ... OWNED BY``.
* ``SEQUENCE SET`` (data): ``setval`` with the state read now, inside the snapshot,
  for every sequence including identity ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.catalog.security import acl_sql, comment_sql, owner_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

Row = dict[str, Any]


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries: list[TocEntry] = []
    seqs = ctx.query("sequences")
    for seq in seqs:
        qname = ident(seq["schema"], seq["name"])
        identity = seq["owned_deptype"] == "i"
        if not identity:
            entries.append(_sequence_entry(seq, qname))
            if seq["owned_deptype"] == "a" and seq["owner_column"] is not None:
                entries.append(_owned_by_entry(seq, qname))
        entries.append(_set_entry(seq, qname))
    return entries


def create_sequence_sql(seq: Row, qname: str) -> str:
    unlogged = "UNLOGGED " if seq["persistence"] == "u" else ""
    return (
        f"CREATE {unlogged}SEQUENCE {qname}\n"
        f"    AS {seq['type']}\n"
        f"    START WITH {seq['start']}\n"
        f"    INCREMENT BY {seq['increment']}\n"
        f"    MINVALUE {seq['min']}\n"
        f"    MAXVALUE {seq['max']}\n"
        f"    CACHE {seq['cache']}\n"
        f"    {'CYCLE' if seq['cycle'] else 'NO CYCLE'};"
    )


def _sequence_entry(seq: Row, qname: str) -> TocEntry:
    return TocEntry(
        kind="SEQUENCE",
        schema=seq["schema"],
        name=seq["name"],
        section=Section.PRE_DATA,
        create_sql=create_sequence_sql(seq, qname),
        drop_sql=f"DROP SEQUENCE {qname};",
        owner=seq["owner"],
        owner_sql=owner_sql("SEQUENCE", qname, seq["owner"]),
        acl_sql=acl_sql("SEQUENCE", qname, seq["owner"], seq["acl"]),
        comment_sql=comment_sql("SEQUENCE", qname, seq["comment"]),
        objects=[("pg_class", seq["oid"])],
        info={"relkind": "S"},
    )


def _owned_by_entry(seq: Row, qname: str) -> TocEntry:
    column = ident(seq["owner_schema"], seq["owner_table_name"], seq["owner_column"])
    return TocEntry(
        kind="SEQUENCE OWNED BY",
        schema=seq["schema"],
        name=seq["name"],
        section=Section.PRE_DATA,
        create_sql=f"ALTER SEQUENCE {qname} OWNED BY {column};",
        owner=seq["owner"],
        extra_deps=[("pg_class", seq["oid"]), ("pg_class", seq["owner_table"])],
        table_oid=seq["owner_table"],
    )


def _set_entry(seq: Row, qname: str) -> TocEntry:
    """``setval`` with the state sequences.sql read with the sequence."""
    last_value, is_called = seq["last_value"], seq["is_called"]
    return TocEntry(
        kind="SEQUENCE SET",
        schema=seq["schema"],
        name=seq["name"],
        section=Section.DATA,
        create_sql=(f"SELECT pg_catalog.setval({literal(qname)}, {int(last_value)}, "
                    f"{'true' if is_called else 'false'});"),
        owner=seq["owner"],
        extra_deps=[("pg_class", seq["oid"])],
        info={"sequence_oid": seq["oid"], "last_value": int(last_value),
              "is_called": bool(is_called)},
    )

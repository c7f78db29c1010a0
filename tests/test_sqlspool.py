"""The compact TOC entries of restore and dump, their SQL text in a temporary file
(no server)."""

from __future__ import annotations

import inspect
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

from pystream_migrate import sqlspool as spool
from pystream_migrate import toc
from pystream_migrate.catalog.compact import Keeper
from pystream_migrate.restore import entry


def doc(i: int) -> dict[str, Any]:
    table = f'"_timescaledb_internal"."_hyper_1_{i}_chunk"'
    return {"id": i, "kind": "TABLE", "schema": "_timescaledb_internal",
            "name": f"_hyper_1_{i}_chunk", "section": "pre-data",
            "create_sql": f"CREATE TABLE {table} (CONSTRAINT c CHECK (t >= {i}))"
                          " INHERITS (public.many); -- é",
            "owner_sql": f'ALTER TABLE {table} OWNER TO "postgres";', "acl_sql": "",
            "comment_sql": "", "drop_sql": f"DROP TABLE {table};", "deps": [1]}


def test_spooled_entries_give_back_their_sql_and_keep_what_is_assigned() -> None:
    read = entry.entry_reader()
    entries = [read(doc(i)) for i in range(1, 50)]
    plain = [toc.TocEntry.from_json(doc(i)) for i in range(1, 50)]
    for e, p in zip(entries, plain, strict=True):
        for name in spool.SPOOLED:
            assert getattr(e, name) == getattr(p, name)
    e = entries[3]
    e.create_sql = "CREATE TABLE x ();"
    e.owner_sql = ""
    assert (e.create_sql, e.owner_sql) == ("CREATE TABLE x ();", "")
    assert e.drop_sql == plain[3].drop_sql and entries[4].create_sql == plain[4].create_sql
    no_drop = entry.entry_reader(drop_sql=False)(doc(7))
    assert no_drop.drop_sql == "" and no_drop.create_sql == plain[6].create_sql


def _traced(read: Callable[[dict[str, Any]], toc.TocEntry], n: int) -> float:
    # As the archive reader does: each document decoded from its JSON, then read.
    texts = [json.dumps(doc(i)) for i in range(1, n + 1)]
    tracemalloc.start()
    try:
        entries = [read(json.loads(t)) for t in texts]
        assert entries[0].create_sql  # the spool's write buffer goes to its file
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(entries) == n
    return size / n


def test_the_sql_text_is_not_held_in_memory() -> None:
    # ~190 B of SQL per entry here: spooled entries hold a file offset instead.
    n = 3000
    plain = _traced(toc.entry_reader(), n)
    spooled = _traced(entry.entry_reader(spool=spool.SqlSpool(hold=0)), n)
    assert plain - spooled > 250, (plain, spooled)


def test_info_is_a_compact_mutable_mapping() -> None:
    read = entry.entry_reader()
    a = read({**doc(3), "info": {"relkind": "r", "oid": 5, "hypertable_relid": 9}})
    b = read({**doc(4), "info": {"relkind": "r", "oid": 6, "hypertable_relid": 9}})
    assert a.info == {"relkind": "r", "oid": 5, "hypertable_relid": 9}
    assert a.info.get("x") is None
    info = a.info
    info["no_freeze"] = True
    a.info["oid"] = 7
    del a.info["relkind"]
    assert dict(a.info) == {"oid": 7, "hypertable_relid": 9, "no_freeze": True}
    assert dict(info) == dict(a.info)  # a view of the entry's own
    assert {**a.info, "z": 1}["no_freeze"] and "relkind" not in a.info and len(a.info) == 3
    assert b.info == {"relkind": "r", "oid": 6, "hypertable_relid": 9}  # shared keys untouched
    e = read({**doc(3), "info": {"relkind": "r", "oid": 5, "parents": [1]}})
    assert e.info == {"relkind": "r", "oid": 5, "parents": [1]}


def test_a_restore_entry_reads_as_the_toc_entry_it_replaces() -> None:
    read = entry.entry_reader()
    for d in (doc(5), {**doc(6), "tablespace": "fast", "copy": {
            "schema": "s", "table": "t", "columns": ["a"], "where": None},
            "info": {"relid": 300000, "table_oid": 300000, "est_bytes": 9000, "chunk": True,
                     "extconfig": True, "fk_order": 2, "after_data": True,
                     "copy_format": "binary", "ref_table_oids": [300001], "oid": 300000}}):
        e, p = read(d), toc.TocEntry.from_json(d)
        assert e.to_json() == p.to_json() and (e.label, e.priority) == (p.label, p.priority)
        for name in (*toc.TYPED_INFO, "tablespace", "objects", "extra_deps", "split_pre_sql",
                     "split_post_sql", "owner", "deps", "id", "section"):
            assert getattr(e, name) == getattr(p, name), name
    e = read(doc(8))
    e.extconfig, e.copy_format, e.fk_order, e.tablespace = True, "binary", 3, "ts"
    assert (e.extconfig, e.copy_format, e.fk_order, e.tablespace) == (True, "binary", 3, "ts")
    assert not e.chunk and not e.after_data and e.ref_table_oids == ()
    e.extconfig, e.copy_format = False, "text"
    assert (e.extconfig, e.copy_format) == (False, "text")
    # Numbers read again are the same object (one copy per TOC).
    a, b = read({**doc(9), "info": {"oid": 123456}}), read({**doc(10), "deps": [123456]})
    assert a.info["oid"] is b.deps[0]


def test_the_compact_info_is_a_mutable_mapping_with_shared_keys() -> None:
    """An entry's info (a view of its key and value tuples) takes every change; a key
    added or removed gives the same key tuple for every entry (annotate adds one to
    each chunk's table and data: one copy, not one per entry)."""
    keep = Keeper(compact_from=0)

    def kept(oid: int) -> Any:
        return keep(toc.TocEntry(kind="TABLE", schema="s", name=f"t{oid}",
                                 section=toc.Section.PRE_DATA,
                                 info={"relkind": "r", "oid": oid, "hypertable_relid": 9}))

    a, b = kept(5), kept(6)
    assert a.info == {"relkind": "r", "oid": 5, "hypertable_relid": 9}
    assert a.info.get("x") is None and a._keys is b._keys
    a.info["no_freeze"] = True
    a.info["oid"] = 7
    b.info["no_freeze"] = False
    assert a._keys is b._keys
    del a.info["relkind"]
    assert dict(a.info) == {"oid": 7, "hypertable_relid": 9, "no_freeze": True}
    assert {**a.info, "z": 1}["no_freeze"] and "relkind" not in a.info and len(a.info) == 3
    assert dict(b.info) == {"relkind": "r", "oid": 6, "hypertable_relid": 9,
                            "no_freeze": False}


def test_a_spooled_entry_writes_the_same_document_from_the_file_and_the_buffer() -> None:
    """to_json reads an entry's texts in one go (SqlSpool.get_all): entries written to
    the file by the 1 MiB threshold, and entries still buffered when read (the read
    flushes them); assigned texts win over spooled ones."""
    keep = Keeper(compact_from=0)  # as the dump keeps its entries past COMPACT_FROM
    keep.spool = spool.SqlSpool(hold=1 << 20)

    def read(d: dict[str, Any]) -> toc.TocEntry:
        return keep(toc.TocEntry.from_json(d))

    count = 12_000  # ~1.4 MiB of SQL: the first entries are flushed, the last are not
    entries = [read(doc(i)) for i in range(1, count)]
    assert keep.spool.in_file
    for i in (1, 2, count // 2, count - 2, count - 1):
        assert entries[i - 1].to_json() == toc.TocEntry.from_json(doc(i)).to_json()
    e = entries[5]
    small = Keeper(compact_from=0)  # the spool's default: this much stays in memory
    assert [small(toc.TocEntry.from_json(doc(i))).to_json() for i in range(1, 100)] == [
        entries[i - 1].to_json() for i in range(1, 100)]
    assert not small.spool.in_file
    e.comment_sql = "COMMENT ON TABLE x IS 'é';"
    assert e.to_json()["comment_sql"] == "COMMENT ON TABLE x IS 'é';"
    assert e.to_json()["create_sql"] == doc(6)["create_sql"]


def test_the_dumps_kept_entry_reads_and_sets_as_the_entry_it_was_made_from() -> None:
    """Keeper turns each catalog entry into a CompactEntry: every attribute reads as in
    the entry, rare and flag fields included; what it creates is in the owners map (and
    its oid in info); it still takes assignments as the sort and annotate make them."""
    keep = Keeper(compact_from=0)
    made = toc.TocEntry(
        kind="TABLE", schema="s", name="t", section=toc.Section.PRE_DATA,
        create_sql="CREATE TABLE s.t (a int);", drop_sql="DROP TABLE s.t;", owner="o",
        owner_sql="ALTER TABLE s.t OWNER TO o;", tablespace="fast",
        objects=[("pg_class", 70000), ("pg_type", 70001)],
        extra_deps=[("pg_class", 69999)], split_pre_sql="CREATE TABLE s.t ();",
        split_post_sql="ALTER TABLE s.t ADD CHECK (a > 0);",
        copy=toc.CopySpec("s", "t", ["a"]), relid=70000, table_oid=70000,
        ref_table_oids=(69999,), extconfig=True, fk_order=2, est_bytes=8192, chunk=True,
        copy_format="binary", after_data=True, info={"relkind": "r", "parents": [1, 2]})
    fields = [name for name in inspect.signature(toc.TocEntry).parameters]
    assert {"tablespace", "split_pre_sql", "after_data", "copy_format"} <= set(fields)
    expected = toc.TocEntry(**{name: getattr(made, name) for name in fields})
    kept = keep(made)
    assert type(kept).__name__ == "CompactEntry"
    for name in fields:
        if name not in ("objects", "info", "extra_deps"):
            assert getattr(kept, name) == getattr(expected, name), name
    assert kept.objects == () and kept.extra_deps == ()
    assert list(keep.owners.extra_deps()) == [(0, ("pg_class", 69999))]
    assert dict(kept.info) == {"relkind": "r", "parents": [1, 2], "oid": 70000}
    assert keep.owners.get("pg_type", 70001) == 0 and keep.owners.get("pg_class", 1) is None
    # Its document is the same, byte for byte once encoded (its own to_json).
    want = expected.to_json()
    want["info"] = {"relkind": "r", "parents": [1, 2], "oid": 70000,
                    **expected.typed_info()}
    assert json.dumps(kept.to_json()) == json.dumps(want)
    plain = keep(toc.TocEntry(kind="SCHEMA", schema=None, name="s",
                              section=toc.Section.PRE_DATA))
    assert json.dumps(plain.to_json()) == json.dumps(
        toc.TocEntry(kind="SCHEMA", schema=None, name="s",
                     section=toc.Section.PRE_DATA).to_json())
    assert (plain.create_sql, plain.tablespace, plain.chunk, plain.copy_format,
            plain.split_pre_sql, plain.ref_table_oids) == ("", None, False, "text", None, ())
    # What sort_entries and annotate assign afterwards.
    kept.create_sql, kept.split_pre_sql, kept.chunk = "CREATE TABLE s.t2 ();", None, False
    kept.deps, kept.section, kept.info["split_part"] = (1, 2), toc.Section.DATA, "pre"
    assert (kept.create_sql, kept.split_pre_sql, kept.chunk, kept.deps, kept.section) == (
        "CREATE TABLE s.t2 ();", None, False, (1, 2), toc.Section.DATA)
    assert kept.info["split_part"] == "pre" and kept.drop_sql == "DROP TABLE s.t;"
    assert kept.to_json()["info"]["est_bytes"] == 8192


def test_the_first_entries_stay_whole_and_write_the_same_documents() -> None:
    """The Keeper keeps its first ``compact_from`` entries whole (what they create in
    the owners map, as for the compact ones after them); each entry's document is the
    same either way."""
    def made(i: int) -> toc.TocEntry:
        e = toc.TocEntry.from_json({**doc(i), "info": {"relkind": "r", "parents": [1]}})
        e.objects = [("pg_class", 1000 + i)]
        return e

    whole, compact = Keeper(compact_from=2), Keeper(compact_from=0)
    first = made(1)
    kept = [whole(first), whole(made(2)), whole(made(3))]
    assert kept[0] is first and type(kept[1]) is toc.TocEntry
    assert type(kept[2]).__name__ == "CompactEntry"
    assert kept[0].objects == () and whole.owners.get("pg_class", 1001) == 0
    assert kept[0].info["parents"] is kept[2].info["parents"]  # shared alike
    assert [json.dumps(e.to_json()) for e in kept] == [
        json.dumps(compact(made(i)).to_json()) for i in (1, 2, 3)]

"""The portable dump's table of contents: TimescaleDB objects as API steps, not catalog rows.

The catalog-mode TOC carries TimescaleDB's internals as tables, views and catalog rows.
A portable TOC leaves all of that out (chunk tables and their indexes, constraints and
triggers, compressed hypertables and chunks, materialized hypertables, a continuous
aggregate's internal views, ``_timescaledb_catalog`` rows, job statistics) and adds
entries that restore turns into calls of the target version's own API:

- ``HYPERTABLE`` (pre-data): ``create_hypertable`` with the same dimensions;
- ``CONTINUOUS AGGREGATE`` (pre-data, in place of the view): ``CREATE MATERIALIZED VIEW
  ... WITH NO DATA``;
- ``CHUNK`` (pre-data): the chunk, with the same slices and name;
- the chunk's ``TABLE DATA`` (data): its rows, read decompressed (``portable_rows``);
- ``COMPRESSION SETTINGS`` (post-data, after the hypertable's indexes and constraints:
  2.17 refuses a constraint on a hypertable that has compression enabled), then
  ``COMPRESS CHUNK``, ``CAGG WATERMARK`` and ``JOB`` (post-data).

Their SQL is written at restore time for the target's version (see ``_target.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pystream_migrate.catalog.names import ident
from pystream_migrate.portable._source import SourceFacts
from pystream_migrate.toc import CopySpec, Section, TocEntry, _typed_from_info, sort_entries

HYPERTABLE = "HYPERTABLE"
CAGG = "CONTINUOUS AGGREGATE"
CHUNK = "CHUNK"
COMPRESSION = "COMPRESSION SETTINGS"
COMPRESS = "COMPRESS CHUNK"
WATERMARK = "CAGG WATERMARK"
JOB = "JOB"
KINDS = frozenset({HYPERTABLE, CAGG, CHUNK, COMPRESSION, COMPRESS, WATERMARK, JOB})

# Triggers TimescaleDB puts on hypertables and chunks itself (2.17; 2.28 has none).
_INTERNAL_TRIGGERS = ("ts_insert_blocker", "ts_cagg_invalidation_trigger")


class _Builder:
    """Turns a catalog-mode TOC into a portable one (one instance per dump)."""

    def __init__(self, entries: list[TocEntry], roles: Mapping[int, dict[str, Any]],
                 facts: SourceFacts) -> None:
        self.entries = entries
        self.facts = facts
        self.next_id = max((e.id for e in entries), default=0) + 1
        self.mat = facts.cagg_of_mat()
        self.cagg_views = {int(c["view_oid"]): c for c in facts.caggs}
        internal_views = {int(c[k]) for c in facts.caggs for k in ("partial_oid", "direct_oid")}
        self.gone_tables = {relid for relid, r in roles.items()
                            if r["role"] == "chunk" or r.get("internal")}
        self.gone_views = internal_views
        self.replaced: dict[int, int] = {}  # removed entry id -> entry that stands for it
        self.added: list[TocEntry] = []
        self.table_entry: dict[int, TocEntry] = {}  # hypertable relid -> its TABLE entry
        self.ht_entry: dict[int, TocEntry] = {}  # hypertable or mat relid -> create step
        self.compression: dict[int, TocEntry] = {}  # hypertable relid -> its settings

    def new(self, **kw: Any) -> TocEntry:
        e = TocEntry(id=self.next_id, **kw)
        self.next_id += 1
        self.added.append(e)
        return e

    def build(self) -> list[TocEntry]:
        kept = [e for e in self.entries if self._keep(e)]
        for relid, h in self.facts.hypertables.items():
            if not h["materialized"] and relid in self.table_entry:
                self._hypertable(h, kept)
        for c in self.facts.caggs:
            self._cagg(c)
        data_of = {int(e.info["relid"]): e for e in kept
                   if e.section is Section.DATA and e.info.get("chunk")}
        for relid, ch in self.facts.chunks.items():
            self._chunk(relid, ch, data_of.get(relid), kept)
        self._watermarks()
        self._jobs()
        result = kept + self.added
        for e in result:
            e.deps = {self.replaced.get(d, d) for d in e.deps}
        ids = {e.id for e in result}
        for e in result:
            e.deps = {d for d in e.deps if d in ids and d != e.id}
        return _resort(result)

    # ------------------------------------------------------------ what stays
    def _keep(self, e: TocEntry) -> bool:
        info = e.info
        if info.get("extconfig") and info.get("extension") == "timescaledb":
            return False
        if info.get("job_statistics") or e.kind == "TIMESCALEDB":
            return False
        oid = info.get("oid")
        if e.kind == "TABLE" and oid is not None:
            if int(oid) in self.gone_tables:
                mat = self.mat.get(int(oid))
                if mat is not None:
                    self.replaced[e.id] = -int(mat["view_oid"])  # fixed up in _cagg
                return False
            if info.get("hypertable"):
                self.table_entry[int(oid)] = e
        if e.kind == "VIEW" and oid is not None:
            if int(oid) in self.gone_views:
                return False
            if int(oid) in self.cagg_views:
                self.cagg_views[int(oid)]["_view_entry"] = e
                return False
        if e.section is Section.DATA and info.get("chunk"):
            relid = int(info["relid"])
            if relid not in self.facts.chunks:
                return False  # a compressed chunk's batches: its rows come decompressed
            info["portable_rows"] = True
            return True
        table_oid = info.get("table_oid")
        if table_oid is not None:
            t = int(table_oid)
            if e.kind == "TRIGGER" and info.get("trigger") in _INTERNAL_TRIGGERS:
                return False
            if t in self.mat and e.kind == "INDEX":
                return self._cagg_index(e, self.mat[t])
            if t in self.gone_tables:
                return False
            if t in self.table_entry or t in self.facts.hypertables:
                info["after_data"] = True  # indexes and constraints once the rows are in
                # TimescaleDB refuses ONLY on a hypertable; it propagates to the chunks.
                e.create_sql = e.create_sql.replace("ALTER TABLE ONLY ", "ALTER TABLE ")
        return True

    def _cagg_index(self, e: TocEntry, cagg: dict[str, Any]) -> bool:
        """An index on a materialized hypertable becomes one on its continuous aggregate.

        Not the time index TimescaleDB creates with every materialized hypertable
        (``<table>_<time column>_idx``): the target makes its own.
        """
        h = self.facts.hypertables[int(cagg["mat_relid"])]
        if e.name == f"{h['name']}_{h['dimensions'][0]['column']}_idx":
            return False
        view = ident(cagg["schema"], cagg["name"])
        for table in (ident(h["schema"], h["name"]), f"{h['schema']}.{h['name']}"):
            # pg_get_indexdef quotes only where needed; internal names never need it.
            e.create_sql = e.create_sql.replace(f" ON {table} ", f" ON {view} ", 1)
        e.info["after_data"] = True
        e.info["table_oid"] = int(cagg["mat_relid"])
        e.info["cagg_index"] = True
        return True

    # ------------------------------------------------------------ what is added
    def _hypertable(self, h: dict[str, Any], kept: list[TocEntry]) -> None:
        relid = int(h["relid"])
        table = self.table_entry[relid]
        info = _hypertable_info(h)
        e = self.new(kind=HYPERTABLE, schema=h["schema"], name=h["name"],
                     section=Section.PRE_DATA, deps={table.id}, info={"portable": info})
        self.ht_entry[relid] = e
        if h["compression_enabled"]:
            self.compression[relid] = self.new(
                kind=COMPRESSION, schema=h["schema"], name=h["name"],
                section=Section.POST_DATA, deps={e.id} | _post_data_on(kept, relid),
                info={"portable": info, "table_oid": relid, "after_data": True})

    def _cagg(self, c: dict[str, Any]) -> None:
        view: TocEntry | None = c.pop("_view_entry", None)
        mat = self.facts.hypertables[int(c["mat_relid"])]
        parent = self.ht_entry.get(int(c["raw_relid"]))
        deps = set(view.deps) if view is not None else set()
        if parent is not None:
            deps.add(parent.id)
        info = {k: v for k, v in c.items() if not k.endswith("_oid")}
        info["mat"] = _hypertable_info(mat)
        e = self.new(kind=CAGG, schema=c["schema"], name=c["name"],
                     section=Section.PRE_DATA, deps=deps,
                     owner=view.owner if view else None,
                     owner_sql=_matview(view.owner_sql) if view else "",
                     acl_sql=view.acl_sql if view else "",
                     comment_sql=_matview(view.comment_sql) if view else "",
                     drop_sql=f"DROP MATERIALIZED VIEW {ident(c['schema'], c['name'])};",
                     info={"portable": info, "oid": int(c["view_oid"])})
        if view is not None:
            self.replaced[view.id] = e.id
        for old, new in list(self.replaced.items()):
            if new == -int(c["view_oid"]):
                self.replaced[old] = e.id
        self.ht_entry[int(c["mat_relid"])] = e

    def _chunk(self, relid: int, ch: dict[str, Any], data: TocEntry | None,
               kept: list[TocEntry]) -> None:
        owner = self.ht_entry.get(int(ch["hypertable_relid"]))
        if owner is None:
            return  # its hypertable is not in the dump (-t/-n selection)
        target = self.facts.hypertables[int(ch["hypertable_relid"])]
        cagg = self.mat.get(int(ch["hypertable_relid"]))
        on = (ident(cagg["schema"], cagg["name"]) if cagg
              else ident(target["schema"], target["name"]))
        info = {"hypertable": on, "cagg": cagg is not None, "slices": ch["slices"],
                "table": ident(ch["schema"], ch["name"]), "compressed": ch["compressed"],
                "partial": ch["partial"]}
        create = self.new(kind=CHUNK, schema=ch["schema"], name=ch["name"],
                          section=Section.PRE_DATA, deps={owner.id},
                          info={"portable": info, "chunk": True})
        if data is None:
            return
        data.deps = {create.id}
        data.info["est_bytes"] = int(ch["est_bytes"] or 0)
        if ch["compressed"]:
            settings = self.compression.get(int(ch["hypertable_relid"]))
            waits = ({settings.id} if settings is not None
                     else _post_data_on(kept, int(ch["hypertable_relid"])))
            compress = self.new(kind=COMPRESS, schema=ch["schema"], name=ch["name"],
                                section=Section.POST_DATA, deps={data.id, *waits},
                                info={"portable": info, "table_oid": relid})
            if ch["partial"] and cagg is None:
                self._heap_rows(data, compress, on, kept)

    def _heap_rows(self, data: TocEntry, compress: TocEntry, hypertable: str,
                   kept: list[TocEntry]) -> None:
        """A partially compressed chunk: its compressed part's rows load first and are
        compressed; then the rows of its heap go in through the hypertable (2.17 takes
        rows written into a compressed chunk's table directly, but never reads them), and
        make the chunk partial again. The hypertable's triggers wait for them."""
        assert data.copy is not None
        data.info["portable_rows"] = "compressed"
        spec = data.copy
        heap = self.new(kind=data.kind, schema=data.schema,
                        name=f"{data.name} (uncompressed part)", section=Section.DATA,
                        deps={compress.id},
                        copy=CopySpec(spec.schema, spec.table, list(spec.columns)),
                        info={"relid": data.info["relid"], "chunk": True,
                              "portable_rows": "heap", "heap_root": hypertable})
        root = int(self.facts.chunks[int(data.info["relid"])]["hypertable_relid"])
        for e in kept:
            if e.kind == "TRIGGER" and int(e.info.get("table_oid") or 0) == root:
                e.deps = (*e.deps, heap.id)

    def _watermarks(self) -> None:
        compress = [e for e in self.added if e.kind == COMPRESS]
        for c in self.facts.caggs:
            self.new(kind=WATERMARK, schema=c["schema"], name=c["name"],
                     section=Section.POST_DATA, deps={e.id for e in compress},
                     info={"portable": {"cagg": ident(c["schema"], c["name"]),
                                        "mat": _hypertable_info(
                                            self.facts.hypertables[int(c["mat_relid"])])},
                           "after_data": True})

    def _jobs(self) -> None:
        before = {e.id for e in self.added if e.kind in (COMPRESS, WATERMARK)}
        for j in self.facts.jobs:
            self.new(kind=JOB, schema=None, name=f"{j['proc_name']} [{j['job_id']}]",
                     section=Section.POST_DATA, deps=set(before),
                     owner=j["owner"], info={"portable": j, "after_data": True})


def _post_data_on(entries: list[TocEntry], relid: int) -> set[int]:
    """The post-data entries (indexes, constraints, ...) on table ``relid``."""
    return {e.id for e in entries if e.section is Section.POST_DATA
            and e.info.get("table_oid") is not None and int(e.info["table_oid"]) == relid}


def _hypertable_info(h: dict[str, Any]) -> dict[str, Any]:
    return {"table": ident(h["schema"], h["name"]), "dimensions": h["dimensions"],
            "compression": h["compression_enabled"], "segmentby": h["segmentby"],
            "orderby": h["orderby"]}


def _matview(stmt: str) -> str:
    """A view's owner or comment statement, for the continuous aggregate that replaces it."""
    for head in ("ALTER TABLE ", "ALTER VIEW "):
        if stmt.startswith(head):
            return "ALTER MATERIALIZED VIEW " + stmt[len(head):]
    return stmt.replace("COMMENT ON VIEW ", "COMMENT ON MATERIALIZED VIEW ", 1)


def _resort(entries: list[TocEntry]) -> list[TocEntry]:
    """Sort again (deps as ids in, as ids out)."""
    pos = {e.id: i for i, e in enumerate(entries)}
    for e in entries:
        e.deps = {pos[d] for d in e.deps}
    return sort_entries(entries)


def portable_toc(entries: list[TocEntry], roles: Mapping[int, dict[str, Any]],
                 facts: SourceFacts) -> list[TocEntry]:
    """The portable form of a dump's (annotated) TOC; see the module docstring.

    The builder works on each entry's archive form of the typed fields (its ``info``
    keys, as ``TocEntry.to_json`` writes them); they are typed fields again after it.
    """
    for e in entries:
        e.info.update(e.typed_info())
    built = _Builder(entries, roles, facts).build()
    for e in built:
        for name, value in _typed_from_info(e.info).items():
            setattr(e, name, value)
    return built

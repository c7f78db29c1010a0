"""Everything TimescaleDB-specific in one place.

- what the source has (version, license edition, hypertables and chunks, the features
  that need the Timescale License edition, and what cannot be carried: tiered chunks);
- annotating the TOC so that restore knows chunks from hypertable roots, carrying the
  user-defined jobs' statistics (when each runs next), and leaving tiered chunks out;
- restoring mode on the target: ``timescaledb_pre_restore()`` and
  ``timescaledb_post_restore()``, and the version and license rules between source
  and target.

Compressed chunks, continuous aggregates and jobs need nothing of their own here: their
tables (chunk heaps, ``compress_hyper_*`` chunks, materialized hypertables) and views
are ordinary catalog objects, and what ties them together is TimescaleDB's catalog,
carried as extension configuration data (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.catalog import Catalog, Unsupported
from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.catalog.queries import fetch_all, stream
from pystream_migrate.errors import PreconditionFailed
from pystream_migrate.relroles import RelationRoles
from pystream_migrate.toc import CopySpec, Section, TocEntry

# The jobs and policies users create get ids from 1000 on; lower ids belong to jobs the
# extension creates itself (and that CREATE EXTENSION creates on the target too).
FIRST_USER_JOB = 1000


@dataclass(frozen=True)
class TimescaleInfo:
    version: str | None  # installed extension version, None when not installed
    license: str | None  # 'apache' or 'timescale'
    schema: str | None  # schema the extension lives in


# What extension_info reads, as columns another query can carry too (the dump's facts).
EXTENSION_INFO_COLUMNS = (
    "(SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'timescaledb'), "
    "(SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
    "ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'), "
    "pg_catalog.current_setting('timescaledb.license', true)"
)


def info_of(version: Any, schema: Any, edition: Any) -> TimescaleInfo:
    """A :class:`TimescaleInfo` from the values of EXTENSION_INFO_COLUMNS."""
    if version is None:
        return TimescaleInfo(None, None, None)
    return TimescaleInfo(str(version), edition, str(schema))


def extension_info(conn: psycopg.Connection) -> TimescaleInfo:
    row = conn.execute("SELECT " + EXTENSION_INFO_COLUMNS).fetchone()  # one round trip
    assert row is not None
    return info_of(*row)


def relation_roles(conn: psycopg.Connection, info: TimescaleInfo) -> RelationRoles:
    """relid -> {'role': 'hypertable'|'chunk', 'hypertable_id', 'hypertable_relid', ...}:
    streamed into compact arrays (kept for the whole dump, a row per chunk)."""
    if info.version is None:
        return RelationRoles(())
    return RelationRoles(stream(conn, "timescale_relations"))


# inspect_source's queries, which read_catalog runs on a helper once it is free (~20 ms of
# the server's time on 4000 chunks, which the leader then does not wait for).
INSPECT_QUERIES = ("timescale_unsupported", "timescale_features", "timescale_tiered")


def _rows(conn: psycopg.Connection, catalog: Catalog, name: str) -> list[dict[str, Any]]:
    found = catalog.ahead.get(name)
    return found if found is not None else fetch_all(conn, name)


def inspect_source(conn: psycopg.Connection, info: TimescaleInfo, catalog: Catalog) -> None:
    """Add what TimescaleDB keeps but a dump cannot carry to ``catalog.unsupported``.

    Tiered chunks are also left out of TimescaleDB's catalog data (see
    :func:`_leave_out_tiered_chunks`), and the user-defined jobs' statistics are added
    to it (:func:`_add_job_stats`). The timescaledb EXTENSION entry records the features
    in use that need the Timescale License edition (``info['features']``) and the ids of
    the user-defined jobs (``info['jobs']``): restore checks the target's license against
    the first, and ``--clean`` deletes the second (:func:`delete_archive_jobs`).
    """
    if info.version is None:
        return
    found = _rows(conn, catalog, "timescale_unsupported")
    blocking = [r for r in found if r["blocking"]]
    if blocking:
        first = blocking[0]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        raise PreconditionFailed(
            f"cannot dump {first['kind']} {first['schema']}.{first['name']}{more}: "
            f"it {first['reason']}"
        )
    for r in found:
        catalog.unsupported.append(Unsupported(r["kind"], r["schema"], r["name"], r["reason"]))
    features = [str(r["feature"]) for r in _rows(conn, catalog, "timescale_features")]
    jobs = [int(r[0]) for r in conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE job_id >= %s ORDER BY 1",
        (FIRST_USER_JOB,)).fetchall()]
    for e in catalog.entries:
        if e.kind == "EXTENSION" and e.name == "timescaledb":
            e.info["features"] = features
            e.info["jobs"] = jobs
    if jobs:
        _add_job_stats(conn, catalog.entries)
    tiered = _rows(conn, catalog, "timescale_tiered")
    if tiered:
        _leave_out_tiered_chunks(tiered, catalog.entries)


# Hypertable status bits that say it has a tiered (OSM) chunk: HYPERTABLE_STATUS_OSM and
# HYPERTABLE_STATUS_OSM_CHUNK_NONCONTIGUOUS in TimescaleDB's catalog.h.
_OSM_STATUS_BITS = 1 | 2


def _leave_out_tiered_chunks(tiered: list[dict[str, Any]], entries: list[TocEntry]) -> None:
    """Keep tiered chunks out of TimescaleDB's catalog on the target, consistently.

    Their foreign tables are not carried (and their rows are in object storage), so
    their catalog rows are filtered out of the configuration data (the chunk, the rows
    that name it by ``chunk_id``, the dimension slices only they use), and a post-data
    entry clears the hypertable's tiered-storage status bits. The target's hypertable
    then works, without the tiered data; the dump reports each tiered chunk by name.
    """
    chunk_ids = sorted({int(t["chunk_id"]) for t in tiered})
    slice_ids = sorted({int(s) for t in tiered for s in t["slices"]})
    chunks = f"'{{{','.join(map(str, chunk_ids))}}}'::int[]"
    by_name: dict[str, TocEntry] = {}
    for e in entries:
        if e.kind != "TABLE DATA" or e.copy is None or not e.extconfig \
                or e.info.get("extension") != "timescaledb":
            continue
        by_name[e.name] = e
        extra = []
        if e.name == "chunk" and e.schema == "_timescaledb_catalog":
            extra.append(f"id <> ALL ({chunks})")
        if "chunk_id" in e.copy.columns:
            extra.append(f"(chunk_id IS NULL OR chunk_id <> ALL ({chunks}))")
        if e.name == "dimension_slice" and slice_ids:
            extra.append(f"id <> ALL ('{{{','.join(map(str, slice_ids))}}}'::int[])")
        if extra:
            where = " AND ".join(extra)
            e.copy.where = f"({e.copy.where}) AND {where}" if e.copy.where else where
            e.info["tiered_chunks_left_out"] = chunk_ids
    catalog_entry = by_name.get("hypertable")
    next_id = max(e.id for e in entries) + 1
    for ht in sorted({(int(t["hypertable_id"]), t["hypertable_schema"], t["hypertable_name"])
                      for t in tiered}):
        ht_id, schema, name = ht
        entries.append(TocEntry(
            kind="TIMESCALEDB",
            schema=schema,
            name=f"{name}: tiered storage left out",
            section=Section.POST_DATA,
            create_sql=(f"UPDATE _timescaledb_catalog.hypertable "
                        f"SET status = status & ~{_OSM_STATUS_BITS} WHERE id = {ht_id};"),
            deps={catalog_entry.id} if catalog_entry is not None else set(),
            info={"hypertable_id": ht_id},
            id=next_id,
        ))
        next_id += 1


def _add_job_stats(conn: psycopg.Connection, entries: list[TocEntry]) -> None:
    """Carry the statistics rows of the user-defined jobs, right after the job catalog.

    TimescaleDB runs a job that has no statistics row at once, whatever its schedule or
    initial_start says: without them every policy would run as soon as the target
    leaves restoring mode. The entry is loaded like the extension's configuration tables
    (serially, after ``bgw_job``, whose rows it references).
    """
    jobs = next((e for e in entries if e.kind == "TABLE DATA" and e.name == "bgw_job"
                 and e.extconfig and e.info.get("extension") == "timescaledb"),
                None)
    rows = fetch_all(conn, "timescale_job_stats")
    if jobs is None or not rows:
        return
    r = rows[0]
    stats = TocEntry(
        kind="TABLE DATA",
        schema=r["schema"],
        name=r["name"],
        section=jobs.section,
        deps={jobs.id, *jobs.deps},
        copy=CopySpec(r["schema"], r["name"], list(r["columns"]),
                      f"job_id >= {FIRST_USER_JOB}"),
        relid=int(r["relid"]),
        extconfig=True,
        est_bytes=int(r["est_bytes"]),
        fk_order=jobs.fk_order + 1,
        info={"extension": "timescaledb", "oid": int(r["relid"]),
              "est_rows": int(r["est_rows"]), "job_statistics": True},
        id=max(e.id for e in entries) + 1,
    )
    entries.insert(entries.index(jobs) + 1, stats)


def annotate(entries: list[TocEntry], roles: RelationRoles) -> list[TocEntry]:
    """Mark chunk data entries and drop the data entries of hypertable roots.

    A hypertable root's own heap is always empty (TimescaleDB routes rows to chunks), and
    in restoring mode nothing may be loaded into it, so its data entry is left out.

    For ``restore --clean``: the internal hypertables (a compressed hypertable's
    companion, a continuous aggregate's materialized hypertable) are dropped by
    TimescaleDB with their hypertable or continuous aggregate, so they get no drop
    statement of their own; but TimescaleDB (2.28) leaves the compressed chunks behind
    when it drops a compressed hypertable (or continuous aggregate), so the hypertable's
    drop statement (the materialized hypertable's entry) drops those that are left.
    """
    kept: list[TocEntry] = []
    compressed_chunks: dict[int, list[str]] = {}  # companion relid -> its chunks
    for e in entries:
        role = None
        if e.kind in ("TABLE", "TABLE DATA") and not e.extconfig:  # not an index's info
            relid = e.relid if e.copy is not None else e.info.get("oid")
            role = roles.get(int(relid)) if relid is not None else None
        if role is not None:
            if role["role"] == "hypertable":
                if e.copy is not None:
                    continue
                e.info["hypertable"] = True
                if role.get("internal"):
                    e.info["timescaledb_internal"] = role["internal"]
                    e.drop_sql = ""
            else:
                e.chunk = True
                e.info["hypertable_relid"] = role["hypertable_relid"]
                if e.kind == "TABLE" and role.get("compression_state") == 2 and e.schema:
                    compressed_chunks.setdefault(int(role["hypertable_relid"]), []).append(
                        ident(e.schema, e.name))
        kept.append(e)
    leftovers = {int(role["compresses"]): compressed_chunks[relid]
                 for relid, role in roles.others()
                 if role.get("compresses") is not None and relid in compressed_chunks}
    for e in kept if leftovers else ():
        chunks = leftovers.get(int(e.info.get("oid") or 0)) if e.kind == "TABLE" else None
        if chunks:
            # A materialized hypertable has no drop of its own (its continuous aggregate
            # drops it, and is later in the TOC): this runs after that, in reverse order.
            leftover = f"DROP TABLE IF EXISTS {', '.join(chunks)};"
            e.drop_sql = f"{e.drop_sql}\n{leftover}" if e.drop_sql else leftover
    return kept


def delete_archive_jobs(conn: psycopg.Connection, entries: list[TocEntry]) -> None:
    """For ``restore --clean``: delete the target's jobs that the archive brings back.

    These are the user-defined jobs and policies the source had (their ids are recorded
    on the extension's entry), and only when the job catalog's rows are restored. It runs
    before anything is dropped: a job keeps its procedure from being dropped.
    """
    ext = next((e for e in entries if e.kind == "EXTENSION" and e.name == "timescaledb"), None)
    if ext is None or not ext.info.get("jobs"):
        return
    if not any(e.kind == "TABLE DATA" and e.name == "bgw_job" and e.extconfig
               and e.info.get("extension") == "timescaledb" for e in entries):
        return
    if extension_info(conn).version is None:
        return
    schema = str(ext.info.get("schema") or "public")
    conn.execute(
        sql.SQL("SELECT {}(j.job_id) FROM timescaledb_information.jobs j "
                "WHERE j.job_id = ANY(%s)").format(sql.Identifier(schema, "delete_job")),
        ([int(j) for j in ext.info["jobs"]],),
    )


def check_versions(source_version: str | None, target: TimescaleInfo) -> None:
    """A catalog-level restore needs the same TimescaleDB version on both sides.

    TimescaleDB's catalog differs from version to version, so the archive restores only
    into the version it was dumped from; the remedy is an update of the older side.
    """
    if source_version is None:
        return
    if target.version is None:
        return  # restore creates the extension; checked again afterwards
    if target.version == source_version:
        return
    if _vkey(target.version) < _vkey(source_version):
        remedy = ("update the target first: run \"ALTER EXTENSION timescaledb UPDATE TO "
                  f"{literal(source_version)}\" in the target database (as the first "
                  "command of a new session), then restore again")
    else:
        remedy = ("update the source first: run \"ALTER EXTENSION timescaledb UPDATE TO "
                  f"{literal(target.version)}\" in the source database and dump again, or "
                  f"restore into a database that has TimescaleDB {source_version}")
    raise PreconditionFailed(
        f"TimescaleDB version mismatch: the archive was dumped from {source_version}, "
        f"the target has {target.version}",
        hint=f"the archive restores only into TimescaleDB {source_version}; {remedy}; "
        "or dump again with 'dump --portable', whose archive restores into any version",
    )


def missing_version(source_version: str, available: list[str], where: str) -> PreconditionFailed:
    """The error for a target server that cannot create the archive's TimescaleDB version."""
    newer = [v for v in available if _vkey(v) > _vkey(source_version)]
    if newer:
        hint = (f"install TimescaleDB {source_version} on the target server, or run "
                f"\"ALTER EXTENSION timescaledb UPDATE TO {literal(newer[-1])}\" in the "
                "source database (its server must have that version too) and dump again")
    else:
        hint = (f"install TimescaleDB {source_version} on the target server: the source "
                "cannot go back to an older version (ALTER EXTENSION timescaledb UPDATE "
                "only moves forward)")
    return PreconditionFailed(
        f"TimescaleDB version mismatch: the archive needs {source_version}, the target "
        f"{where} offers {', '.join(available)}; the archive restores only into "
        f"TimescaleDB {source_version}",
        hint=hint + "; or dump again with 'dump --portable', whose archive restores into "
        "any version",
    )


def check_license(conn: psycopg.Connection, entries: list[TocEntry], target: TimescaleInfo,
                  *, created: bool) -> None:
    """Refuse an Apache-licensed target for an archive that uses Timescale License features.

    Restored there, compressed chunks could not be read and continuous aggregates and
    policies could not run. The license is known only once the extension is loaded, so
    when restore has just created the extension (``created``) it is dropped again.
    """
    ext = next((e for e in entries if e.kind == "EXTENSION" and e.name == "timescaledb"), None)
    features = list(ext.info.get("features") or []) if ext is not None else []
    if not features or target.license != "apache":
        return
    if created:
        conn.execute("DROP EXTENSION timescaledb")
    raise PreconditionFailed(
        f"the archive uses {', '.join(features)}, which need the Timescale License edition "
        "of TimescaleDB; the target's timescaledb.license is 'apache'",
        hint="restore into a server with the Timescale License edition of TimescaleDB "
        "(timescaledb.license = 'timescale' in postgresql.conf)",
    )


def _vkey(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split("-")[0].split("."):
        parts.append(int(p) if p.isdigit() else 0)
    return tuple(parts)


def available_versions(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT version FROM pg_catalog.pg_available_extension_versions "
        "WHERE name = 'timescaledb'"
    ).fetchall()
    return sorted((str(r[0]) for r in rows), key=_vkey)


def pre_restore(conn: psycopg.Connection, schema: str) -> None:
    """Put the target database into restoring mode (only new connections see it)."""
    try:
        conn.execute(
            sql.SQL("SELECT {}.timescaledb_pre_restore()").format(sql.Identifier(schema))
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PreconditionFailed(
            f"timescaledb_pre_restore() was refused: {exc.diag.message_primary}",
            hint="restore as a superuser, or on Timescale Cloud as tsdbadmin, the role "
            "that may run timescaledb_pre_restore()",
        ) from None


def post_restore(conn: psycopg.Connection, schema: str) -> None:
    """Take the target out of restoring mode and restart background workers."""
    conn.execute(sql.SQL("SELECT {}.timescaledb_post_restore()").format(sql.Identifier(schema)))


def restoring(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT pg_catalog.current_setting('timescaledb.restoring', true)"
    ).fetchone()
    return bool(row and row[0] == "on")


class CatalogLoader:
    """Loads the extension's catalog rows as they are, with foreign-key checks off.

    The catalog is copied whole from a consistent source, but some versions keep rows
    that their own foreign keys reject on reload: 2.17's ``chunk_column_stats`` has a
    hypertable-level row with ``chunk_id = 0``. pg_restore loses such a row ("errors
    ignored"). Each table is loaded with ``session_replication_role = replica`` (superuser
    only), which turns off the foreign-key triggers, except a table with triggers of its
    own that must fire (``metadata``'s turns an INSERT of an existing key into an UPDATE).
    A role that may not set it loads with the checks on, as before.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.with_triggers = {(r["schema"], r["name"])
                              for r in fetch_all(conn, "extensions_config_triggers")}
        row = conn.execute(
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"
        ).fetchone()
        self.allowed = bool(row and row[0])

    def setting(self, schema: str | None, name: str) -> sql.Composable | None:
        """The statement to run before one table's load, in the transaction that loads
        it (after another table's, in the same transaction), if any."""
        if not self.allowed:
            return None
        if (schema, name) in self.with_triggers:
            return sql.SQL("SET LOCAL session_replication_role = DEFAULT")
        return sql.SQL("SET LOCAL session_replication_role = replica")


@dataclass
class TargetRelations:
    """What the target's TimescaleDB catalog knows, for ``restore --clean``."""

    chunks: set[tuple[str, str]]
    hypertables: set[tuple[str, str]]
    caggs: set[tuple[str, str]]  # every view of a continuous aggregate

    @classmethod
    def read(cls, conn: psycopg.Connection) -> TargetRelations:
        known: dict[str, set[tuple[str, str]]] = {"chunk": set(), "hypertable": set(),
                                                  "cagg": set()}
        if extension_info(conn).version is not None:
            for r in fetch_all(conn, "timescale_target_relations"):
                known[r["role"]].add((r["schema"], r["name"]))
        return cls(known["chunk"], known["hypertable"], known["cagg"])

    def clean_sql(self, e: TocEntry, chunk_oids: set[int]) -> str | None:
        """The drop statement ``--clean`` runs for a TimescaleDB-related entry.

        None: not TimescaleDB's concern (the entry's own drop applies). "": nothing to
        run, TimescaleDB drops it with its hypertable or continuous aggregate, or it goes
        with its table (a chunk's defaults and constraints: ALTER on a chunk is refused).
        """
        name = (e.schema or "", e.name)
        if e.table_oid is not None and e.table_oid in chunk_oids:
            return ""
        if e.kind == "TABLE" and (e.chunk or e.info.get("timescaledb_internal")):
            known = self.chunks if e.chunk else self.hypertables
            if name not in known:
                # An interrupted restore left a plain table: dropped here, in reverse TOC
                # order (so a chunk before its hypertable's root).
                return f"DROP TABLE IF EXISTS {ident(*name)};"
            # TimescaleDB drops it with its hypertable or continuous aggregate; an
            # internal hypertable's own statement drops the compressed chunks it leaves.
            return "" if e.chunk else None
        if e.info.get("continuous_aggregate") and name not in self.caggs:
            # A continuous aggregate's views (its user, partial and direct views) drop
            # the aggregate through TimescaleDB; where the target's catalog does not
            # know them (its rows never loaded), they are plain views.
            return f"DROP VIEW IF EXISTS {ident(*name)};"
        return None


def reset_catalog(conn: psycopg.Connection, entries: Iterable[TocEntry]) -> int:
    """Delete the rows that these catalog entries load (TimescaleDB's catalog tables,
    with each one's row filter, and the job statistics); the row count.

    For a restore whose catalog load stopped half-way: half of it (hypertables without
    their dimensions, say) makes TimescaleDB's own drops fail and its jobs crash. A
    catalog-level restore starts from a catalog holding no hypertables (the archive's
    ids would collide), so the rows there are the interrupted restore's; with them gone,
    its tables and views are plain ones.
    """
    deleted = 0
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for e in entries:
            if e.copy is None:
                continue
            where = sql.SQL(" WHERE {}").format(sql.SQL(e.copy.where)) if e.copy.where \
                else sql.SQL("")
            cur = conn.execute(sql.SQL("DELETE FROM {}{}").format(
                sql.Identifier(e.copy.schema, e.copy.table), where))
            deleted += max(cur.rowcount, 0)
    return deleted

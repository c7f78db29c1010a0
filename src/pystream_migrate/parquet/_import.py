"""Import: load an export directory into existing tables, one file per transaction, in parallel.

The manifest says which table each file belongs to; every target table must exist with
every exported column before anything is loaded (a hypertable routes the rows to its
chunks); columns the target generates itself are not loaded. Each file's SHA-256 is
checked, then its row groups are converted (:mod:`._encode`) and sent with
``COPY ... FROM STDIN (FORMAT csv)``, the file in one transaction, on ``-j``
connections, largest files first.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.connection import connect
from pystream_migrate.errors import ArchiveError, MigrateError, PreconditionFailed, UsageError
from pystream_migrate.parquet._encode import to_copy_csv
from pystream_migrate.parquet._manifest import Manifest
from pystream_migrate.parquet._pool import run_workers
from pystream_migrate.parquet._source import selected
from pystream_migrate.progress import Progress, make_progress
from pystream_migrate.selection import Selection
from pystream_migrate.session import configure_writer

BATCH_ROWS = 65536


@dataclass
class ImportOptions:
    dsn: str
    directory: str
    jobs: int = 2
    selection: Selection = field(default_factory=Selection)
    progress: str = "none"


@dataclass
class ImportResult:
    tables: int = 0
    files: int = 0
    rows: int = 0


def import_directory(opts: ImportOptions) -> ImportResult:
    directory = Path(opts.directory)
    manifest = Manifest.load(directory)
    files = [f for f in manifest.files if selected(opts.selection, f["schema"], f["table"])]
    if not files and opts.selection.active:
        raise UsageError("no exported table matches the selection",
                         hint="check the -n/-N/-t/-T patterns")
    conn = connect(opts.dsn)
    try:
        generated = _check_targets(conn, files, manifest.tables)
    finally:
        conn.close()
    files.sort(key=lambda f: (-int(f["bytes"]), f["path"]))
    loader = _Loader(directory, generated)
    with make_progress(opts.progress) as progress:
        loader.progress = progress
        progress.phase("import", total_bytes=sum(int(f["bytes"]) for f in files),
                       total_entries=len(files))
        run_workers(opts.dsn, opts.jobs, files, configure_writer, loader.load)
    return ImportResult(tables=len({(f["schema"], f["table"]) for f in files}),
                        files=len(files), rows=loader.rows)


def _check_targets(conn: psycopg.Connection, files: list[dict[str, Any]],
                   tables: dict[str, dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """Every target table exists with every exported column; returns the generated ones."""
    wanted = sorted({(f["schema"], f["table"]) for f in files})
    rows = fetch_all(conn, "import_targets", {"schemas": [w[0] for w in wanted],
                                              "names": [w[1] for w in wanted]})
    conn.rollback()
    found = {(r["schema"], r["name"]): set(r["columns"]) for r in rows}
    for schema, name in wanted:
        if (schema, name) not in found:
            raise PreconditionFailed(
                f"the target has no table {sql.Identifier(schema, name).as_string(conn)}",
                hint="create the tables first (for example restore --schema-only from a "
                     "dump), then import")
    for f in files:
        columns = found[(f["schema"], f["table"])]
        exported = tables.get(f["path"].split("/")[0], {}).get("columns") or []
        missing = [c["name"] for c in exported if c["name"] not in columns]
        if missing:
            raise PreconditionFailed(
                f"table {f['schema']}.{f['table']} on the target has no column "
                f"{missing[0]!r} (exported in {f['path']})",
                hint="add the column, or import into a table with the same columns")
    return {(r["schema"], r["name"]): set(r["generated"]) for r in rows}


def _check_file(path: Path, entry: dict[str, Any]) -> None:
    """The file is there, whole and unchanged: its size and SHA-256 are the manifest's."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    if digest.hexdigest() != entry["sha256"]:
        raise ArchiveError(f"{path} is damaged: its SHA-256 is not the manifest's",
                           hint="export that table or chunk again")


class _Loader:
    def __init__(self, directory: Path, generated: dict[tuple[str, str], set[str]]) -> None:
        self.directory = directory
        self.generated = generated  # the target computes these columns itself
        self.progress = Progress()
        self.rows = 0
        self.lock = threading.Lock()

    def load(self, conn: psycopg.Connection, worker: str, entry: dict[str, Any]) -> None:
        path = self.directory / entry["path"]
        _check_file(path, entry)
        table = sql.Identifier(entry["schema"], entry["table"])
        self.progress.start_entry(worker, f"{entry['schema']}.{entry['table']} "
                                          f"({entry['path']})")
        try:
            rows = self._copy(conn, path, table,
                              self.generated.get((entry["schema"], entry["table"]), set()))
        except psycopg.errors.InsufficientPrivilege as exc:
            conn.rollback()
            raise PreconditionFailed(
                f"import of {entry['path']} failed: {exc.diag.message_primary}",
                hint="import as the tables' owner or a role with INSERT on them") from None
        except psycopg.Error as exc:
            conn.rollback()
            raise MigrateError(f"import of {entry['path']} into {entry['schema']}."
                               f"{entry['table']} failed: "
                               f"{exc.diag.message_primary or str(exc).splitlines()[0]}") \
                from None
        except (pa.ArrowException, OSError) as exc:
            conn.rollback()
            raise ArchiveError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
        if rows != int(entry["rows"]):
            raise ArchiveError(f"{path} holds {rows} rows, the manifest says {entry['rows']}")
        with self.lock:
            self.rows += rows
        self.progress.finish_entry(worker, rows)

    def _copy(self, conn: psycopg.Connection, path: Path, table: sql.Identifier,
              generated: set[str]) -> int:
        pf = pq.ParquetFile(path)
        names = [n for n in pf.schema_arrow.names if n not in generated]
        columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, columns)
        rows = 0
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=names):
                data = to_copy_csv(batch)
                copy.write(data)
                rows += batch.num_rows
                self.progress.advance(len(data))
        conn.commit()
        return rows

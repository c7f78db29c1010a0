"""``list``: an archive's table of contents, in restore order.

The plain form doubles as a list file for ``restore -L``: each line starts with the
entry id; lines starting with ``;`` are comments, so a user can comment entries out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from pystream_migrate.archive import ArchiveReader, EntryStats


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def archive_listing(reader: ArchiveReader) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header facts and one dict per entry, with row counts and sizes where known."""
    # A file has an index; a stream is read once to the end to get every entry's totals.
    stats: Mapping[int, EntryStats] = reader.index() if reader.seekable else reader.verify()
    rows = []
    for d in reader.toc:
        st = stats.get(int(d["id"]))
        rows.append({
            "id": d["id"],
            "kind": d["kind"],
            "schema": d.get("schema"),
            "name": d["name"],
            "section": d["section"],
            "owner": d.get("owner"),
            "rows": st.rows if st else None,
            "bytes": st.raw_bytes if st else None,
        })
    return reader.header, rows


def run_list(args: argparse.Namespace) -> int:
    with ArchiveReader.open(args.file) as reader:
        header, rows = archive_listing(reader)
    out = sys.stdout
    if args.json:
        json.dump({"header": header, "entries": rows}, out, indent=2, default=str)
        out.write("\n")
        return 0
    src = header.get("source", {})
    out.write(f"; archive: {args.file}\n")
    out.write(f"; created: {header.get('created_at')} by pystream-migrate "
              f"{header.get('tool_version')}\n")
    out.write(f"; source: database {src.get('database')}, PostgreSQL "
              f"{src.get('server_version')}, TimescaleDB {src.get('timescaledb') or 'none'}\n")
    for u in header.get("unsupported", []):
        qual = f"{u['schema']}.{u['name']}" if u.get("schema") else u["name"]
        out.write(f"; NOT CARRIED: {u['kind']} {qual}: {u['reason']}\n")
    out.write(f"; {len(rows)} entries\n;\n; id; kind; schema; name; section; owner; rows; size\n")
    for r in rows:
        size = "" if r["bytes"] is None else _human(int(r["bytes"]))
        nrows = "" if r["rows"] is None else str(r["rows"])
        out.write(f"{r['id']}; {r['kind']}; {r['schema'] or '-'}; {r['name']}; "
                  f"{r['section']}; {r['owner'] or '-'}; {nrows}; {size}\n")
    return 0

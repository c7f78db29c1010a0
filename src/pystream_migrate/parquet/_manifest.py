"""``DIR/_manifest.json``: what an export directory holds, and which work is complete.

The manifest lists every table (its columns' PostgreSQL and Arrow types) and every
file, with its rows, bytes, SHA-256, time range and the snapshot it was read in. It is
rewritten (to a temporary name, then renamed) every few seconds as tables and chunks
complete, and at the end, also of a failed run, so it names only complete ones: a
second run skips them (if their files are still there, with their recorded size) and
redoes the rest.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from pystream_migrate import __version__
from pystream_migrate.errors import ArchiveError, UsageError
from pystream_migrate.parquet._layout import MANIFEST

FORMAT = "pystream-migrate parquet export"
FORMAT_VERSION = 1
SAVE_INTERVAL = 2.0  # seconds: with thousands of chunks, not a rewrite per chunk


class Manifest:
    def __init__(self, directory: Path, data: dict[str, Any]) -> None:
        self.directory = directory
        self.data = data
        self.lock = threading.Lock()
        self.saved = time.monotonic()
        self.unsynced = False  # files renamed since the last save
        self.by_unit: dict[str, list[dict[str, Any]]] = {}
        for f in data.get("files", []):
            self.by_unit.setdefault(f.get("unit", f["path"]), []).append(f)

    @property
    def path(self) -> Path:
        return self.directory / MANIFEST

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        """An existing export's manifest, or a one-line error saying why it is not one."""
        path = directory / MANIFEST
        if not directory.is_dir():
            raise ArchiveError(f"{directory} is not a directory",
                               hint="give the directory that export wrote")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArchiveError(f"{directory} has no {MANIFEST}",
                               hint="give a directory written by pystream-migrate export") \
                from None
        except (OSError, ValueError) as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArchiveError(f"{path} is not a pystream-migrate export manifest")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ArchiveError(f"{path} has format version {data['format_version']}, newer "
                               f"than this tool reads ({FORMAT_VERSION})",
                               hint="upgrade pystream-migrate")
        return cls(directory, data)

    @classmethod
    def for_export(cls, directory: Path, source: dict[str, Any],
                   options: dict[str, Any]) -> Manifest:
        """A new manifest, or the existing one when resuming the same export."""
        if (directory / MANIFEST).exists():
            found = cls.load(directory)
            old_db = found.data.get("source", {}).get("database")
            if old_db != source.get("database"):
                raise UsageError(
                    f"{directory} holds an export of database {old_db!r}, "
                    f"not {source.get('database')!r}",
                    hint="export into another directory")
            if found.data.get("options") != options:
                raise UsageError(
                    f"{directory} holds an export made with other options "
                    f"({json.dumps(found.data.get('options'), sort_keys=True)})",
                    hint="resume with the same --compression and --row-group-size, "
                         "or export into another directory")
            found.data["source"] = source
            return found
        return cls(directory, {"format": FORMAT, "format_version": FORMAT_VERSION,
                               "tool_version": __version__, "source": source,
                               "options": options, "tables": {}, "files": []})

    @property
    def files(self) -> list[dict[str, Any]]:
        return sorted((f for files in self.by_unit.values() for f in files),
                      key=lambda f: f["path"])

    def unit_files(self, unit: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.by_unit.get(unit, []))

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return dict(self.data.get("tables", {}))

    def complete(self, unit: str) -> bool:
        """The manifest lists this unit's files and each is there with its size."""
        files = self.unit_files(unit)
        if not files:
            return False
        for f in files:
            try:
                if (self.directory / f["path"]).stat().st_size != int(f["bytes"]):
                    return False
            except OSError:
                return False
        return True

    def record(self, unit: str, table_key: str, table: dict[str, Any],
               files: list[dict[str, Any]]) -> None:
        """Replace the unit's files with these (thread-safe); written every few seconds.

        A unit whose files are complete but not yet in the written manifest is only
        exported again by a resumed run; the caller saves once more at the end, also
        when the export fails.
        """
        with self.lock:
            self.data.setdefault("tables", {})[table_key] = table
            self.by_unit[unit] = files
            self.unsynced = True
            if time.monotonic() - self.saved >= SAVE_INTERVAL:
                self._save()

    def save(self) -> None:
        with self.lock:
            self._save()

    def _save(self) -> None:
        if self.unsynced:
            # The files the manifest is about to list reach the disk first: one sync for
            # all of them costs less than an fsync per file, with thousands of chunks.
            os.sync()
            self.unsynced = False
        self.data["files"] = sorted((f for files in self.by_unit.values() for f in files),
                                    key=lambda f: f["path"])
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{MANIFEST}.partial"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.saved = time.monotonic()

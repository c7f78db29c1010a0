"""Which restore mode an archive gets, and whether the target can hold what it carries.

Both checks run before anything on the target changes.
"""

from __future__ import annotations

from typing import Any

from pystream_migrate.errors import PreconditionFailed, UsageError
from pystream_migrate.portable._target import Target
from pystream_migrate.portable._toc import CAGG, CHUNK, HYPERTABLE, JOB
from pystream_migrate.toc import TocEntry


def archive_mode(header: dict[str, Any], forced: str | None) -> str:
    """'portable' or 'catalog': what the archive was written for, unless --mode forces it."""
    written = "portable" if header.get("portable") else "catalog"
    if forced is None or forced == written:
        return written
    if forced == "portable":
        raise UsageError(
            "--mode portable needs an archive written by 'dump --portable'; this one "
            "carries TimescaleDB's catalog",
            hint="dump the source again with --portable",
        )
    raise UsageError(
        "--mode catalog needs an archive written without --portable; this one was "
        "written by 'dump --portable'",
        hint="restore it without --mode (it restores into any TimescaleDB version)",
    )


def _names(entries: list[TocEntry], kind: str, test: Any = None) -> list[str]:
    return [f"{e.schema}.{e.name}" for e in entries
            if e.kind == kind and (test is None or test(e.info["portable"]))]


def check_edition(entries: list[TocEntry], target: Target) -> list[str]:
    """Refuse an Apache-edition target that cannot hold the archive; warnings otherwise.

    Continuous aggregates and jobs cannot live there at all; compressed hypertables can,
    uncompressed, with --decompress.
    """
    if not target.apache:
        return []
    caggs = _names(entries, CAGG)
    jobs = [e.name for e in entries if e.kind == JOB
            and not (target.decompress and e.info["portable"]["proc_name"]
                     == "policy_compression")]
    compressed = _names(entries, HYPERTABLE, lambda p: p["compression"])
    blocking = []
    if caggs:
        blocking.append(f"continuous aggregates {', '.join(caggs)}")
    if jobs:
        blocking.append(f"jobs {', '.join(jobs)}")
    if compressed and not target.decompress:
        blocking.append(f"compressed hypertables {', '.join(compressed)}")
    if blocking:
        hint = "restore into the Timescale License edition of TimescaleDB"
        if compressed and not target.decompress:
            hint += ", or pass --decompress to load compressed hypertables uncompressed"
        raise PreconditionFailed(
            f"the target's TimescaleDB is the Apache edition, which cannot hold the "
            f"archive's {'; '.join(blocking)}", hint=hint)
    warnings = []
    if compressed:
        warnings.append(f"--decompress: {', '.join(compressed)} are restored uncompressed, "
                        "without compression settings or compression policies")
    if any(e.kind == CHUNK for e in entries):
        warnings.append("the Apache edition cannot create chunks with given boundaries: "
                        "rows go through their hypertables, whose chunks follow each "
                        "hypertable's current chunk interval")
    return warnings

"""Restore: an archive into a database, in parallel, inside TimescaleDB's restoring mode.

One module per phase (docs/architecture.md has the picture):

- ``options``: the options, the result, and the entries the options select;
- ``context``: the state the phases share, and the error policy (keep going, or stop at
  the first failure with --exit-on-error);
- ``checks``: checks before anything changes, ``--create``, CREATE EXTENSION;
- ``restoring_mode``: entering and always leaving TimescaleDB's restoring mode;
- ``clean``: ``--clean``, and chunks dropped on the source during the dump;
- ``ddl``: SQL entries (pre-data on the leader, post-data on the workers);
- ``data``: COPY-in of data entries; ``batch``: one transaction of entries, redone one
  by one when it fails;
- ``stream``: entries read from a one-pass stream, handed to the workers;
- ``plan``: scheduler items from TOC entries; ``scheduler``: which item runs next (pure);
- ``workers``: the N worker connections running what the scheduler hands out;
- ``analyze``: ANALYZE per table; ``state``: resume bookkeeping on the target;
- ``flow``: the order of the phases.
"""

from pystream_migrate.restore.flow import restore_archive, run_restore
from pystream_migrate.restore.options import RestoreOptions, RestoreResult

__all__ = ["RestoreOptions", "RestoreResult", "restore_archive", "run_restore"]

"""What counts as a small entry, and how many small entries share one transaction.

Dump and restore both handle small tables and chunks several to a transaction: one
snapshot import and one LOCK (dump), one commit and one resume record (restore) for the
lot. On thousands of chunks that, not the bytes, decides the time: before batching ~50 %
of a restore worker's profile samples were per-item transaction overhead (BEGIN, resume
record, COMMIT, TRUNCATE) against ~40 % for the COPY and DDL themselves
(docs/performance.md, "Restore", benchmark dataset with 4067 chunks). The values below
came with that change (commit 255b731) and were not tuned further: each batch must stay
small enough that the locks a dump worker holds at once fit the lock table
(``max_locks_per_transaction`` is 64 by default), and that one failed batch, redone
entry by entry, costs little.
"""

from __future__ import annotations

# An entry (or, for a post-data item, its table) under this many bytes of COPY data
# is small: it may share a transaction. Sizes come from toc.entry_size.
SMALL_ENTRY = 4 * 1024 * 1024

# Dump: small tables copied in one snapshot transaction, their COPYs sent as one query.
DUMP_BATCH_ENTRIES = 32
DUMP_BATCH_BYTES = 32 * 1024 * 1024

# Restore: small data entries, or small post-data items, in one transaction.
RESTORE_BATCH_ENTRIES = 16
RESTORE_BATCH_BYTES = 16 * 1024 * 1024

# Restore over a distance (issue 16): a batch costs one round trip, plus one per COPY
# it sends, so batches of small items grow. A data batch's small chunks of one
# hypertable go as one COPY into a staging table (restore/staging.py): entries under
# STAGE_MAX, up to DATA_BATCH_ENTRIES and DATA_BATCH_BYTES a batch. Measured on this
# machine (local socket, 128 chunks a batch, rows of ~45 bytes): the staged load of 5
# rows a chunk took 19 ms against 98 ms for one COPY each; at 60 rows a chunk 106 ms
# against 52 ms, at 250 rows 169 ms against 113 ms, i.e. the server's INSERT ... SELECT
# costs more than COPY per row, while each COPY saved is two round trips (20 ms at 10
# ms RTT). So only small entries are staged, and a batch stays under the lock table's
# share of one transaction (each chunk is a lock: 64 per connection by default).
STAGE_MAX = 16 * 1024
DATA_BATCH_ENTRIES = 128
DATA_BATCH_BYTES = 2 * 1024 * 1024
# Post-data items (one script, one round trip) a transaction: each CREATE INDEX holds a
# lock on its table and on its new index until the commit.
POST_BATCH_ENTRIES = 128

# Restore: pre-data entries per transaction on the leader (never one for everything).
DDL_BATCH = 200

# Restore: small tables per ANALYZE statement, sent with its resume records as one
# query (one round trip; one transaction, which holds a lock per table and index).
ANALYZE_BATCH = 64

# Restore: entries from this size on load with TRUNCATE + COPY FREEZE: frozen rows need
# no anti-wraparound vacuum later. For tiny chunks the TRUNCATE (a new file for the
# table) costs more than it saves.
FREEZE_MIN = 64 * 1024

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

# Restore: pre-data entries per transaction on the leader (never one for everything).
DDL_BATCH = 200

# Restore: small tables per ANALYZE statement (ANALYZE still takes each in its own
# transaction).
ANALYZE_BATCH = 50

# Restore: entries from this size on load with TRUNCATE + COPY FREEZE: frozen rows need
# no anti-wraparound vacuum later. For tiny chunks the TRUNCATE (a new file for the
# table) costs more than it saves.
FREEZE_MIN = 64 * 1024

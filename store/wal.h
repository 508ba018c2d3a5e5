/*
 * wal.h - the Raft log on disk: segments, group commit, recovery, truncation, compaction.
 *
 * Use (the WAL stage of the node, DESIGN.md section 4):
 *   zn_wal_open()        recover the log from the disk (entries delivered to a callback), or
 *                        refuse with a report naming file and offset;
 *   zn_wal_append()      add an entry to the open batch (memory only, never blocks);
 *   zn_wal_defer()       attach an opaque item (a reply, a vote grant, an append ack) to the
 *                        open batch: it is handed back only once the batch is durable
 *                        (STYLE.md 3: durability ordering is carried by data);
 *   zn_wal_set_hardstate() persist a hard state with the open batch (after its entries);
 *   zn_wal_flush()       submit the open batch as one job (write + ONE fdatasync) if no batch
 *                        is in flight - group commit: while one batch syncs the next gathers;
 *   zn_wal_poll()        harvest a finished batch: persisted(index, term) + the deferred items.
 * Log-wide operations - suffix truncation (Raft conflict), compaction (after a durable snapshot)
 * and reset (after InstallSnapshot) - run as jobs too, so the poll loop never waits for their
 * unlinks and directory fsync: the *_submit() form returns at once and zn_wal_poll reports the
 * completion (zn_wal_persisted.op); the plain form submits and waits (start-up, tools, tests).
 * Truncate and reset need an idle WAL and refuse appends (ZN_EBUSY) until they complete;
 * compaction needs no batch in flight and lets appends continue (flushes wait for it).
 *
 * Failure policy: an fdatasync or write that fails with EIO ends the process (zn_panic): after a
 * failed fsync the kernel may have dropped the dirty pages, so no retry can be trusted. ENOSPC is
 * reported by zn_wal_poll (ZN_ENOSPC); the batch stays unacknowledged and the next zn_wal_flush
 * retries it.
 *
 * Start-up order (the node): zn_snapfile_latest (snapshot index/term) -> zn_hardstate_open
 * (term, vote, commit hint; may_create only on a fresh data directory) -> zn_wal_open with
 * snapshot_index/term and commit_hint = hs.commit -> on rec.repair, persist
 * hs.repair_until = rec.damaged_last, do not vote or count toward commit, and call
 * zn_wal_truncate_suffix(rec.damaged_first) before accepting entries from the leader.
 *
 * Context: one thread (the WAL stage) calls everything; jobs run on the disk's job runner.
 */
#ifndef ZN_WAL_H
#define ZN_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "store/disk.h"
#include "store/hardstate.h"

struct zn_wal;

struct zn_wal_config {
    struct zn_disk *disk;
    struct zn_allocator alloc; /* the WAL's buffers (2 batches) and its segment table */
    uint64_t cluster_id;
    uint32_t node_id;
    uint64_t segment_bytes;   /* 0: ZN_WAL_SEGMENT_BYTES_DEFAULT */
    uint32_t batch_bytes;     /* 0: ZN_WAL_BATCH_BYTES_DEFAULT */
    uint32_t entry_bytes_max; /* 0: ZN_WAL_ENTRY_BYTES_MAX */
    /* Recovery inputs. */
    uint64_t snapshot_index; /* newest durable snapshot (0: none) - the log must continue it */
    uint64_t snapshot_term;
    uint64_t commit_hint; /* hard state commit index: entries up to it were durable */
    bool allow_repair;    /* multi-node: corruption -> repair state instead of refusal */
    /* The hard state file to write with batches (may be NULL: no hard state via the WAL). Once
     * given to the WAL it is written only through zn_wal_set_hardstate (the job writes it). */
    struct zn_hardstate_file *hardstate;
    /* Prepare the zero-filled spare segment at once, even with no active segment (tests,
     * benchmarks). Default: once the active segment is a quarter full, so that a node writing
     * less than that (a short-lived member, a test) never zero-fills a segment and a fresh node
     * does not compete with its first commits for the disk. */
    bool spare_eager;
};

struct zn_wal_entry {
    uint64_t index;
    uint64_t term;
    uint16_t type;
    uint32_t len;
    const void *payload;
};

/* Called for every recovered entry in index order; a non-zero return aborts zn_wal_open. */
typedef int (*zn_wal_entry_fn)(void *ctx, const struct zn_wal_entry *entry);

struct zn_wal_recovery {
    struct zn_disk_report report; /* code 0 on a clean start; else why it refused / repairs */
    uint64_t first_index;         /* recovered log: entries [first_index, last_index] */
    uint64_t last_index;          /* first_index - 1 when empty */
    uint64_t last_term;
    uint32_t segments;
    uint64_t torn_bytes; /* bytes of a torn tail discarded (never acknowledged) */
    char torn_file[ZN_DISK_NAME_MAX];
    uint64_t torn_offset;
    /* Repair state (allow_repair and damage found before the tail): the node must neither vote
     * nor count toward commit until entries [damaged_first, damaged_last] have been replaced
     * from peers. zn_wal_append returns ZN_EREPAIR until zn_wal_truncate_suffix(damaged_first). */
    bool repair;
    uint64_t damaged_first;
    uint64_t damaged_last;
    uint64_t corrupt_detected; /* damaged spots found (0 on a clean start) */
    bool spare_adopted;        /* a segment started in the spare was found under the spare's
                                  name (its rename was not durable) and renamed */
};

/*
 * Recover and open. Returns 0 (possibly in repair state: rec->repair), or the refusal code with
 * rec->report filled: ZN_ECORRUPT (damage before the tail, snapshot/log gap, missing committed
 * entries), ZN_ECLUSTER (another cluster's or node's files), ZN_EVERSION, ZN_EIO, ZN_ENOMEM.
 * An empty directory starts a fresh log at snapshot_index + 1.
 */
int zn_wal_open(struct zn_wal **wal, const struct zn_wal_config *cfg, zn_wal_entry_fn on_entry,
                void *ctx, struct zn_wal_recovery *rec);
/* Waits for the batch in flight (if any), then frees everything. Unflushed entries are lost. */
void zn_wal_close(struct zn_wal *wal);

/*
 * Add entry `index` (must be last appended + 1) of `term` (>= the last term). ZN_EFULL: the open
 * batch is full or the entry needs a new segment while the batch has entries - flush, poll and
 * retry. ZN_ELIMIT: larger than entry_bytes_max. ZN_EINVAL: bad index/term/type (type >= 1).
 * ZN_EREPAIR in repair state.
 */
int zn_wal_append(struct zn_wal *wal, uint16_t type, uint64_t term, uint64_t index,
                  const void *payload, uint32_t len);
/* Attach an item released with the open batch (ZN_EFULL past ZN_WAL_BATCH_WAITERS_MAX). */
int zn_wal_defer(struct zn_wal *wal, void *item);
/* Persist hs with the open batch, after its entries (the last call before a flush wins).
 * hs.commit is clamped to the last index durable with that batch. */
void zn_wal_set_hardstate(struct zn_wal *wal, const struct zn_hardstate *hs);
/* Submit the open batch if it holds anything and nothing is in flight. 1 submitted, 0 not. */
int zn_wal_flush(struct zn_wal *wal);

/* Log-wide operations reported by zn_wal_poll (zn_wal_persisted.op). */
#define ZN_WAL_OP_NONE     0
#define ZN_WAL_OP_TRUNCATE 1
#define ZN_WAL_OP_COMPACT  2
#define ZN_WAL_OP_RESET    3

struct zn_wal_persisted {
    int op;         /* ZN_WAL_OP_NONE for a batch; else the operation that finished */
    int op_result;  /* its result (truncate/reset: 0 or a code; compact: segments removed) */
    uint64_t index; /* every entry <= index is durable (0 / unchanged if the batch had none) */
    uint64_t term;
    bool hardstate; /* the batch carried a hard state, now durable */
    void **items;   /* deferred items now released; valid until the next zn_wal_poll */
    uint32_t nitems;
};
/* 1: a batch became durable (out filled); 0: nothing finished; ZN_ENOSPC: the batch in flight
 * could not be written for lack of space (nothing acknowledged; zn_wal_flush retries it). */
int zn_wal_poll(struct zn_wal *wal, struct zn_wal_persisted *out);

/*
 * walwake: a finished batch or log-wide operation waits for zn_wal_poll (an acquire load, no
 * syscall: the WAL stage's "pending" check before its loop sleeps). Pairs with the disk's
 * completion notifier (zn_disk_set_notify on the WAL's disk, disk.h). False on a disk without a
 * notifier (the sim disk: its jobs run inside zn_wal_poll).
 */
bool zn_wal_pending(const struct zn_wal *wal);
bool zn_wal_idle(const struct zn_wal *wal);
uint64_t zn_wal_last_index(const struct zn_wal *wal);    /* last appended */
uint64_t zn_wal_durable_index(const struct zn_wal *wal); /* last persisted */
uint64_t zn_wal_first_index(const struct zn_wal *wal);
uint32_t zn_wal_segment_count(const struct zn_wal *wal);

/* What the spare-segment machinery did (wal.c "Spare segments"), for tests and metrics. */
struct zn_wal_stats {
    uint64_t spares_prepared;   /* zero-filled spares made ready by the background runner */
    uint64_t spares_recycled;   /* ... of them from a compacted segment (no new allocation) */
    uint64_t spare_failures;    /* preparations that failed (ENOSPC...): retried after compaction */
    uint64_t rotations_spare;   /* segments started in a ready spare: header + batch, one sync */
    uint64_t rotations_created; /* segments created in the commit path (no spare was ready) */
    uint64_t rotations_early;   /* rotations done early to leave a fallocated active segment */
    bool spare_ready;
    bool spare_preparing; /* a preparation is running */
};
void zn_wal_stats(const struct zn_wal *wal, struct zn_wal_stats *out);

/*
 * Delete entries >= index (crash-safe: later segments are unlinked newest first, the directory
 * fsynced, then the segment holding `index` is cut and re-zeroed and fdatasynced; a crash at any
 * point leaves a prefix of the old log). Needs an idle WAL (ZN_EBUSY). Clears the repair state
 * when index <= damaged_first. index must be > the snapshot-compacted prefix (ZN_EINVAL).
 */
int zn_wal_truncate_suffix(struct zn_wal *wal, uint64_t index);
int zn_wal_truncate_suffix_submit(struct zn_wal *wal, uint64_t index);
/*
 * After a snapshot covering [1, snapshot_index] is durable (zn_snapfile_write returned 0): unlink
 * whole segments whose every entry is <= snapshot_index, oldest first, then fsync the directory.
 * The active segment is kept. Needs no batch in flight (ZN_EBUSY); allowed while a batch waits
 * for space after ZN_ENOSPC (that is how space comes back). Returns the number removed.
 */
int zn_wal_compact(struct zn_wal *wal, uint64_t snapshot_index);
int zn_wal_compact_submit(struct zn_wal *wal, uint64_t snapshot_index);
/*
 * After installing a snapshot (index, term) received from the leader whose history the local log
 * does not share: discard the whole log (segments unlinked newest first, directory fsynced) and
 * continue at index + 1. The snapshot file must be durable first. A crash part-way leaves a prefix
 * of the old log; recovery then discards whatever follows an entry at the snapshot index whose
 * term differs from the snapshot's (Raft section 7), or keeps a log that matches it. Idle WAL.
 */
int zn_wal_reset(struct zn_wal *wal, uint64_t snapshot_index, uint64_t snapshot_term);
int zn_wal_reset_submit(struct zn_wal *wal, uint64_t snapshot_index, uint64_t snapshot_term);
/*
 * Read durable entries [from, to] back from disk, in order, through fn (a leader catching up a
 * follower beyond its entry cache). Works while batches are in flight (own descriptors, the WAL
 * stage's copy of the segment table); not during a truncate/compact/reset (ZN_EBUSY). buf/cap:
 * the read window, at least one maximal record (entry_bytes_max + ZN_WAL_RECORD_OVERHEAD_BYTES).
 * Synchronous reads: page-cache hits in the common case. ZN_EINVAL outside [first, durable];
 * ZN_ECORRUPT if durable entries no longer verify.
 */
int zn_wal_read(struct zn_wal *wal, uint64_t from, uint64_t to, zn_wal_entry_fn fn, void *ctx,
                void *buf, size_t cap);

#endif /* ZN_WAL_H */

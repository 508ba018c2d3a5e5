/*
 * wal_internal.h - state shared by wal.c (append, group commit, truncation, compaction) and
 * wal_recover.c (recovery and the record scanner). Not a public interface.
 *
 * Ownership: the "logical tail" (last_index, chain_crc, tail_off, the open batch) belongs to the
 * WAL stage. The segment table and the file descriptors belong to whichever runs: the batch job
 * while one is in flight, the WAL stage when the WAL is idle (truncate, compact, read).
 */
#ifndef ZN_WAL_INTERNAL_H
#define ZN_WAL_INTERNAL_H

#include <stdatomic.h>

#include "store/wal.h"
#include "store/wal_format.h"

/* The spare segment (wal.c "Spare segments"): zero-filled, fdatasynced and named before any
 * batch uses it; its header stays all zeros until a rotation writes it. */
#define WAL_SPARE_NAME "wal-spare.seg"
#define WAL_SPARE_TMP  "wal-spare.tmp"

enum wal_spare_state {
    WAL_SPARE_NONE,      /* none; the WAL stage starts one when it can */
    WAL_SPARE_PREPARING, /* a background job is making it (it owns spare_job) */
    WAL_SPARE_READY,     /* durable, zero-filled, open: spare_fd */
};

/* A spare preparation, run by the disk's background runner. */
struct wal_spare_job {
    struct zn_wal *wal;
    uint64_t bytes;
    bool reuse_tmp; /* WAL_SPARE_TMP exists (a recycled segment): overwrite it, do not create */
    int fd;         /* out: open descriptor of the ready spare, -1 on failure */
    int result;
};

struct wal_seg {
    uint64_t first_index;
    uint64_t last_index; /* first_index - 1 when empty */
    uint64_t last_term;
    uint64_t end_off; /* next write offset (after the last record) */
    uint32_t end_crc; /* chain CRC after the last record (header CRC when empty) */
    uint32_t hdr_crc;
    uint64_t prev_term; /* header: term of entry first_index - 1 */
    int fd;             /* -1 unless this is the active (last) segment */
};

/* What readers need of a segment; a copy owned by the WAL stage (zn_wal_read runs while a batch
 * job owns the segment table). Refreshed whenever no job is in flight and the table changed. */
struct wal_rseg {
    uint64_t first_index;
    uint64_t prev_term;
    uint32_t hdr_crc;
};

struct wal_batch {
    struct zn_wal *wal;
    uint8_t *buf;
    uint64_t cap;
    uint64_t len;
    uint64_t off;         /* file offset of buf[0] in the active segment */
    uint64_t first_index; /* 0: no entries */
    uint64_t last_index;
    uint64_t last_term;
    uint32_t end_crc;
    bool rotate;    /* create a new segment before writing */
    bool rotated;   /* ... done (a retry after ENOSPC skips it) */
    bool use_spare; /* ... by starting the ready spare (spare_fd, handed over at flush) */
    int spare_fd;
    uint8_t seg_hdr[WAL_SEG_HDR];
    struct wal_seg new_seg;
    void **items;
    uint32_t nitems;
    bool has_hs;
    struct zn_hardstate hs;
    int result;
};

/* A log-wide operation run as a job (truncate, compact, reset): the job owns the segment table
 * and, for truncate/reset, the logical tail while it runs (appends are refused meanwhile). */
struct wal_op {
    struct zn_wal *wal;
    int kind; /* ZN_WAL_OP_* */
    uint64_t index;
    uint64_t term;
    int result;
    uint64_t new_first_index; /* compact: first index after the removal */
    bool recycle;             /* compact: keep the oldest removed segment as WAL_SPARE_TMP */
    bool recycled;            /* ... done */
};

struct zn_wal {
    struct zn_disk *disk;
    struct zn_allocator alloc;
    uint64_t cluster_id;
    uint32_t node_id;
    uint64_t segment_bytes;
    uint64_t batch_bytes;
    uint32_t entry_bytes_max;
    struct zn_hardstate_file *hardstate;

    struct wal_seg *segs; /* ZN_WAL_SEGMENTS_MAX */
    uint32_t nsegs;
    struct wal_rseg *rsegs; /* ZN_WAL_SEGMENTS_MAX, the WAL stage's copy for readers */
    uint32_t nrsegs;

    /* logical tail (WAL stage) */
    uint64_t first_index;
    uint64_t last_index;
    uint64_t last_term;
    uint32_t chain_crc;
    uint64_t tail_off;
    bool need_segment; /* next batch must create a segment (fresh log / full segment) */
    uint64_t durable_index;
    uint64_t durable_term;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    bool repair;
    uint64_t damaged_first;

    struct wal_batch b[2];
    int open_b;
    struct wal_batch *in_flight; /* submitted, not yet polled */
    struct wal_batch *failed;    /* came back with ENOSPC: resubmit before anything else */
    struct wal_op op;
    bool op_in_flight;
    void **released;

    /* spare segment (WAL stage; the background job owns spare_job while PREPARING) */
    enum wal_spare_state spare_state;
    int spare_fd;
    bool spare_failed;   /* the last preparation failed: retried after a compaction */
    bool spare_recycled; /* WAL_SPARE_TMP holds a recycled segment for the next preparation */
    bool active_slow;    /* the active segment was fallocated (unwritten extents): rotate into
                            the spare as soon as it is ready */
    bool spare_eager;    /* zn_wal_config.spare_eager */
    struct wal_spare_job spare_job;
    atomic_bool closing; /* zn_wal_close: a preparation stops early */
    struct zn_wal_stats stats;
};

/* Size of the scratch window the scanner reads through (a batch buffer). */
#define WAL_SCAN_WINDOW(w) ((w)->b[0].cap)

struct wal_scan {
    /* in */
    int fd;
    uint64_t size;        /* bytes of the file */
    uint64_t first_index; /* index of the first record */
    uint64_t prev_term;
    uint32_t seed;         /* header CRC */
    uint64_t stop_before;  /* stop at the record with this index (0: scan all) */
    uint64_t deliver_from; /* fn sees records with index >= this */
    uint8_t *buf;          /* read window (NULL: the WAL's first batch buffer, idle WAL only) */
    uint64_t cap;
    zn_wal_entry_fn fn;
    void *ctx;
    /* out */
    uint64_t end_off;    /* first byte after the last valid record (or of the stop record) */
    uint64_t last_index; /* first_index - 1 when none */
    uint64_t last_term;
    uint32_t end_crc;
    int fn_rc;
};

/* Scan valid chained records from offset WAL_SEG_HDR; stops at the first invalid one. Returns 0
 * or a read error. Uses the wal's b[0] buffer as its window. */
int wal_scan_records(struct zn_wal *w, struct wal_scan *sc);
/* Recovery proper (wal_recover.c), called by zn_wal_open with allocations done. */
int wal_recover(struct zn_wal *w, const struct zn_wal_config *cfg, zn_wal_entry_fn on_entry,
                void *ctx, struct zn_wal_recovery *rec);
/* An empty log continuing snapshot (index, term); the next append creates a segment. */
void wal_start_after(struct zn_wal *w, uint64_t index, uint64_t term);
/* Unlink every segment (newest first, directory fsynced) and continue after (index, term). */
int wal_reset_after(struct zn_wal *w, uint64_t index, uint64_t term);
/* Recovery's verdict on WAL_SPARE_NAME: adopt it as the spare (open fd, all zeros) or not. */
void wal_spare_adopt(struct zn_wal *w, int fd);
/* Copy the segment table for readers (call only when no job is in flight). */
void wal_rsegs_sync(struct zn_wal *w);
void wal_seg_file_name(const struct wal_seg *s, char out[ZN_DISK_NAME_MAX]);

#endif /* ZN_WAL_INTERNAL_H */

/*
 * wal_test.h - helpers shared by the durable-state tests: a malloc allocator, deterministic
 * entry payloads (so a recovered entry can be checked without keeping a copy), a collector for
 * recovered entries and a driver that pushes batches to durability.
 */
#ifndef WAL_TEST_H
#define WAL_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "store/disk.h"
#include "store/hardstate.h"
#include "store/snapfile.h"
#include "store/wal.h"

#define WT_ENTRIES_MAX 200000u

extern const struct zn_allocator wt_alloc;

/* Payload length of entry `index` in [1, max] (deterministic), and its bytes. */
uint32_t wt_len(uint64_t index, uint64_t term, uint32_t max);
void wt_payload(uint64_t index, uint64_t term, uint8_t *buf, uint32_t len);

/* Recovered entries: index -> term, with payloads verified against wt_payload. */
struct wt_log {
    uint64_t first, last; /* last < first: empty */
    uint64_t count;
    uint32_t len_max;
    bool bad; /* a payload or order mismatch (set with a message) */
    char why[160];
    uint64_t *terms; /* WT_ENTRIES_MAX, indexed by index */
};
void wt_log_init(struct wt_log *l, uint32_t len_max);
void wt_log_free(struct wt_log *l);
int wt_collect(void *ctx, const struct zn_wal_entry *e);

/* A config for the sim tests: small segments so rotation happens often. */
struct zn_wal_config wt_config(struct zn_disk *disk, uint64_t segment_bytes, uint32_t batch_bytes,
                               uint32_t entry_max);

/* Append entries [from, to] with term; flushes and polls when the batch is full. Returns 0 or the
 * first error other than ZN_EFULL. Afterwards drives until idle. *acked = durable index. */
int wt_append_range(struct zn_wal *w, uint64_t from, uint64_t to, uint64_t term, uint32_t len_max);
/* flush + poll until nothing is open or in flight (bounded); returns 0 or a poll error. */
int wt_drain(struct zn_wal *w);

/* Poll until the WAL's spare segment is ready (bounded), so that the next segment starts in it
 * and no early rotation changes the layout a test expects. 0 or an error. Only with
 * zn_wal_config.spare_eager (or once the active segment is a quarter full). */
int wt_settle(struct zn_wal *w);

#endif /* WAL_TEST_H */

/*
 * hardstate.h - Raft's hard state (term, vote, commit hint, repair bound) in one file: two
 * alternating slots, each stored as two checksummed copies in different 4 KiB blocks.
 *
 * File "hardstate" (16 KiB, format version 2; docs/disk-format.md): copy c of slot k is the
 * 80-byte record at offset (2c + k) * 4096, so block 0 = slot 0 copy 0, block 1 = slot 1 copy 0,
 * block 2 = slot 0 copy 1, block 3 = slot 1 copy 1. Sequence s lives in slot s % 2.
 *
 * Write (sequence newest + 1): both copies of the slot NOT holding the newest state, then one
 * fdatasync. A torn, lost or reordered (unsynced) update therefore never touches the newest
 * state, and a synced state has two copies in two blocks.
 *
 * Open: the newest sequence among all valid copies wins (a valid copy of an update that was in
 * flight at a crash is safe to adopt: its term and vote were never announced, and adopting a
 * higher term or an unannounced vote breaks no promise). One rotten copy of the newest synced
 * state is masked by its twin. Before returning, open rewrites every copy of the newest slot
 * that is not an intact copy of the adopted state, then fdatasyncs (never touching a valid copy
 * of the newest state, nor the other slot), so the adopted state is on disk twice again. A slot
 * with no valid copy while the other has one is a torn update (tolerated, reported). No valid
 * copy at all: refuse to start (ZN_ECORRUPT) - a node that forgot its vote could vote twice in a
 * term. Residual risk: both copies of the newest synced state rotting between two opens/writes
 * makes the older state win (docs/disk-format.md).
 *
 * Upgrade: a version-1 file (8 KiB, one copy per slot at blocks 0 and 1) is read; open extends
 * it to 16 KiB and writes the missing twin of the newest state (version 2); the next update
 * writes both copies in version 2. A version-1 binary refuses a file holding a version-2 copy in
 * blocks 0/1 (ZN_EVERSION).
 *
 * Context: the WAL stage (through zn_wal_set_hardstate) or start-up. fdatasync failure is
 * fail-stop (zn_panic), like the WAL.
 */
#ifndef ZN_HARDSTATE_H
#define ZN_HARDSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/disk.h"

#define ZN_HARDSTATE_FILE      "hardstate"
#define ZN_HARDSTATE_BLOCK     4096u              /* one copy per 4 KiB block */
#define ZN_HARDSTATE_SLOT_OFF  ZN_HARDSTATE_BLOCK /* offset of slot 1 (copy 0) */
#define ZN_HARDSTATE_SLOT_SIZE 80u
#define ZN_HARDSTATE_COPIES    2u
#define ZN_HARDSTATE_FILE_SIZE (2u * ZN_HARDSTATE_COPIES * ZN_HARDSTATE_BLOCK)
#define ZN_HARDSTATE_VERSION   2u /* written; version 1 (one copy per slot) is still read */

/* Offset of copy `copy` (0/1) of slot `slot` (0/1). */
static inline uint64_t zn_hardstate_copy_off(unsigned slot, unsigned copy)
{
    return (uint64_t)(2u * copy + slot) * ZN_HARDSTATE_BLOCK;
}

struct zn_hardstate {
    uint64_t term;
    uint32_t vote;         /* node id voted for in term, 0 = none */
    uint64_t commit;       /* commit index known when written (a lower bound of the durable log) */
    uint64_t repair_until; /* repair state: no voting until the log is replaced up to here */
};

/* What zn_hardstate_open found (also summarised in the report's message). */
struct zn_hardstate_scan {
    uint32_t valid_copies;   /* copies that passed every check (0..4) */
    uint32_t damaged_copies; /* copies that failed (checksum, magic, parity), not counting zeros */
    uint32_t empty_copies;   /* never written (all zero, or beyond the end of the file) */
    uint32_t rewritten;      /* copies of the newest slot rewritten by open */
    uint32_t from_version;   /* format version of the copy the state was taken from */
    bool upgraded;           /* the file was version 1 and was extended to 16 KiB */
};

struct zn_hardstate_file {
    struct zn_disk *disk;
    int fd;
    uint64_t seq; /* sequence of the newest state */
    uint64_t cluster_id;
    uint32_t node_id;
    struct zn_hardstate_scan scan; /* filled by zn_hardstate_open */
};

/*
 * Open the file and read the newest state into *hs (and repair/upgrade it, see above). A missing
 * file is created (slot 0 = sequence 0, zero state, both copies: temp name, fdatasync, rename,
 * directory fsync) only when may_create; otherwise ZN_ENOENT. Errors: ZN_ECORRUPT (no valid
 * copy), ZN_ECLUSTER (another cluster or node), ZN_EVERSION, ZN_EIO, ZN_ENOSPC (upgrade); rep
 * names file and offset. On success rep (if given) has code 0 and says what was found.
 */
int zn_hardstate_open(struct zn_hardstate_file *hf, struct zn_disk *disk, uint64_t cluster_id,
                      uint32_t node_id, bool may_create, struct zn_hardstate *hs,
                      struct zn_disk_report *rep);
/* Write hs to both copies of the older slot and fdatasync. ZN_ENOSPC is impossible (the file is
 * preallocated); EIO is fail-stop. */
int zn_hardstate_write(struct zn_hardstate_file *hf, const struct zn_hardstate *hs);
void zn_hardstate_close(struct zn_hardstate_file *hf);

/* Encode one copy in the current version (exposed for the tests and docs/disk-format.md). */
void zn_hardstate_slot_encode(uint8_t out[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                              uint32_t node_id, uint64_t seq, const struct zn_hardstate *hs);
/* Decode a copy of version 1 or 2 (*version set). 0, ZN_ECORRUPT, ZN_EVERSION or ZN_ECLUSTER. */
int zn_hardstate_slot_decode(const uint8_t in[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                             uint32_t node_id, uint64_t *seq, struct zn_hardstate *hs,
                             uint32_t *version);

#endif /* ZN_HARDSTATE_H */

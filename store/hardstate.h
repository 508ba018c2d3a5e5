/*
 * hardstate.h - Raft's hard state (term, vote, commit hint, repair bound) in one file with two
 * alternating checksummed slots.
 *
 * File "hardstate": slot A at offset 0, slot B at offset 4096 (different 4 KiB blocks, so a torn
 * write of one slot never touches the other). Each write goes to the slot NOT holding the newest
 * state, with sequence number + 1, then fdatasync: a crash mid-write leaves the other slot intact.
 * Reading takes the valid slot with the highest sequence. Both slots invalid: refuse to start
 * (ZN_ECORRUPT) - a node that forgot its vote could vote twice in a term.
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
#define ZN_HARDSTATE_SLOT_OFF  4096u
#define ZN_HARDSTATE_SLOT_SIZE 80u

struct zn_hardstate {
    uint64_t term;
    uint32_t vote;         /* node id voted for in term, 0 = none */
    uint64_t commit;       /* commit index known when written (a lower bound of the durable log) */
    uint64_t repair_until; /* repair state: no voting until the log is replaced up to here */
};

struct zn_hardstate_file {
    struct zn_disk *disk;
    int fd;
    uint64_t seq; /* sequence of the newest valid slot */
    uint64_t cluster_id;
    uint32_t node_id;
};

/*
 * Open the file and read the newest valid slot into *hs. A missing file is created (both slots,
 * zero state: temp name, fdatasync, rename, directory fsync) only when may_create; otherwise
 * ZN_ENOENT. Errors: ZN_ECORRUPT (both slots bad), ZN_ECLUSTER (another cluster or node),
 * ZN_EVERSION, ZN_EIO; rep names file and offset.
 */
int zn_hardstate_open(struct zn_hardstate_file *hf, struct zn_disk *disk, uint64_t cluster_id,
                      uint32_t node_id, bool may_create, struct zn_hardstate *hs,
                      struct zn_disk_report *rep);
/* Write hs to the older slot and fdatasync. ZN_ENOSPC is impossible (the file is preallocated);
 * EIO is fail-stop. */
int zn_hardstate_write(struct zn_hardstate_file *hf, const struct zn_hardstate *hs);
void zn_hardstate_close(struct zn_hardstate_file *hf);

/* Encode/decode one slot (exposed for the tests and docs/disk-format.md). */
void zn_hardstate_slot_encode(uint8_t out[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                              uint32_t node_id, uint64_t seq, const struct zn_hardstate *hs);
/* 0, ZN_ECORRUPT, ZN_EVERSION or ZN_ECLUSTER. */
int zn_hardstate_slot_decode(const uint8_t in[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                             uint32_t node_id, uint64_t *seq, struct zn_hardstate *hs);

#endif /* ZN_HARDSTATE_H */

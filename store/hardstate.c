/*
 * hardstate.c - two alternating checksummed slots (layout in hardstate.h, docs/disk-format.md).
 *
 * Invariant: the slot for sequence s is s % 2, so a write (sequence newest + 1) always lands on
 * the slot that does NOT hold the newest state; a torn or lost write leaves the newest state
 * readable. Creation goes through a temporary name so a crash never leaves a half-made file
 * under the real name.
 */
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "common/zn_err.h"
#include "store/hardstate.h"
#include "store/wal_format.h"

#define HS_MAGIC   0x5453445241484E5AULL /* "ZNHARDST" */
#define HS_VERSION 1u
#define HS_TMP     "hardstate.tmp"

void zn_hardstate_slot_encode(uint8_t out[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                              uint32_t node_id, uint64_t seq, const struct zn_hardstate *hs)
{
    memset(out, 0, ZN_HARDSTATE_SLOT_SIZE);
    wal_put64(out + 0, HS_MAGIC);
    wal_put32(out + 8, HS_VERSION);
    wal_put32(out + 12, node_id);
    wal_put64(out + 16, cluster_id);
    wal_put64(out + 24, seq);
    wal_put64(out + 32, hs->term);
    wal_put32(out + 40, hs->vote);
    wal_put64(out + 48, hs->commit);
    wal_put64(out + 56, hs->repair_until);
    wal_put32(out + 76, zn_crc32c(0, out, 76));
}

int zn_hardstate_slot_decode(const uint8_t in[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                             uint32_t node_id, uint64_t *seq, struct zn_hardstate *hs)
{
    if (zn_crc32c(0, in, 76) != wal_get32(in + 76) || wal_get64(in) != HS_MAGIC) {
        return ZN_ECORRUPT;
    }
    if (wal_get32(in + 44) != 0 || wal_get64(in + 64) != 0 || wal_get32(in + 72) != 0) {
        return ZN_ECORRUPT;
    }
    if (wal_get32(in + 8) != HS_VERSION) {
        return ZN_EVERSION;
    }
    if (wal_get64(in + 16) != cluster_id || wal_get32(in + 12) != node_id) {
        return ZN_ECLUSTER;
    }
    *seq = wal_get64(in + 24);
    hs->term = wal_get64(in + 32);
    hs->vote = wal_get32(in + 40);
    hs->commit = wal_get64(in + 48);
    hs->repair_until = wal_get64(in + 56);
    return 0;
}

static int hs_create(struct zn_disk *disk, uint64_t cluster_id, uint32_t node_id,
                     struct zn_disk_report *rep)
{
    int fd;
    (void)zn_disk_unlink(disk, HS_TMP);
    int rc = zn_disk_open(disk, HS_TMP, ZN_DISK_CREATE, &fd);
    if (rc != 0) {
        return zn_disk_report_set(rep, rc, HS_TMP, 0, "cannot create the hard state file: %s",
                                  zn_strerror(rc));
    }
    uint8_t slot[ZN_HARDSTATE_SLOT_SIZE];
    struct zn_hardstate zero = {0};
    zn_hardstate_slot_encode(slot, cluster_id, node_id, 0, &zero);
    rc = zn_disk_fallocate(disk, fd, 0, 2 * ZN_HARDSTATE_SLOT_OFF);
    if (rc == 0) {
        rc = zn_disk_pwrite(disk, fd, slot, sizeof(slot), 0);
    }
    if (rc == 0) {
        rc = zn_disk_fdatasync(disk, fd);
        if (rc == ZN_EIO) {
            zn_panic("fdatasync of %s failed (EIO): stopping, a retried fsync cannot be trusted",
                     HS_TMP);
        }
    }
    zn_disk_close(disk, fd);
    if (rc == 0) {
        rc = zn_disk_rename(disk, HS_TMP, ZN_HARDSTATE_FILE);
    }
    if (rc == 0) {
        rc = zn_disk_fsync_dir(disk);
        if (rc == ZN_EIO) {
            zn_panic("fsync of the data directory failed (EIO) creating %s", ZN_HARDSTATE_FILE);
        }
    }
    if (rc != 0) {
        (void)zn_disk_unlink(disk, HS_TMP);
        return zn_disk_report_set(rep, rc, HS_TMP, 0, "cannot create the hard state file: %s",
                                  zn_strerror(rc));
    }
    return 0;
}

int zn_hardstate_open(struct zn_hardstate_file *hf, struct zn_disk *disk, uint64_t cluster_id,
                      uint32_t node_id, bool may_create, struct zn_hardstate *hs,
                      struct zn_disk_report *rep)
{
    memset(hf, 0, sizeof(*hf));
    memset(hs, 0, sizeof(*hs));
    hf->disk = disk;
    hf->fd = -1;
    hf->cluster_id = cluster_id;
    hf->node_id = node_id;
    int fd;
    int rc = zn_disk_open(disk, ZN_HARDSTATE_FILE, 0, &fd);
    if (rc == ZN_ENOENT && may_create) {
        (void)zn_disk_unlink(disk, HS_TMP);
        rc = hs_create(disk, cluster_id, node_id, rep);
        if (rc != 0) {
            return rc;
        }
        rc = zn_disk_open(disk, ZN_HARDSTATE_FILE, 0, &fd);
    }
    if (rc != 0) {
        return zn_disk_report_set(rep, rc, ZN_HARDSTATE_FILE, 0, "cannot open: %s",
                                  zn_strerror(rc));
    }
    (void)zn_disk_unlink(disk, HS_TMP); /* a leftover of an interrupted creation */
    uint8_t slot[2][ZN_HARDSTATE_SLOT_SIZE];
    int code[2];
    uint64_t seq[2] = {0, 0};
    struct zn_hardstate st[2];
    for (int i = 0; i < 2; i++) {
        long n = zn_disk_pread(disk, fd, slot[i], ZN_HARDSTATE_SLOT_SIZE,
                               (uint64_t)i * ZN_HARDSTATE_SLOT_OFF);
        if (n < 0) {
            zn_disk_close(disk, fd);
            return zn_disk_report_set(rep, (int)n, ZN_HARDSTATE_FILE,
                                      (uint64_t)i * ZN_HARDSTATE_SLOT_OFF, "read failed: %s",
                                      zn_strerror((int)n));
        }
        code[i] = n == ZN_HARDSTATE_SLOT_SIZE
                      ? zn_hardstate_slot_decode(slot[i], cluster_id, node_id, &seq[i], &st[i])
                      : ZN_ECORRUPT;
        if (code[i] == 0 && seq[i] % 2 != (uint64_t)i) {
            code[i] = ZN_ECORRUPT; /* a slot holding the other slot's sequence parity */
        }
    }
    for (int i = 0; i < 2; i++) {
        if (code[i] == ZN_ECLUSTER || code[i] == ZN_EVERSION) {
            zn_disk_close(disk, fd);
            return zn_disk_report_set(
                rep, code[i], ZN_HARDSTATE_FILE, (uint64_t)i * ZN_HARDSTATE_SLOT_OFF,
                code[i] == ZN_ECLUSTER
                    ? "hard state slot %d belongs to another cluster or node: refusing to start"
                    : "hard state slot %d has an unsupported format version: refusing to start",
                i);
        }
    }
    if (code[0] != 0 && code[1] != 0) {
        zn_disk_close(disk, fd);
        return zn_disk_report_set(rep, ZN_ECORRUPT, ZN_HARDSTATE_FILE, 0,
                                  "both hard state slots (offsets 0 and %u) fail their checksum: "
                                  "term and vote are lost, refusing to start",
                                  ZN_HARDSTATE_SLOT_OFF);
    }
    int best = code[0] != 0 ? 1 : code[1] != 0 ? 0 : (seq[1] > seq[0] ? 1 : 0);
    *hs = st[best];
    hf->seq = seq[best];
    hf->fd = fd;
    if (rep != NULL) {
        zn_disk_report_set(rep, 0, ZN_HARDSTATE_FILE, (uint64_t)best * ZN_HARDSTATE_SLOT_OFF,
                           "hard state from slot %d (sequence %llu)%s", best,
                           (unsigned long long)seq[best],
                           code[!best] != 0 ? "; the other slot is invalid (a torn update)" : "");
    }
    return 0;
}

int zn_hardstate_write(struct zn_hardstate_file *hf, const struct zn_hardstate *hs)
{
    ZN_ASSERT(hf->fd >= 0);
    uint64_t seq = hf->seq + 1;
    uint8_t slot[ZN_HARDSTATE_SLOT_SIZE];
    zn_hardstate_slot_encode(slot, hf->cluster_id, hf->node_id, seq, hs);
    uint64_t off = (seq % 2) * ZN_HARDSTATE_SLOT_OFF;
    int rc = zn_disk_pwrite(hf->disk, hf->fd, slot, sizeof(slot), off);
    if (rc == ZN_EIO) {
        zn_panic("write of %s at offset %llu failed (EIO): fail-stop", ZN_HARDSTATE_FILE,
                 (unsigned long long)off);
    }
    if (rc != 0) {
        return rc;
    }
    rc = zn_disk_fdatasync(hf->disk, hf->fd);
    if (rc != 0) {
        zn_panic("fdatasync of %s failed (%s): fail-stop, a retried fsync cannot be trusted",
                 ZN_HARDSTATE_FILE, zn_strerror(rc));
    }
    hf->seq = seq;
    return 0;
}

void zn_hardstate_close(struct zn_hardstate_file *hf)
{
    if (hf->fd >= 0) {
        zn_disk_close(hf->disk, hf->fd);
        hf->fd = -1;
    }
}

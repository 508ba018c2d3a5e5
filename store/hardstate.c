/*
 * hardstate.c - two alternating slots, two copies each (layout and argument in hardstate.h,
 * bytes in docs/disk-format.md).
 *
 * Why this is safe under the crash model of store/disk_sim.c (what ext4/XFS guarantee: a power
 * loss keeps any prefix or any subset of the sectors written since the last fdatasync, nothing
 * that was synced is lost) plus corruption at rest of any one sector (or one 4 KiB block):
 *   - a write only touches the slot that does not hold the newest state, so whatever happens to
 *     its unsynced sectors, the newest synced state keeps the copies it had;
 *   - after a write's fdatasync, and after every open, the newest state has two intact copies in
 *     two different 4 KiB blocks (8 KiB apart), so one damaged sector or block leaves one;
 *   - every copy is self-verifying (CRC-32C, magic, reserved zeros, sequence parity = slot), so a
 *     damaged or half-written copy is never taken for a valid one;
 *   - the newest valid copy wins. It is either the newest synced state or an update that was in
 *     flight at a crash; adopting the latter is safe (never announced, see hardstate.h);
 *   - open repairs by rewriting only the copies of the newest slot that are not intact copies of
 *     the adopted state: a crash during the repair leaves every valid copy it found (the
 *     rewritten bytes are either the same state or were invalid), and the other slot (the
 *     fallback if the adopted state was an unsynced update) is not touched.
 * A copy that fails validation is read again (HS_READ_TRIES): a transient read error (the
 * simulator's read flips) must not make the older slot win.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "common/zn_err.h"
#include "store/hardstate.h"
#include "store/wal_format.h"

#define HS_MAGIC      0x5453445241484E5AULL /* "ZNHARDST" */
#define HS_VERSION_V1 1u
#define HS_TMP        "hardstate.tmp"
#define HS_BLOCKS     (2u * ZN_HARDSTATE_COPIES)
#define HS_READ_TRIES 3

_Static_assert(ZN_HARDSTATE_SLOT_SIZE <= 512, "a copy fits in one sector");
_Static_assert(ZN_HARDSTATE_FILE_SIZE == HS_BLOCKS * ZN_HARDSTATE_BLOCK, "4 blocks");

static void hs_encode(uint8_t out[ZN_HARDSTATE_SLOT_SIZE], uint32_t version, uint64_t cluster_id,
                      uint32_t node_id, uint64_t seq, const struct zn_hardstate *hs)
{
    memset(out, 0, ZN_HARDSTATE_SLOT_SIZE);
    wal_put64(out + 0, HS_MAGIC);
    wal_put32(out + 8, version);
    wal_put32(out + 12, node_id);
    wal_put64(out + 16, cluster_id);
    wal_put64(out + 24, seq);
    wal_put64(out + 32, hs->term);
    wal_put32(out + 40, hs->vote);
    wal_put64(out + 48, hs->commit);
    wal_put64(out + 56, hs->repair_until);
    wal_put32(out + 76, zn_crc32c(0, out, 76));
}

void zn_hardstate_slot_encode(uint8_t out[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                              uint32_t node_id, uint64_t seq, const struct zn_hardstate *hs)
{
    hs_encode(out, ZN_HARDSTATE_VERSION, cluster_id, node_id, seq, hs);
}

int zn_hardstate_slot_decode(const uint8_t in[ZN_HARDSTATE_SLOT_SIZE], uint64_t cluster_id,
                             uint32_t node_id, uint64_t *seq, struct zn_hardstate *hs,
                             uint32_t *version)
{
    if (zn_crc32c(0, in, 76) != wal_get32(in + 76) || wal_get64(in) != HS_MAGIC) {
        return ZN_ECORRUPT;
    }
    if (wal_get32(in + 44) != 0 || wal_get64(in + 64) != 0 || wal_get32(in + 72) != 0) {
        return ZN_ECORRUPT;
    }
    uint32_t v = wal_get32(in + 8);
    if (v != HS_VERSION_V1 && v != ZN_HARDSTATE_VERSION) {
        return ZN_EVERSION;
    }
    if (wal_get64(in + 16) != cluster_id || wal_get32(in + 12) != node_id) {
        return ZN_ECLUSTER;
    }
    *seq = wal_get64(in + 24);
    *version = v;
    hs->term = wal_get64(in + 32);
    hs->vote = wal_get32(in + 40);
    hs->commit = wal_get64(in + 48);
    hs->repair_until = wal_get64(in + 56);
    return 0;
}

static bool hs_same(const struct zn_hardstate *a, const struct zn_hardstate *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit &&
           a->repair_until == b->repair_until;
}

static void hs_sync_or_panic(struct zn_disk *disk, int fd, const char *name)
{
    int rc = zn_disk_fdatasync(disk, fd);
    if (rc != 0) {
        zn_panic("fdatasync of %s failed (%s): fail-stop, a retried fsync cannot be trusted", name,
                 zn_strerror(rc));
    }
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
    rc = zn_disk_fallocate(disk, fd, 0, ZN_HARDSTATE_FILE_SIZE);
    for (unsigned c = 0; c < ZN_HARDSTATE_COPIES && rc == 0; c++) {
        rc = zn_disk_pwrite(disk, fd, slot, sizeof(slot), zn_hardstate_copy_off(0, c));
    }
    if (rc == 0) {
        hs_sync_or_panic(disk, fd, HS_TMP);
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

enum hs_status { HS_VALID, HS_EMPTY, HS_DAMAGED, HS_REFUSE };

struct hs_copy {
    enum hs_status status;
    int code; /* HS_REFUSE: ZN_ECLUSTER or ZN_EVERSION */
    uint64_t seq;
    uint32_t version;
    struct zn_hardstate st;
};

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Read and classify the copy in block b. Returns 0 or a read error. */
static int hs_read_copy(struct zn_hardstate_file *hf, unsigned b, struct hs_copy *c)
{
    uint8_t raw[ZN_HARDSTATE_SLOT_SIZE];
    memset(c, 0, sizeof(*c));
    for (int attempt = 0; attempt < HS_READ_TRIES; attempt++) {
        long n =
            zn_disk_pread(hf->disk, hf->fd, raw, sizeof(raw), (uint64_t)b * ZN_HARDSTATE_BLOCK);
        if (n < 0) {
            return (int)n;
        }
        if (all_zero(raw, (size_t)n)) {
            c->status = HS_EMPTY; /* never written (or beyond the end of a version-1 file) */
            return 0;
        }
        int code = n == ZN_HARDSTATE_SLOT_SIZE
                       ? zn_hardstate_slot_decode(raw, hf->cluster_id, hf->node_id, &c->seq, &c->st,
                                                  &c->version)
                       : ZN_ECORRUPT;
        if (code == 0 && c->seq % 2 != b % 2) {
            code = ZN_ECORRUPT; /* a copy holding the other slot's sequence parity */
        }
        if (code == 0 && c->version == HS_VERSION_V1 && b >= 2) {
            code = ZN_ECORRUPT; /* version 1 had one copy per slot, in blocks 0 and 1 */
        }
        if (code == 0) {
            c->status = HS_VALID;
            return 0;
        }
        if (code != ZN_ECORRUPT) {
            c->status = HS_REFUSE;
            c->code = code;
            return 0;
        }
        c->status = HS_DAMAGED; /* read again: a transient read error must not lose a copy */
    }
    return 0;
}

/* Append to the report text (bounded, truncates). */
static void msg_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void msg_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
    }
}

static int hs_fail(struct zn_hardstate_file *hf, struct zn_disk_report *rep, int code, uint64_t off,
                   const char *what)
{
    zn_disk_close(hf->disk, hf->fd);
    hf->fd = -1;
    return zn_disk_report_set(rep, code, ZN_HARDSTATE_FILE, off, "%s", what);
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
    int rc = zn_disk_open(disk, ZN_HARDSTATE_FILE, 0, &hf->fd);
    if (rc == ZN_ENOENT && may_create) {
        (void)zn_disk_unlink(disk, HS_TMP);
        rc = hs_create(disk, cluster_id, node_id, rep);
        if (rc != 0) {
            return rc;
        }
        rc = zn_disk_open(disk, ZN_HARDSTATE_FILE, 0, &hf->fd);
    }
    if (rc != 0) {
        hf->fd = -1;
        return zn_disk_report_set(rep, rc, ZN_HARDSTATE_FILE, 0, "cannot open: %s",
                                  zn_strerror(rc));
    }
    (void)zn_disk_unlink(disk, HS_TMP); /* a leftover of an interrupted creation */
    char msg[sizeof(rep->message)];
    struct hs_copy cp[HS_BLOCKS];
    struct zn_hardstate_scan *sc = &hf->scan;
    int best = -1;
    for (unsigned b = 0; b < HS_BLOCKS; b++) {
        uint64_t off = (uint64_t)b * ZN_HARDSTATE_BLOCK;
        rc = hs_read_copy(hf, b, &cp[b]);
        if (rc != 0) {
            snprintf(msg, sizeof(msg), "read failed: %s", zn_strerror(rc));
            return hs_fail(hf, rep, rc, off, msg);
        }
        if (cp[b].status == HS_REFUSE) {
            snprintf(msg, sizeof(msg),
                     cp[b].code == ZN_ECLUSTER
                         ? "hard state copy %u (slot %u) belongs to another cluster or node: "
                           "refusing to start"
                         : "hard state copy %u (slot %u) has an unsupported format version: "
                           "refusing to start",
                     b / 2, b % 2);
            return hs_fail(hf, rep, cp[b].code, off, msg);
        }
        sc->valid_copies += cp[b].status == HS_VALID;
        sc->damaged_copies += cp[b].status == HS_DAMAGED;
        sc->empty_copies += cp[b].status == HS_EMPTY;
        if (cp[b].status == HS_VALID && (best < 0 || cp[b].seq > cp[best].seq)) {
            best = (int)b;
        }
    }
    if (best < 0) {
        snprintf(msg, sizeof(msg),
                 "no valid copy of the hard state (offsets 0, %u, %u, %u: %u damaged, %u empty): "
                 "term and vote are lost, refusing to start",
                 ZN_HARDSTATE_BLOCK, 2 * ZN_HARDSTATE_BLOCK, 3 * ZN_HARDSTATE_BLOCK,
                 sc->damaged_copies, sc->empty_copies);
        return hs_fail(hf, rep, ZN_ECORRUPT, 0, msg);
    }
    unsigned slot = (unsigned)best % 2;
    *hs = cp[best].st;
    hf->seq = cp[best].seq;
    sc->from_version = cp[best].version;

    /* Repair: every copy of the newest slot that is not an intact copy of the adopted state. */
    uint64_t size = 0;
    rc = zn_disk_size(disk, hf->fd, &size);
    if (rc == 0 && size < ZN_HARDSTATE_FILE_SIZE) {
        sc->upgraded = cp[best].version == HS_VERSION_V1;
        rc = zn_disk_fallocate(disk, hf->fd, 0, ZN_HARDSTATE_FILE_SIZE);
    }
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "cannot extend the hard state file to %u bytes: %s",
                 ZN_HARDSTATE_FILE_SIZE, zn_strerror(rc));
        return hs_fail(hf, rep, rc, size, msg);
    }
    uint8_t want[ZN_HARDSTATE_SLOT_SIZE];
    zn_hardstate_slot_encode(want, cluster_id, node_id, hf->seq, hs);
    for (unsigned c = 0; c < ZN_HARDSTATE_COPIES; c++) {
        const struct hs_copy *x = &cp[2 * c + slot];
        if (x->status == HS_VALID && x->seq == hf->seq && hs_same(&x->st, hs)) {
            continue;
        }
        uint64_t off = zn_hardstate_copy_off(slot, c);
        rc = zn_disk_pwrite(disk, hf->fd, want, sizeof(want), off);
        if (rc != 0) {
            snprintf(msg, sizeof(msg), "rewriting copy %u of the newest hard state failed: %s", c,
                     zn_strerror(rc));
            return hs_fail(hf, rep, rc, off, msg);
        }
        sc->rewritten++;
    }
    if (sc->rewritten > 0 || size < ZN_HARDSTATE_FILE_SIZE) {
        hs_sync_or_panic(disk, hf->fd, ZN_HARDSTATE_FILE);
    }

    if (rep != NULL) {
        size_t len = 0;
        uint64_t off = (uint64_t)best * ZN_HARDSTATE_BLOCK;
        bool off_set = false;
        msg_add(msg, sizeof(msg), &len,
                "hard state sequence %llu (term %llu) from slot %u copy %d (version %u), %u of 4 "
                "copies valid",
                (unsigned long long)hf->seq, (unsigned long long)hs->term, slot, best / 2,
                cp[best].version, sc->valid_copies);
        /* damaged copies, newest slot first: the report's offset is the first one listed */
        for (unsigned pass = 0; pass < 2; pass++) {
            unsigned k = pass == 0 ? slot : !slot;
            unsigned n = 0;
            for (unsigned c = 0; c < ZN_HARDSTATE_COPIES; c++) {
                unsigned b = 2 * c + k;
                if (cp[b].status != HS_DAMAGED) {
                    continue;
                }
                if (!off_set) {
                    off = (uint64_t)b * ZN_HARDSTATE_BLOCK;
                    off_set = true;
                }
                msg_add(msg, sizeof(msg), &len, "%s%u", n == 0 ? "; invalid copy at offset " : ", ",
                        b * ZN_HARDSTATE_BLOCK);
                n++;
            }
            if (n > 0) {
                msg_add(msg, sizeof(msg), &len, " (%s)",
                        pass == 0 ? "newest slot: corruption at rest or a partly written update"
                                  : "older slot: a torn update or corruption");
            }
        }
        for (unsigned c = 0; c < ZN_HARDSTATE_COPIES; c++) {
            const struct hs_copy *x = &cp[2 * c + slot];
            if (x->status == HS_VALID && (x->seq != hf->seq || !hs_same(&x->st, hs))) {
                msg_add(msg, sizeof(msg), &len,
                        "; copy at offset %u held sequence %llu (an update that landed partly)",
                        (2 * c + slot) * ZN_HARDSTATE_BLOCK, (unsigned long long)x->seq);
            }
        }
        unsigned other = !slot;
        if (cp[other].status != HS_VALID && cp[other + 2].status != HS_VALID &&
            (cp[other].status == HS_DAMAGED || cp[other + 2].status == HS_DAMAGED)) {
            msg_add(msg, sizeof(msg), &len, "; slot %u has no valid copy (a torn update)", other);
        }
        if (sc->rewritten > 0) {
            msg_add(msg, sizeof(msg), &len, "; rewrote %u copy(ies) of slot %u", sc->rewritten,
                    slot);
        }
        if (sc->upgraded) {
            msg_add(msg, sizeof(msg), &len, "; upgraded from format version 1");
        }
        zn_disk_report_set(rep, 0, ZN_HARDSTATE_FILE, off, "%s", msg);
    }
    return 0;
}

int zn_hardstate_write(struct zn_hardstate_file *hf, const struct zn_hardstate *hs)
{
    ZN_ASSERT(hf->fd >= 0);
    uint64_t seq = hf->seq + 1;
    uint8_t rec[ZN_HARDSTATE_SLOT_SIZE];
    zn_hardstate_slot_encode(rec, hf->cluster_id, hf->node_id, seq, hs);
    for (unsigned c = 0; c < ZN_HARDSTATE_COPIES; c++) {
        uint64_t off = zn_hardstate_copy_off((unsigned)(seq % 2), c);
        int rc = zn_disk_pwrite(hf->disk, hf->fd, rec, sizeof(rec), off);
        if (rc == ZN_EIO) {
            zn_panic("write of %s at offset %llu failed (EIO): fail-stop", ZN_HARDSTATE_FILE,
                     (unsigned long long)off);
        }
        if (rc != 0) {
            return rc;
        }
    }
    hs_sync_or_panic(hf->disk, hf->fd, ZN_HARDSTATE_FILE);
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

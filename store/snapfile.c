/*
 * snapfile.c - framing, durability and retention of snapshot files (see snapfile.h).
 *
 * File "snap-<index 16 hex>-<term 16 hex>.snap":
 *   header 64 B: 0 magic "ZNSNAPSH" | 8 u32 version 1 | 12 u32 header size 64 | 16 u64 cluster |
 *                24 u32 node | 28 u32 0 | 32 u64 last index | 40 u64 last term | 48..60 zero |
 *                60 u32 CRC32C of [0, 60)
 *   body: the serializer's bytes
 *   trailer 32 B: 0 magic "ZNSNAPND" | 8 u64 body length | 16 u32 body CRC32C | 20..28 zero |
 *                 28 u32 CRC32C of [0, 28)
 * Invariant: a file under a .snap name was fdatasynced before the rename, so a crash leaves
 * either the old set of snapshots or the old set plus the complete new one.
 */
#include <stdio.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"
#include "store/snapfile.h"
#include "store/wal_format.h"

#define SNAP_VERSION  1u
#define SNAP_LIST_MAX 64

static const uint8_t hdr_magic[8] = {'Z', 'N', 'S', 'N', 'A', 'P', 'S', 'H'};
static const uint8_t end_magic[8] = {'Z', 'N', 'S', 'N', 'A', 'P', 'N', 'D'};

static void snap_name(char *out, uint64_t index, uint64_t term, bool tmp)
{
    snprintf(out, ZN_DISK_NAME_MAX, "snap-%016llx-%016llx.%s", (unsigned long long)index,
             (unsigned long long)term, tmp ? "tmp" : "snap");
}

static bool parse_hex16(const char *p, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return false;
        }
        x = (x << 4) | (uint64_t)d;
    }
    *v = x;
    return true;
}

/* "snap-<16>-<16>.snap" or ".tmp" */
static bool snap_parse(const char *name, uint64_t *index, uint64_t *term, bool *tmp)
{
    size_t n = strlen(name);
    if ((n != 38 + 5 && n != 38 + 4) || strncmp(name, "snap-", 5) != 0 || name[21] != '-') {
        return false;
    }
    if (strcmp(name + 38, ".snap") == 0) {
        *tmp = false;
    } else if (strcmp(name + 38, ".tmp") == 0) {
        *tmp = true;
    } else {
        return false;
    }
    return parse_hex16(name + 5, index) && parse_hex16(name + 22, term);
}

int zn_snapfile_begin(struct zn_snapfile_writer *sw, struct zn_disk *disk, uint64_t cluster_id,
                      uint32_t node_id, uint64_t index, uint64_t term, uint32_t retain, void *buf,
                      size_t cap)
{
    memset(sw, 0, sizeof(*sw));
    sw->fd = -1;
    if (cap < 4096 || retain == 0 || retain > ZN_SNAPFILE_RETAIN_MAX) {
        return ZN_EINVAL;
    }
    sw->disk = disk;
    sw->cluster_id = cluster_id;
    sw->node_id = node_id;
    sw->retain = retain;
    sw->index = index;
    sw->term = term;
    sw->buf = buf;
    sw->cap = cap;
    snap_name(sw->tmp, index, term, true);
    snap_name(sw->name, index, term, false);
    (void)zn_disk_unlink(disk, sw->tmp);
    int rc = zn_disk_open(disk, sw->tmp, ZN_DISK_CREATE, &sw->fd);
    if (rc != 0) {
        return rc;
    }
    uint8_t *h = sw->buf;
    memset(h, 0, ZN_SNAPFILE_HEADER_BYTES);
    memcpy(h, hdr_magic, 8);
    wal_put32(h + 8, SNAP_VERSION);
    wal_put32(h + 12, ZN_SNAPFILE_HEADER_BYTES);
    wal_put64(h + 16, cluster_id);
    wal_put32(h + 24, node_id);
    wal_put64(h + 32, index);
    wal_put64(h + 40, term);
    wal_put32(h + 60, zn_crc32c(0, h, 60));
    sw->fill = ZN_SNAPFILE_HEADER_BYTES;
    return 0;
}

static int sw_flush(struct zn_snapfile_writer *sw)
{
    if (sw->fill == 0) {
        return 0;
    }
    int rc = zn_disk_pwrite(sw->disk, sw->fd, sw->buf, sw->fill, sw->off);
    if (rc != 0) {
        return rc;
    }
    sw->off += sw->fill;
    sw->fill = 0;
    return 0;
}

int zn_snapfile_sink(void *ctx, const void *buf, size_t len)
{
    struct zn_snapfile_writer *sw = ctx;
    if (sw->err != 0) {
        return sw->err;
    }
    const uint8_t *p = buf;
    sw->crc = zn_crc32c(sw->crc, p, len);
    sw->body_bytes += len;
    while (len > 0) {
        size_t n = sw->cap - sw->fill < len ? sw->cap - sw->fill : len;
        memcpy(sw->buf + sw->fill, p, n);
        sw->fill += n;
        p += n;
        len -= n;
        if (sw->fill == sw->cap) {
            int rc = sw_flush(sw);
            if (rc != 0) {
                sw->err = rc;
                return rc;
            }
        }
    }
    return 0;
}

void zn_snapfile_abort(struct zn_snapfile_writer *sw)
{
    if (sw->fd >= 0) {
        zn_disk_close(sw->disk, sw->fd);
        sw->fd = -1;
    }
    (void)zn_disk_unlink(sw->disk, sw->tmp);
}

struct snap_list {
    uint64_t index[SNAP_LIST_MAX];
    uint64_t term[SNAP_LIST_MAX];
    uint32_t n;
    char tmps[4][ZN_DISK_NAME_MAX];
    uint32_t ntmp;
};

static int snap_list_cb(void *arg, const char *name)
{
    struct snap_list *l = arg;
    uint64_t index, term;
    bool tmp;
    if (!snap_parse(name, &index, &term, &tmp)) {
        return 0;
    }
    if (tmp) {
        if (l->ntmp < 4) {
            memcpy(l->tmps[l->ntmp++], name, strlen(name) + 1);
        }
        return 0;
    }
    if (l->n < SNAP_LIST_MAX) {
        /* insertion sort, newest (highest index) first */
        uint32_t j = l->n++;
        while (j > 0 && l->index[j - 1] < index) {
            l->index[j] = l->index[j - 1];
            l->term[j] = l->term[j - 1];
            j--;
        }
        l->index[j] = index;
        l->term[j] = term;
    }
    return 0;
}

int zn_snapfile_commit(struct zn_snapfile_writer *sw, struct zn_snapfile_info *info)
{
    int rc = sw->err;
    uint8_t t[ZN_SNAPFILE_TRAILER_BYTES];
    memset(t, 0, sizeof(t));
    memcpy(t, end_magic, 8);
    wal_put64(t + 8, sw->body_bytes);
    wal_put32(t + 16, sw->crc);
    wal_put32(t + 28, zn_crc32c(0, t, 28));
    if (rc == 0) {
        if (sw->cap - sw->fill < sizeof(t)) {
            rc = sw_flush(sw);
        }
        if (rc == 0) {
            memcpy(sw->buf + sw->fill, t, sizeof(t));
            sw->fill += sizeof(t);
            rc = sw_flush(sw);
        }
    }
    if (rc == 0) {
        rc = zn_disk_fdatasync(sw->disk, sw->fd);
        if (rc != 0) {
            zn_panic("fdatasync of snapshot %s failed: %s (fail-stop)", sw->tmp, zn_strerror(rc));
        }
    }
    if (rc != 0) {
        zn_snapfile_abort(sw);
        return rc;
    }
    zn_disk_close(sw->disk, sw->fd);
    sw->fd = -1;
    rc = zn_disk_rename(sw->disk, sw->tmp, sw->name);
    if (rc == 0) {
        rc = zn_disk_fsync_dir(sw->disk);
        if (rc != 0) {
            zn_panic("directory fsync after renaming %s failed: %s (fail-stop)", sw->name,
                     zn_strerror(rc));
        }
    }
    if (rc != 0) {
        (void)zn_disk_unlink(sw->disk, sw->tmp);
        return rc;
    }
    if (info != NULL) {
        info->index = sw->index;
        info->term = sw->term;
        info->body_bytes = sw->body_bytes;
        memcpy(info->name, sw->name, sizeof(info->name));
    }
    /* Retention: the newest `retain` stay; older ones go (after the new one is durable). */
    struct snap_list l;
    memset(&l, 0, sizeof(l));
    if (zn_disk_list(sw->disk, snap_list_cb, &l) == 0 && l.n > sw->retain) {
        for (uint32_t i = sw->retain; i < l.n; i++) {
            char name[ZN_DISK_NAME_MAX];
            snap_name(name, l.index[i], l.term[i], false);
            (void)zn_disk_unlink(sw->disk, name);
        }
        rc = zn_disk_fsync_dir(sw->disk);
        if (rc != 0) {
            zn_panic("directory fsync after snapshot retention failed: %s", zn_strerror(rc));
        }
    }
    return 0;
}

/* Verify one file completely; fills info. 0, ZN_ECORRUPT, ZN_ECLUSTER, ZN_EVERSION or I/O. */
static int snap_verify(struct zn_disk *disk, const char *name, uint64_t cluster_id,
                       uint32_t node_id, uint8_t *buf, size_t cap, struct zn_snapfile_info *info,
                       uint64_t *bad_off)
{
    int fd;
    int rc = zn_disk_open(disk, name, 0, &fd);
    if (rc != 0) {
        return rc;
    }
    uint64_t size = 0;
    *bad_off = 0;
    rc = zn_disk_size(disk, fd, &size);
    if (rc == 0 && size < ZN_SNAPFILE_HEADER_BYTES + ZN_SNAPFILE_TRAILER_BYTES) {
        rc = ZN_ECORRUPT;
    }
    uint8_t h[ZN_SNAPFILE_HEADER_BYTES], t[ZN_SNAPFILE_TRAILER_BYTES];
    if (rc == 0) {
        rc = zn_disk_read_full(disk, fd, h, sizeof(h), 0);
    }
    if (rc == 0) {
        *bad_off = size - sizeof(t);
        rc = zn_disk_read_full(disk, fd, t, sizeof(t), size - sizeof(t));
    }
    if (rc == 0) {
        *bad_off = 0;
        if (memcmp(h, hdr_magic, 8) != 0 || zn_crc32c(0, h, 60) != wal_get32(h + 60) ||
            wal_get32(h + 12) != ZN_SNAPFILE_HEADER_BYTES) {
            rc = ZN_ECORRUPT;
        } else if (wal_get32(h + 8) != SNAP_VERSION) {
            rc = ZN_EVERSION;
        } else if (wal_get64(h + 16) != cluster_id || wal_get32(h + 24) != node_id) {
            rc = ZN_ECLUSTER;
        }
    }
    if (rc == 0) {
        *bad_off = size - sizeof(t);
        if (memcmp(t, end_magic, 8) != 0 || zn_crc32c(0, t, 28) != wal_get32(t + 28) ||
            wal_get64(t + 8) != size - sizeof(h) - sizeof(t)) {
            rc = ZN_ECORRUPT;
        }
    }
    if (rc == 0) {
        uint32_t crc = 0;
        uint64_t body = size - sizeof(h) - sizeof(t);
        for (uint64_t off = 0; off < body && rc == 0;) {
            size_t n = body - off < cap ? (size_t)(body - off) : cap;
            rc = zn_disk_read_full(disk, fd, buf, n, sizeof(h) + off);
            crc = zn_crc32c(crc, buf, n);
            off += n;
        }
        if (rc == 0 && crc != wal_get32(t + 16)) {
            *bad_off = sizeof(h);
            rc = ZN_ECORRUPT;
        }
        info->index = wal_get64(h + 32);
        info->term = wal_get64(h + 40);
        info->body_bytes = body;
        snprintf(info->name, sizeof(info->name), "%s", name);
    }
    zn_disk_close(disk, fd);
    return rc;
}

int zn_snapfile_latest(struct zn_disk *disk, uint64_t cluster_id, uint32_t node_id, void *buf,
                       size_t cap, struct zn_snapfile_info *info, struct zn_disk_report *rep)
{
    struct snap_list l;
    memset(&l, 0, sizeof(l));
    int rc = zn_disk_list(disk, snap_list_cb, &l);
    if (rc != 0) {
        return zn_disk_report_set(rep, rc, "", 0, "cannot list the data directory");
    }
    for (uint32_t i = 0; i < l.ntmp; i++) {
        (void)zn_disk_unlink(disk, l.tmps[i]); /* interrupted snapshot writes */
    }
    if (l.n == 0) {
        return zn_disk_report_set(rep, ZN_ENOENT, "", 0, "no snapshot file");
    }
    char skipped[ZN_DISK_NAME_MAX] = "";
    uint64_t skipped_off = 0;
    for (uint32_t i = 0; i < l.n; i++) {
        char name[ZN_DISK_NAME_MAX];
        snap_name(name, l.index[i], l.term[i], false);
        uint64_t bad_off = 0;
        rc = snap_verify(disk, name, cluster_id, node_id, buf, cap, info, &bad_off);
        if (rc == ZN_ECLUSTER || rc == ZN_EVERSION) {
            return zn_disk_report_set(rep, rc, name, 16,
                                      "snapshot belongs to another cluster or node, or has an "
                                      "unsupported version: refusing to start");
        }
        if (rc == 0 && (info->index != l.index[i] || info->term != l.term[i])) {
            rc = ZN_ECORRUPT;
        }
        if (rc == 0) {
            if (skipped[0] != '\0') {
                zn_disk_report_set(rep, 0, skipped, skipped_off,
                                   "snapshot %s is damaged (checksum) and was skipped; using %s",
                                   skipped, name);
            } else {
                zn_disk_report_set(rep, 0, name, 0, "snapshot at index %llu",
                                   (unsigned long long)info->index);
            }
            return 0;
        }
        if (rc != ZN_ECORRUPT) {
            return zn_disk_report_set(rep, rc, name, bad_off, "cannot read snapshot: %s",
                                      zn_strerror(rc));
        }
        if (skipped[0] == '\0') {
            memcpy(skipped, name, sizeof(skipped));
            skipped_off = bad_off;
        }
    }
    return zn_disk_report_set(rep, ZN_ECORRUPT, skipped, skipped_off,
                              "no snapshot file verifies (newest damaged: %s)", skipped);
}

int zn_snapfile_read(struct zn_disk *disk, const struct zn_snapfile_info *info, void *buf,
                     size_t cap, zn_snapfile_io_fn fn, void *ctx, struct zn_disk_report *rep)
{
    int fd;
    int rc = zn_disk_open(disk, info->name, 0, &fd);
    if (rc != 0) {
        return zn_disk_report_set(rep, rc, info->name, 0, "cannot open snapshot");
    }
    uint8_t t[ZN_SNAPFILE_TRAILER_BYTES];
    uint64_t body = info->body_bytes;
    rc = zn_disk_read_full(disk, fd, t, sizeof(t), ZN_SNAPFILE_HEADER_BYTES + body);
    uint32_t crc = 0;
    for (uint64_t off = 0; off < body && rc == 0;) {
        size_t n = body - off < cap ? (size_t)(body - off) : cap;
        rc = zn_disk_read_full(disk, fd, buf, n, ZN_SNAPFILE_HEADER_BYTES + off);
        if (rc == 0) {
            crc = zn_crc32c(crc, buf, n);
            rc = fn(ctx, buf, n);
        }
        off += n;
    }
    zn_disk_close(disk, fd);
    if (rc != 0) {
        return zn_disk_report_set(rep, rc, info->name, 0, "snapshot read failed: %s",
                                  zn_strerror(rc));
    }
    if (crc != wal_get32(t + 16)) {
        return zn_disk_report_set(rep, ZN_ECORRUPT, info->name, ZN_SNAPFILE_HEADER_BYTES,
                                  "snapshot body changed since it was verified (checksum)");
    }
    return 0;
}

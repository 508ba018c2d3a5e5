/*
 * wal.c - the write-ahead log: appends into a batch, group commit through disk jobs, suffix
 * truncation and prefix compaction. Recovery lives in wal_recover.c; the byte layout in
 * wal_format.h and docs/disk-format.md.
 *
 * Group commit. Two batch buffers: the WAL stage fills the open one (records are fully encoded,
 * CRC-chained, at append time - their file offset is already known) while the other one is in
 * flight as ONE job: [create the next segment if the batch starts one] -> pwrite the batch ->
 * fdatasync -> [write the hard state slot -> fdatasync]. Only when the job finished does
 * zn_wal_poll report persisted(index, term) and release the items deferred with that batch
 * (replies, vote grants, append acks): nothing is acknowledged before it is durable.
 *
 * Why batches never span segments: with one job in flight at a time, everything before a batch
 * was fdatasynced before the batch was written. So a segment that has a successor was complete
 * and synced when the successor was created, and in the last segment only the last batch can be
 * torn. Recovery relies on both facts (wal_recover.c). Each record carries the first index of its
 * batch, so recovery can tell "the damaged record was in an earlier, synced batch" (corruption)
 * from "damage inside the last, possibly unsynced batch" (a torn tail).
 *
 * Spare segments. A batch that starts a segment normally starts it in the SPARE: a file
 * "wal-spare.seg" of exactly segment_bytes that the disk's background runner (disk.h) wrote with
 * zeros, fdatasynced, renamed from wal-spare.tmp and made durable with a directory fsync - all
 * off the commit path, while the previous segment fills. Zeros, not fallocate: a fallocated
 * extent is "unwritten" and ext4 converts it on the first write into it, a metadata change that
 * every fdatasync touching a new block must journal (about 2x the latency of an fdatasync into
 * written blocks, docs/PERFORMANCE.md "WAL"). The rotation then costs the batch nothing extra:
 * the header and the batch are written into the spare at offset 0, ONE fdatasync (the file's
 * size and blocks do not change: no metadata), then a rename to wal-<first>.seg that is NOT
 * synced (a few microseconds, no device flush). Only now is the batch acknowledged. A crash
 * before that rename is durable leaves the segment under the spare name with a valid header:
 * recovery adopts it (wal_recover.c). A spare's header is all zeros until then, so a zero header
 * tells "never started" (or a rotation that did not reach its fdatasync: never acknowledged) from
 * a started segment. The next background preparation begins with a directory fsync, making the
 * rotation's rename durable before a new wal-spare.seg can appear. Compaction recycles the oldest
 * segment it removes as wal-spare.tmp when no spare exists (a rename instead of an unlink); the
 * preparation then overwrites it with zeros like a new file, so stale records never reach a file
 * named wal-spare.seg and the "zeros after the last record" rule of recovery holds for every
 * segment. A preparation starts once the active segment is a quarter full (spare_service). The
 * active segment is kept in zero-filled files: when one had to be fallocated (no
 * spare was ready, a truncation re-preallocated it), the first batch after a spare becomes ready
 * rotates early into it.
 *
 * Fallback (no spare ready: the first segment of a fresh log, a preparation still running or
 * failed for lack of space, a disk without a background runner): the batch creates the segment
 * itself as wal-<first>.tmp, preallocated (fallocate: an fdatasync into a preallocated file costs
 * ~0.12 ms against ~4 ms for a growing one, dpdk-notes.md), header and batch written, ONE
 * fdatasync, renamed to wal-<first>.seg, directory fsynced - only then is the batch acknowledged.
 * A wal-<first>.seg name therefore always had a durable valid header (the crash matrix fails if
 * the rename comes before the fdatasync).
 *
 * Fail-stop: EIO from a write or fdatasync panics (a retried fsync can report success for data
 * the kernel already dropped). ENOSPC (only possible when creating a segment, the rest is
 * preallocated) is returned by zn_wal_poll and the batch is retried by the next zn_wal_flush.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "common/zn_err.h"
#include "store/wal_internal.h"

/* ---- encoding helpers (declared in wal_format.h) ------------------------------------------- */

int wal_seg_header_decode(const uint8_t in[WAL_SEG_HDR], struct wal_seg_header *h)
{
    if (wal_get64(in) != WAL_SEG_MAGIC || zn_crc32c(0, in, 60) != wal_get32(in + 60)) {
        return ZN_ECORRUPT;
    }
    if (wal_get32(in + 12) != WAL_SEG_HDR) {
        return ZN_ECORRUPT;
    }
    for (int i = 52; i < 60; i++) {
        if (in[i] != 0) {
            return ZN_ECORRUPT;
        }
    }
    if (wal_get32(in + 28) != 0) {
        return ZN_ECORRUPT;
    }
    if (wal_get32(in + 8) != WAL_VERSION) {
        return ZN_EVERSION;
    }
    h->cluster_id = wal_get64(in + 16);
    h->node_id = wal_get32(in + 24);
    h->first_index = wal_get64(in + 32);
    h->prev_term = wal_get64(in + 40);
    h->prev_crc = wal_get32(in + 48);
    h->crc = wal_get32(in + 60);
    return 0;
}

uint32_t wal_record_encode(uint8_t *out, uint32_t seed, uint16_t type, uint64_t term,
                           uint64_t index, uint64_t batch_first, const void *payload, uint32_t len)
{
    uint64_t size = wal_record_size(len);
    wal_put32(out + 0, len);
    wal_put16(out + 4, type);
    wal_put16(out + 6, WAL_REC_MAGIC);
    wal_put64(out + 8, term);
    wal_put64(out + 16, index);
    wal_put64(out + 24, batch_first);
    if (len > 0) {
        memcpy(out + WAL_REC_HDR, payload, len);
    }
    memset(out + WAL_REC_HDR + len, 0, size - 4 - WAL_REC_HDR - len);
    uint32_t crc = zn_crc32c(seed, out, size - 4);
    wal_put32(out + size - 4, crc);
    return crc;
}

void wal_seg_name(char *out, size_t cap, uint64_t first_index, bool tmp)
{
    snprintf(out, cap, "%s%016llx%s", WAL_SEG_PREFIX, (unsigned long long)first_index,
             tmp ? WAL_SEG_TMP_SUFFIX : WAL_SEG_SUFFIX);
}

bool wal_seg_name_parse(const char *name, uint64_t *first, bool *tmp)
{
    size_t n = strlen(name);
    size_t pl = strlen(WAL_SEG_PREFIX);
    if (n != pl + 16 + 4 || strncmp(name, WAL_SEG_PREFIX, pl) != 0) {
        return false;
    }
    const char *suffix = name + pl + 16;
    if (strcmp(suffix, WAL_SEG_SUFFIX) == 0) {
        *tmp = false;
    } else if (strcmp(suffix, WAL_SEG_TMP_SUFFIX) == 0) {
        *tmp = true;
    } else {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = pl; i < pl + 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return false;
        }
        v = (v << 4) | (uint64_t)d;
    }
    *first = v;
    return true;
}

void wal_seg_file_name(const struct wal_seg *s, char out[ZN_DISK_NAME_MAX])
{
    wal_seg_name(out, ZN_DISK_NAME_MAX, s->first_index, false);
}

/* ---- the batch job (runs on the disk's job runner) ----------------------------------------- */

static struct wal_seg *active_seg(struct zn_wal *w)
{
    ZN_ASSERT(w->nsegs > 0);
    return &w->segs[w->nsegs - 1];
}

static void fail_stop(const char *what, const char *file, uint64_t off, int rc)
{
    zn_panic("WAL %s of %s at offset %llu failed: %s - stopping (fail-stop: after a failed "
             "write or fsync the kernel may have dropped the data, a retry could silently "
             "lose acknowledged entries)",
             what, file, (unsigned long long)off, zn_strerror(rc));
}

/* Make the batch's segment the active one (after its header and records are durable). */
static void install_segment(struct zn_wal *w, struct wal_batch *b, int fd)
{
    ZN_ASSERT(w->nsegs < ZN_WAL_SEGMENTS_MAX);
    if (w->nsegs > 0 && active_seg(w)->fd >= 0) {
        zn_disk_close(w->disk, active_seg(w)->fd);
        active_seg(w)->fd = -1;
    }
    struct wal_seg *s = &w->segs[w->nsegs++];
    *s = b->new_seg;
    s->fd = fd;
    if (b->len > 0) {
        s->last_index = b->last_index;
        s->last_term = b->last_term;
        s->end_off = b->off + b->len;
        s->end_crc = b->end_crc;
    }
}

/*
 * Start the batch's segment in the ready spare: header + records at offset 0 of a zero-filled
 * file of the right size, ONE fdatasync (no metadata changes), then the rename to its segment
 * name (not synced: recovery adopts a started spare, the next preparation syncs the directory).
 */
static int job_spare_segment(struct zn_wal *w, struct wal_batch *b)
{
    char name[ZN_DISK_NAME_MAX];
    wal_seg_name(name, sizeof(name), b->new_seg.first_index, false);
    int fd = b->spare_fd;
    int rc = zn_disk_pwrite(w->disk, fd, b->seg_hdr, WAL_SEG_HDR, 0);
    if (rc == 0 && b->len > 0) {
        ZN_ASSERT(b->off == WAL_SEG_HDR && b->off + b->len <= w->segment_bytes);
        rc = zn_disk_pwrite(w->disk, fd, b->buf, b->len, b->off);
    }
    if (rc == ZN_EIO) {
        fail_stop("write", WAL_SPARE_NAME, 0, rc);
    }
    if (rc != 0) {
        return rc; /* ENOSPC (a file system that allocates on overwrite): retried */
    }
    rc = zn_disk_fdatasync(w->disk, fd);
    if (rc != 0) {
        fail_stop("fdatasync", WAL_SPARE_NAME, 0, rc);
    }
    rc = zn_disk_rename(w->disk, WAL_SPARE_NAME, name);
    if (rc != 0) {
        /* the batch is durable under the spare's name, which recovery adopts; going on would
         * leave the segment table naming a file that does not exist */
        fail_stop("rename to its segment name", WAL_SPARE_NAME, 0, rc);
    }
    install_segment(w, b, fd);
    b->spare_fd = -1;
    return 0;
}

/*
 * Start the batch's new segment and write the batch into it: create wal-<first>.tmp,
 * preallocate, header + records, ONE fdatasync, rename to wal-<first>.seg, fsync the directory.
 * The .seg name thus only appears with a durable header (and records); a crash before the rename
 * leaves a .tmp that recovery deletes (its records were never acknowledged). One flush fewer than
 * syncing the header on its own.
 */
static int job_new_segment(struct zn_wal *w, struct wal_batch *b)
{
    char tmp[ZN_DISK_NAME_MAX], name[ZN_DISK_NAME_MAX];
    wal_seg_name(tmp, sizeof(tmp), b->new_seg.first_index, true);
    wal_seg_name(name, sizeof(name), b->new_seg.first_index, false);
    (void)zn_disk_unlink(w->disk, tmp);
    int fd;
    int rc = zn_disk_open(w->disk, tmp, ZN_DISK_CREATE, &fd);
    if (rc != 0) {
        return rc;
    }
    rc = zn_disk_fallocate(w->disk, fd, 0, w->segment_bytes);
    if (rc == 0) {
        rc = zn_disk_pwrite(w->disk, fd, b->seg_hdr, WAL_SEG_HDR, 0);
    }
    if (rc == 0 && b->len > 0) {
        ZN_ASSERT(b->off == WAL_SEG_HDR && b->off + b->len <= w->segment_bytes);
        rc = zn_disk_pwrite(w->disk, fd, b->buf, b->len, b->off);
    }
    if (rc == ZN_EIO) {
        fail_stop("write", tmp, 0, rc);
    }
    if (rc == 0) {
        rc = zn_disk_fdatasync(w->disk, fd);
        if (rc != 0) {
            fail_stop("fdatasync", tmp, 0, rc);
        }
        rc = zn_disk_rename(w->disk, tmp, name);
    }
    if (rc == 0) {
        rc = zn_disk_fsync_dir(w->disk);
        if (rc != 0) {
            fail_stop("directory fsync", name, 0, rc);
        }
    }
    if (rc != 0) {
        zn_disk_close(w->disk, fd);
        (void)zn_disk_unlink(w->disk, tmp);
        return rc;
    }
    install_segment(w, b, fd);
    return 0;
}

static void wal_job(void *arg)
{
    struct wal_batch *b = arg;
    struct zn_wal *w = b->wal;
    b->result = 0;
    if (b->rotate && !b->rotated) {
        /* writes the batch too */
        int rc = b->use_spare ? job_spare_segment(w, b) : job_new_segment(w, b);
        if (rc != 0) {
            b->result = rc;
            return;
        }
        b->rotated = true;
    } else if (b->len > 0) {
        struct wal_seg *s = active_seg(w);
        char name[ZN_DISK_NAME_MAX];
        wal_seg_file_name(s, name);
        ZN_ASSERT(s->fd >= 0 && b->off + b->len <= w->segment_bytes);
        int rc = zn_disk_pwrite(w->disk, s->fd, b->buf, b->len, b->off);
        if (rc == ZN_ENOSPC) {
            b->result = rc;
            return;
        }
        if (rc != 0) {
            fail_stop("write", name, b->off, rc);
        }
        rc = zn_disk_fdatasync(w->disk, s->fd);
        if (rc != 0) {
            fail_stop("fdatasync", name, b->off, rc);
        }
        s->last_index = b->last_index;
        s->last_term = b->last_term;
        s->end_off = b->off + b->len;
        s->end_crc = b->end_crc;
    }
    if (b->has_hs) {
        ZN_ASSERT(w->hardstate != NULL);
        int rc = zn_hardstate_write(w->hardstate, &b->hs);
        if (rc != 0) {
            b->result = rc;
        }
    }
}

/* ---- spare segments (the background job and its WAL-stage side) ------------------------------ */

/* Read-only source of the zero-fill (never written: .bss). */
static uint8_t spare_zeros[ZN_WAL_SPARE_CHUNK_BYTES];

/*
 * Background job: make WAL_SPARE_NAME a durable, zero-filled file of j->bytes. Steps: directory
 * fsync (a rotation's rename to its segment name becomes durable before a new spare name can
 * appear), wal-spare.tmp created (or a recycled segment reused), zeros written over all of it
 * with an fdatasync every ZN_WAL_SPARE_SYNC_BYTES, a final fdatasync, rename to wal-spare.seg,
 * directory fsync. A crash anywhere leaves either no spare (the .tmp is deleted by recovery) or a
 * complete one. EIO is fail-stop like everywhere in the WAL; ENOSPC (or a stop for zn_wal_close)
 * removes the .tmp and reports failure.
 */
static void spare_job(void *arg)
{
    struct wal_spare_job *j = arg;
    struct zn_wal *w = j->wal;
    struct zn_disk bd = zn_disk_bg_disk(w->disk); /* under any metrics wrapper */
    struct zn_disk *d = &bd;
    j->fd = -1;
    int rc = zn_disk_fsync_dir(d);
    if (rc != 0) {
        fail_stop("directory fsync", "data directory", 0, rc);
    }
    int fd = -1;
    if (j->reuse_tmp) {
        rc = zn_disk_open(d, WAL_SPARE_TMP, 0, &fd);
        if (rc == 0) {
            rc = zn_disk_truncate(d, fd, j->bytes);
            if (rc != 0) {
                zn_disk_close(d, fd);
                fd = -1;
            }
        }
    }
    if (fd < 0) {
        (void)zn_disk_unlink(d, WAL_SPARE_TMP);
        rc = zn_disk_open(d, WAL_SPARE_TMP, ZN_DISK_CREATE | ZN_DISK_EXCL, &fd);
        if (rc != 0) {
            j->result = rc;
            return;
        }
    }
    uint64_t since_sync = 0;
    for (uint64_t off = 0; off < j->bytes && rc == 0;) {
        if (atomic_load_explicit(&w->closing, memory_order_relaxed)) {
            rc = ZN_ECANCELED;
            break;
        }
        uint64_t n = j->bytes - off < sizeof(spare_zeros) ? j->bytes - off : sizeof(spare_zeros);
        rc = zn_disk_pwrite(d, fd, spare_zeros, n, off);
        off += n;
        since_sync += n;
        if (rc == 0 && (since_sync >= ZN_WAL_SPARE_SYNC_BYTES || off == j->bytes)) {
            rc = zn_disk_fdatasync(d, fd);
            if (rc != 0) {
                fail_stop("fdatasync", WAL_SPARE_TMP, off, rc);
            }
            since_sync = 0;
        }
    }
    if (rc == ZN_EIO) {
        fail_stop("write", WAL_SPARE_TMP, 0, rc);
    }
    if (rc == 0) {
        rc = zn_disk_rename(d, WAL_SPARE_TMP, WAL_SPARE_NAME);
    }
    if (rc == 0) {
        rc = zn_disk_fsync_dir(d);
        if (rc != 0) {
            fail_stop("directory fsync", WAL_SPARE_NAME, 0, rc);
        }
        j->fd = fd;
        j->result = 0;
        return;
    }
    zn_disk_close(d, fd);
    (void)zn_disk_unlink(d, WAL_SPARE_TMP);
    j->result = rc;
}

void wal_spare_adopt(struct zn_wal *w, int fd)
{
    ZN_ASSERT(w->spare_state == WAL_SPARE_NONE);
    w->spare_fd = fd;
    w->spare_state = WAL_SPARE_READY;
}

/* WAL stage: harvest a finished preparation; start one when there is no spare. Preparations
 * never overlap a log-wide operation's start (a compaction may recycle into wal-spare.tmp). */
static void spare_service(struct zn_wal *w)
{
    if (!zn_disk_has_bg(w->disk)) {
        return;
    }
    if (w->spare_state == WAL_SPARE_PREPARING) {
        void *arg;
        if (zn_disk_bg_poll(w->disk, &arg, 1) != 1) {
            return;
        }
        ZN_ASSERT(arg == &w->spare_job);
        if (w->spare_job.result == 0) {
            w->spare_state = WAL_SPARE_READY;
            w->spare_fd = w->spare_job.fd;
            w->stats.spares_prepared++;
            w->stats.spares_recycled += w->spare_job.reuse_tmp;
        } else {
            w->spare_state = WAL_SPARE_NONE;
            w->spare_failed = true;
            w->stats.spare_failures++;
        }
        w->spare_recycled = false;
    }
    if (w->spare_state != WAL_SPARE_NONE || w->spare_failed || w->op_in_flight) {
        return;
    }
    /* When: once the active segment is a quarter full - long before it rotates, yet a node that
     * writes less (a test, a short-lived member) never zero-fills a segment, and a fresh node's
     * first commits do not share the disk with a 64 MiB zero-fill (measured: a start-up
     * preparation made the first commits of three fresh nodes on one disk 3-20x slower). The
     * first segment of a log is therefore fallocated in the commit path, and left for the spare
     * as soon as that is ready (active_slow). At once: spare_eager, or a compaction recycled a
     * segment (a node that has filled segments; the file is already allocated). */
    uint64_t fill = w->need_segment ? 0 : w->tail_off - WAL_SEG_HDR;
    if (!w->spare_eager && !w->spare_recycled && fill < (w->segment_bytes - WAL_SEG_HDR) / 4) {
        return;
    }
    /* A batch that took the spare renames wal-spare.seg in its job: a new spare may take that
     * name only after the job is done (and, after ENOSPC, retried). */
    if ((w->in_flight != NULL && w->in_flight->use_spare) ||
        (w->failed != NULL && w->failed->use_spare && !w->failed->rotated)) {
        return;
    }
    w->spare_job = (struct wal_spare_job){
        .wal = w, .bytes = w->segment_bytes, .reuse_tmp = w->spare_recycled, .fd = -1};
    if (zn_disk_bg_submit(w->disk, spare_job, &w->spare_job) == 0) {
        w->spare_state = WAL_SPARE_PREPARING;
    }
}

void zn_wal_stats(const struct zn_wal *w, struct zn_wal_stats *out)
{
    *out = w->stats;
    out->spare_ready = w->spare_state == WAL_SPARE_READY;
    out->spare_preparing = w->spare_state == WAL_SPARE_PREPARING;
}

/* ---- open / close -------------------------------------------------------------------------- */

static void batch_reset(struct wal_batch *b)
{
    b->len = 0;
    b->off = 0;
    b->first_index = 0;
    b->last_index = 0;
    b->last_term = 0;
    b->rotate = false;
    b->rotated = false;
    b->use_spare = false;
    b->spare_fd = -1;
    b->nitems = 0;
    b->has_hs = false;
    b->result = 0;
}

static void wal_free(struct zn_wal *w)
{
    struct zn_allocator a = w->alloc;
    if (w->spare_state == WAL_SPARE_READY) {
        zn_disk_close(w->disk, w->spare_fd); /* adopted by a recovery that then refused */
    }
    for (int i = 0; i < 2; i++) {
        if (w->b[i].buf != NULL) {
            a.release(a.ctx, w->b[i].buf, w->b[i].cap);
        }
        if (w->b[i].items != NULL) {
            a.release(a.ctx, w->b[i].items, ZN_WAL_BATCH_WAITERS_MAX * sizeof(void *));
        }
    }
    if (w->rsegs != NULL) {
        a.release(a.ctx, w->rsegs, ZN_WAL_SEGMENTS_MAX * sizeof(struct wal_rseg));
    }
    if (w->released != NULL) {
        a.release(a.ctx, w->released, ZN_WAL_BATCH_WAITERS_MAX * sizeof(void *));
    }
    if (w->segs != NULL) {
        for (uint32_t i = 0; i < w->nsegs; i++) {
            if (w->segs[i].fd >= 0) {
                zn_disk_close(w->disk, w->segs[i].fd);
            }
        }
        a.release(a.ctx, w->segs, ZN_WAL_SEGMENTS_MAX * sizeof(struct wal_seg));
    }
    a.release(a.ctx, w, sizeof(*w));
}

int zn_wal_open(struct zn_wal **out, const struct zn_wal_config *cfg, zn_wal_entry_fn on_entry,
                void *ctx, struct zn_wal_recovery *rec)
{
    memset(rec, 0, sizeof(*rec));
    *out = NULL;
    uint32_t entry_max = cfg->entry_bytes_max ? cfg->entry_bytes_max : ZN_WAL_ENTRY_BYTES_MAX;
    uint64_t batch = cfg->batch_bytes ? cfg->batch_bytes : ZN_WAL_BATCH_BYTES_DEFAULT;
    uint64_t seg = cfg->segment_bytes ? cfg->segment_bytes : ZN_WAL_SEGMENT_BYTES_DEFAULT;
    uint64_t cap = batch + wal_record_size(entry_max);
    if (entry_max > ZN_WAL_ENTRY_BYTES_MAX || seg < WAL_SEG_HDR + cap || cfg->node_id == 0 ||
        cfg->disk == NULL) {
        return zn_disk_report_set(&rec->report, ZN_EINVAL, "", 0,
                                  "invalid WAL configuration (segment must hold header + batch "
                                  "+ one maximal record, node id >= 1)");
    }
    const struct zn_allocator *a = &cfg->alloc;
    struct zn_wal *w = a->alloc(a->ctx, sizeof(*w));
    if (w == NULL) {
        return zn_disk_report_set(&rec->report, ZN_ENOMEM, "", 0, "out of memory");
    }
    memset(w, 0, sizeof(*w));
    w->disk = cfg->disk;
    w->alloc = *a;
    w->cluster_id = cfg->cluster_id;
    w->node_id = cfg->node_id;
    w->segment_bytes = seg;
    w->batch_bytes = batch;
    w->entry_bytes_max = entry_max;
    w->hardstate = cfg->hardstate;
    w->spare_fd = -1;
    w->spare_state = WAL_SPARE_NONE;
    w->spare_eager = cfg->spare_eager;
    atomic_init(&w->closing, false);
    w->segs = a->alloc(a->ctx, ZN_WAL_SEGMENTS_MAX * sizeof(struct wal_seg));
    w->rsegs = a->alloc(a->ctx, ZN_WAL_SEGMENTS_MAX * sizeof(struct wal_rseg));
    w->released = a->alloc(a->ctx, ZN_WAL_BATCH_WAITERS_MAX * sizeof(void *));
    bool ok = w->segs != NULL && w->rsegs != NULL && w->released != NULL;
    for (int i = 0; i < 2 && ok; i++) {
        w->b[i].wal = w;
        w->b[i].cap = cap;
        w->b[i].buf = a->alloc(a->ctx, cap);
        w->b[i].items = a->alloc(a->ctx, ZN_WAL_BATCH_WAITERS_MAX * sizeof(void *));
        ok = w->b[i].buf != NULL && w->b[i].items != NULL;
        batch_reset(&w->b[i]);
    }
    if (!ok) {
        wal_free(w);
        return zn_disk_report_set(&rec->report, ZN_ENOMEM, "", 0, "out of memory");
    }
    int rc = wal_recover(w, cfg, on_entry, ctx, rec);
    if (rc != 0) {
        wal_free(w);
        return rc;
    }
    wal_rsegs_sync(w);
    spare_service(w); /* a spare starts preparing now if one is due and recovery found none */
    *out = w;
    return 0;
}

void zn_wal_close(struct zn_wal *w)
{
    if (w == NULL) {
        return;
    }
    /* The job owns buffers and files: wait for it (one job, bounded by the disk; yield the CPU
     * to the syncer meanwhile). */
    while (w->in_flight != NULL || w->op_in_flight) {
        void *arg;
        if (zn_disk_job_poll(w->disk, &arg, 1) == 1) {
            if (arg == &w->op) {
                w->op_in_flight = false;
            } else {
                w->in_flight = NULL;
            }
        } else {
            sched_yield();
        }
    }
    /* A spare being prepared stops at its next chunk (its .tmp is deleted by the job or, after
     * a crash, by recovery); a ready spare stays on disk for the next open. */
    atomic_store_explicit(&w->closing, true, memory_order_relaxed);
    while (w->spare_state == WAL_SPARE_PREPARING) {
        void *arg;
        if (zn_disk_bg_poll(w->disk, &arg, 1) == 1) {
            ZN_ASSERT(arg == &w->spare_job);
            w->spare_state = WAL_SPARE_NONE;
            if (w->spare_job.result == 0) {
                zn_disk_close(w->disk, w->spare_job.fd);
            }
        } else {
            sched_yield();
        }
    }
    if (w->spare_state == WAL_SPARE_READY) {
        zn_disk_close(w->disk, w->spare_fd);
        w->spare_state = WAL_SPARE_NONE;
    }
    for (int i = 0; i < 2; i++) {
        if (w->b[i].spare_fd >= 0) {
            zn_disk_close(w->disk, w->b[i].spare_fd); /* a spare handed to a batch never run */
            w->b[i].spare_fd = -1;
        }
    }
    wal_free(w);
}

/* ---- append / group commit ------------------------------------------------------------------ */

static struct wal_batch *open_batch(struct zn_wal *w)
{
    return &w->b[w->open_b];
}

int zn_wal_append(struct zn_wal *w, uint16_t type, uint64_t term, uint64_t index,
                  const void *payload, uint32_t len)
{
    if (w->op_in_flight && w->op.kind != ZN_WAL_OP_COMPACT) {
        return ZN_EBUSY; /* a truncation or reset owns the tail until zn_wal_poll reports it */
    }
    if (w->repair) {
        return ZN_EREPAIR;
    }
    if (index != w->last_index + 1 || term < w->last_term || type == 0 || term == 0) {
        return ZN_EINVAL;
    }
    if (len > w->entry_bytes_max) {
        return ZN_ELIMIT;
    }
    struct wal_batch *b = open_batch(w);
    if (w->failed == b) {
        return ZN_EFULL; /* cannot happen: the failed batch is never the open one */
    }
    uint64_t rsize = wal_record_size(len);
    /* leave a fallocated active segment for the zero-filled spare as soon as it is ready (at a
     * batch boundary, and only once the active segment holds an entry) */
    bool early = w->active_slow && w->spare_state == WAL_SPARE_READY && b->len == 0 && !b->rotate &&
                 !w->need_segment && w->tail_off > WAL_SEG_HDR;
    if (w->need_segment || w->tail_off + rsize > w->segment_bytes || early) {
        if (b->len > 0 || b->rotate) {
            return ZN_EFULL; /* this batch is bound to the current segment */
        }
        if (early) {
            w->stats.rotations_early++;
        }
        ZN_ASSERT(WAL_SEG_HDR + rsize <= w->segment_bytes);
        struct wal_seg_header h = {
            .cluster_id = w->cluster_id,
            .node_id = w->node_id,
            .first_index = index,
            .prev_term = w->last_term,
            .prev_crc = w->chain_crc,
        };
        wal_seg_header_encode(b->seg_hdr, &h);
        b->rotate = true;
        b->new_seg = (struct wal_seg){
            .first_index = index,
            .last_index = index - 1,
            .last_term = w->last_term,
            .end_off = WAL_SEG_HDR,
            .end_crc = h.crc,
            .hdr_crc = h.crc,
            .prev_term = w->last_term,
            .fd = -1,
        };
        w->chain_crc = h.crc;
        w->tail_off = WAL_SEG_HDR;
        w->need_segment = false;
    }
    if (b->len + rsize > b->cap) {
        return ZN_EFULL;
    }
    if (b->len == 0) {
        b->off = w->tail_off;
        b->first_index = index;
    }
    w->chain_crc = wal_record_encode(b->buf + b->len, w->chain_crc, type, term, index,
                                     b->first_index, payload, len);
    b->len += rsize;
    b->last_index = index;
    b->last_term = term;
    b->end_crc = w->chain_crc;
    w->tail_off += rsize;
    w->last_index = index;
    w->last_term = term;
    return 0;
}

int zn_wal_defer(struct zn_wal *w, void *item)
{
    struct wal_batch *b = open_batch(w);
    if (b->nitems >= ZN_WAL_BATCH_WAITERS_MAX) {
        return ZN_EFULL;
    }
    b->items[b->nitems++] = item;
    return 0;
}

void zn_wal_set_hardstate(struct zn_wal *w, const struct zn_hardstate *hs)
{
    ZN_ASSERT(w->hardstate != NULL);
    struct wal_batch *b = open_batch(w);
    b->hs = *hs;
    b->has_hs = true;
}

int zn_wal_flush(struct zn_wal *w)
{
    if (w->in_flight != NULL || w->op_in_flight) {
        return 0;
    }
    struct wal_batch *b = w->failed;
    if (b == NULL) {
        b = open_batch(w);
        if (b->len == 0 && b->nitems == 0 && !b->has_hs && !b->rotate) {
            return 0;
        }
    }
    if (b->has_hs) {
        /* The commit hint is a promise that the log holds entries up to it: never let it run
         * ahead of what is durable once this batch is (a follower may know a higher commit
         * index than it has entries for; recovery would then refuse as "entries missing"). */
        uint64_t durable_after = b->first_index != 0 ? b->last_index : w->durable_index;
        if (b->hs.commit > durable_after) {
            b->hs.commit = durable_after;
        }
    }
    bool took_spare = false;
    if (b->rotate && !b->rotated && !b->use_spare && w->spare_state == WAL_SPARE_READY) {
        /* the job owns the spare from here; a retry after ENOSPC keeps it */
        b->use_spare = true;
        b->spare_fd = w->spare_fd;
        w->spare_fd = -1;
        w->spare_state = WAL_SPARE_NONE;
        took_spare = true;
    }
    int rc = zn_disk_job_submit(w->disk, wal_job, b);
    if (rc != 0 && took_spare) {
        w->spare_fd = b->spare_fd;
        w->spare_state = WAL_SPARE_READY;
        b->use_spare = false;
        b->spare_fd = -1;
    }
    if (rc != 0) {
        return rc;
    }
    w->in_flight = b;
    if (b == w->failed) {
        w->failed = NULL;
    } else {
        w->open_b ^= 1;
        ZN_ASSERT(open_batch(w)->len == 0 && open_batch(w)->nitems == 0);
    }
    return 1;
}

static void op_finish(struct zn_wal *w, struct zn_wal_persisted *out);

int zn_wal_poll(struct zn_wal *w, struct zn_wal_persisted *out)
{
    spare_service(w);
    if (w->in_flight == NULL && !w->op_in_flight) {
        return 0;
    }
    void *arg;
    if (zn_disk_job_poll(w->disk, &arg, 1) != 1) {
        return 0;
    }
    if (arg == &w->op) {
        op_finish(w, out);
        return 1;
    }
    struct wal_batch *b = arg;
    ZN_ASSERT(b == w->in_flight);
    w->in_flight = NULL;
    if (b->result != 0) {
        w->failed = b;
        return b->result;
    }
    if (b->rotate) {
        wal_rsegs_sync(w); /* nothing is in flight now: the table is ours to read */
        if (b->use_spare) {
            w->stats.rotations_spare++;
            w->active_slow = false;
        } else {
            w->stats.rotations_created++;
            w->active_slow = true;   /* fallocated: leave it once a spare is ready */
            w->spare_failed = false; /* a segment fitted: a spare may fit again */
        }
    }
    if (b->first_index != 0) {
        ZN_ASSERT(b->first_index == w->durable_index + 1);
        w->durable_index = b->last_index;
        w->durable_term = b->last_term;
    }
    memset(out, 0, sizeof(*out));
    out->index = w->durable_index;
    out->term = w->durable_term;
    out->hardstate = b->has_hs;
    if (b->nitems > 0) {
        memcpy(w->released, b->items, b->nitems * sizeof(void *));
    }
    out->items = w->released;
    out->nitems = b->nitems;
    batch_reset(b);
    return 1;
}

bool zn_wal_pending(const struct zn_wal *w)
{
    return zn_disk_job_finished(w->disk);
}

bool zn_wal_idle(const struct zn_wal *w)
{
    const struct wal_batch *b = &w->b[w->open_b];
    return w->in_flight == NULL && !w->op_in_flight && w->failed == NULL && b->len == 0 &&
           b->nitems == 0 && !b->has_hs && !b->rotate;
}

uint64_t zn_wal_last_index(const struct zn_wal *w)
{
    return w->last_index;
}

uint64_t zn_wal_durable_index(const struct zn_wal *w)
{
    return w->durable_index;
}

uint64_t zn_wal_first_index(const struct zn_wal *w)
{
    return w->first_index;
}

uint32_t zn_wal_segment_count(const struct zn_wal *w)
{
    return w->nsegs;
}

/* ---- truncation, compaction, reset (jobs), reading (idle WAL) ---------------------------------- */

static int seg_open_fd(struct zn_wal *w, struct wal_seg *s)
{
    if (s->fd >= 0) {
        return 0;
    }
    char name[ZN_DISK_NAME_MAX];
    wal_seg_file_name(s, name);
    return zn_disk_open(w->disk, name, 0, &s->fd);
}

/* Job side of a truncation (arguments validated by the submitter). */
static int op_truncate(struct zn_wal *w, uint64_t index)
{
    if (index == w->last_index + 1 && !w->repair) {
        return 0;
    }
    uint32_t k = w->nsegs;
    while (k > 0 && w->segs[k - 1].first_index > index) {
        k--;
    }
    if (k == 0) {
        return ZN_EINVAL;
    }
    k--; /* segs[k] holds `index` (or ends right before it) */
    /* A segment starting exactly at `index` goes entirely (its header would chain to entries
     * that no longer exist). */
    bool whole = w->segs[k].first_index == index;
    uint32_t keep = whole ? k : k + 1;
    uint64_t k_prev_term = w->segs[k].prev_term;
    /* 1. Later segments go first, newest first, and the directory is synced: a crash leaves a
     *    prefix of the old log (directory changes persist in order). */
    bool unlinked = false;
    while (w->nsegs > keep) {
        struct wal_seg *s = &w->segs[w->nsegs - 1];
        char name[ZN_DISK_NAME_MAX];
        wal_seg_file_name(s, name);
        if (s->fd >= 0) {
            zn_disk_close(w->disk, s->fd);
            s->fd = -1;
        }
        int rc = zn_disk_unlink(w->disk, name);
        if (rc != 0 && rc != ZN_ENOENT) {
            return rc;
        }
        w->nsegs--;
        unlinked = true;
    }
    if (unlinked) {
        int rc = zn_disk_fsync_dir(w->disk);
        if (rc != 0) {
            fail_stop("directory fsync", "data directory", 0, rc);
        }
    }
    if (whole) {
        if (keep == 0) {
            w->need_segment = true;
            w->chain_crc = 0;
            w->last_term = index - 1 == w->snapshot_index ? w->snapshot_term : k_prev_term;
            w->first_index = index;
        } else {
            struct wal_seg *p = &w->segs[keep - 1];
            if (p->last_index + 1 != index) {
                return ZN_ECORRUPT;
            }
            int rc = seg_open_fd(w, p);
            if (rc != 0) {
                return rc;
            }
            w->last_term = p->last_term;
            w->chain_crc = p->end_crc;
            w->tail_off = p->end_off;
            w->need_segment = false;
        }
        w->last_index = index - 1;
        if (w->durable_index > index - 1) {
            w->durable_index = index - 1;
            w->durable_term = w->last_term;
        }
        if (w->repair && index <= w->damaged_first) {
            w->repair = false;
        }
        return 0;
    }
    /* 2. Find where `index` starts in segs[k]. */
    struct wal_seg *s = &w->segs[k];
    int rc = seg_open_fd(w, s);
    if (rc != 0) {
        return rc;
    }
    uint64_t fsize;
    rc = zn_disk_size(w->disk, s->fd, &fsize);
    if (rc != 0) {
        return rc;
    }
    struct wal_scan sc = {
        .fd = s->fd,
        .size = fsize,
        .first_index = s->first_index,
        .prev_term = s->prev_term,
        .seed = s->hdr_crc,
        .stop_before = index,
    };
    rc = wal_scan_records(w, &sc);
    if (rc != 0) {
        return rc;
    }
    if (sc.last_index + 1 != index) {
        return ZN_ECORRUPT; /* the segment does not reach index - 1 */
    }
    /* 3. Cut and re-zero the rest (stale records must not reappear), then sync. */
    char name[ZN_DISK_NAME_MAX];
    wal_seg_file_name(s, name);
    rc = zn_disk_truncate(w->disk, s->fd, sc.end_off);
    if (rc == 0) {
        rc = zn_disk_fallocate(w->disk, s->fd, 0, w->segment_bytes);
    }
    if (rc != 0) {
        return rc;
    }
    rc = zn_disk_fdatasync(w->disk, s->fd);
    if (rc != 0) {
        fail_stop("fdatasync", name, sc.end_off, rc);
    }
    s->last_index = index - 1;
    s->last_term = sc.last_term;
    s->end_off = sc.end_off;
    s->end_crc = sc.end_crc;
    w->last_index = index - 1;
    w->last_term = s->last_term;
    w->chain_crc = s->end_crc;
    w->tail_off = s->end_off;
    w->need_segment = false;
    if (w->durable_index > index - 1) {
        w->durable_index = index - 1;
        w->durable_term = w->last_term;
    }
    if (w->repair && index <= w->damaged_first) {
        w->repair = false;
    }
    return 0;
}

/* Job side of a compaction: touches only the segment table (first_index is applied by the poll
 * loop from op.new_first_index). */
static int op_compact(struct zn_wal *w, uint64_t snapshot_index)
{
    uint32_t drop = 0;
    w->op.new_first_index = w->nsegs > 0 ? w->segs[0].first_index : w->first_index;
    /* segs[i] is entirely <= snapshot_index when the next one starts at or before index + 1 */
    while (drop + 1 < w->nsegs && w->segs[drop + 1].first_index <= snapshot_index + 1) {
        drop++;
    }
    for (uint32_t i = 0; i < drop; i++) {
        char name[ZN_DISK_NAME_MAX];
        wal_seg_file_name(&w->segs[i], name);
        if (w->segs[i].fd >= 0) {
            zn_disk_close(w->disk, w->segs[i].fd);
            w->segs[i].fd = -1;
        }
        int rc;
        if (i == 0 && w->op.recycle) {
            /* recycled: the name goes like an unlink would; the next spare preparation zeroes
             * the file before it can be named wal-spare.seg (recovery deletes a .tmp) */
            (void)zn_disk_unlink(w->disk, WAL_SPARE_TMP);
            rc = zn_disk_rename(w->disk, name, WAL_SPARE_TMP);
            w->op.recycled = rc == 0;
        } else {
            rc = zn_disk_unlink(w->disk, name);
        }
        if (rc != 0 && rc != ZN_ENOENT) {
            /* keep the table consistent with what was removed so far */
            memmove(w->segs, w->segs + i, (w->nsegs - i) * sizeof(struct wal_seg));
            w->nsegs -= i;
            w->op.new_first_index = w->segs[0].first_index;
            return rc;
        }
    }
    if (drop > 0) {
        memmove(w->segs, w->segs + drop, (w->nsegs - drop) * sizeof(struct wal_seg));
        w->nsegs -= drop;
        w->op.new_first_index = w->segs[0].first_index;
        int rc = zn_disk_fsync_dir(w->disk);
        if (rc != 0) {
            fail_stop("directory fsync", "data directory", 0, rc);
        }
    }
    return (int)drop;
}

static int op_reset(struct zn_wal *w, uint64_t snapshot_index, uint64_t snapshot_term)
{
    int rc = wal_reset_after(w, snapshot_index, snapshot_term);
    if (rc == ZN_EIO) {
        fail_stop("directory fsync", "data directory", 0, rc);
    }
    if (rc == 0) {
        w->repair = false;
    }
    return rc;
}

static void wal_op_job(void *arg)
{
    struct wal_op *op = arg;
    switch (op->kind) {
    case ZN_WAL_OP_TRUNCATE:
        op->result = op_truncate(op->wal, op->index);
        break;
    case ZN_WAL_OP_COMPACT:
        op->result = op_compact(op->wal, op->index);
        break;
    case ZN_WAL_OP_RESET:
        op->result = op_reset(op->wal, op->index, op->term);
        break;
    default:
        ZN_ASSERT(0 && "unknown WAL operation");
    }
}

static int op_submit(struct zn_wal *w, int kind, uint64_t index, uint64_t term)
{
    if (w->in_flight != NULL || w->op_in_flight) {
        return ZN_EBUSY;
    }
    if (kind != ZN_WAL_OP_COMPACT && !zn_wal_idle(w)) {
        return ZN_EBUSY;
    }
    w->op = (struct wal_op){.wal = w, .kind = kind, .index = index, .term = term};
    /* A compaction may keep a removed segment as the next spare's file when no spare exists or
     * is being prepared (wal-spare.tmp is then free: preparations start only between ops). */
    w->op.recycle = kind == ZN_WAL_OP_COMPACT && zn_disk_has_bg(w->disk) &&
                    w->spare_state == WAL_SPARE_NONE && !w->spare_recycled;
    int rc = zn_disk_job_submit(w->disk, wal_op_job, &w->op);
    if (rc != 0) {
        return rc;
    }
    w->op_in_flight = true;
    return 0;
}

/* Poll-loop side of a finished operation. */
static void op_finish(struct zn_wal *w, struct zn_wal_persisted *out)
{
    w->op_in_flight = false;
    wal_rsegs_sync(w); /* only the operation was in flight */
    if (w->op.kind == ZN_WAL_OP_TRUNCATE && w->op.result == 0) {
        w->active_slow = true; /* a cut segment is re-preallocated with fallocate */
    }
    if (w->op.kind == ZN_WAL_OP_COMPACT) {
        w->spare_failed = false; /* space may have come back: prepare a spare again */
        w->spare_recycled = w->op.recycled;
    }
    if (w->op.kind == ZN_WAL_OP_COMPACT && w->op.result >= 0) {
        w->first_index = w->op.new_first_index;
        if (w->op.index > w->snapshot_index) {
            w->snapshot_index = w->op.index;
        }
    }
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->op = w->op.kind;
        out->op_result = w->op.result;
        out->index = w->durable_index;
        out->term = w->durable_term;
        out->items = w->released;
    }
}

/* Submit and wait (only the operation can be in flight: op_submit checked it). */
static int op_run(struct zn_wal *w, int kind, uint64_t index, uint64_t term)
{
    int rc = op_submit(w, kind, index, term);
    if (rc != 0) {
        return rc;
    }
    while (w->op_in_flight) {
        void *arg;
        if (zn_disk_job_poll(w->disk, &arg, 1) == 1) {
            ZN_ASSERT(arg == &w->op);
            op_finish(w, NULL);
        } else {
            sched_yield();
        }
    }
    return w->op.result;
}

static int truncate_check(struct zn_wal *w, uint64_t index)
{
    if (!zn_wal_idle(w)) {
        return ZN_EBUSY;
    }
    if (index < w->first_index || index == 0 || w->nsegs == 0 || index > w->last_index + 1) {
        return ZN_EINVAL;
    }
    return 0;
}

int zn_wal_truncate_suffix_submit(struct zn_wal *w, uint64_t index)
{
    int rc = truncate_check(w, index);
    return rc != 0 ? rc : op_submit(w, ZN_WAL_OP_TRUNCATE, index, 0);
}

int zn_wal_truncate_suffix(struct zn_wal *w, uint64_t index)
{
    int rc = truncate_check(w, index);
    return rc != 0 ? rc : op_run(w, ZN_WAL_OP_TRUNCATE, index, 0);
}

int zn_wal_compact_submit(struct zn_wal *w, uint64_t snapshot_index)
{
    return op_submit(w, ZN_WAL_OP_COMPACT, snapshot_index, 0);
}

int zn_wal_compact(struct zn_wal *w, uint64_t snapshot_index)
{
    return op_run(w, ZN_WAL_OP_COMPACT, snapshot_index, 0);
}

int zn_wal_reset_submit(struct zn_wal *w, uint64_t snapshot_index, uint64_t snapshot_term)
{
    return op_submit(w, ZN_WAL_OP_RESET, snapshot_index, snapshot_term);
}

int zn_wal_reset(struct zn_wal *w, uint64_t snapshot_index, uint64_t snapshot_term)
{
    return op_run(w, ZN_WAL_OP_RESET, snapshot_index, snapshot_term);
}

void wal_rsegs_sync(struct zn_wal *w)
{
    for (uint32_t i = 0; i < w->nsegs; i++) {
        w->rsegs[i] = (struct wal_rseg){.first_index = w->segs[i].first_index,
                                        .prev_term = w->segs[i].prev_term,
                                        .hdr_crc = w->segs[i].hdr_crc};
    }
    w->nrsegs = w->nsegs;
}

int zn_wal_read(struct zn_wal *w, uint64_t from, uint64_t to, zn_wal_entry_fn fn, void *ctx,
                void *buf, size_t cap)
{
    if (w->op_in_flight) {
        return ZN_EBUSY; /* the segment table is changing */
    }
    if (cap < wal_record_size(w->entry_bytes_max)) {
        return ZN_EINVAL;
    }
    if (w->nrsegs == 0 || from < w->rsegs[0].first_index || to > w->durable_index || from > to) {
        return ZN_EINVAL;
    }
    for (uint32_t i = 0; i < w->nrsegs; i++) {
        const struct wal_rseg *s = &w->rsegs[i];
        uint64_t seg_last = i + 1 < w->nrsegs ? w->rsegs[i + 1].first_index - 1 : w->durable_index;
        if (seg_last < from || s->first_index > to || seg_last < s->first_index) {
            continue;
        }
        /* our own descriptor: the batch job may be appending to (or rotating away from) the
         * active segment meanwhile; everything read is at or below the durable index */
        char name[ZN_DISK_NAME_MAX];
        wal_seg_name(name, sizeof(name), s->first_index, false);
        int fd;
        int rc = zn_disk_open(w->disk, name, 0, &fd);
        if (rc != 0) {
            return rc;
        }
        uint64_t fsize = 0;
        uint64_t want = seg_last < to ? seg_last : to;
        rc = zn_disk_size(w->disk, fd, &fsize);
        struct wal_scan sc = {
            .fd = fd,
            .size = fsize,
            .first_index = s->first_index,
            .prev_term = s->prev_term,
            .seed = s->hdr_crc,
            .stop_before = want + 1,
            .deliver_from = from,
            .fn = fn,
            .ctx = ctx,
            .buf = buf,
            .cap = cap,
        };
        if (rc == 0) {
            rc = wal_scan_records(w, &sc);
        }
        zn_disk_close(w->disk, fd);
        if (rc != 0) {
            return rc;
        }
        if (sc.fn_rc != 0) {
            return sc.fn_rc;
        }
        if (sc.last_index < want) {
            return ZN_ECORRUPT; /* durable entries no longer verify: damage since recovery */
        }
    }
    return 0;
}

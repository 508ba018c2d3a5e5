/*
 * wal_recover.c - rebuild the log from its segments, or refuse with file and offset.
 *
 * Rules (DESIGN.md section 7; each refusal fills rec->report with file, offset and why):
 *  1. Files of another cluster or node (segment header identity) -> refuse, ZN_ECLUSTER. Unknown
 *     format version -> refuse, ZN_EVERSION. Leftover "*.tmp" segments (a crash while creating
 *     one) are deleted: a .seg name only ever appears after its header was durable. So is a leftover
 *     "wal-spare.tmp" (a spare being zero-filled, or a recycled segment).
 *  1b. "wal-spare.seg" (wal.c "Spare segments"): a valid header means a segment was started in
 *     the spare and its rename was not durable - it is renamed to its segment name and recovered
 *     like the others. Otherwise, once the log's end is known (spare_judge): only zeros after the
 *     header - a spare, kept; a zero header with records of one batch only, above the commit
 *     hint - a rotation that never reached its fdatasync, zeroed and kept as the spare (a torn
 *     tail); anything else - corruption.
 *  2. Segments wholly covered by the snapshot (left over by an interrupted compaction) are
 *     deleted. The first kept segment must start at or before snapshot_index + 1, and every later
 *     segment must continue its predecessor exactly (first index, previous term, previous chain
 *     CRC): otherwise a segment is missing or stale -> gap/corruption.
 *  3. Inside a segment, records are read while they verify (structure + chained CRC). Where the
 *     chain stops, the rest of the segment must be zeros (preallocated, never written) - a clean
 *     end. If it is not:
 *       - in any segment but the last: corruption (the segment was synced before its successor
 *         was created);
 *       - in the last segment, the damage is a TORN TAIL (discarded and zeroed, never
 *         acknowledged) only if all of: (a) no verifiable record after it belongs to a later
 *         batch (a later batch is only written after the earlier one was fdatasynced, so its
 *         presence proves the damaged record was durable); (b) the damaged record looks like a
 *         write that did not fully land on preallocated (zero) space: a 512-byte-sector-aligned
 *         piece of it reads as all zeros (sectors lost or reordered), or its last byte is zero
 *         (a write cut short at any byte); a bit flip rarely does either; (c) the damaged
 *         index is above the hard state's commit hint. Otherwise: corruption.
 *  4. A log ending below the commit hint lost committed entries: corruption.
 *  Corruption refuses to start (ZN_ECORRUPT), or with allow_repair opens in repair state: entries
 *  before the damage are delivered, rec->damaged_first..damaged_last must be re-fetched from
 *  peers, and appends wait for zn_wal_truncate_suffix(damaged_first).
 * Residual risk, documented in docs/disk-format.md: damage to the very last batch that is
 * indistinguishable from a torn write (zeroed sectors, nothing after it, above the commit hint)
 * is treated as a torn tail; only the commit hint can prove such entries were durable.
 */
#include <stdio.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "store/wal_internal.h"

#define SECTOR 512u

/* ---- a read window over one file (the scanner's only buffer: a batch buffer) ------------------ */

struct window {
    struct zn_disk *disk;
    int fd;
    uint64_t size;
    uint8_t *buf;
    uint64_t cap;
    uint64_t off;
    uint64_t len;
    int err;
};

/* Pointer to [off, off + n) of the file, or NULL (read error in w->err, or past the end). */
static const uint8_t *win_get(struct window *w, uint64_t off, uint64_t n)
{
    if (off >= w->off && off + n <= w->off + w->len) {
        return w->buf + (off - w->off);
    }
    if (n > w->cap || off + n > w->size) {
        return NULL;
    }
    uint64_t want = w->size - off < w->cap ? w->size - off : w->cap;
    long got = zn_disk_pread(w->disk, w->fd, w->buf, want, off);
    if (got < 0) {
        w->err = (int)got;
        w->len = 0;
        return NULL;
    }
    w->off = off;
    w->len = (uint64_t)got;
    if ((uint64_t)got < n) {
        w->err = ZN_EIO;
        return NULL;
    }
    return w->buf;
}

static void win_init(struct window *win, struct zn_wal *w, int fd, uint64_t size)
{
    *win = (struct window){
        .disk = w->disk, .fd = fd, .size = size, .buf = w->b[0].buf, .cap = w->b[0].cap};
}

int wal_scan_records(struct zn_wal *w, struct wal_scan *sc)
{
    struct window win;
    win_init(&win, w, sc->fd, sc->size);
    if (sc->buf != NULL) {
        win.buf = sc->buf;
        win.cap = sc->cap;
    }
    uint64_t pos = WAL_SEG_HDR;
    uint32_t seed = sc->seed;
    uint64_t expect = sc->first_index;
    uint64_t term = sc->prev_term;
    sc->fn_rc = 0;
    for (;;) {
        if (sc->stop_before != 0 && expect >= sc->stop_before) {
            break;
        }
        if (pos + wal_record_size(0) > sc->size) {
            break;
        }
        const uint8_t *h = win_get(&win, pos, WAL_REC_HDR);
        if (h == NULL) {
            break;
        }
        uint32_t len = wal_get32(h);
        uint16_t type = wal_get16(h + 4);
        uint64_t t = wal_get64(h + 8);
        uint64_t index = wal_get64(h + 16);
        uint64_t bf = wal_get64(h + 24);
        if (wal_get16(h + 6) != WAL_REC_MAGIC || type == 0 || index != expect || t < term ||
            t == 0 || bf > index || bf < sc->first_index || len > w->entry_bytes_max) {
            break;
        }
        uint64_t rs = wal_record_size(len);
        if (rs > sc->size - pos) {
            break;
        }
        const uint8_t *r = win_get(&win, pos, rs);
        if (r == NULL) {
            break;
        }
        uint32_t crc = zn_crc32c(seed, r, rs - 4);
        if (crc != wal_get32(r + rs - 4)) {
            break;
        }
        if (sc->fn != NULL && index >= sc->deliver_from && sc->fn_rc == 0) {
            struct zn_wal_entry e = {
                .index = index, .term = t, .type = type, .len = len, .payload = r + WAL_REC_HDR};
            sc->fn_rc = sc->fn(sc->ctx, &e);
            if (sc->fn_rc != 0) {
                pos += rs;
                seed = crc;
                expect++;
                term = t;
                break;
            }
        }
        seed = crc;
        pos += rs;
        expect++;
        term = t;
    }
    sc->end_off = pos;
    sc->last_index = expect - 1;
    sc->last_term = term;
    sc->end_crc = seed;
    return win.err;
}

/* ---- directory listing ----------------------------------------------------------------------- */

struct listing {
    struct zn_wal *w;
    uint64_t firsts[ZN_WAL_SEGMENTS_MAX];
    uint32_t n;
    char tmps[8][ZN_DISK_NAME_MAX];
    uint32_t ntmp;
    bool overflow;
    bool spare; /* WAL_SPARE_NAME exists */
};

static int list_cb(void *arg, const char *name)
{
    struct listing *l = arg;
    uint64_t first;
    bool tmp;
    if (strcmp(name, WAL_SPARE_NAME) == 0) {
        l->spare = true;
        return 0;
    }
    if (strcmp(name, WAL_SPARE_TMP) == 0) {
        /* a spare being prepared or a recycled segment: never holds live entries */
        if (l->ntmp < 8) {
            memcpy(l->tmps[l->ntmp++], name, strlen(name) + 1);
        }
        return 0;
    }
    if (!wal_seg_name_parse(name, &first, &tmp)) {
        return 0;
    }
    if (tmp) {
        if (l->ntmp < 8) {
            memcpy(l->tmps[l->ntmp++], name, strlen(name) + 1);
        }
        return 0;
    }
    if (l->n >= ZN_WAL_SEGMENTS_MAX) {
        l->overflow = true;
        return 1;
    }
    l->firsts[l->n++] = first;
    return 0;
}

static void sort_u64(uint64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        uint32_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* ---- the damage analysis of the last segment --------------------------------------------------- */

struct tail_scan {
    bool rest_zero;
    uint64_t last_nonzero; /* offset of the last non-zero byte at or after end_off */
    bool later_batch;      /* a verifiable record of a later batch exists after the damage */
    uint64_t max_found;    /* highest index of a verifiable record after the damage */
    bool zero_sector;      /* torn shape: the damaged record has an all-zero sector-aligned
                              piece, or its last byte is zero (a write cut short) */
};

static int analyze_tail(struct zn_wal *w, int fd, uint64_t size, uint64_t f, uint64_t expect,
                        struct tail_scan *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->rest_zero = true;
    struct window win;
    win_init(&win, w, fd, size);
    /* 1. Is everything from f on zero? (chunked by the window) */
    for (uint64_t off = f; off < size;) {
        uint64_t n = size - off < win.cap ? size - off : win.cap;
        const uint8_t *p = win_get(&win, off, n);
        if (p == NULL) {
            return win.err ? win.err : ZN_EIO;
        }
        for (uint64_t i = 0; i < n; i++) {
            if (p[i] != 0) {
                ts->rest_zero = false;
                ts->last_nonzero = off + i;
            }
        }
        off += n;
    }
    if (ts->rest_zero) {
        return 0;
    }
    /* 2. Extent of the damaged record: its declared size if plausible, else its header. */
    uint64_t e = f + WAL_REC_HDR;
    const uint8_t *h = win_get(&win, f, f + WAL_REC_HDR <= size ? WAL_REC_HDR : size - f);
    if (h != NULL && f + WAL_REC_HDR <= size) {
        uint32_t len = wal_get32(h);
        if (len <= w->entry_bytes_max && wal_record_size(len) <= size - f) {
            e = f + wal_record_size(len);
        }
    }
    if (e > size) {
        e = size;
    }
    /* A write cut at any byte leaves the record's last byte zero (it never landed). */
    const uint8_t *last = win_get(&win, e - 1, 1);
    if (last == NULL) {
        return win.err ? win.err : ZN_EIO;
    }
    ts->zero_sector = *last == 0;
    for (uint64_t s = f / SECTOR * SECTOR; s < e && !ts->zero_sector; s += SECTOR) {
        uint64_t lo = s > f ? s : f;
        uint64_t hi = s + SECTOR < e ? s + SECTOR : e;
        const uint8_t *p = win_get(&win, lo, hi - lo);
        if (p == NULL) {
            return win.err ? win.err : ZN_EIO;
        }
        bool zero = true;
        for (uint64_t i = 0; i < hi - lo && zero; i++) {
            zero = p[i] == 0;
        }
        ts->zero_sector = zero;
    }
    /* 3. Verifiable records after the damage (each record's seed is the 4 bytes before it). */
    for (uint64_t p = f + 8; p + wal_record_size(0) <= size && p <= ts->last_nonzero; p += 8) {
        const uint8_t *r = win_get(&win, p - 4, 4 + WAL_REC_HDR);
        if (r == NULL) {
            return win.err ? win.err : ZN_EIO;
        }
        const uint8_t *rh = r + 4;
        if (wal_get16(rh + 6) != WAL_REC_MAGIC || wal_get16(rh + 4) == 0) {
            continue;
        }
        uint32_t len = wal_get32(rh);
        uint64_t index = wal_get64(rh + 16);
        uint64_t bf = wal_get64(rh + 24);
        if (len > w->entry_bytes_max || index < expect || bf > index ||
            wal_record_size(len) > size - p) {
            continue;
        }
        uint64_t rs = wal_record_size(len);
        r = win_get(&win, p - 4, 4 + rs);
        if (r == NULL) {
            return win.err ? win.err : ZN_EIO;
        }
        if (zn_crc32c(wal_get32(r), r + 4, rs - 4) != wal_get32(r + rs)) {
            continue;
        }
        if (index > ts->max_found) {
            ts->max_found = index;
        }
        if (bf > expect) {
            ts->later_batch = true;
        }
    }
    return 0;
}

/* Zero [from, to] of the segment and fdatasync: a discarded torn tail must not be mistaken later
 * for data (a new torn write over old garbage would not show zeroed sectors). */
static int zero_range(struct zn_wal *w, int fd, const char *name, uint64_t from, uint64_t to)
{
    uint8_t *z = w->b[1].buf;
    uint64_t cap = w->b[1].cap;
    memset(z, 0, cap);
    for (uint64_t off = from; off <= to;) {
        uint64_t n = to + 1 - off < cap ? to + 1 - off : cap;
        int rc = zn_disk_pwrite(w->disk, fd, z, n, off);
        if (rc != 0) {
            return rc;
        }
        off += n;
    }
    int rc = zn_disk_fdatasync(w->disk, fd);
    if (rc != 0) {
        zn_panic("fdatasync of %s failed while discarding a torn tail: %s (fail-stop)", name,
                 zn_strerror(rc));
    }
    return 0;
}

/* ---- the spare segment ------------------------------------------------------------------------- */

/*
 * WAL_SPARE_NAME holds either a spare that was never started (header and everything else zero),
 * or a started segment whose rename to wal-<first>.seg was not durable yet (valid header), or a
 * rotation that did not reach its fdatasync (zero header sector, records of that one batch in
 * other sectors: never acknowledged). First step, before the segments are listed: a valid header
 * is adopted as the segment it names. The rest is judged by spare_judge once the log's end is
 * known.
 */
struct spare_seen {
    bool present;  /* WAL_SPARE_NAME exists and was not adopted as a segment */
    bool hdr_zero; /* its 64 header bytes are all zero */
    int fd;
    uint64_t size;
};

static int spare_first_look(struct zn_wal *w, const struct zn_wal_config *cfg, struct listing *l,
                            struct spare_seen *sp, struct zn_wal_recovery *rec)
{
    char msg[256];
    memset(sp, 0, sizeof(*sp));
    sp->fd = -1;
    int fd;
    int rc = zn_disk_open(w->disk, WAL_SPARE_NAME, 0, &fd);
    if (rc != 0) {
        return zn_disk_report_set(&rec->report, rc, WAL_SPARE_NAME, 0, "cannot open the spare");
    }
    uint64_t size = 0;
    uint8_t hb[WAL_SEG_HDR];
    memset(hb, 0, sizeof(hb));
    rc = zn_disk_size(w->disk, fd, &size);
    if (rc == 0 && size >= WAL_SEG_HDR) {
        rc = zn_disk_read_full(w->disk, fd, hb, sizeof(hb), 0);
    }
    if (rc != 0) {
        zn_disk_close(w->disk, fd);
        return zn_disk_report_set(&rec->report, rc, WAL_SPARE_NAME, 0,
                                  "read error on the spare segment's header");
    }
    struct wal_seg_header h;
    int hrc = size >= WAL_SEG_HDR ? wal_seg_header_decode(hb, &h) : ZN_ECORRUPT;
    if (hrc == ZN_EVERSION) {
        zn_disk_close(w->disk, fd);
        return zn_disk_report_set(&rec->report, ZN_EVERSION, WAL_SPARE_NAME, 8,
                                  "WAL segment has an unsupported format version: refusing to "
                                  "start");
    }
    if (hrc != 0) {
        sp->present = true;
        sp->fd = fd;
        sp->size = size;
        sp->hdr_zero = true;
        for (size_t i = 0; i < sizeof(hb); i++) {
            sp->hdr_zero = sp->hdr_zero && hb[i] == 0;
        }
        return 0;
    }
    zn_disk_close(w->disk, fd);
    if (h.cluster_id != cfg->cluster_id || h.node_id != cfg->node_id) {
        snprintf(msg, sizeof(msg),
                 "WAL segment belongs to cluster %016llx node %u, this is cluster %016llx node "
                 "%u: refusing to start",
                 (unsigned long long)h.cluster_id, h.node_id, (unsigned long long)cfg->cluster_id,
                 cfg->node_id);
        return zn_disk_report_set(&rec->report, ZN_ECLUSTER, WAL_SPARE_NAME, 16, "%s", msg);
    }
    /* a started segment: give it its name (the rotation's rename was lost) */
    char name[ZN_DISK_NAME_MAX];
    wal_seg_name(name, sizeof(name), h.first_index, false);
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->firsts[i] == h.first_index) {
            return zn_disk_report_set(&rec->report, ZN_ECORRUPT, WAL_SPARE_NAME, 32,
                                      "the started spare segment and %s both start at index "
                                      "%llu: refusing to start",
                                      name, (unsigned long long)h.first_index);
        }
    }
    if (l->n >= ZN_WAL_SEGMENTS_MAX) {
        return zn_disk_report_set(&rec->report, ZN_ELIMIT, "", 0,
                                  "more WAL segments than ZN_WAL_SEGMENTS_MAX");
    }
    rc = zn_disk_rename(w->disk, WAL_SPARE_NAME, name);
    if (rc == 0) {
        rc = zn_disk_fsync_dir(w->disk);
    }
    if (rc != 0) {
        return zn_disk_report_set(&rec->report, rc, WAL_SPARE_NAME, 0,
                                  "cannot rename the started spare segment to %s", name);
    }
    l->firsts[l->n++] = h.first_index;
    rec->spare_adopted = true;
    return 0;
}

/*
 * The spare's verdict once the log ends at expect - 1. Returns 0 (a clean spare is adopted, a
 * torn rotation is discarded and the file adopted as the spare, an odd-sized spare is removed),
 * or notes damage in *found/why for the caller: records there that may have been acknowledged.
 */
static int spare_judge(struct zn_wal *w, struct spare_seen *sp, uint64_t expect,
                       uint64_t commit_hint, struct zn_wal_recovery *rec, bool *damaged,
                       uint64_t *max_found, const char **why)
{
    *damaged = false;
    int fd = sp->fd;
    sp->fd = -1;
    struct tail_scan ts;
    memset(&ts, 0, sizeof(ts));
    ts.rest_zero = true;
    int rc = 0;
    if (sp->size > WAL_SEG_HDR) {
        rc = analyze_tail(w, fd, sp->size, WAL_SEG_HDR, expect, &ts);
    }
    if (rc != 0) {
        zn_disk_close(w->disk, fd);
        return zn_disk_report_set(&rec->report, rc, WAL_SPARE_NAME, 0,
                                  "read error on the spare segment");
    }
    uint64_t zero_to = 0; /* bytes [0, zero_to) to rewrite as zeros */
    if (ts.rest_zero) {
        /* no record bytes: never started (a damaged header alone holds no entry) */
        zero_to = sp->hdr_zero ? 0 : WAL_SEG_HDR;
    } else if (sp->hdr_zero && !ts.later_batch && expect > commit_hint) {
        /* a rotation that did not reach its fdatasync: its header sector never landed, and no
         * later batch (written only after that fdatasync) is there: never acknowledged */
        zero_to = ts.last_nonzero + 1;
        rec->torn_bytes = zero_to - WAL_SEG_HDR;
        snprintf(rec->torn_file, sizeof(rec->torn_file), "%s", WAL_SPARE_NAME);
        rec->torn_offset = 0;
    } else {
        *damaged = true;
        *max_found = ts.max_found;
        *why = !sp->hdr_zero ? "the started segment under the spare's name has a damaged header"
               : ts.later_batch
                   ? "the started segment under the spare's name lost its header, and records of "
                     "later (synced) batches follow"
                   : "the started segment under the spare's name lost its header, and its entries "
                     "are at or below the commit index";
        zn_disk_close(w->disk, fd);
        return 0;
    }
    if (sp->size != w->segment_bytes) {
        /* another segment size was configured: make a new spare */
        zn_disk_close(w->disk, fd);
        (void)zn_disk_unlink(w->disk, WAL_SPARE_NAME);
        return 0;
    }
    if (zero_to > 0) {
        rc = zero_range(w, fd, WAL_SPARE_NAME, 0, zero_to - 1);
        if (rc != 0) {
            zn_disk_close(w->disk, fd);
            return zn_disk_report_set(&rec->report, rc, WAL_SPARE_NAME, 0,
                                      "cannot zero the spare segment");
        }
    }
    wal_spare_adopt(w, fd);
    return 0;
}

/* ---- recovery ----------------------------------------------------------------------------------- */

/* Delivers entries to the caller, except after a divergence from the snapshot: if the log's entry
 * at the snapshot index has another term than the snapshot, everything after it belongs to a
 * history the cluster abandoned (Raft section 7: a follower that installs a snapshot discards its
 * log unless the entry at the snapshot's index matches) and is never delivered. */
struct deliver {
    zn_wal_entry_fn fn;
    void *ctx;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    bool diverged;
    uint64_t diverged_term;
};

static int deliver_entry(void *ctx, const struct zn_wal_entry *e)
{
    struct deliver *d = ctx;
    if (e->index == d->snapshot_index && d->snapshot_index > 0 && e->term != d->snapshot_term) {
        d->diverged = true;
        d->diverged_term = e->term;
    }
    if (d->diverged || d->fn == NULL) {
        return 0;
    }
    return d->fn(d->ctx, e);
}

/* Remove every segment, newest first, and sync the directory. A crash part-way leaves a prefix
 * of the old log, which the next recovery judges by the same rules. */
static int unlink_all_segments(struct zn_wal *w)
{
    char name[ZN_DISK_NAME_MAX];
    while (w->nsegs > 0) {
        struct wal_seg *s = &w->segs[w->nsegs - 1];
        if (s->fd >= 0) {
            zn_disk_close(w->disk, s->fd);
            s->fd = -1;
        }
        wal_seg_file_name(s, name);
        int rc = zn_disk_unlink(w->disk, name);
        if (rc != 0 && rc != ZN_ENOENT) {
            return rc;
        }
        w->nsegs--;
    }
    return zn_disk_fsync_dir(w->disk);
}

/* State of an empty log that continues snapshot (index, term). */
void wal_start_after(struct zn_wal *w, uint64_t index, uint64_t term)
{
    w->first_index = index + 1;
    w->last_index = index;
    w->last_term = term;
    w->durable_index = index;
    w->durable_term = term;
    w->chain_crc = 0;
    w->need_segment = true;
    w->snapshot_index = index;
    w->snapshot_term = term;
}

int wal_reset_after(struct zn_wal *w, uint64_t index, uint64_t term)
{
    int rc = unlink_all_segments(w);
    if (rc != 0) {
        return rc;
    }
    wal_start_after(w, index, term);
    return 0;
}

struct damage {
    bool found;
    uint64_t first;
    uint64_t last;
    char file[ZN_DISK_NAME_MAX];
    uint64_t offset;
    char why[160];
};

static void damage_note(struct damage *d, uint64_t first, const char *file, uint64_t offset,
                        const char *why)
{
    if (d->found) {
        return;
    }
    d->found = true;
    d->first = first;
    d->last = first;
    snprintf(d->file, sizeof(d->file), "%s", file);
    d->offset = offset;
    snprintf(d->why, sizeof(d->why), "%s", why);
}

static int refuse(struct zn_wal_recovery *rec, int code, const char *file, uint64_t off,
                  const char *msg)
{
    return zn_disk_report_set(&rec->report, code, file, off, "%s", msg);
}

static int wal_recover_log(struct zn_wal *w, const struct zn_wal_config *cfg,
                           zn_wal_entry_fn on_entry, void *ctx, struct zn_wal_recovery *rec,
                           uint32_t n, struct spare_seen *sp);

int wal_recover(struct zn_wal *w, const struct zn_wal_config *cfg, zn_wal_entry_fn on_entry,
                void *ctx, struct zn_wal_recovery *rec)
{
    struct listing *l = w->alloc.alloc(w->alloc.ctx, sizeof(*l));
    if (l == NULL) {
        return refuse(rec, ZN_ENOMEM, "", 0, "out of memory");
    }
    memset(l, 0, sizeof(*l));
    int rc = zn_disk_list(w->disk, list_cb, l);
    for (uint32_t i = 0; i < l->ntmp; i++) {
        (void)zn_disk_unlink(w->disk, l->tmps[i]);
    }
    struct spare_seen sp = {.fd = -1};
    if (rc >= 0 && !l->overflow && l->spare) {
        int src = spare_first_look(w, cfg, l, &sp, rec);
        if (src != 0) {
            w->alloc.release(w->alloc.ctx, l, sizeof(*l));
            return src;
        }
    }
    uint32_t n = l->n;
    bool overflow = l->overflow;
    sort_u64(l->firsts, n);
    for (uint32_t i = 0; i < n; i++) {
        w->segs[i] = (struct wal_seg){.first_index = l->firsts[i], .fd = -1};
    }
    w->alloc.release(w->alloc.ctx, l, sizeof(*l));
    if (rc < 0) {
        return refuse(rec, rc, "", 0, "cannot list the data directory");
    }
    if (overflow) {
        return refuse(rec, ZN_ELIMIT, "", 0, "more WAL segments than ZN_WAL_SEGMENTS_MAX");
    }
    /* from here every return must close sp.fd: the judge takes it */
    rc = wal_recover_log(w, cfg, on_entry, ctx, rec, n, &sp);
    if (sp.fd >= 0) {
        zn_disk_close(w->disk, sp.fd);
    }
    return rc;
}

static int wal_recover_log(struct zn_wal *w, const struct zn_wal_config *cfg,
                           zn_wal_entry_fn on_entry, void *ctx, struct zn_wal_recovery *rec,
                           uint32_t n, struct spare_seen *sp)
{
    int rc;
    w->snapshot_index = cfg->snapshot_index;
    w->snapshot_term = cfg->snapshot_term;
    char name[ZN_DISK_NAME_MAX];
    char msg[512];

    if (n == 0) {
        if (cfg->commit_hint > cfg->snapshot_index) {
            snprintf(msg, sizeof(msg),
                     "no WAL segment, but the hard state says entries up to %llu were committed "
                     "(snapshot ends at %llu): the log was lost, refusing to start",
                     (unsigned long long)cfg->commit_hint, (unsigned long long)cfg->snapshot_index);
            return refuse(rec, ZN_ECORRUPT, ZN_HARDSTATE_FILE, 0, msg);
        }
        if (sp->present) {
            bool damaged;
            uint64_t max_found = 0;
            const char *why = "";
            rc = spare_judge(w, sp, cfg->snapshot_index + 1, cfg->commit_hint, rec, &damaged,
                             &max_found, &why);
            if (rc != 0) {
                return rc;
            }
            if (damaged) {
                rec->corrupt_detected++;
                snprintf(msg, sizeof(msg),
                         "%s (entries from %llu); refusing to start: it is the log's only "
                         "segment",
                         why, (unsigned long long)cfg->snapshot_index + 1);
                return refuse(rec, ZN_ECORRUPT, WAL_SPARE_NAME, 0, msg);
            }
        }
        wal_start_after(w, cfg->snapshot_index, cfg->snapshot_term);
        rec->first_index = w->first_index;
        rec->last_index = w->last_index;
        rec->last_term = w->last_term;
        return 0;
    }
    /* Rule 2: start at the last segment beginning at or before snapshot_index + 1. */
    uint32_t start = 0;
    while (start + 1 < n && w->segs[start + 1].first_index <= cfg->snapshot_index + 1) {
        start++;
    }
    if (w->segs[start].first_index > cfg->snapshot_index + 1) {
        wal_seg_file_name(&w->segs[start], name);
        snprintf(msg, sizeof(msg),
                 "gap between snapshot and log: the snapshot ends at index %llu but the first "
                 "WAL segment starts at %llu: refusing to start",
                 (unsigned long long)cfg->snapshot_index,
                 (unsigned long long)w->segs[start].first_index);
        return refuse(rec, ZN_ECORRUPT, name, 0, msg);
    }
    if (start > 0) {
        for (uint32_t i = 0; i < start; i++) {
            wal_seg_file_name(&w->segs[i], name);
            (void)zn_disk_unlink(w->disk, name);
        }
        rc = zn_disk_fsync_dir(w->disk);
        if (rc != 0) {
            return refuse(rec, rc, "", 0, "directory fsync failed removing compacted segments");
        }
        memmove(w->segs, w->segs + start, (n - start) * sizeof(struct wal_seg));
        n -= start;
    }
    w->nsegs = n;

    struct damage d = {0};
    struct deliver dv = {.fn = on_entry,
                         .ctx = ctx,
                         .snapshot_index = cfg->snapshot_index,
                         .snapshot_term = cfg->snapshot_term};
    uint64_t last_index = 0, last_term = 0;
    uint32_t end_crc = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct wal_seg *s = &w->segs[i];
        bool is_last = i + 1 == n;
        wal_seg_file_name(s, name);
        int fd;
        rc = zn_disk_open(w->disk, name, 0, &fd);
        if (rc != 0) {
            return refuse(rec, rc, name, 0, "cannot open WAL segment");
        }
        s->fd = fd;
        uint64_t size;
        rc = zn_disk_size(w->disk, fd, &size);
        uint8_t hb[WAL_SEG_HDR];
        if (rc == 0) {
            rc = zn_disk_read_full(w->disk, fd, hb, sizeof(hb), 0);
        }
        if (rc != 0 && rc != ZN_ECORRUPT) {
            return refuse(rec, rc, name, 0, "read error on WAL segment header");
        }
        struct wal_seg_header h;
        int hrc = rc == 0 ? wal_seg_header_decode(hb, &h) : ZN_ECORRUPT;
        if (hrc == ZN_EVERSION) {
            return refuse(rec, ZN_EVERSION, name, 8,
                          "WAL segment has an unsupported format version: refusing to start");
        }
        if (hrc == 0 && (h.cluster_id != cfg->cluster_id || h.node_id != cfg->node_id)) {
            snprintf(msg, sizeof(msg),
                     "WAL segment belongs to cluster %016llx node %u, this is cluster %016llx "
                     "node %u: refusing to start",
                     (unsigned long long)h.cluster_id, h.node_id,
                     (unsigned long long)cfg->cluster_id, cfg->node_id);
            return refuse(rec, ZN_ECLUSTER, name, 16, msg);
        }
        if (hrc == 0 && h.first_index != s->first_index) {
            hrc = ZN_ECORRUPT;
        }
        uint64_t expect_first = i == 0 ? s->first_index : last_index + 1;
        if (d.found) {
            /* after damage: only learn how far the damaged range reaches */
            if (hrc == 0) {
                struct wal_scan sc = {.fd = fd,
                                      .size = size,
                                      .first_index = h.first_index,
                                      .prev_term = h.prev_term,
                                      .seed = h.crc};
                rc = wal_scan_records(w, &sc);
                if (sc.last_index > d.last) {
                    d.last = sc.last_index;
                }
            }
            if (s->first_index > d.last) {
                d.last = s->first_index;
            }
            rec->segments++;
            continue;
        }
        if (hrc != 0) {
            rec->corrupt_detected++;
            damage_note(&d, expect_first, name, 0, "the segment header fails its checksum");
            if (s->first_index > d.last) {
                d.last = s->first_index;
            }
            rec->segments++;
            continue;
        }
        if (i > 0 && (h.first_index != last_index + 1 || h.prev_crc != end_crc ||
                      h.prev_term != last_term)) {
            rec->corrupt_detected++;
            damage_note(&d, last_index + 1, name, 0,
                        "the segment does not continue the previous one (a segment is missing, "
                        "or a stale copy was restored)");
            zn_disk_close(w->disk, fd);
            s->fd = -1;
            i--; /* rescan this one in the after-damage mode for the damaged range */
            continue;
        }
        s->hdr_crc = h.crc;
        s->prev_term = h.prev_term;
        struct wal_scan sc = {.fd = fd,
                              .size = size,
                              .first_index = h.first_index,
                              .prev_term = h.prev_term,
                              .seed = h.crc,
                              .fn = deliver_entry,
                              .ctx = &dv};
        rc = wal_scan_records(w, &sc);
        if (rc != 0) {
            return refuse(rec, rc, name, sc.end_off, "read error on WAL segment");
        }
        if (sc.fn_rc != 0) {
            return refuse(rec, sc.fn_rc, name, sc.end_off, "the entry callback failed");
        }
        s->last_index = sc.last_index;
        s->last_term = sc.last_term;
        s->end_off = sc.end_off;
        s->end_crc = sc.end_crc;
        last_index = sc.last_index;
        last_term = sc.last_term;
        end_crc = sc.end_crc;
        rec->segments++;
        struct tail_scan ts;
        rc = analyze_tail(w, fd, size, sc.end_off, sc.last_index + 1, &ts);
        if (rc != 0) {
            return refuse(rec, rc, name, sc.end_off, "read error on WAL segment");
        }
        if (!is_last) {
            zn_disk_close(w->disk, fd);
            s->fd = -1;
        }
        if (ts.rest_zero) {
            continue;
        }
        bool torn =
            is_last && !ts.later_batch && ts.zero_sector && sc.last_index + 1 > cfg->commit_hint;
        if (torn) {
            rec->torn_bytes = ts.last_nonzero + 1 - sc.end_off;
            memcpy(rec->torn_file, name, sizeof(rec->torn_file));
            rec->torn_offset = sc.end_off;
            rc = zero_range(w, fd, name, sc.end_off, ts.last_nonzero);
            if (rc != 0) {
                return refuse(rec, rc, name, sc.end_off, "cannot zero the torn tail");
            }
            continue;
        }
        rec->corrupt_detected++;
        damage_note(&d, sc.last_index + 1, name, sc.end_off,
                    !is_last ? "a record fails its checksum inside a completed segment"
                    : ts.later_batch
                        ? "a record fails its checksum and later synced records follow it"
                    : !ts.zero_sector ? "a record fails its checksum and is not a torn write"
                                      : "a record at or below the commit index fails its checksum");
        if (ts.max_found > d.last) {
            d.last = ts.max_found;
        }
        if (is_last) {
            s->fd = fd; /* stays open: it is the active segment */
        }
    }
    if (sp->present && !d.found) {
        bool damaged;
        uint64_t max_found = 0;
        const char *why = "";
        rc = spare_judge(w, sp, last_index + 1, cfg->commit_hint, rec, &damaged, &max_found, &why);
        if (rc != 0) {
            return rc;
        }
        if (damaged) {
            rec->corrupt_detected++;
            damage_note(&d, last_index + 1, WAL_SPARE_NAME, 0, why);
            if (max_found > d.last) {
                d.last = max_found;
            }
        }
    }
    if (!d.found && last_index < cfg->commit_hint) {
        wal_seg_file_name(&w->segs[n - 1], name);
        rec->corrupt_detected++;
        damage_note(&d, last_index + 1, name, w->segs[n - 1].end_off,
                    "the log ends before the hard state's commit index (committed entries are "
                    "missing)");
    }
    if (d.found && cfg->commit_hint > d.last) {
        d.last = cfg->commit_hint;
    }
    rec->first_index = w->segs[0].first_index;
    w->first_index = rec->first_index;
    if (d.found) {
        rec->damaged_first = d.first;
        rec->damaged_last = d.last;
        last_index = d.first - 1;
        if (!cfg->allow_repair) {
            snprintf(msg, sizeof(msg),
                     "corruption before the end of the log: %s (entries %llu..%llu damaged); "
                     "refusing to start (single node: nothing to repair from)",
                     d.why, (unsigned long long)d.first, (unsigned long long)d.last);
            return refuse(rec, ZN_ECORRUPT, d.file, d.offset, msg);
        }
        snprintf(msg, sizeof(msg),
                 "corruption before the end of the log: %s; starting in REPAIR state: entries "
                 "%llu..%llu must be replaced from peers before this node votes or counts toward "
                 "commit",
                 d.why, (unsigned long long)d.first, (unsigned long long)d.last);
        zn_disk_report_set(&rec->report, 0, d.file, d.offset, "%s", msg);
        rec->repair = true;
        w->repair = true;
        w->damaged_first = d.first;
        /* the tail (for truncate) is recomputed by zn_wal_truncate_suffix */
        uint32_t k = 0;
        while (k + 1 < n && w->segs[k + 1].first_index <= d.first) {
            k++;
        }
        last_term =
            w->segs[k].first_index <= last_index ? w->segs[k].last_term : w->segs[k].prev_term;
    }
    /* the active segment: the last one; only it keeps its fd */
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (w->segs[i].fd >= 0) {
            zn_disk_close(w->disk, w->segs[i].fd);
            w->segs[i].fd = -1;
        }
    }
    struct wal_seg *a = &w->segs[n - 1];
    if (!d.found && a->fd >= 0) {
        /* A crash during a suffix truncation may leave the active segment cut but not yet
         * re-preallocated: restore the preallocation before appending (dpdk-notes.md). */
        uint64_t size = 0;
        rc = zn_disk_size(w->disk, a->fd, &size);
        if (rc == 0 && size < w->segment_bytes) {
            rc = zn_disk_fallocate(w->disk, a->fd, 0, w->segment_bytes);
            if (rc == 0) {
                rc = zn_disk_fdatasync(w->disk, a->fd);
            }
            w->active_slow = true; /* unwritten extents again: leave it for the spare */
        }
        if (rc != 0) {
            wal_seg_file_name(a, name);
            return refuse(rec, rc, name, 0, "cannot preallocate the active WAL segment");
        }
    }
    w->last_index = last_index;
    w->last_term = last_term;
    w->durable_index = last_index;
    w->durable_term = last_term;
    w->chain_crc = a->end_crc;
    w->tail_off = a->end_off;
    w->need_segment = a->fd < 0;
    if (!d.found && dv.diverged) {
        snprintf(msg, sizeof(msg),
                 "the log's entry %llu has term %llu but the snapshot's is %llu: the log after "
                 "the snapshot is from an abandoned history and was discarded",
                 (unsigned long long)cfg->snapshot_index, (unsigned long long)dv.diverged_term,
                 (unsigned long long)cfg->snapshot_term);
        rc = wal_reset_after(w, cfg->snapshot_index, cfg->snapshot_term);
        if (rc != 0) {
            return refuse(rec, rc, "", 0, "cannot discard the diverging log");
        }
        rec->first_index = w->first_index;
        rec->last_index = w->last_index;
        rec->last_term = w->last_term;
        rec->segments = 0;
        zn_disk_report_set(&rec->report, 0, "", 0, "%s", msg);
        return 0;
    }
    if (!d.found && w->last_index < cfg->snapshot_index) {
        /* The whole log is older than the snapshot (installed from the leader): every entry is
         * covered by it. Remove the old segments now (newest first) so that the new segment at
         * snapshot_index + 1 can never share a name or the table with a stale one. */
        rc = wal_reset_after(w, cfg->snapshot_index, cfg->snapshot_term);
        if (rc != 0) {
            return refuse(rec, rc, "", 0, "cannot remove the log older than the snapshot");
        }
        rec->first_index = w->first_index;
        rec->segments = 0;
    }
    rec->last_index = w->last_index;
    rec->last_term = w->last_term;
    if (!d.found) {
        if (rec->torn_bytes > 0) {
            zn_disk_report_set(&rec->report, 0, rec->torn_file, rec->torn_offset,
                               "torn tail discarded: %llu bytes after the last valid record "
                               "(never acknowledged)",
                               (unsigned long long)rec->torn_bytes);
        } else {
            zn_disk_report_set(&rec->report, 0, "", 0, "clean start: entries %llu..%llu",
                               (unsigned long long)rec->first_index,
                               (unsigned long long)rec->last_index);
        }
    }
    return 0;
}

/*
 * test_wal_spare.c - the WAL's spare segment (store/wal.c "Spare segments") on the simulated
 * disk: rotations into a ready spare do no file creation, fallocate or directory fsync inside the
 * commit job (the zero-fill runs on the background runner); a fallocated first segment is left
 * early; recovery keeps a never-started spare, adopts a started one whose rename was lost,
 * discards a rotation whose header sector never landed (and refuses it when the commit index
 * covers it); a recycled segment's stale records are never taken for live ones. Suite: wal.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "store/wal_format.h"
#include "wal_test.h"

#define SEG   (16u * 1024u)
#define BATCH 2048u
#define EMAX  700u
#define SPARE "wal-spare.seg"

static struct zn_disk sim;

/* ---- a counting wrapper: what the commit jobs (not the background jobs) do -------------------- */

struct counts {
    uint64_t job_dir_fsyncs, job_creates, job_fallocates, job_renames, job_syncs;
    uint64_t bg_bytes, bg_syncs, bg_jobs;
};
static struct counts cnt;
static int where; /* 0: WAL stage, 1: commit job, 2: background job */

struct tramp {
    zn_disk_job_fn fn;
    void *arg;
};
static struct tramp jobs_t[64], bg_t[64];
static unsigned jobs_n, bg_n;

static int c_open(void *c, const char *n, int f, int *fd)
{
    (void)c;
    if (where == 1 && (f & ZN_DISK_CREATE)) {
        cnt.job_creates++;
    }
    return zn_disk_open(&sim, n, f, fd);
}
static void c_close(void *c, int fd)
{
    (void)c;
    zn_disk_close(&sim, fd);
}
static long c_pread(void *c, int fd, void *b, size_t l, uint64_t o)
{
    (void)c;
    return zn_disk_pread(&sim, fd, b, l, o);
}
static int c_pwrite(void *c, int fd, const void *b, size_t l, uint64_t o)
{
    (void)c;
    if (where == 2) {
        cnt.bg_bytes += l;
    }
    return zn_disk_pwrite(&sim, fd, b, l, o);
}
static int c_fdatasync(void *c, int fd)
{
    (void)c;
    cnt.job_syncs += where == 1;
    cnt.bg_syncs += where == 2;
    return zn_disk_fdatasync(&sim, fd);
}
static int c_fsync_dir(void *c)
{
    (void)c;
    cnt.job_dir_fsyncs += where == 1;
    return zn_disk_fsync_dir(&sim);
}
static int c_rename(void *c, const char *a, const char *b)
{
    (void)c;
    cnt.job_renames += where == 1;
    return zn_disk_rename(&sim, a, b);
}
static int c_unlink(void *c, const char *n)
{
    (void)c;
    return zn_disk_unlink(&sim, n);
}
static int c_fallocate(void *c, int fd, uint64_t o, uint64_t l)
{
    (void)c;
    cnt.job_fallocates += where == 1;
    return zn_disk_fallocate(&sim, fd, o, l);
}
static int c_truncate(void *c, int fd, uint64_t s)
{
    (void)c;
    return zn_disk_truncate(&sim, fd, s);
}
static int c_size(void *c, int fd, uint64_t *s)
{
    (void)c;
    return zn_disk_size(&sim, fd, s);
}
static int c_list(void *c, int (*fn)(void *, const char *), void *a)
{
    (void)c;
    return zn_disk_list(&sim, fn, a);
}
static void job_tramp(void *arg)
{
    struct tramp *t = arg;
    where = 1;
    t->fn(t->arg);
    where = 0;
}
static void bg_tramp(void *arg)
{
    struct tramp *t = arg;
    where = 2;
    cnt.bg_jobs++;
    t->fn(t->arg);
    where = 0;
}
static int c_job_submit(void *c, zn_disk_job_fn fn, void *arg)
{
    (void)c;
    struct tramp *t = &jobs_t[jobs_n++ % 64];
    *t = (struct tramp){fn, arg};
    return zn_disk_job_submit(&sim, job_tramp, t);
}
static int c_job_poll(void *c, void **args, int max)
{
    (void)c;
    int n = zn_disk_job_poll(&sim, args, max);
    for (int i = 0; i < n; i++) {
        args[i] = ((struct tramp *)args[i])->arg;
    }
    return n;
}
static int c_bg_submit(void *c, zn_disk_job_fn fn, void *arg)
{
    (void)c;
    struct tramp *t = &bg_t[bg_n++ % 64];
    *t = (struct tramp){fn, arg};
    return zn_disk_bg_submit(&sim, bg_tramp, t);
}
static int c_bg_poll(void *c, void **args, int max)
{
    (void)c;
    int n = zn_disk_bg_poll(&sim, args, max);
    for (int i = 0; i < n; i++) {
        args[i] = ((struct tramp *)args[i])->arg;
    }
    return n;
}
static const struct zn_disk_ops counting_ops = {
    .open = c_open,
    .close = c_close,
    .pread = c_pread,
    .pwrite = c_pwrite,
    .fdatasync = c_fdatasync,
    .fsync_dir = c_fsync_dir,
    .rename = c_rename,
    .unlink = c_unlink,
    .fallocate = c_fallocate,
    .truncate = c_truncate,
    .size = c_size,
    .list = c_list,
    .job_submit = c_job_submit,
    .job_poll = c_job_poll,
};
static const struct zn_disk_bg_ops counting_bg_ops = {
    .submit = c_bg_submit, .poll = c_bg_poll, .ops = &counting_ops};
static struct zn_disk disk = {
    .ops = &counting_ops, .ctx = NULL, .bg_ops = &counting_bg_ops, .bg_ctx = NULL};

static void setup(void)
{
    cr_assert_eq(zn_disk_sim_create(&sim, &wt_alloc, 7, 0), 0);
    memset(&cnt, 0, sizeof(cnt));
}

static void teardown(void)
{
    zn_disk_sim_destroy(&sim);
}

TestSuite(spare, .init = setup, .fini = teardown);

/* Spares prepared at once (the default waits for a quarter-full segment: tested on its own). */
static struct zn_wal_config eager_config(void)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    c.spare_eager = true;
    return c;
}

static struct zn_wal *open_ok(struct zn_wal_config *c, struct wt_log *l,
                              struct zn_wal_recovery *rec)
{
    struct zn_wal *w;
    int rc = zn_wal_open(&w, c, wt_collect, l, rec);
    cr_assert_eq(rc, 0, "open: %s (%s @%llu: %s)", zn_strerror(rc), rec->report.file,
                 (unsigned long long)rec->report.offset, rec->report.message);
    cr_assert_not(l->bad, "%s", l->why);
    return w;
}

static bool exists(const char *name)
{
    uint64_t size;
    return zn_disk_sim_file_size(&sim, name, &size) == 0;
}

static bool all_zero(const char *name)
{
    uint64_t size;
    cr_assert_eq(zn_disk_sim_file_size(&sim, name, &size), 0);
    static uint8_t buf[SEG];
    cr_assert_leq(size, sizeof(buf));
    cr_assert_eq(zn_disk_sim_peek(&sim, name, 0, buf, size), 0);
    for (uint64_t i = 0; i < size; i++) {
        if (buf[i] != 0) {
            return false;
        }
    }
    return true;
}

Test(spare, rotations_into_the_spare_do_no_creation_or_directory_sync)
{
    struct zn_wal_config c = eager_config();
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w = open_ok(&c, &l, &rec);
    cr_assert_eq(wt_settle(w), 0);
    cr_assert(exists(SPARE) && all_zero(SPARE), "a durable zero-filled spare is ready");
    memset(&cnt, 0, sizeof(cnt));
    struct zn_wal_stats st;
    zn_wal_stats(w, &st);
    uint64_t prepared_before = st.spares_prepared;
    cr_assert_eq(wt_append_range(w, 1, 400, 1, EMAX), 0);
    zn_wal_stats(w, &st);
    cr_assert_geq(st.rotations_spare, 10, "rotations into the spare: %llu",
                  (unsigned long long)st.rotations_spare);
    /* a spare is prepared while the segment before it fills: every rotation found one */
    cr_assert_eq(st.rotations_created, 0, "segments created in the commit path: %llu",
                 (unsigned long long)st.rotations_created);
    cr_assert_eq(cnt.job_creates, 0);
    cr_assert_eq(cnt.job_fallocates, 0);
    cr_assert_eq(cnt.job_dir_fsyncs, 0, "no directory fsync in a commit job");
    cr_assert_eq(cnt.job_renames, st.rotations_spare, "one unsynced rename per rotation");
    cr_assert_geq(cnt.bg_bytes, (st.spares_prepared - prepared_before) * SEG,
                  "the zero-fill ran in the background");
    cr_assert_geq(st.spares_prepared, st.rotations_spare);
    zn_wal_close(w);
    /* the spare left on disk is clean and is kept by the next open */
    cr_assert(all_zero(SPARE));
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l, &rec);
    cr_assert_eq(l.last, 400);
    zn_wal_stats(w, &st);
    cr_assert(st.spare_ready, "recovery adopted the clean spare");
    cr_assert_eq(st.spares_prepared, 0);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(spare, default_prepares_at_a_quarter_and_leaves_the_fallocated_first_segment)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX); /* default: not eager */
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w = open_ok(&c, &l, &rec);
    /* a fresh log: no preparation yet; the first segment is created (fallocate) in the commit
     * path, and small writes never start a zero-fill */
    uint64_t next = 1;
    cr_assert_eq(wt_append_range(w, next, next + 2, 1, EMAX), 0);
    next += 3;
    struct zn_wal_stats st;
    zn_wal_stats(w, &st);
    cr_assert_eq(st.rotations_created, 1);
    cr_assert_eq(cnt.bg_jobs, 0, "no zero-fill before the segment is a quarter full");
    cr_assert_not(exists(SPARE));
    /* single-entry batches until a spare is ready: it must come once a quarter is written */
    uint64_t entries_before_spare = 0;
    while (!st.spare_ready) {
        cr_assert_lt(next, 200, "no spare prepared");
        cr_assert_eq(wt_append_range(w, next, next, 1, EMAX), 0);
        next++;
        zn_wal_stats(w, &st);
        entries_before_spare++;
    }
    cr_assert_eq(zn_wal_segment_count(w), 1, "the spare came before the first segment filled");
    cr_assert_eq(st.rotations_spare, 0);
    /* the next batch leaves the fallocated segment for the spare although it has room */
    cr_assert_eq(wt_append_range(w, next, next, 1, EMAX), 0);
    zn_wal_stats(w, &st);
    cr_assert_eq(st.rotations_early, 1);
    cr_assert_eq(st.rotations_spare, 1);
    cr_assert_eq(zn_wal_segment_count(w), 2);
    zn_wal_close(w);
    wt_log_free(&l);
}

/* A log whose last segment was started in the spare: returns that segment's name and content. */
static uint64_t last_rotation(struct zn_wal_config *c, uint8_t *content, char *name)
{
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w = open_ok(c, &l, &rec);
    cr_assert_eq(wt_settle(w), 0);
    cr_assert_eq(wt_append_range(w, 1, 60, 1, EMAX), 0);
    uint64_t first = zn_wal_last_index(w) + 1;
    /* one more batch: it rotates (forced by a full-size entry sequence) */
    uint64_t segs = zn_wal_segment_count(w);
    uint64_t next = first;
    while (zn_wal_segment_count(w) == segs) {
        cr_assert_eq(wt_append_range(w, next, next, 1, EMAX), 0);
        next++;
    }
    first = next - 1; /* the entry that started the new segment */
    zn_wal_close(w);
    wt_log_free(&l);
    wal_seg_name(name, ZN_DISK_NAME_MAX, first, false);
    cr_assert(exists(name));
    cr_assert_eq(zn_disk_sim_peek(&sim, name, 0, content, SEG), 0);
    return first;
}

Test(spare, started_spare_whose_rename_was_lost_is_adopted)
{
    struct zn_wal_config c = eager_config();
    static uint8_t seg[SEG];
    char name[ZN_DISK_NAME_MAX];
    uint64_t first = last_rotation(&c, seg, name);
    /* the directory as a power loss before the rename was durable leaves it */
    (void)zn_disk_unlink(&sim, SPARE); /* a newer spare, if one was ready */
    cr_assert_eq(zn_disk_rename(&sim, name, SPARE), 0);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    c.commit_hint = first; /* the entry in it was committed: it must be there */
    struct zn_wal *w = open_ok(&c, &l, &rec);
    cr_assert(rec.spare_adopted);
    cr_assert_eq(l.last, first);
    cr_assert(exists(name) && !exists(SPARE));
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(spare, rotation_whose_header_sector_never_landed_is_discarded)
{
    struct zn_wal_config c = eager_config();
    static uint8_t seg[SEG];
    char name[ZN_DISK_NAME_MAX];
    uint64_t first = last_rotation(&c, seg, name);
    /* the rotation batch with its header lost (a header sector that never landed), its
     * records there */
    memset(seg, 0, WAL_SEG_HDR);
    bool rest = true;
    cr_assert_eq(zn_disk_unlink(&sim, name), 0);
    cr_assert_eq(zn_disk_sim_put(&sim, SPARE, seg, SEG), 0);
    /* (1) the commit index covers the batch: refuse, naming the spare */
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w;
    if (rest) {
        c.commit_hint = first;
        cr_assert_eq(zn_wal_open(&w, &c, wt_collect, &l, &rec), ZN_ECORRUPT);
        cr_assert_str_eq(rec.report.file, SPARE);
        cr_assert_not(l.bad);
    }
    /* (2) above the commit index: never acknowledged, discarded; the file becomes the spare */
    c.commit_hint = first - 1;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l, &rec);
    cr_assert_eq(l.last, first - 1);
    cr_assert(!rec.spare_adopted);
    struct zn_wal_stats st;
    zn_wal_stats(w, &st);
    cr_assert(st.spare_ready);
    cr_assert(all_zero(SPARE), "the torn rotation was zeroed");
    if (rest) {
        cr_assert_str_eq(rec.torn_file, SPARE);
        cr_assert_gt(rec.torn_bytes, 0);
    }
    /* and the log goes on from there, through the spare */
    cr_assert_eq(wt_append_range(w, first, first + 40, 2, EMAX), 0);
    zn_wal_close(w);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    c.commit_hint = 0;
    w = open_ok(&c, &l, &rec);
    cr_assert_eq(l.last, first + 40);
    cr_assert_eq(l.terms[first], 2);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(spare, damaged_spare_header_with_records_refuses_or_repairs)
{
    struct zn_wal_config c = eager_config();
    static uint8_t seg[SEG];
    char name[ZN_DISK_NAME_MAX];
    uint64_t first = last_rotation(&c, seg, name);
    seg[20] ^= 0x10; /* a bit flip in the header (not a torn write: the header is not zero) */
    cr_assert_eq(zn_disk_unlink(&sim, name), 0);
    cr_assert_eq(zn_disk_sim_put(&sim, SPARE, seg, SEG), 0);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w;
    cr_assert_eq(zn_wal_open(&w, &c, wt_collect, &l, &rec), ZN_ECORRUPT, "%s", rec.report.message);
    cr_assert_str_eq(rec.report.file, SPARE);
    c.allow_repair = true;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l, &rec);
    cr_assert(rec.repair);
    cr_assert_eq(rec.damaged_first, first);
    cr_assert_eq(l.last, first - 1);
    cr_assert_eq(zn_wal_truncate_suffix(w, first), 0);
    cr_assert_eq(wt_append_range(w, first, first + 5, 2, EMAX), 0);
    zn_wal_close(w);
    wt_log_free(&l);
}

/* Compaction recycles a removed segment: its stale records must never come back as entries. */
Test(spare, recycled_segment_stale_records_never_live)
{
    struct zn_wal_config c = eager_config();
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w = open_ok(&c, &l, &rec);
    cr_assert_eq(wt_settle(w), 0);
    cr_assert_eq(wt_append_range(w, 1, 300, 1, EMAX), 0);
    /* the first segment's content, to plant later */
    char first_name[ZN_DISK_NAME_MAX];
    wal_seg_name(first_name, sizeof(first_name), 1, false);
    static uint8_t old[SEG];
    cr_assert_eq(zn_disk_sim_peek(&sim, first_name, 0, old, SEG), 0);
    /* use the ready spare up, so that the compaction finds no spare and recycles */
    uint64_t next = 301;
    struct zn_wal_stats st;
    zn_wal_stats(w, &st);
    uint64_t rs = st.rotations_spare;
    while (st.rotations_spare == rs) {
        cr_assert_eq(wt_append_range(w, next, next, 1, EMAX), 0);
        next++;
        zn_wal_stats(w, &st);
    }
    cr_assert_not(st.spare_ready);
    /* compaction right away (before the next poll starts a preparation) */
    int removed = zn_wal_compact(w, 200);
    cr_assert_gt(removed, 0);
    cr_assert(exists("wal-spare.tmp"), "the oldest removed segment was kept as wal-spare.tmp");
    cr_assert_not(exists(first_name));
    cr_assert_eq(wt_settle(w), 0);
    zn_wal_stats(w, &st);
    cr_assert_eq(st.spares_recycled, 1);
    cr_assert(all_zero(SPARE), "the recycled file was zeroed before it was named the spare");
    zn_wal_close(w);
    /* Planted: the stale segment under the spare's name, header intact (it names index 1, which
     * the snapshot covers) - adopted as the old segment and dropped as compacted, never read */
    c.snapshot_index = 200;
    c.snapshot_term = 1;
    cr_assert_eq(zn_disk_sim_put(&sim, SPARE, old, SEG), 0);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l, &rec);
    cr_assert_leq(l.first, 201);
    cr_assert_not(l.bad, "%s", l.why);
    cr_assert_eq(l.last, next - 1);
    cr_assert_not(exists(first_name), "the stale segment is removed as compacted");
    zn_wal_close(w);
    /* ... and with its header zeroed (a recycled file caught mid-rewrite, if one ever got the
     * name): its records belong to no batch of the log's end, so they are discarded unread */
    memset(old, 0, WAL_SEG_HDR);
    cr_assert_eq(zn_disk_sim_put(&sim, SPARE, old, SEG), 0);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l, &rec);
    cr_assert_eq(l.last, next - 1);
    cr_assert_not(l.bad, "%s", l.why);
    zn_wal_stats(w, &st);
    cr_assert(st.spare_ready);
    cr_assert(all_zero(SPARE));
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(spare, odd_sized_or_leftover_spare_files_are_replaced)
{
    struct zn_wal_config c = eager_config();
    static uint8_t z[SEG / 2];
    memset(z, 0, sizeof(z));
    cr_assert_eq(zn_disk_sim_put(&sim, SPARE, z, sizeof(z)), 0);
    cr_assert_eq(zn_disk_sim_put(&sim, "wal-spare.tmp", z, sizeof(z)), 0);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    struct zn_wal *w = open_ok(&c, &l, &rec);
    cr_assert_not(exists("wal-spare.tmp"));
    cr_assert_eq(wt_settle(w), 0);
    uint64_t size = 0;
    cr_assert_eq(zn_disk_sim_file_size(&sim, SPARE, &size), 0);
    cr_assert_eq(size, SEG);
    zn_wal_close(w);
    wt_log_free(&l);
}

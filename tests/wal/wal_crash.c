/*
 * wal_crash.c - the durable state's crash and corruption matrix (suite wal).
 *
 * 1. Power loss at every state-changing disk operation of a workload that reaches 50
 *    acknowledged entries (appends in random batches, hard state updates, a suffix truncation, a
 *    snapshot + compaction), under each crash model of the simulated disk (drop, tear at
 *    512 B/4 KiB, reorder). After each crash: hard state, snapshot and WAL recover without
 *    refusal; every acknowledged entry is there with its acknowledged term (lost = 0); every
 *    recovered entry is one that was written (the log is a prefix of what was written).
 * 2. A torn tail at every byte offset inside the last two records: recovered as the prefix.
 * 3. A bit flip at every bit of the segment and record headers, and at N random bit positions
 *    of a larger log (N = 10,000; 1,000 under sanitizers): 100% detected (refusal). Without the
 *    commit hint, flips that look like a torn last batch are counted separately.
 * 4. Every 4 KiB-aligned block of the log zeroed: detected. 5. Stale segments restored: detected.
 * The workload rotates through spare segments (store/wal.c) and, on odd seeds, compacts right
 * after a rotation used the spare up, so that a removed segment is recycled: power loss hits the
 * spare's creation, its zero-fill, its rename, the rotation into it and the recycling, and the
 * output counts those crash images (a run where no crash crosses them fails).
 * Prints the figures; exits 1 on any violation, printing the seed and crash point to replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "store/wal_format.h"
#include "wal_test.h"

#if defined(ZN_SANITIZER_BUILD) && ZN_SANITIZER_BUILD
#define SEEDS       2
#define RANDOM_BITS 1000
#define BIT_STEP    5 /* every 5th header bit under sanitizers */
#else
#define SEEDS       24
#define RANDOM_BITS 10000
#define BIT_STEP    1
#endif

#define CLUSTER 0xC1C1C1C1ULL
#define NODE    3
#define SEG     4096u
#define BATCH   1024u
#define EMAX    200u
#define TARGET  55u
#define MAXIDX  4096u

static int failures;
static uint64_t g_states, g_lost, g_ctried, g_cdet;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
        }                                                        \
    } while (0)

/* ---- 1. power loss matrix ------------------------------------------------------------------- */

struct model {
    uint64_t term_now[MAXIDX];   /* current entry at each index */
    uint64_t hist[MAXIDX];       /* bit t set: an entry of term t was written at index */
    uint64_t acked_term[MAXIDX]; /* term acknowledged at each index <= acked */
    uint64_t acked;              /* acknowledged (durable) prefix, as of the crash */
    uint64_t acked_hs_term;      /* term of the last hard state acknowledged before the crash */
    uint64_t snap_index;         /* a durable snapshot covers [1, snap_index] (before crash) */
    uint64_t mutations;          /* total state-changing operations of the run */
    bool crashed;
    struct zn_wal_stats wal_stats; /* of the run (spare segments used, recycled...) */
};

static bool before_crash(struct zn_disk *d, uint64_t crash_at)
{
    struct zn_disk_sim_stats st;
    zn_disk_sim_stats(d, &st);
    return crash_at == 0 || st.mutations < crash_at;
}

/* Poll once; account an acknowledgement only if it completed before the crash point. */
static void poll_once(struct zn_wal *w, struct zn_disk *d, uint64_t crash_at, struct model *m,
                      uint64_t *acked_live, uint64_t hs_term_pending)
{
    struct zn_wal_persisted p;
    int rc = zn_wal_poll(w, &p);
    if (rc != 1) {
        return;
    }
    if (p.index > *acked_live) {
        *acked_live = p.index;
    }
    if (before_crash(d, crash_at)) {
        for (uint64_t i = m->acked + 1; i <= p.index; i++) {
            m->acked_term[i] = m->term_now[i];
        }
        if (p.index > m->acked) {
            m->acked = p.index;
        }
        if (p.hardstate && hs_term_pending > m->acked_hs_term) {
            m->acked_hs_term = hs_term_pending;
        }
    }
}

static void drain(struct zn_wal *w, struct zn_disk *d, uint64_t crash_at, struct model *m,
                  uint64_t *acked_live, uint64_t hs_term)
{
    for (int i = 0; i < 1000 && !zn_wal_idle(w); i++) {
        zn_wal_flush(w);
        poll_once(w, d, crash_at, m, acked_live, hs_term);
    }
}

static int snap_body(struct zn_snapfile_writer *sw, uint64_t index)
{
    uint8_t b[300];
    wt_payload(index, 99, b, sizeof(b));
    return zn_snapfile_sink(sw, b, sizeof(b));
}

/* Run the workload; with crash_at, the disk captures a crash image at that mutation. */
static void workload(struct zn_disk *d, uint64_t seed, uint64_t crash_at,
                     enum zn_disk_sim_crash mode, struct model *m)
{
    memset(m, 0, sizeof(*m));
    struct zn_prng prng;
    zn_prng_seed(&prng, seed * 7919 + 1);
    if (crash_at != 0) {
        zn_disk_sim_crash_at(d, crash_at, mode);
    }
    /* completions come late at random: batches gather while one is in flight (group commit) */
    zn_disk_sim_job_delay(d, 1, 3);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs = {0};
    if (zn_hardstate_open(&hf, d, CLUSTER, NODE, true, &hs, NULL) != 0) {
        CHECK(0, "hard state create");
        return;
    }
    struct zn_wal_config c = wt_config(d, SEG, BATCH, EMAX);
    c.hardstate = &hf;
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    if (zn_wal_open(&w, &c, NULL, NULL, &rec) != 0) {
        CHECK(0, "fresh open: %s", rec.report.message);
        zn_hardstate_close(&hf);
        return;
    }
    uint64_t term = 1, next = 1, acked_live = 0, hs_term = 0;
    bool truncated = false, snapped = false, installed = false;
    static uint8_t buf[EMAX];
    uint8_t snapbuf[4096];
    for (int round = 0; round < 2000 && acked_live < TARGET; round++) {
        uint64_t n = zn_prng_range(&prng, 1, 6);
        for (uint64_t k = 0; k < n && next < MAXIDX; k++) {
            uint32_t len = wt_len(next, term, EMAX);
            wt_payload(next, term, buf, len);
            if (zn_wal_append(w, (uint16_t)(1 + next % 3), term, next, buf, len) != 0) {
                break;
            }
            m->term_now[next] = term;
            m->hist[next] |= 1ULL << term;
            next++;
        }
        if (zn_prng_chance(&prng, 1, 4)) {
            hs_term = term;
            struct zn_hardstate n_hs = {
                .term = term, .vote = NODE, .commit = acked_live > 5 ? acked_live - 5 : 0};
            zn_wal_set_hardstate(w, &n_hs);
        }
        zn_wal_flush(w);
        poll_once(w, d, crash_at, m, &acked_live, hs_term);
        if (!truncated && acked_live >= 20) {
            /* Raft conflict: the last entries are replaced by a new leader's (term + 1) */
            truncated = true;
            drain(w, d, crash_at, m, &acked_live, hs_term);
            uint64_t cut = acked_live - 2;
            if (before_crash(d, crash_at) && m->acked >= cut) {
                m->acked = cut - 1;
            }
            int rc = zn_wal_truncate_suffix(w, cut);
            CHECK(rc == 0, "truncate: %s", zn_strerror(rc));
            acked_live = cut - 1;
            next = cut;
            term++;
        }
        if (!snapped && acked_live >= 35) {
            snapped = true;
            if (seed % 2 == 1) {
                /* odd seeds: compact right after a rotation used the spare up, so that the
                 * compaction recycles the oldest removed segment as the next spare's file */
                struct zn_wal_stats st;
                zn_wal_stats(w, &st);
                uint64_t rs = st.rotations_spare;
                for (int k = 0; k < 200 && next < MAXIDX &&
                                (st.rotations_spare == rs || st.spare_ready || st.spare_preparing);
                     k++) {
                    uint32_t len = wt_len(next, term, EMAX);
                    wt_payload(next, term, buf, len);
                    if (zn_wal_append(w, (uint16_t)(1 + next % 3), term, next, buf, len) == 0) {
                        m->term_now[next] = term;
                        m->hist[next] |= 1ULL << term;
                        next++;
                    }
                    drain(w, d, crash_at, m, &acked_live, hs_term);
                    zn_wal_stats(w, &st);
                }
            }
            drain(w, d, crash_at, m, &acked_live, hs_term);
            uint64_t s = acked_live - 3;
            struct zn_snapfile_writer sw;
            int rc = zn_snapfile_begin(&sw, d, CLUSTER, NODE, s, m->term_now[s], 2, snapbuf,
                                       sizeof(snapbuf));
            if (rc == 0) {
                rc = snap_body(&sw, s);
            }
            if (rc == 0) {
                rc = zn_snapfile_commit(&sw, NULL);
            }
            CHECK(rc == 0, "snapshot: %s", zn_strerror(rc));
            if (before_crash(d, crash_at)) {
                m->snap_index = s;
            }
            /* compaction runs as a job; appends go on meanwhile, poll reports it */
            rc = zn_wal_compact_submit(w, s);
            CHECK(rc == 0, "compact: %s", zn_strerror(rc));
        }
        if (!installed && acked_live >= 45) {
            /* InstallSnapshot from a new leader (term + 1) whose history differs at the
             * snapshot's last index: make the snapshot durable, then reset the log */
            installed = true;
            drain(w, d, crash_at, m, &acked_live, hs_term);
            uint64_t s = acked_live - 1;
            term++;
            if (before_crash(d, crash_at) && m->acked > s) {
                m->acked = s;
            }
            struct zn_snapfile_writer sw;
            int rc = zn_snapfile_begin(&sw, d, CLUSTER, NODE, s, term, 2, snapbuf, sizeof(snapbuf));
            if (rc == 0) {
                rc = snap_body(&sw, s);
            }
            if (rc == 0) {
                rc = zn_snapfile_commit(&sw, NULL);
            }
            CHECK(rc == 0, "install snapshot: %s", zn_strerror(rc));
            if (before_crash(d, crash_at)) {
                m->snap_index = s;
            }
            rc = zn_wal_reset(w, s, term);
            CHECK(rc == 0, "reset: %s", zn_strerror(rc));
            acked_live = s;
            next = s + 1;
        }
    }
    drain(w, d, crash_at, m, &acked_live, hs_term);
    CHECK(acked_live >= TARGET, "workload reached only %llu", (unsigned long long)acked_live);
    /* let a spare being prepared finish (zn_wal_close would stop it) */
    zn_wal_stats(w, &m->wal_stats);
    for (int i = 0; i < 1000 && m->wal_stats.spare_preparing; i++) {
        poll_once(w, d, crash_at, m, &acked_live, hs_term);
        zn_wal_stats(w, &m->wal_stats);
    }
    zn_wal_close(w);
    zn_hardstate_close(&hf);
    struct zn_disk_sim_stats st;
    zn_disk_sim_stats(d, &st);
    m->mutations = st.mutations;
}

struct crash_totals {
    uint64_t states, lost, refused, torn, diverged, by_mode[3];
    /* spare segments: images holding wal-spare.tmp (a crash while a spare was being created or
     * a recycled segment rewritten), holding wal-spare.seg; recoveries that adopted a started
     * spare (rename lost) or discarded a rotation torn inside the spare */
    uint64_t spare_tmp, spare_seg, spare_adopted, spare_torn;
};

static int spare_names_cb(void *arg, const char *name)
{
    int *found = arg;
    if (strcmp(name, "wal-spare.tmp") == 0) {
        *found |= 1;
    }
    if (strcmp(name, "wal-spare.seg") == 0) {
        *found |= 2;
    }
    return 0;
}

static void verify_image(struct zn_disk *img, const struct model *m, uint64_t seed, uint64_t at,
                         int mode, struct crash_totals *t)
{
    t->states++;
    t->by_mode[mode]++;
    int found = 0;
    zn_disk_list(img, spare_names_cb, &found);
    t->spare_tmp += (found & 1) != 0;
    t->spare_seg += (found & 2) != 0;
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    int rc = zn_hardstate_open(&hf, img, CLUSTER, NODE, true, &hs, &rep);
    CHECK(rc == 0, "seed %llu at %llu mode %d: hard state: %s", (unsigned long long)seed,
          (unsigned long long)at, mode, rep.message);
    if (rc != 0) {
        t->refused++;
        return;
    }
    CHECK(hs.term >= m->acked_hs_term, "seed %llu at %llu mode %d: hard state term %llu < %llu",
          (unsigned long long)seed, (unsigned long long)at, mode, (unsigned long long)hs.term,
          (unsigned long long)m->acked_hs_term);
    uint8_t sbuf[4096];
    struct zn_snapfile_info si = {0};
    rc = zn_snapfile_latest(img, CLUSTER, NODE, sbuf, sizeof(sbuf), &si, &rep);
    CHECK(rc == 0 || rc == ZN_ENOENT, "seed %llu at %llu: snapshot: %s", (unsigned long long)seed,
          (unsigned long long)at, rep.message);
    if (rc != 0) {
        si.index = 0;
        si.term = 0;
    }
    CHECK(si.index >= m->snap_index, "snapshot lost");
    struct zn_wal_config c = wt_config(img, SEG, BATCH, EMAX);
    c.commit_hint = hs.commit;
    c.snapshot_index = si.index;
    c.snapshot_term = si.term;
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    rc = zn_wal_open(&w, &c, wt_collect, &l, &rec);
    if (rc != 0) {
        t->refused++;
        CHECK(0, "seed %llu crash at %llu mode %d: WAL refused: %s @%llu: %s",
              (unsigned long long)seed, (unsigned long long)at, mode, rec.report.file,
              (unsigned long long)rec.report.offset, rec.report.message);
        zn_hardstate_close(&hf);
        wt_log_free(&l);
        return;
    }
    if (rec.torn_bytes > 0) {
        t->torn++;
    }
    t->spare_adopted += rec.spare_adopted;
    t->spare_torn += rec.torn_bytes > 0 && strcmp(rec.torn_file, "wal-spare.seg") == 0;
    if (strstr(rec.report.message, "abandoned") != NULL) {
        t->diverged++;
    }
    CHECK(!l.bad, "seed %llu at %llu: %s", (unsigned long long)seed, (unsigned long long)at, l.why);
    /* every recovered entry was written at that index (prefix of what was written) */
    for (uint64_t i = l.first; l.count > 0 && i <= l.last; i++) {
        CHECK(i < MAXIDX && (m->hist[i] >> l.terms[i] & 1),
              "seed %llu at %llu mode %d: entry %llu term %llu was never written",
              (unsigned long long)seed, (unsigned long long)at, mode, (unsigned long long)i,
              (unsigned long long)l.terms[i]);
    }
    /* every acknowledged entry not covered by the snapshot survives with its term */
    for (uint64_t i = si.index + 1; i <= m->acked; i++) {
        bool ok = l.count > 0 && i >= l.first && i <= l.last && l.terms[i] == m->acked_term[i];
        if (!ok) {
            t->lost++;
            CHECK(0, "seed %llu crash at %llu mode %d: acknowledged entry %llu lost",
                  (unsigned long long)seed, (unsigned long long)at, mode, (unsigned long long)i);
        }
    }
    CHECK(rec.last_index >= m->acked, "log shorter than acknowledged");
    zn_wal_close(w);
    zn_hardstate_close(&hf);
    wt_log_free(&l);
}

/* Recovery steps as the node runs them (hard state, snapshot, WAL), results ignored. */
static void run_recovery(struct zn_disk *d)
{
    struct zn_hardstate_file hf;
    struct zn_hardstate hs = {0};
    if (zn_hardstate_open(&hf, d, CLUSTER, NODE, true, &hs, NULL) != 0) {
        return;
    }
    uint8_t sbuf[4096];
    struct zn_snapfile_info si = {0};
    if (zn_snapfile_latest(d, CLUSTER, NODE, sbuf, sizeof(sbuf), &si, NULL) != 0) {
        si.index = 0;
        si.term = 0;
    }
    struct zn_wal_config c = wt_config(d, SEG, BATCH, EMAX);
    c.commit_hint = hs.commit;
    c.snapshot_index = si.index;
    c.snapshot_term = si.term;
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    if (zn_wal_open(&w, &c, NULL, NULL, &rec) == 0) {
        zn_wal_close(w);
    }
    zn_hardstate_close(&hf);
}

/* Power loss again at every state-changing step of the recovery itself (zeroing a torn tail,
 * deleting leftovers, re-preallocating): the next recovery must still keep everything. */
static void double_crash(struct zn_disk *img, const struct model *m, uint64_t seed, uint64_t at,
                         struct crash_totals *t, uint64_t *recovery_states)
{
    struct zn_disk probe;
    ZN_ASSERT(zn_disk_sim_clone(&probe, img, 1) == 0);
    run_recovery(&probe);
    struct zn_disk_sim_stats st;
    zn_disk_sim_stats(&probe, &st);
    zn_disk_sim_destroy(&probe);
    for (uint64_t k = 1; k <= st.mutations; k++) {
        for (int mode = 0; mode < 3; mode++) {
            struct zn_disk c, i2;
            ZN_ASSERT(zn_disk_sim_clone(&c, img, k * 3 + (uint64_t)mode) == 0);
            zn_disk_sim_crash_at(&c, k, (enum zn_disk_sim_crash)mode);
            run_recovery(&c);
            if (zn_disk_sim_take_image(&c, &i2) == 0) {
                (*recovery_states)++;
                verify_image(&i2, m, seed, at, mode, t);
                zn_disk_sim_destroy(&i2);
            }
            zn_disk_sim_destroy(&c);
        }
    }
}

static void power_loss_matrix(void)
{
    static struct model m;
    struct crash_totals t = {0};
    uint64_t recovery_states = 0;
    struct zn_wal_stats ws = {0};
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        struct zn_disk d;
        ZN_ASSERT(zn_disk_sim_create(&d, &wt_alloc, seed, 0) == 0);
        workload(&d, seed, 0, ZN_SIM_CRASH_DROP, &m);
        zn_disk_sim_destroy(&d);
        ws.rotations_spare += m.wal_stats.rotations_spare;
        ws.rotations_created += m.wal_stats.rotations_created;
        ws.rotations_early += m.wal_stats.rotations_early;
        ws.spares_prepared += m.wal_stats.spares_prepared;
        ws.spares_recycled += m.wal_stats.spares_recycled;
        uint64_t total = m.mutations;
        for (uint64_t at = 1; at <= total; at++) {
            for (int mode = 0; mode < 3; mode++) {
                /* the same disk seed as the reference run: the history up to the crash point is
                 * identical, so every mutation number exists */
                ZN_ASSERT(zn_disk_sim_create(&d, &wt_alloc, seed, 0) == 0);
                workload(&d, seed, at, (enum zn_disk_sim_crash)mode, &m);
                struct zn_disk img;
                int rc = zn_disk_sim_take_image(&d, &img);
                CHECK(rc == 0, "no crash image at %llu", (unsigned long long)at);
                if (rc == 0) {
                    double_crash(&img, &m, seed, at, &t, &recovery_states);
                    verify_image(&img, &m, seed, at, mode, &t);
                    zn_disk_sim_destroy(&img);
                }
                zn_disk_sim_destroy(&d);
            }
        }
    }
    printf("power loss: seeds=%d crash states tried=%llu (drop=%llu tear=%llu reorder=%llu; "
           "%llu of them a second power loss during recovery) torn tails discarded=%llu "
           "log discarded after a diverging snapshot=%llu refused=%llu lost=%llu\n",
           SEEDS, (unsigned long long)t.states, (unsigned long long)t.by_mode[0],
           (unsigned long long)t.by_mode[1], (unsigned long long)t.by_mode[2],
           (unsigned long long)recovery_states, (unsigned long long)t.torn,
           (unsigned long long)t.diverged, (unsigned long long)t.refused,
           (unsigned long long)t.lost);
    printf("spare segments: workload runs started %llu segments in a ready spare, %llu in the "
           "commit path (no spare ready), %llu rotations early to leave a fallocated segment, "
           "prepared %llu spares (%llu from "
           "a recycled segment); crash images holding wal-spare.tmp=%llu wal-spare.seg=%llu; "
           "recoveries that adopted a started spare=%llu discarded a rotation torn in the "
           "spare=%llu\n",
           (unsigned long long)ws.rotations_spare, (unsigned long long)ws.rotations_created,
           (unsigned long long)ws.rotations_early, (unsigned long long)ws.spares_prepared,
           (unsigned long long)ws.spares_recycled, (unsigned long long)t.spare_tmp,
           (unsigned long long)t.spare_seg, (unsigned long long)t.spare_adopted,
           (unsigned long long)t.spare_torn);
    /* the new steps must actually be crossed by crashes, or the matrix proves nothing of them */
    CHECK(ws.rotations_spare > 0 && ws.spares_recycled > 0, "spare paths not exercised");
    CHECK(t.spare_tmp > 0 && t.spare_adopted > 0, "no crash inside spare preparation/adoption");
    g_states += t.states;
    g_lost += t.lost;
}

/* ---- a finished log for the corruption tests --------------------------------------------------- */

static void build_log(struct zn_disk *d, uint64_t n, uint64_t seg, uint32_t batch, uint32_t emax)
{
    ZN_ASSERT(zn_disk_sim_create(d, &wt_alloc, 99, 0) == 0);
    struct zn_wal_config c = wt_config(d, seg, batch, emax);
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    ZN_ASSERT(zn_wal_open(&w, &c, NULL, NULL, &rec) == 0);
    ZN_ASSERT(wt_append_range(w, 1, n, 1, emax) == 0);
    zn_wal_close(w);
}

/* Recover; returns the open code and fills l (caller frees) and rec. */
static int recover(struct zn_disk *d, uint64_t seg, uint32_t batch, uint32_t emax,
                   uint64_t commit_hint, struct wt_log *l, struct zn_wal_recovery *rec)
{
    struct zn_wal_config c = wt_config(d, seg, batch, emax);
    c.commit_hint = commit_hint;
    wt_log_init(l, emax);
    struct zn_wal *w;
    int rc = zn_wal_open(&w, &c, wt_collect, l, rec);
    if (rc == 0) {
        zn_wal_close(w);
    }
    return rc;
}

struct rec_pos {
    char name[ZN_DISK_NAME_MAX];
    uint64_t off, size, index;
};

struct seg_files {
    struct rec_pos seg[64];
    uint32_t nseg;
    uint64_t seg_end[64]; /* end of the written data */
    struct rec_pos rec[20000];
    uint32_t nrec;
};

static int name_cb(void *arg, const char *name)
{
    struct seg_files *s = arg;
    uint64_t first;
    bool tmp;
    if (wal_seg_name_parse(name, &first, &tmp) && !tmp && s->nseg < 64) {
        uint32_t j = s->nseg++;
        while (j > 0 && s->seg[j - 1].index > first) {
            s->seg[j] = s->seg[j - 1];
            j--;
        }
        snprintf(s->seg[j].name, sizeof(s->seg[j].name), "%s", name);
        s->seg[j].index = first;
    }
    return 0;
}

/* Walk the records of every segment (by their length fields; the log is intact). */
static void map_log(struct zn_disk *d, struct seg_files *s)
{
    memset(s, 0, sizeof(*s));
    d->ops->list(d->ctx, name_cb, s);
    for (uint32_t i = 0; i < s->nseg; i++) {
        uint64_t size;
        ZN_ASSERT(zn_disk_sim_file_size(d, s->seg[i].name, &size) == 0);
        uint64_t off = WAL_SEG_HDR;
        for (;;) {
            uint8_t h[WAL_REC_HDR];
            if (off + WAL_REC_HDR > size ||
                zn_disk_sim_peek(d, s->seg[i].name, off, h, sizeof(h)) != 0 ||
                wal_get16(h + 6) != WAL_REC_MAGIC) {
                break;
            }
            struct rec_pos *r = &s->rec[s->nrec++];
            snprintf(r->name, sizeof(r->name), "%s", s->seg[i].name);
            r->off = off;
            r->size = wal_record_size(wal_get32(h));
            r->index = wal_get64(h + 16);
            off += r->size;
        }
        s->seg_end[i] = off;
    }
}

static void flip(struct zn_disk *d, const char *name, uint64_t bit)
{
    uint8_t b;
    ZN_ASSERT(zn_disk_sim_peek(d, name, bit / 8, &b, 1) == 0);
    b ^= (uint8_t)(1u << (bit % 8));
    ZN_ASSERT(zn_disk_sim_poke(d, name, bit / 8, &b, 1) == 0);
}

/* ---- 2. torn tail at every byte of the last two records -------------------------------------- */

static void torn_tail(void)
{
    uint64_t tried = 0, ok = 0;
    for (int variant = 0; variant < 2; variant++) {
        struct zn_disk d;
        /* variant 0: the last two records in one batch; 1: in two batches */
        build_log(&d, 40, 64 * 1024, variant == 0 ? 8192 : 300, EMAX);
        static struct seg_files s;
        map_log(&d, &s);
        ZN_ASSERT(s.nrec >= 2);
        struct rec_pos *a = &s.rec[s.nrec - 2], *b = &s.rec[s.nrec - 1];
        uint64_t end = b->off + b->size;
        for (uint64_t o = a->off; o < end; o++) {
            struct zn_disk c;
            ZN_ASSERT(zn_disk_sim_clone(&c, &d, o) == 0);
            static uint8_t zero[4096];
            ZN_ASSERT(zn_disk_sim_poke(&c, a->name, o, zero, end - o) == 0);
            struct wt_log l;
            struct zn_wal_recovery rec;
            int rc = recover(&c, 64 * 1024, variant == 0 ? 8192 : 300, EMAX, 0, &l, &rec);
            uint64_t want = o < b->off ? a->index - 1 : b->index - 1;
            tried++;
            bool good = rc == 0 && !rec.repair && l.last == want && !l.bad;
            ok += good;
            CHECK(good, "torn at byte %llu (records at %llu, %llu): rc=%d last=%llu want %llu: %s",
                  (unsigned long long)o, (unsigned long long)a->off, (unsigned long long)b->off, rc,
                  (unsigned long long)l.last, (unsigned long long)want, rec.report.message);
            wt_log_free(&l);
            zn_disk_sim_destroy(&c);
        }
        zn_disk_sim_destroy(&d);
    }
    g_states += tried;
    printf("torn tail: byte offsets tried=%llu recovered as the exact prefix=%llu\n",
           (unsigned long long)tried, (unsigned long long)ok);
}

/* ---- 3. bit flips ---------------------------------------------------------------------------- */

#define BSEG   (32u * 1024u)
#define BBATCH 2048u
#define BEMAX  200u
#define BN     600u

/* Flip, recover with the commit hint covering the log, flip back. Detected = refused. */
static bool flip_detected(struct zn_disk *d, const char *name, uint64_t bit, uint64_t last,
                          int *code)
{
    flip(d, name, bit);
    struct wt_log l;
    struct zn_wal_recovery rec;
    int rc = recover(d, BSEG, BBATCH, BEMAX, last, &l, &rec);
    CHECK(!l.bad, "flip %s bit %llu delivered a wrong entry: %s", name, (unsigned long long)bit,
          l.why);
    bool detected = rc != 0;
    *code = rc;
    wt_log_free(&l);
    flip(d, name, bit);
    return detected;
}

static void bit_flips(void)
{
    struct zn_disk d;
    build_log(&d, BN, BSEG, BBATCH, BEMAX);
    static struct seg_files s;
    map_log(&d, &s);
    uint64_t tried = 0, detected = 0;
    int code;
    /* every bit of every segment header and of every record header */
    for (uint32_t i = 0; i < s.nseg; i++) {
        for (uint64_t bit = 0; bit < WAL_SEG_HDR * 8; bit += BIT_STEP) {
            tried++;
            bool ok = flip_detected(&d, s.seg[i].name, bit, BN, &code);
            detected += ok;
            CHECK(ok, "header flip %s bit %llu undetected", s.seg[i].name, (unsigned long long)bit);
        }
    }
    uint64_t nrec_hdrs = 1; /* the last record, below */
    for (uint32_t r = 0; r < s.nrec; r += (s.nrec > 40 ? s.nrec / 40 : 1)) {
        nrec_hdrs++;
        for (uint64_t bit = 0; bit < WAL_REC_HDR * 8; bit += BIT_STEP) {
            tried++;
            bool ok = flip_detected(&d, s.rec[r].name, s.rec[r].off * 8 + bit, BN, &code);
            detected += ok;
            CHECK(ok, "record header flip %s rec %llu bit %llu undetected", s.rec[r].name,
                  (unsigned long long)s.rec[r].index, (unsigned long long)bit);
        }
    }
    /* and the last record's header fully (the tail case) */
    for (uint64_t bit = 0; bit < WAL_REC_HDR * 8; bit += BIT_STEP) {
        struct rec_pos *r = &s.rec[s.nrec - 1];
        tried++;
        bool ok = flip_detected(&d, r->name, r->off * 8 + bit, BN, &code);
        detected += ok;
        CHECK(ok, "last record header flip bit %llu undetected", (unsigned long long)bit);
    }
    printf("bit flips (every %s bit of %u segment headers and %llu record headers): tried=%llu "
           "detected=%llu\n",
           BIT_STEP == 1 ? "single" : "5th", s.nseg, (unsigned long long)nrec_hdrs,
           (unsigned long long)tried, (unsigned long long)detected);

    /* random positions in the written part of the log */
    struct zn_prng prng;
    zn_prng_seed(&prng, 2024);
    uint64_t total = 0;
    for (uint32_t i = 0; i < s.nseg; i++) {
        total += s.seg_end[i];
    }
    uint64_t rtried = 0, rdet = 0, no_hint_refused = 0, no_hint_torn = 0, no_hint_tried = 0;
    for (int k = 0; k < RANDOM_BITS; k++) {
        uint64_t pos = zn_prng_below(&prng, total * 8);
        uint32_t i = 0;
        while (pos >= s.seg_end[i] * 8) {
            pos -= s.seg_end[i] * 8;
            i++;
        }
        rtried++;
        bool ok = flip_detected(&d, s.seg[i].name, pos, BN, &code);
        rdet += ok;
        CHECK(ok, "random flip %s bit %llu undetected", s.seg[i].name, (unsigned long long)pos);
        if (k % 20 == 0) {
            /* the same flip without a commit hint: refused, or (last batch only) a torn tail;
             * never silently accepted */
            struct zn_disk c;
            ZN_ASSERT(zn_disk_sim_clone(&c, &d, (uint64_t)k) == 0);
            flip(&c, s.seg[i].name, pos);
            struct wt_log l;
            struct zn_wal_recovery rec;
            int rc = recover(&c, BSEG, BBATCH, BEMAX, 0, &l, &rec);
            no_hint_tried++;
            no_hint_refused += rc != 0;
            no_hint_torn += rc == 0 && rec.torn_bytes > 0;
            CHECK(rc != 0 || rec.torn_bytes > 0, "flip without hint silently accepted");
            CHECK(!l.bad, "flip without hint delivered a wrong entry");
            wt_log_free(&l);
            zn_disk_sim_destroy(&c);
        }
    }
    printf("bit flips (random positions in %llu bytes of log): tried=%llu detected=%llu; "
           "without commit hint: tried=%llu refused=%llu discarded as torn tail=%llu "
           "accepted=0\n",
           (unsigned long long)total, (unsigned long long)rtried, (unsigned long long)rdet,
           (unsigned long long)no_hint_tried, (unsigned long long)no_hint_refused,
           (unsigned long long)no_hint_torn);

    /* 4. every 4 KiB-aligned block zeroed */
    uint64_t ztried = 0, zdet = 0;
    static uint8_t block[4096], zero[4096];
    for (uint32_t i = 0; i < s.nseg; i++) {
        for (uint64_t off = 0; off < s.seg_end[i]; off += 4096) {
            uint64_t n = s.seg_end[i] - off < 4096 ? s.seg_end[i] - off : 4096;
            ZN_ASSERT(zn_disk_sim_peek(&d, s.seg[i].name, off, block, n) == 0);
            ZN_ASSERT(zn_disk_sim_poke(&d, s.seg[i].name, off, zero, n) == 0);
            struct wt_log l;
            struct zn_wal_recovery rec;
            int rc = recover(&d, BSEG, BBATCH, BEMAX, BN, &l, &rec);
            ztried++;
            zdet += rc != 0;
            CHECK(rc != 0, "zeroed block %s @%llu undetected", s.seg[i].name,
                  (unsigned long long)off);
            CHECK(!l.bad, "zeroed block: wrong entry");
            wt_log_free(&l);
            ZN_ASSERT(zn_disk_sim_poke(&d, s.seg[i].name, off, block, n) == 0);
        }
    }
    g_ctried += tried + rtried + ztried;
    g_cdet += detected + rdet + zdet;
    printf("zeroed 4 KiB blocks: tried=%llu detected=%llu\n", (unsigned long long)ztried,
           (unsigned long long)zdet);
    zn_disk_sim_destroy(&d);
}

/* ---- 5. stale segments ------------------------------------------------------------------------ */

static void stale_segments(void)
{
    uint64_t tried = 0, det = 0;
    static uint8_t copy[BSEG];
    /* (a) a middle segment restored from a copy taken while it was still being filled */
    {
        struct zn_disk d;
        ZN_ASSERT(zn_disk_sim_create(&d, &wt_alloc, 5, 0) == 0);
        struct zn_wal_config c = wt_config(&d, BSEG, BBATCH, BEMAX);
        c.spare_eager = true; /* layout as before spares: a single first segment, in a spare */
        struct zn_wal *w;
        struct zn_wal_recovery rec;
        ZN_ASSERT(zn_wal_open(&w, &c, NULL, NULL, &rec) == 0);
        ZN_ASSERT(wt_settle(w) == 0); /* the first segment starts in the spare */
        ZN_ASSERT(wt_append_range(w, 1, 30, 1, BEMAX) == 0);
        char name[ZN_DISK_NAME_MAX];
        wal_seg_name(name, sizeof(name), 1, false);
        ZN_ASSERT(zn_disk_sim_peek(&d, name, 0, copy, BSEG) == 0);
        ZN_ASSERT(wt_append_range(w, 31, 600, 1, BEMAX) == 0);
        ZN_ASSERT(zn_wal_segment_count(w) >= 3);
        zn_wal_close(w);
        ZN_ASSERT(zn_disk_sim_put(&d, name, copy, BSEG) == 0);
        struct wt_log l;
        int rc = recover(&d, BSEG, BBATCH, BEMAX, 0, &l, &rec);
        tried++;
        det += rc == ZN_ECORRUPT;
        CHECK(rc == ZN_ECORRUPT, "stale middle segment accepted");
        CHECK(strstr(rec.report.message, "does not continue") != NULL, "%s", rec.report.message);
        wt_log_free(&l);
        zn_disk_sim_destroy(&d);
    }
    /* (b) a segment restored from before a suffix truncation rewrote it */
    {
        struct zn_disk d;
        ZN_ASSERT(zn_disk_sim_create(&d, &wt_alloc, 6, 0) == 0);
        struct zn_wal_config c = wt_config(&d, BSEG, BBATCH, BEMAX);
        c.spare_eager = true; /* layout as before spares: a single first segment, in a spare */
        struct zn_wal *w;
        struct zn_wal_recovery rec;
        ZN_ASSERT(zn_wal_open(&w, &c, NULL, NULL, &rec) == 0);
        ZN_ASSERT(wt_settle(w) == 0); /* the first segment starts in the spare */
        ZN_ASSERT(wt_append_range(w, 1, 150, 1, BEMAX) == 0);
        char name[ZN_DISK_NAME_MAX];
        wal_seg_name(name, sizeof(name), 1, false);
        ZN_ASSERT(zn_disk_sim_peek(&d, name, 0, copy, BSEG) == 0);
        ZN_ASSERT(zn_wal_truncate_suffix(w, 100) == 0);
        ZN_ASSERT(wt_append_range(w, 100, 600, 2, BEMAX) == 0);
        zn_wal_close(w);
        ZN_ASSERT(zn_disk_sim_put(&d, name, copy, BSEG) == 0);
        struct wt_log l;
        int rc = recover(&d, BSEG, BBATCH, BEMAX, 0, &l, &rec);
        tried++;
        det += rc == ZN_ECORRUPT;
        CHECK(rc == ZN_ECORRUPT, "pre-truncation segment accepted (rc %d)", rc);
        wt_log_free(&l);
        zn_disk_sim_destroy(&d);
    }
    /* (c) the last segment restored from an older, shorter copy: only the commit hint tells */
    {
        struct zn_disk d;
        ZN_ASSERT(zn_disk_sim_create(&d, &wt_alloc, 7, 0) == 0);
        struct zn_wal_config c = wt_config(&d, BSEG, BBATCH, BEMAX);
        c.spare_eager = true; /* layout as before spares: a single first segment, in a spare */
        struct zn_wal *w;
        struct zn_wal_recovery rec;
        ZN_ASSERT(zn_wal_open(&w, &c, NULL, NULL, &rec) == 0);
        ZN_ASSERT(wt_settle(w) == 0); /* the first segment starts in the spare */
        ZN_ASSERT(wt_append_range(w, 1, 20, 1, BEMAX) == 0);
        char name[ZN_DISK_NAME_MAX];
        wal_seg_name(name, sizeof(name), 1, false);
        ZN_ASSERT(zn_disk_sim_peek(&d, name, 0, copy, BSEG) == 0);
        ZN_ASSERT(wt_append_range(w, 21, 60, 1, BEMAX) == 0);
        ZN_ASSERT(zn_wal_segment_count(w) == 1);
        zn_wal_close(w);
        ZN_ASSERT(zn_disk_sim_put(&d, name, copy, BSEG) == 0);
        struct wt_log l;
        int rc = recover(&d, BSEG, BBATCH, BEMAX, 55, &l, &rec);
        tried++;
        det += rc == ZN_ECORRUPT;
        CHECK(rc == ZN_ECORRUPT, "stale last segment accepted despite commit hint");
        wt_log_free(&l);
        zn_disk_sim_destroy(&d);
    }
    g_ctried += tried;
    g_cdet += det;
    printf("stale segments restored: tried=%llu detected=%llu\n", (unsigned long long)tried,
           (unsigned long long)det);
}

int main(void)
{
    power_loss_matrix();
    torn_tail();
    bit_flips();
    stale_segments();
    if (failures > 0) {
        printf("wal crash matrix: crash states tried=%llu corruptions detected=%llu/%llu "
               "lost=%llu: %d FAILURES\n",
               (unsigned long long)g_states, (unsigned long long)g_cdet,
               (unsigned long long)g_ctried, (unsigned long long)g_lost, failures);
        return 1;
    }
    printf("wal crash matrix: crash states tried=%llu corruptions detected=%llu/%llu lost=%llu: "
           "all checks passed\n",
           (unsigned long long)g_states, (unsigned long long)g_cdet, (unsigned long long)g_ctried,
           (unsigned long long)g_lost);
    return 0;
}

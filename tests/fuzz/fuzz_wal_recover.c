/*
 * fuzz_wal_recover.c - libFuzzer target: WAL segment recovery on untrusted bytes.
 *
 * Input: [flags u8][commit hint u16 LE][file bytes...]. flags bit 0: allow_repair.
 * flags bits 1-2 choose which decoder gets the bytes:
 *   0: wal-0000000000000001.seg -> zn_wal_open must either refuse with a report or deliver
 *      consecutive, size-bounded entries (never crash, over-read or allocate from an untrusted
 *      length); after a successful open, one append must work;
 *   1: the hard state file -> zn_hardstate_open (refuse or a state, which a second open finds
 *      again with nothing left to repair; a write must then work);
 *   2: a snapshot file -> zn_snapfile_latest + zn_snapfile_read (refuse or verified body);
 *   3: wal-spare.seg (the WAL's spare segment, store/wal.c) and no segment -> as for 0: a
 *      started spare is adopted, a torn rotation discarded, anything else refused with a report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "store/disk.h"
#include "store/hardstate.h"
#include "store/snapfile.h"
#include "store/wal.h"

#define FZ_ENTRY_MAX 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *fz_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void fz_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}

struct fz_state {
    uint64_t next;
    uint64_t count;
};

static int fz_entry(void *ctx, const struct zn_wal_entry *e)
{
    struct fz_state *s = ctx;
    ZN_ASSERT(s->count == 0 || e->index == s->next);
    ZN_ASSERT(e->len <= FZ_ENTRY_MAX && e->type >= 1);
    volatile uint8_t sink = 0;
    for (uint32_t i = 0; i < e->len; i++) {
        sink ^= ((const uint8_t *)e->payload)[i];
    }
    (void)sink;
    s->next = e->index + 1;
    s->count++;
    return 0;
}

static int fz_sink(void *ctx, const void *buf, size_t len)
{
    uint64_t *n = ctx;
    (void)buf;
    *n += len;
    return 0;
}

static void fuzz_hardstate(struct zn_disk *d, const uint8_t *data, size_t size)
{
    ZN_ASSERT(zn_disk_sim_put(d, ZN_HARDSTATE_FILE, data, size) == 0);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    int rc = zn_hardstate_open(&hf, d, 0xC1C1C1C1ULL, 3, false, &hs, &rep);
    if (rc == 0) {
        /* open repaired what it found: a second open finds the same state intact, twice */
        struct zn_hardstate again;
        uint64_t seq = hf.seq;
        zn_hardstate_close(&hf);
        ZN_ASSERT(zn_hardstate_open(&hf, d, 0xC1C1C1C1ULL, 3, false, &again, &rep) == 0);
        ZN_ASSERT(hf.seq == seq && again.term == hs.term && again.vote == hs.vote &&
                  again.commit == hs.commit && again.repair_until == hs.repair_until);
        ZN_ASSERT(hf.scan.rewritten == 0 && hf.scan.valid_copies >= 2);
        struct zn_hardstate n = {.term = hs.term + 1, .vote = 3, .commit = hs.commit};
        ZN_ASSERT(zn_hardstate_write(&hf, &n) == 0);
        zn_hardstate_close(&hf);
        ZN_ASSERT(zn_hardstate_open(&hf, d, 0xC1C1C1C1ULL, 3, false, &hs, &rep) == 0);
        ZN_ASSERT(hs.term == n.term);
        zn_hardstate_close(&hf);
    } else {
        ZN_ASSERT(rep.code == rc && rep.message[0] != '\0');
    }
}

static void fuzz_snapfile(struct zn_disk *d, const uint8_t *data, size_t size)
{
    ZN_ASSERT(zn_disk_sim_put(d, "snap-0000000000000064-0000000000000002.snap", data, size) == 0);
    static uint8_t buf[4096];
    struct zn_snapfile_info info;
    struct zn_disk_report rep;
    int rc = zn_snapfile_latest(d, 0xC1C1C1C1ULL, 3, buf, sizeof(buf), &info, &rep);
    if (rc == 0) {
        ZN_ASSERT(info.index == 100 && info.term == 2);
        uint64_t n = 0;
        ZN_ASSERT(zn_snapfile_read(d, &info, buf, sizeof(buf), fz_sink, &n, &rep) == 0);
        ZN_ASSERT(n == info.body_bytes);
    } else {
        ZN_ASSERT(rep.code == rc && rep.message[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > (1u << 20)) {
        return 0;
    }
    const struct zn_allocator a = {fz_alloc, fz_free, NULL};
    struct zn_disk d;
    ZN_ASSERT(zn_disk_sim_create(&d, &a, 1, 0) == 0);
    int which = (data[0] >> 1) & 3;
    if (which == 1 || which == 2) {
        if (which == 1) {
            fuzz_hardstate(&d, data + 3, size - 3);
        } else {
            fuzz_snapfile(&d, data + 3, size - 3);
        }
        zn_disk_sim_destroy(&d);
        return 0;
    }
    ZN_ASSERT(zn_disk_sim_put(&d, which == 3 ? "wal-spare.seg" : "wal-0000000000000001.seg",
                              data + 3, size - 3) == 0);
    struct zn_wal_config c;
    memset(&c, 0, sizeof(c));
    c.disk = &d;
    c.alloc = a;
    c.cluster_id = 0xC1C1C1C1ULL;
    c.node_id = 3;
    c.segment_bytes = 64 * 1024;
    c.batch_bytes = 4096;
    c.entry_bytes_max = FZ_ENTRY_MAX;
    c.allow_repair = data[0] & 1;
    c.commit_hint = (uint64_t)data[1] | (uint64_t)data[2] << 8;
    struct fz_state st = {0, 0};
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    int rc = zn_wal_open(&w, &c, fz_entry, &st, &rec);
    if (rc == 0) {
        ZN_ASSERT(rec.last_index + 1 >= rec.first_index);
        if (rec.repair) {
            ZN_ASSERT(rec.damaged_first >= 1 && rec.damaged_last >= rec.damaged_first);
            ZN_ASSERT(zn_wal_truncate_suffix(w, rec.damaged_first) == 0);
        }
        uint64_t next = zn_wal_last_index(w) + 1;
        uint8_t p[16] = {1, 2, 3};
        int arc = zn_wal_append(w, 1, rec.last_term > 0 ? rec.last_term : 1, next, p, sizeof(p));
        ZN_ASSERT(arc == 0);
        for (int i = 0; i < 100 && !zn_wal_idle(w); i++) {
            zn_wal_flush(w);
            struct zn_wal_persisted pr;
            (void)zn_wal_poll(w, &pr);
        }
        ZN_ASSERT(zn_wal_durable_index(w) == next);
        zn_wal_close(w);
    } else {
        ZN_ASSERT(rec.report.code == rc && rec.report.message[0] != '\0');
    }
    zn_disk_sim_destroy(&d);
    return 0;
}

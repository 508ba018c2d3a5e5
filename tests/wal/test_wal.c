/*
 * test_wal.c - unit tests of the durable state on the simulated disk (and one on real files):
 * append/recover, group commit, hard state slots, truncation, compaction, repair state, refusal
 * rules, snapshot files, ENOSPC and EIO (fail-stop). Suite: wal.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "store/wal_format.h"
#include "wal_test.h"

#define SEG   (16u * 1024u)
#define BATCH 2048u
#define EMAX  700u

static struct zn_disk disk;

static void setup(void)
{
    cr_assert_eq(zn_disk_sim_create(&disk, &wt_alloc, 42, 0), 0);
}

static void teardown(void)
{
    zn_disk_sim_destroy(&disk);
}

static struct zn_wal *open_ok(struct zn_wal_config *c, struct wt_log *l)
{
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    int rc = zn_wal_open(&w, c, wt_collect, l, &rec);
    cr_assert_eq(rc, 0, "open: %s (%s @%llu: %s)", zn_strerror(rc), rec.report.file,
                 (unsigned long long)rec.report.offset, rec.report.message);
    cr_assert_not(l->bad, "%s", l->why);
    return w;
}

TestSuite(wal, .init = setup, .fini = teardown);

Test(wal, append_rotate_recover)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(l.count, 0);
    cr_assert_eq(wt_append_range(w, 1, 300, 1, EMAX), 0);
    cr_assert_eq(zn_wal_durable_index(w), 300);
    cr_assert_gt(zn_wal_segment_count(w), 3, "rotation by size");
    zn_wal_close(w);
    w = open_ok(&c, &l);
    cr_assert_eq(l.count, 300);
    cr_assert_eq(l.last, 300);
    cr_assert_eq(zn_wal_last_index(w), 300);
    /* continue after recovery, in a new term */
    cr_assert_eq(wt_append_range(w, 301, 350, 2, EMAX), 0);
    zn_wal_close(w);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 350);
    cr_assert_eq(l.terms[350], 2);
    cr_assert_eq(l.terms[300], 1);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, group_commit_one_sync_and_release_after_persist)
{
    struct zn_wal_config c = wt_config(&disk, SEG * 4, 8192, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 1, 1, EMAX), 0); /* creates the first segment */
    struct zn_disk_sim_stats s0, s1;
    zn_disk_sim_stats(&disk, &s0);
    uint8_t buf[64] = {0};
    int tokens[8];
    for (uint64_t i = 2; i <= 9; i++) {
        uint32_t len = wt_len(i, 1, EMAX) < 64 ? wt_len(i, 1, EMAX) : 64;
        (void)len;
    }
    for (uint64_t i = 2; i <= 9; i++) {
        uint32_t len = wt_len(i, 1, EMAX);
        uint8_t p[EMAX];
        wt_payload(i, 1, p, len);
        cr_assert_eq(zn_wal_append(w, (uint16_t)(1 + i % 3), 1, i, p, len), 0);
        cr_assert_eq(zn_wal_defer(w, &tokens[i - 2]), 0);
    }
    (void)buf;
    struct zn_wal_persisted p;
    cr_assert_eq(zn_wal_poll(w, &p), 0, "nothing released before a flush");
    cr_assert_eq(zn_wal_flush(w), 1);
    /* the next batch gathers while one is in flight */
    uint8_t q[EMAX];
    wt_payload(10, 1, q, wt_len(10, 1, EMAX));
    cr_assert_eq(zn_wal_append(w, 1 + 10 % 3, 1, 10, q, wt_len(10, 1, EMAX)), 0);
    cr_assert_eq(zn_wal_flush(w), 0, "one batch in flight at a time");
    cr_assert_eq(zn_wal_poll(w, &p), 1);
    cr_assert_eq(p.index, 9);
    cr_assert_eq(p.nitems, 8);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(p.items[i], &tokens[i]);
    }
    zn_disk_sim_stats(&disk, &s1);
    cr_assert_eq(s1.syncs - s0.syncs, 1, "one fdatasync for a batch of 8 (got %llu)",
                 (unsigned long long)(s1.syncs - s0.syncs));
    cr_assert_eq(wt_drain(w), 0);
    cr_assert_eq(zn_wal_durable_index(w), 10);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, append_validates_arguments)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    uint8_t p[EMAX + 1] = {0};
    cr_assert_eq(zn_wal_append(w, 1, 1, 2, p, 10), ZN_EINVAL, "gap in indexes");
    cr_assert_eq(zn_wal_append(w, 0, 1, 1, p, 10), ZN_EINVAL, "type 0 is reserved");
    cr_assert_eq(zn_wal_append(w, 1, 1, 1, p, EMAX + 1), ZN_ELIMIT);
    cr_assert_eq(zn_wal_append(w, 1, 5, 1, p, 10), 0);
    cr_assert_eq(zn_wal_append(w, 1, 4, 2, p, 10), ZN_EINVAL, "terms never go down");
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, hardstate_slots)
{
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), ZN_ENOENT);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, true, &hs, &rep), 0, "%s", rep.message);
    cr_assert_eq(hs.term, 0);
    for (uint64_t t = 1; t <= 5; t++) {
        struct zn_hardstate n = {.term = t, .vote = (uint32_t)t % 3, .commit = t * 10};
        cr_assert_eq(zn_hardstate_write(&hf, &n), 0);
    }
    zn_hardstate_close(&hf);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), 0);
    cr_assert_eq(hs.term, 5);
    cr_assert_eq(hs.commit, 50);
    zn_hardstate_close(&hf);
    /* one copy of the newest (seq 5, slot 1) damaged: its twin masks it, open rewrites it */
    uint8_t x = 0xFF;
    cr_assert_eq(
        zn_disk_sim_poke(&disk, ZN_HARDSTATE_FILE, zn_hardstate_copy_off(1, 0) + 33, &x, 1), 0);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), 0);
    cr_assert_eq(hs.term, 5);
    cr_assert_eq(hf.scan.damaged_copies, 1);
    cr_assert_eq(hf.scan.rewritten, 1);
    cr_assert(strstr(rep.message, "invalid") != NULL, "%s", rep.message);
    cr_assert_eq(rep.offset, zn_hardstate_copy_off(1, 0), "%s", rep.message);
    zn_hardstate_close(&hf);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), 0);
    cr_assert_eq(hs.term, 5);
    cr_assert_eq(hf.scan.valid_copies, 4, "the repair made it durable: %s", rep.message);
    zn_hardstate_close(&hf);
    /* both copies of the newest damaged (the documented residual risk): the older slot wins */
    cr_assert_eq(
        zn_disk_sim_poke(&disk, ZN_HARDSTATE_FILE, zn_hardstate_copy_off(1, 0) + 33, &x, 1), 0);
    cr_assert_eq(
        zn_disk_sim_poke(&disk, ZN_HARDSTATE_FILE, zn_hardstate_copy_off(1, 1) + 40, &x, 1), 0);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), 0);
    cr_assert_eq(hs.term, 4);
    cr_assert(strstr(rep.message, "no valid copy") != NULL, "%s", rep.message);
    zn_hardstate_close(&hf);
    /* wrong node */
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 3, false, &hs, &rep), ZN_ECLUSTER);
    /* every copy bad: refuse */
    for (unsigned b = 0; b < 4; b++) {
        cr_assert_eq(zn_disk_sim_poke(&disk, ZN_HARDSTATE_FILE, b * ZN_HARDSTATE_BLOCK + 20, &x, 1),
                     0);
    }
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), ZN_ECORRUPT);
    cr_assert(strstr(rep.message, "no valid copy") != NULL, "%s", rep.message);
    cr_assert_str_eq(rep.file, ZN_HARDSTATE_FILE);
}

/*
 * A format-1 hard state file written by the format-1 code (store/hardstate.c before the
 * two-copy format): cluster 0x5EED5EED, node 6, 27 updates; slot 0 = sequence 26 (term 26, no
 * vote, commit 78), slot 1 = sequence 27 (term 27, vote 6, commit 81). The rest of the 8 KiB
 * file is zeros. This is the file of the experiment in which a read bit flip in slot 1 made a
 * node come back at term 26 with no vote.
 */
static const uint8_t v1_slot0[80] = {
    0x5a, 0x4e, 0x48, 0x41, 0x52, 0x44, 0x53, 0x54, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
    0xed, 0x5e, 0xed, 0x5e, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x4e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0xb1, 0x61, 0x54};
static const uint8_t v1_slot1[80] = {
    0x5a, 0x4e, 0x48, 0x41, 0x52, 0x44, 0x53, 0x54, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
    0xed, 0x5e, 0xed, 0x5e, 0x00, 0x00, 0x00, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x51, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xdd, 0xcf, 0xbb, 0x5f};
#define V1_CLUSTER 0x5EED5EEDULL
#define V1_NODE    6u

static void put_v1(struct zn_disk *d, bool slot1_torn)
{
    static uint8_t img[2 * ZN_HARDSTATE_BLOCK];
    memset(img, 0, sizeof(img));
    memcpy(img, v1_slot0, sizeof(v1_slot0));
    memcpy(img + ZN_HARDSTATE_BLOCK, v1_slot1, sizeof(v1_slot1));
    if (slot1_torn) {
        memset(img + ZN_HARDSTATE_BLOCK + 40, 0, 40); /* the second half never landed */
    }
    cr_assert_eq(zn_disk_sim_put(d, ZN_HARDSTATE_FILE, img, sizeof(img)), 0);
}

static void expect_copy(struct zn_disk *d, unsigned slot, unsigned copy, uint32_t version,
                        uint64_t seq, uint64_t term)
{
    uint8_t raw[ZN_HARDSTATE_SLOT_SIZE];
    cr_assert_eq(
        zn_disk_sim_peek(d, ZN_HARDSTATE_FILE, zn_hardstate_copy_off(slot, copy), raw, sizeof(raw)),
        0);
    uint64_t s;
    uint32_t v;
    struct zn_hardstate h;
    cr_assert_eq(zn_hardstate_slot_decode(raw, V1_CLUSTER, V1_NODE, &s, &h, &v), 0,
                 "slot %u copy %u", slot, copy);
    cr_assert_eq(v, version, "slot %u copy %u", slot, copy);
    cr_assert_eq(s, seq, "slot %u copy %u", slot, copy);
    cr_assert_eq(h.term, term, "slot %u copy %u", slot, copy);
}

Test(wal, hardstate_v1_file_is_read_and_upgraded)
{
    put_v1(&disk, false);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    cr_assert_eq(zn_hardstate_open(&hf, &disk, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0, "%s",
                 rep.message);
    cr_assert_eq(hs.term, 27);
    cr_assert_eq(hs.vote, 6);
    cr_assert_eq(hs.commit, 81);
    cr_assert_eq(hf.seq, 27);
    cr_assert(hf.scan.upgraded);
    cr_assert_eq(hf.scan.from_version, 1);
    cr_assert_eq(hf.scan.rewritten, 1, "the missing twin of the newest state");
    cr_assert(strstr(rep.message, "upgraded from format version 1") != NULL, "%s", rep.message);
    zn_hardstate_close(&hf);
    uint64_t size = 0;
    cr_assert_eq(zn_disk_sim_file_size(&disk, ZN_HARDSTATE_FILE, &size), 0);
    cr_assert_eq(size, ZN_HARDSTATE_FILE_SIZE);
    expect_copy(&disk, 1, 0, 1, 27, 27); /* the format-1 copy is not touched */
    expect_copy(&disk, 1, 1, 2, 27, 27); /* its new twin */
    expect_copy(&disk, 0, 0, 1, 26, 26);
    /* from now on one flipped bit of any copy leaves term 27 vote 6 (the experiment's bug) */
    uint8_t img[ZN_HARDSTATE_FILE_SIZE];
    cr_assert_eq(zn_disk_sim_peek(&disk, ZN_HARDSTATE_FILE, 0, img, sizeof(img)), 0);
    for (unsigned b = 0; b < 4; b++) {
        for (unsigned bit = 0; bit < 8 * ZN_HARDSTATE_SLOT_SIZE; bit++) {
            uint64_t off = (uint64_t)b * ZN_HARDSTATE_BLOCK + bit / 8;
            uint8_t x = img[off] ^ (uint8_t)(1u << (bit % 8));
            cr_assert_eq(zn_disk_sim_poke(&disk, ZN_HARDSTATE_FILE, off, &x, 1), 0);
            cr_assert_eq(zn_hardstate_open(&hf, &disk, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0,
                         "block %u bit %u: %s", b, bit, rep.message);
            zn_hardstate_close(&hf);
            cr_assert(hs.term == 27 && hs.vote == 6, "block %u bit %u: term %llu vote %u", b, bit,
                      (unsigned long long)hs.term, hs.vote);
            cr_assert_eq(zn_disk_sim_put(&disk, ZN_HARDSTATE_FILE, img, sizeof(img)), 0);
        }
    }
    /* the next update writes both copies in format 2; the older slot keeps its format-1 copy */
    cr_assert_eq(zn_hardstate_open(&hf, &disk, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0);
    cr_assert_eq(hf.scan.rewritten, 0, "%s", rep.message);
    cr_assert(!hf.scan.upgraded);
    struct zn_hardstate n = {.term = 28, .vote = 2, .commit = 90};
    cr_assert_eq(zn_hardstate_write(&hf, &n), 0);
    zn_hardstate_close(&hf);
    expect_copy(&disk, 0, 0, 2, 28, 28);
    expect_copy(&disk, 0, 1, 2, 28, 28);
    expect_copy(&disk, 1, 0, 1, 27, 27);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0);
    cr_assert(hs.term == 28 && hs.vote == 2 && hs.commit == 90);
    cr_assert_eq(hf.scan.valid_copies, 4);
    zn_hardstate_close(&hf);
}

Test(wal, hardstate_v1_torn_update_and_upgrade_crashes)
{
    /* a format-1 file whose last update was torn: format-1 rules still apply (slot 0 wins) */
    put_v1(&disk, true);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    cr_assert_eq(zn_hardstate_open(&hf, &disk, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0, "%s",
                 rep.message);
    cr_assert(hs.term == 26 && hs.vote == 0, "term %llu", (unsigned long long)hs.term);
    cr_assert(strstr(rep.message, "torn") != NULL, "%s", rep.message);
    zn_hardstate_close(&hf);
    expect_copy(&disk, 0, 1, 2, 26, 26);
    /* a power cut at every step of the upgrade (extend, write the twin, fdatasync), in every
     * crash mode, with several seeds: the next open still finds term 27 vote 6 */
    static const enum zn_disk_sim_crash modes[3] = {ZN_SIM_CRASH_DROP, ZN_SIM_CRASH_TEAR,
                                                    ZN_SIM_CRASH_REORDER};
    unsigned tried = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        for (int m = 0; m < 3; m++) {
            for (uint64_t at = 1; at <= 4; at++) {
                struct zn_disk d;
                cr_assert_eq(zn_disk_sim_create(&d, &wt_alloc, seed * 31 + at, 0), 0);
                put_v1(&d, false);
                zn_disk_sim_crash_at(&d, at, modes[m]);
                cr_assert_eq(zn_hardstate_open(&hf, &d, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0);
                zn_hardstate_close(&hf);
                struct zn_disk img;
                if (zn_disk_sim_take_image(&d, &img) == 0) {
                    cr_assert_eq(
                        zn_hardstate_open(&hf, &img, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0,
                        "%s", rep.message);
                    cr_assert(hs.term == 27 && hs.vote == 6, "seed %llu mode %d at %llu: term %llu",
                              (unsigned long long)seed, m, (unsigned long long)at,
                              (unsigned long long)hs.term);
                    zn_hardstate_close(&hf);
                    zn_disk_sim_destroy(&img);
                    tried++;
                }
                zn_disk_sim_destroy(&d);
            }
        }
    }
    cr_assert_eq(tried, 8 * 3 * 3, "the upgrade is 3 disk mutations (extend, write, sync)");
}

Test(wal, hardstate_refuses_an_unknown_version)
{
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, true, &hs, &rep), 0);
    zn_hardstate_close(&hf);
    uint8_t raw[ZN_HARDSTATE_SLOT_SIZE];
    struct zn_hardstate n = {.term = 9};
    zn_hardstate_slot_encode(raw, 7, 2, 1, &n);
    wal_put32(raw + 8, 3);
    wal_put32(raw + 76, zn_crc32c(0, raw, 76));
    cr_assert_eq(zn_disk_sim_poke(&disk, ZN_HARDSTATE_FILE, zn_hardstate_copy_off(1, 1), raw, 80),
                 0);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 7, 2, false, &hs, &rep), ZN_EVERSION);
    cr_assert_eq(rep.offset, zn_hardstate_copy_off(1, 1));
    cr_assert(strstr(rep.message, "version") != NULL, "%s", rep.message);
}

Test(wal, hardstate_written_with_batch)
{
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 0xC1C1C1C1ULL, 3, true, &hs, NULL), 0);
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    c.hardstate = &hf;
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    struct zn_hardstate n = {.term = 3, .vote = 2, .commit = 0};
    zn_wal_set_hardstate(w, &n);
    cr_assert_eq(wt_append_range(w, 1, 20, 3, EMAX), 0);
    zn_wal_close(w);
    zn_hardstate_close(&hf);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 0xC1C1C1C1ULL, 3, false, &hs, NULL), 0);
    cr_assert_eq(hs.term, 3);
    cr_assert_eq(hs.vote, 2);
    zn_hardstate_close(&hf);
    /* a commit index beyond the local log is clamped to what is durable */
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 0xC1C1C1C1ULL, 3, false, &hs, NULL), 0);
    w = open_ok(&c, &l);
    struct zn_hardstate ahead = {.term = 4, .vote = 1, .commit = 1000};
    zn_wal_set_hardstate(w, &ahead);
    cr_assert_eq(wt_append_range(w, 21, 25, 4, EMAX), 0);
    zn_wal_close(w);
    zn_hardstate_close(&hf);
    cr_assert_eq(zn_hardstate_open(&hf, &disk, 0xC1C1C1C1ULL, 3, false, &hs, NULL), 0);
    cr_assert_eq(hs.term, 4);
    cr_assert_eq(hs.commit, 25);
    zn_hardstate_close(&hf);
    c.commit_hint = hs.commit;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 25);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, truncate_suffix_then_rewrite)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 200, 1, EMAX), 0);
    uint32_t segs = zn_wal_segment_count(w);
    cr_assert_eq(zn_wal_truncate_suffix(w, 57), 0);
    cr_assert_eq(zn_wal_last_index(w), 56);
    cr_assert_lt(zn_wal_segment_count(w), segs);
    cr_assert_eq(wt_append_range(w, 57, 120, 2, EMAX), 0);
    zn_wal_close(w);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 120);
    cr_assert_eq(l.terms[56], 1);
    cr_assert_eq(l.terms[57], 2);
    cr_assert_eq(l.terms[120], 2);
    /* truncating at a segment's first index removes that segment entirely */
    cr_assert_eq(zn_wal_truncate_suffix(w, 2), 0);
    cr_assert_eq(wt_append_range(w, 2, 30, 3, EMAX), 0);
    zn_wal_close(w);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 30);
    cr_assert_eq(l.terms[1], 1);
    cr_assert_eq(l.terms[2], 3);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, compact_and_snapshot_gap)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 300, 1, EMAX), 0);
    uint32_t before = zn_wal_segment_count(w);
    int removed = zn_wal_compact(w, 150);
    cr_assert_gt(removed, 0);
    cr_assert_eq(zn_wal_segment_count(w), before - (uint32_t)removed);
    cr_assert_leq(zn_wal_first_index(w), 151);
    zn_wal_close(w);
    /* with the snapshot: fine */
    c.snapshot_index = 150;
    c.snapshot_term = 1;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 300);
    cr_assert_leq(l.first, 151);
    zn_wal_close(w);
    /* without it (snapshot lost): a gap -> refuse, naming the first segment */
    c.snapshot_index = 0;
    struct zn_wal_recovery rec;
    cr_assert_eq(zn_wal_open(&w, &c, NULL, NULL, &rec), ZN_ECORRUPT);
    cr_assert(strstr(rec.report.message, "gap") != NULL, "%s", rec.report.message);
    cr_assert(strncmp(rec.report.file, "wal-", 4) == 0);
    wt_log_free(&l);
}

Test(wal, wrong_cluster_or_node_refused)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 10, 1, EMAX), 0);
    zn_wal_close(w);
    struct zn_wal_recovery rec;
    c.node_id = 4;
    cr_assert_eq(zn_wal_open(&w, &c, NULL, NULL, &rec), ZN_ECLUSTER);
    cr_assert_eq(rec.report.offset, 16);
    c.node_id = 3;
    c.cluster_id = 1;
    cr_assert_eq(zn_wal_open(&w, &c, NULL, NULL, &rec), ZN_ECLUSTER);
    cr_assert(strstr(rec.report.message, "refusing") != NULL);
    wt_log_free(&l);
}

/* Damage a record in the middle of the log; single node refuses, multi-node repairs. */
Test(wal, corruption_refuse_or_repair)
{
    struct zn_wal_config c = wt_config(&disk, SEG * 8, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 100, 1, EMAX), 0);
    zn_wal_close(w);
    char name[ZN_DISK_NAME_MAX];
    wal_seg_name(name, sizeof(name), 1, false);
    uint8_t b;
    cr_assert_eq(zn_disk_sim_peek(&disk, name, 2000, &b, 1), 0);
    b ^= 0x10;
    cr_assert_eq(zn_disk_sim_poke(&disk, name, 2000, &b, 1), 0);
    struct zn_wal_recovery rec;
    cr_assert_eq(zn_wal_open(&w, &c, NULL, NULL, &rec), ZN_ECORRUPT);
    cr_assert_str_eq(rec.report.file, name);
    cr_assert_leq(rec.report.offset, 2000);
    cr_assert(strstr(rec.report.message, "refusing") != NULL, "%s", rec.report.message);
    uint64_t dfirst = rec.damaged_first;
    cr_assert_gt(dfirst, 1);
    cr_assert_eq(rec.damaged_last, 100);
    /* repair state */
    c.allow_repair = true;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    cr_assert_eq(zn_wal_open(&w, &c, wt_collect, &l, &rec), 0);
    cr_assert(rec.repair);
    cr_assert_eq(rec.damaged_first, dfirst);
    cr_assert_eq(l.last, dfirst - 1, "entries before the damage are delivered");
    uint8_t p[8] = {0};
    cr_assert_eq(zn_wal_append(w, 1, 1, dfirst, p, 8), ZN_EREPAIR);
    cr_assert_eq(zn_wal_truncate_suffix(w, dfirst), 0);
    cr_assert_eq(wt_append_range(w, dfirst, 100, 1, EMAX), 0, "replaced from peers");
    zn_wal_close(w);
    c.allow_repair = false;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 100);
    cr_assert_eq(l.count, 100);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, commit_hint_catches_lost_tail)
{
    struct zn_wal_config c = wt_config(&disk, SEG * 8, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 50, 1, EMAX), 0);
    zn_wal_close(w);
    c.commit_hint = 60; /* the hard state says more was committed than the log holds */
    struct zn_wal_recovery rec;
    cr_assert_eq(zn_wal_open(&w, &c, NULL, NULL, &rec), ZN_ECORRUPT);
    cr_assert(strstr(rec.report.message, "commit") != NULL, "%s", rec.report.message);
    cr_assert_eq(rec.damaged_first, 51);
    cr_assert_eq(rec.damaged_last, 60);
    wt_log_free(&l);
}

static int sink_pattern(struct zn_snapfile_writer *sw, uint64_t n, uint8_t seed)
{
    uint8_t chunk[1000];
    for (uint64_t off = 0; off < n; off += sizeof(chunk)) {
        size_t len = n - off < sizeof(chunk) ? (size_t)(n - off) : sizeof(chunk);
        for (size_t i = 0; i < len; i++) {
            chunk[i] = (uint8_t)(seed + (off + i) * 7);
        }
        int rc = zn_snapfile_sink(sw, chunk, len);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

struct check_ctx {
    uint64_t off;
    uint8_t seed;
    bool bad;
};

static int check_pattern(void *ctx, const void *buf, size_t len)
{
    struct check_ctx *c = ctx;
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != (uint8_t)(c->seed + (c->off + i) * 7)) {
            c->bad = true;
        }
    }
    c->off += len;
    return 0;
}

Test(wal, snapshot_files_retention_and_fallback)
{
    static uint8_t buf[8192];
    struct zn_snapfile_writer sw;
    struct zn_snapfile_info info;
    struct zn_disk_report rep;
    cr_assert_eq(zn_snapfile_latest(&disk, 5, 1, buf, sizeof(buf), &info, &rep), ZN_ENOENT);
    for (uint64_t k = 1; k <= 4; k++) {
        cr_assert_eq(zn_snapfile_begin(&sw, &disk, 5, 1, k * 100, k, 2, buf, sizeof(buf)), 0);
        cr_assert_eq(sink_pattern(&sw, 30000 + k, (uint8_t)k), 0);
        cr_assert_eq(zn_snapfile_commit(&sw, &info), 0);
    }
    uint64_t size;
    char name[ZN_DISK_NAME_MAX];
    snprintf(name, sizeof(name), "snap-%016llx-%016llx.snap", 200ULL, 2ULL);
    cr_assert_eq(zn_disk_sim_file_size(&disk, name, &size), ZN_ENOENT, "retention keeps 2");
    snprintf(name, sizeof(name), "snap-%016llx-%016llx.snap", 300ULL, 3ULL);
    cr_assert_eq(zn_disk_sim_file_size(&disk, name, &size), 0);
    cr_assert_eq(zn_snapfile_latest(&disk, 5, 1, buf, sizeof(buf), &info, &rep), 0);
    cr_assert_eq(info.index, 400);
    struct check_ctx cc = {0, 4, false};
    cr_assert_eq(zn_snapfile_read(&disk, &info, buf, sizeof(buf), check_pattern, &cc, &rep), 0);
    cr_assert_eq(cc.off, 30004);
    cr_assert_not(cc.bad);
    /* damage the newest body: the older one is used, and the report names the damaged file */
    uint8_t x = 0x55;
    cr_assert_eq(zn_disk_sim_poke(&disk, info.name, 5000, &x, 1), 0);
    char newest[ZN_DISK_NAME_MAX];
    memcpy(newest, info.name, sizeof(newest));
    cr_assert_eq(zn_snapfile_latest(&disk, 5, 1, buf, sizeof(buf), &info, &rep), 0);
    cr_assert_eq(info.index, 300);
    cr_assert_str_eq(rep.file, newest);
    /* wrong cluster */
    cr_assert_eq(zn_snapfile_latest(&disk, 6, 1, buf, sizeof(buf), &info, &rep), ZN_ECLUSTER);
    /* a crash before the rename leaves only a .tmp, which is ignored and removed */
    cr_assert_eq(zn_snapfile_begin(&sw, &disk, 5, 1, 500, 5, 2, buf, sizeof(buf)), 0);
    cr_assert_eq(sink_pattern(&sw, 10000, 5), 0);
    zn_disk_sim_crash(&disk, ZN_SIM_CRASH_REORDER);
    cr_assert_eq(zn_snapfile_latest(&disk, 5, 1, buf, sizeof(buf), &info, &rep), 0);
    cr_assert_eq(info.index, 300);
}

Test(wal, enospc_reported_nothing_acknowledged)
{
    zn_disk_sim_destroy(&disk);
    /* room for the hard state-less log: 3 segments of SEG bytes */
    cr_assert_eq(zn_disk_sim_create(&disk, &wt_alloc, 7, 3 * SEG + 100), 0);
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    int token = 0;
    uint64_t acked = 0;
    int enospc = 0;
    uint8_t p[EMAX];
    uint64_t i = 1;
    for (int round = 0; round < 10000 && enospc == 0; round++) {
        uint32_t len = wt_len(i, 1, EMAX);
        wt_payload(i, 1, p, len);
        int rc = zn_wal_append(w, (uint16_t)(1 + i % 3), 1, i, p, len);
        if (rc == 0) {
            zn_wal_defer(w, &token);
            i++;
        }
        zn_wal_flush(w);
        struct zn_wal_persisted pr;
        rc = zn_wal_poll(w, &pr);
        if (rc == 1) {
            acked = pr.index;
        } else if (rc == ZN_ENOSPC) {
            enospc++;
        }
    }
    cr_assert_eq(enospc, 1, "ENOSPC reported");
    cr_assert_eq(zn_wal_durable_index(w), acked);
    cr_assert_lt(acked, i - 1, "entries waiting for space are not acknowledged");
    /* make room: compaction after a snapshot covering the first segment, then the retry works */
    struct zn_wal_persisted pr;
    cr_assert_eq(zn_wal_poll(w, &pr), 0);
    zn_wal_close(w);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, acked, "exactly the acknowledged entries are on disk");
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, enospc_retry_after_compaction)
{
    zn_disk_sim_destroy(&disk);
    cr_assert_eq(zn_disk_sim_create(&disk, &wt_alloc, 7, 3 * SEG + 100), 0);
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    int rc = wt_append_range(w, 1, 400, 1, EMAX);
    cr_assert_eq(rc, ZN_ENOSPC);
    uint64_t acked = zn_wal_durable_index(w);
    cr_assert_lt(acked, 400);
    /* the failed batch is retried by flush; it fails again while the disk is full */
    cr_assert_eq(zn_wal_flush(w), 1);
    struct zn_wal_persisted pr;
    cr_assert_eq(zn_wal_poll(w, &pr), ZN_ENOSPC);
    /* a snapshot covering the first segments lets compaction free space; the retry succeeds */
    cr_assert_gt(zn_wal_compact(w, acked), 0);
    cr_assert_eq(wt_drain(w), 0);
    cr_assert_gt(zn_wal_durable_index(w), acked, "the waiting batch is persisted after the retry");
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, fdatasync_eio_is_fail_stop, .signal = SIGABRT)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 10, 1, EMAX), 0);
    zn_disk_sim_fail(&disk, ZN_SIM_OP_FDATASYNC, ZN_EIO, 0, 0);
    (void)wt_append_range(w, 11, 20, 1, EMAX); /* must abort */
    cr_assert_fail("fdatasync EIO did not stop the process");
}

Test(wal, write_eio_is_fail_stop, .signal = SIGABRT)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    zn_disk_sim_fail(&disk, ZN_SIM_OP_PWRITE, ZN_EIO, 3, 0);
    (void)wt_append_range(w, 1, 100, 1, EMAX);
    cr_assert_fail("write EIO did not stop the process");
}

Test(wal, read_eio_during_recovery_refuses)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 50, 1, EMAX), 0);
    zn_wal_close(w);
    zn_disk_sim_fail(&disk, ZN_SIM_OP_PREAD, ZN_EIO, 2, 1);
    struct zn_wal_recovery rec;
    cr_assert_eq(zn_wal_open(&w, &c, NULL, NULL, &rec), ZN_EIO);
    cr_assert(strncmp(rec.report.file, "wal-", 4) == 0);
    cr_assert(strstr(rec.report.message, "read error") != NULL, "%s", rec.report.message);
    wt_log_free(&l);
}

Test(wal, read_bit_flips_never_yield_wrong_entries)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 300, 1, EMAX), 0);
    zn_wal_close(w);
    c.commit_hint = 300;
    int refused = 0;
    for (int run = 0; run < 20; run++) {
        zn_disk_sim_read_flips(&disk, 1, 20000);
        struct wt_log r;
        wt_log_init(&r, EMAX);
        struct zn_wal_recovery rec;
        int rc = zn_wal_open(&w, &c, wt_collect, &r, &rec);
        cr_assert_not(r.bad, "a flipped read produced a wrong entry: %s", r.why);
        if (rc == 0) {
            cr_assert_eq(r.last, 300);
            zn_wal_close(w);
        } else {
            cr_assert_eq(rc, ZN_ECORRUPT);
            refused++;
        }
        wt_log_free(&r);
    }
    zn_disk_sim_read_flips(&disk, 0, 1);
    cr_assert_gt(refused, 0, "flips at 1/20000 per byte hit a 48 KiB log");
    wt_log_free(&l);
}

Test(wal, posix_disk_roundtrip)
{
    char dir[] = "/tmp/zn-wal-posix-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk pd;
    cr_assert_eq(zn_disk_posix_init(&pd, mem, dir), 0);
    struct zn_wal_config c = wt_config(&pd, SEG * 4, BATCH * 4, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 500, 1, EMAX), 0);
    cr_assert_eq(zn_wal_truncate_suffix(w, 401), 0);
    cr_assert_eq(wt_append_range(w, 401, 450, 2, EMAX), 0);
    cr_assert_eq(zn_wal_compact(w, 200) >= 1, 1);
    zn_wal_close(w);
    c.snapshot_index = 200;
    c.snapshot_term = 1;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 450);
    cr_assert_eq(l.terms[450], 2);
    cr_assert_eq(l.terms[400], 1);
    zn_wal_close(w);
    zn_disk_posix_fini(&pd);
    free(mem);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    wt_log_free(&l);
}

/* The format-1 upgrade on a real file system: the 8 KiB file is extended by fallocate, the twin
 * written, and a flipped bit in the format-1 copy is then masked by it. */
Test(wal, hardstate_v1_upgrade_on_posix_disk)
{
    char dir[] = "/tmp/zn-hs-posix-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, ZN_HARDSTATE_FILE);
    static uint8_t img[2 * ZN_HARDSTATE_BLOCK];
    memset(img, 0, sizeof(img));
    memcpy(img, v1_slot0, sizeof(v1_slot0));
    memcpy(img + ZN_HARDSTATE_BLOCK, v1_slot1, sizeof(v1_slot1));
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(img, 1, sizeof(img), f), sizeof(img));
    cr_assert_eq(fclose(f), 0);
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk pd;
    cr_assert_eq(zn_disk_posix_init(&pd, mem, dir), 0);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    cr_assert_eq(zn_hardstate_open(&hf, &pd, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0, "%s",
                 rep.message);
    cr_assert(hs.term == 27 && hs.vote == 6 && hf.scan.upgraded);
    zn_hardstate_close(&hf);
    f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    cr_assert_eq(ftell(f), (long)ZN_HARDSTATE_FILE_SIZE);
    cr_assert_eq(fseek(f, (long)ZN_HARDSTATE_BLOCK + 40, SEEK_SET), 0); /* the vote of slot 1 */
    cr_assert_eq(fputc(6 ^ 0x04, f), 6 ^ 0x04);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(zn_hardstate_open(&hf, &pd, V1_CLUSTER, V1_NODE, false, &hs, &rep), 0, "%s",
                 rep.message);
    cr_assert(hs.term == 27 && hs.vote == 6, "term %llu vote %u: %s", (unsigned long long)hs.term,
              hs.vote, rep.message);
    cr_assert_eq(rep.offset, ZN_HARDSTATE_BLOCK, "%s", rep.message);
    cr_assert_eq(hf.scan.rewritten, 1);
    zn_hardstate_close(&hf);
    zn_disk_posix_fini(&pd);
    free(mem);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

struct read_ctx {
    uint64_t first, last, n;
    bool bad;
};

static int read_cb(void *ctx, const struct zn_wal_entry *e)
{
    struct read_ctx *r = ctx;
    uint8_t p[EMAX];
    if (r->n == 0) {
        r->first = e->index;
    } else if (e->index != r->last + 1) {
        r->bad = true;
    }
    wt_payload(e->index, e->term, p, e->len);
    if (e->len != wt_len(e->index, e->term, EMAX) || memcmp(p, e->payload, e->len) != 0) {
        r->bad = true;
    }
    r->last = e->index;
    r->n++;
    return 0;
}

Test(wal, read_back_ranges_across_segments)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 250, 1, EMAX), 0);
    static uint8_t rbuf[4096];
    struct read_ctx r = {0};
    cr_assert_eq(zn_wal_read(w, 17, 203, read_cb, &r, rbuf, sizeof(rbuf)), 0);
    cr_assert_not(r.bad);
    cr_assert_eq(r.first, 17);
    cr_assert_eq(r.last, 203);
    cr_assert_eq(r.n, 187);
    cr_assert_eq(zn_wal_read(w, 200, 251, read_cb, &r, rbuf, sizeof(rbuf)), ZN_EINVAL,
                 "beyond the durable index");
    cr_assert_eq(zn_wal_read(w, 1, 2, read_cb, &r, rbuf, 100), ZN_EINVAL, "window too small");
    /* while batches are in flight (rotations included), durable entries stay readable */
    zn_disk_sim_job_delay(&disk, 1, 2);
    uint8_t p[EMAX];
    uint64_t next = 251;
    for (int round = 0; round < 300; round++) {
        uint32_t len = wt_len(next, 1, EMAX);
        wt_payload(next, 1, p, len);
        if (zn_wal_append(w, (uint16_t)(1 + next % 3), 1, next, p, len) == 0) {
            next++;
        }
        zn_wal_flush(w);
        struct zn_wal_persisted pr;
        (void)zn_wal_poll(w, &pr);
        uint64_t dur = zn_wal_durable_index(w);
        struct read_ctx q = {0};
        uint64_t from = 1 + (uint64_t)round % dur;
        cr_assert_eq(zn_wal_read(w, from, dur, read_cb, &q, rbuf, sizeof(rbuf)), 0);
        cr_assert_not(q.bad);
        cr_assert_eq(q.first, from);
        cr_assert_eq(q.last, dur);
    }
    cr_assert_eq(wt_drain(w), 0);
    zn_wal_close(w);
    wt_log_free(&l);
}

/* Raft section 7: a snapshot from the leader whose last entry does not match the local log. */
Test(wal, snapshot_divergence_discards_log_and_reset)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 120, 1, EMAX), 0);
    zn_wal_close(w);
    /* the node crashed after making the leader's snapshot (index 60, term 2) durable but before
     * resetting its log: entries 61.. of term 1 must not come back */
    c.snapshot_index = 60;
    c.snapshot_term = 2;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    cr_assert_eq(zn_wal_open(&w, &c, wt_collect, &l, &rec), 0, "%s", rec.report.message);
    cr_assert(strstr(rec.report.message, "abandoned") != NULL, "%s", rec.report.message);
    cr_assert_eq(rec.last_index, 60);
    cr_assert_leq(l.last, 60, "nothing after the snapshot is delivered");
    cr_assert_eq(wt_append_range(w, 61, 80, 2, EMAX), 0);
    zn_wal_close(w);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.first, 61);
    cr_assert_eq(l.last, 80);
    cr_assert_eq(l.terms[61], 2);
    /* zn_wal_reset at run time: a newer snapshot (200, term 3) */
    cr_assert_eq(zn_wal_reset(w, 200, 3), 0);
    cr_assert_eq(zn_wal_last_index(w), 200);
    cr_assert_eq(zn_wal_segment_count(w), 0);
    cr_assert_eq(wt_append_range(w, 201, 230, 3, EMAX), 0);
    zn_wal_close(w);
    c.snapshot_index = 200;
    c.snapshot_term = 3;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.first, 201);
    cr_assert_eq(l.last, 230);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, log_operations_as_jobs_do_not_block)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 200, 1, EMAX), 0);
    /* truncation: submitted, appends refused until zn_wal_poll reports it */
    cr_assert_eq(zn_wal_truncate_suffix_submit(w, 150), 0);
    uint8_t p[EMAX];
    wt_payload(150, 2, p, wt_len(150, 2, EMAX));
    cr_assert_eq(zn_wal_append(w, 1 + 150 % 3, 2, 150, p, wt_len(150, 2, EMAX)), ZN_EBUSY);
    cr_assert_eq(zn_wal_compact_submit(w, 10), ZN_EBUSY, "one operation at a time");
    struct zn_wal_persisted pr;
    int rc;
    for (int i = 0; i < 100 && (rc = zn_wal_poll(w, &pr)) == 0; i++) {
    }
    cr_assert_eq(rc, 1);
    cr_assert_eq(pr.op, ZN_WAL_OP_TRUNCATE);
    cr_assert_eq(pr.op_result, 0);
    cr_assert_eq(zn_wal_last_index(w), 149);
    /* compaction: appends continue while it runs; the batch is flushed after it */
    cr_assert_eq(zn_wal_compact_submit(w, 100), 0);
    cr_assert_eq(zn_wal_append(w, 1 + 150 % 3, 2, 150, p, wt_len(150, 2, EMAX)), 0);
    cr_assert_eq(zn_wal_flush(w), 0, "the batch waits for the operation");
    for (int i = 0; i < 100 && (rc = zn_wal_poll(w, &pr)) == 0; i++) {
    }
    cr_assert_eq(pr.op, ZN_WAL_OP_COMPACT);
    cr_assert_gt(pr.op_result, 0);
    cr_assert_gt(zn_wal_first_index(w), 1);
    cr_assert_eq(wt_append_range(w, 151, 180, 2, EMAX), 0);
    zn_wal_close(w);
    c.snapshot_index = 100;
    c.snapshot_term = 1;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.last, 180);
    cr_assert_eq(l.terms[149], 1);
    cr_assert_eq(l.terms[150], 2);
    zn_wal_close(w);
    wt_log_free(&l);
}

Test(wal, log_older_than_snapshot_restarts_after_it)
{
    struct zn_wal_config c = wt_config(&disk, SEG, BATCH, EMAX);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    struct zn_wal *w = open_ok(&c, &l);
    cr_assert_eq(wt_append_range(w, 1, 120, 1, EMAX), 0);
    zn_wal_close(w);
    /* a snapshot from the leader beyond the whole local log */
    c.snapshot_index = 500;
    c.snapshot_term = 4;
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    struct zn_wal_recovery rec;
    cr_assert_eq(zn_wal_open(&w, &c, wt_collect, &l, &rec), 0, "%s", rec.report.message);
    cr_assert_eq(rec.last_index, 500);
    cr_assert_eq(zn_wal_segment_count(w), 0, "old segments removed");
    cr_assert_eq(wt_append_range(w, 501, 560, 4, EMAX), 0);
    cr_assert_eq(zn_wal_compact(w, 530), 0, "the active segment is kept");
    zn_wal_close(w);
    wt_log_free(&l);
    wt_log_init(&l, EMAX);
    w = open_ok(&c, &l);
    cr_assert_eq(l.first, 501);
    cr_assert_eq(l.last, 560);
    cr_assert_eq(l.terms[501], 4);
    zn_wal_close(w);
    wt_log_free(&l);
}

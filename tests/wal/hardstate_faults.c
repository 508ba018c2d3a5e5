/*
 * hardstate_faults.c - the hard state never goes back behind its last synced state (issue 5,
 * brief "hardstate"): one corrupted sector at rest, crashes, and both together.
 *
 *   1. bit flips at rest: after N synced updates (N odd and even, so the newest state is in
 *      either slot), flip every bit of the whole file, one at a time, and open: the state must
 *      be the last synced one, every time (no refusal, no older state). Then whole sectors
 *      (512 B) and blocks (4 KiB) zeroed or filled with garbage, one at a time.
 *   2. transient read errors (the simulated disk flips bits on read): every open still returns
 *      the last synced state.
 *   3. crash matrix: seeds x rounds; in each round a power cut (simulated disk: drop, tear or
 *      reorder the unsynced writes) lands in a random place among the next disk mutations of
 *      open (which may repair) and a run of updates; then a random bit of one random copy is
 *      flipped at rest in the crash image, and the next open must return the last synced state
 *      or an update that was started after it and never synced - never an older state, never a
 *      refusal.
 *      "A single corrupted sector": a flip is injected only after an open that returned (open
 *      rewrites damaged copies of the newest state, so an earlier flip has been repaired); when
 *      the cut fell inside open's repair, the earlier flip may still be there and a second one
 *      could hit the twin - two rotten copies of one state, the documented residual risk.
 *
 * Only the public open/write/close API and the simulated disk are used, and offsets come from
 * the file's size, so this program also builds against the format-1 hardstate.c (it fails
 * there: a flip in the newest slot gave back the previous state).
 *
 * Exits non-zero on any failure; prints what it checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "store/disk.h"
#include "store/hardstate.h"
#include "wal_test.h"

#define CLUSTER    0x5EED5EEDULL
#define NODE       6u
#define BLOCK      4096u
#define COPY_BYTES 80u
#define FILE_MAX   (64u * 1024u)

#ifdef ZN_SANITIZER_BUILD
#define SEEDS  800u
#define ROUNDS 12u
#else
#define SEEDS  8000u
#define ROUNDS 16u
#endif
#define READ_FLIP_OPENS 20000u
#define WINDOW          14u /* the power cut lands within this many mutations */
#define WRITES_MAX      8u  /* updates per round (3 mutations each: more than WINDOW) */
#define TERMS_MAX       (ROUNDS * (WRITES_MAX + 1))

static int failures;

#define CHECK(cond, ...)                                    \
    do {                                                    \
        if (!(cond)) {                                      \
            if (failures++ < 20) {                          \
                printf("FAIL %s:%d: ", __FILE__, __LINE__); \
                printf(__VA_ARGS__);                        \
                printf("\n");                               \
            }                                               \
        }                                                   \
    } while (0)

static bool same(const struct zn_hardstate *a, const struct zn_hardstate *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit &&
           a->repair_until == b->repair_until;
}

static struct zn_hardstate state_for(uint64_t term, struct zn_prng *p)
{
    struct zn_hardstate s = {.term = term,
                             .vote = (uint32_t)zn_prng_below(p, 6),
                             .commit = term * 7 + zn_prng_below(p, 5),
                             .repair_until = zn_prng_chance(p, 1, 4) ? term * 3 : 0};
    return s;
}

static void new_disk(struct zn_disk *d, uint64_t seed)
{
    if (zn_disk_sim_create(d, &wt_alloc, seed, 0) != 0) {
        printf("cannot create a simulated disk\n");
        exit(1);
    }
}

/* ---- 1. bit flips, sectors and blocks at rest --------------------------------------------- */

static uint8_t image[FILE_MAX];

/* Open after damage; 1 if the last synced state came back. */
static int open_expect(struct zn_disk *d, const struct zn_hardstate *want, const char *what,
                       uint64_t where)
{
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = zn_hardstate_open(&hf, d, CLUSTER, NODE, false, &hs, &rep);
    if (rc != 0) {
        CHECK(false, "%s %llu: open refused (%s): %s (offset %llu)", what,
              (unsigned long long)where, zn_strerror(rc), rep.message,
              (unsigned long long)rep.offset);
        return 0;
    }
    zn_hardstate_close(&hf);
    CHECK(same(&hs, want), "%s %llu: got term %llu vote %u, last synced term %llu vote %u (%s)",
          what, (unsigned long long)where, (unsigned long long)hs.term, hs.vote,
          (unsigned long long)want->term, want->vote, rep.message);
    return same(&hs, want);
}

static void restore(struct zn_disk *d, uint64_t size)
{
    if (zn_disk_sim_put(d, ZN_HARDSTATE_FILE, image, size) != 0) {
        printf("cannot restore the image\n");
        exit(1);
    }
}

static void at_rest(uint64_t updates, uint64_t *tried, uint64_t *ok)
{
    struct zn_disk d;
    new_disk(&d, 100 + updates);
    struct zn_prng p;
    zn_prng_seed(&p, updates);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs, last = {0};
    if (zn_hardstate_open(&hf, &d, CLUSTER, NODE, true, &hs, NULL) != 0) {
        printf("cannot create the hard state\n");
        exit(1);
    }
    for (uint64_t t = 1; t <= updates; t++) {
        last = state_for(t, &p);
        CHECK(zn_hardstate_write(&hf, &last) == 0, "write %llu", (unsigned long long)t);
    }
    zn_hardstate_close(&hf);
    uint64_t size = 0;
    if (zn_disk_sim_file_size(&d, ZN_HARDSTATE_FILE, &size) != 0 || size > FILE_MAX ||
        zn_disk_sim_peek(&d, ZN_HARDSTATE_FILE, 0, image, size) != 0) {
        printf("cannot read the file image\n");
        exit(1);
    }
    uint64_t bits_ok = 0;
    for (uint64_t bit = 0; bit < size * 8; bit++) {
        uint8_t b = image[bit / 8] ^ (uint8_t)(1u << (bit % 8));
        CHECK(zn_disk_sim_poke(&d, ZN_HARDSTATE_FILE, bit / 8, &b, 1) == 0, "poke");
        bits_ok += (uint64_t)open_expect(&d, &last, "bit", bit);
        restore(&d, size);
    }
    uint64_t sec_ok = 0, sectors = 0;
    static uint8_t junk[BLOCK];
    for (int kind = 0; kind < 4; kind++) {
        uint64_t unit = kind < 2 ? 512 : BLOCK;
        for (uint64_t off = 0; off + unit <= size; off += unit) {
            if (kind % 2 == 0) {
                memset(junk, 0, unit);
            } else {
                zn_prng_fill(&p, junk, unit);
            }
            CHECK(zn_disk_sim_poke(&d, ZN_HARDSTATE_FILE, off, junk, unit) == 0, "poke");
            sec_ok += (uint64_t)open_expect(&d, &last, kind < 2 ? "sector at" : "block at", off);
            sectors++;
            restore(&d, size);
        }
    }
    printf("at rest, %llu synced updates (newest in slot %llu), file %llu bytes: %llu/%llu single "
           "bit flips and %llu/%llu zeroed or garbage sectors/blocks recovered the last synced "
           "state\n",
           (unsigned long long)updates, (unsigned long long)(updates % 2), (unsigned long long)size,
           (unsigned long long)bits_ok, (unsigned long long)(size * 8), (unsigned long long)sec_ok,
           (unsigned long long)sectors);
    *tried += size * 8 + sectors;
    *ok += bits_ok + sec_ok;
    zn_disk_sim_destroy(&d);
}

/* ---- 3. crash matrix with a flip at rest ----------------------------------------------------- */

struct model {
    struct zn_hardstate last;                   /* last synced: a write or an open returned it */
    struct zn_hardstate written[TERMS_MAX + 1]; /* every update started, by term (unique) */
    uint32_t npend;                             /* updates started since `last` */
};

struct figures {
    uint64_t states, lost, refused, got_last, got_pending, flips, open_crashes;
};

static void flip_one_copy(struct zn_disk *img, struct zn_prng *p, struct figures *f)
{
    uint64_t size = 0;
    if (zn_disk_sim_file_size(img, ZN_HARDSTATE_FILE, &size) != 0 || size < BLOCK) {
        return;
    }
    uint64_t blocks = size / BLOCK;
    uint64_t off = zn_prng_below(p, blocks) * BLOCK + zn_prng_below(p, COPY_BYTES);
    uint8_t b;
    if (zn_disk_sim_peek(img, ZN_HARDSTATE_FILE, off, &b, 1) != 0) {
        return;
    }
    b ^= (uint8_t)(1u << zn_prng_below(p, 8));
    if (zn_disk_sim_poke(img, ZN_HARDSTATE_FILE, off, &b, 1) == 0) {
        f->flips++;
    }
}

/* Is the state recovered after a crash allowed by the model? */
static void judge(const struct model *m, int rc, const struct zn_hardstate *hs,
                  const struct zn_disk_report *rep, struct figures *f, uint64_t seed,
                  uint32_t round)
{
    f->states++;
    if (rc != 0) {
        f->refused++;
        f->lost++;
        CHECK(false, "seed %llu round %u: open refused (%s): %s", (unsigned long long)seed, round,
              zn_strerror(rc), rep->message);
        return;
    }
    if (same(hs, &m->last)) {
        f->got_last++;
        return;
    }
    /* An update that was never synced was never announced: adopting it is safe when it is newer
     * than everything announced (the last synced state). It need not be the latest attempt: a
     * copy of an earlier interrupted update with the same sequence may be found instead. */
    if (hs->term > m->last.term && hs->term <= TERMS_MAX && same(hs, &m->written[hs->term])) {
        f->got_pending++;
        return;
    }
    f->lost++;
    CHECK(false,
          "seed %llu round %u: recovered term %llu vote %u, last synced term %llu vote %u "
          "(%u in flight): %s",
          (unsigned long long)seed, round, (unsigned long long)hs->term, hs->vote,
          (unsigned long long)m->last.term, m->last.vote, m->npend, rep->message);
}

static void crash_seed(uint64_t seed, struct figures *f)
{
    static const enum zn_disk_sim_crash modes[3] = {ZN_SIM_CRASH_DROP, ZN_SIM_CRASH_TEAR,
                                                    ZN_SIM_CRASH_REORDER};
    struct zn_prng p;
    zn_prng_seed(&p, seed * 7919 + 1);
    struct zn_disk d;
    new_disk(&d, seed);
    static struct model m;
    memset(&m, 0, sizeof(m));
    uint64_t term = 0;
    {
        struct zn_hardstate_file hf;
        struct zn_hardstate hs;
        if (zn_hardstate_open(&hf, &d, CLUSTER, NODE, true, &hs, NULL) != 0) {
            printf("cannot create the hard state\n");
            exit(1);
        }
        zn_hardstate_close(&hf);
    }
    for (uint32_t round = 0; round <= ROUNDS; round++) {
        struct zn_disk_sim_stats st;
        zn_disk_sim_stats(&d, &st);
        uint64_t at = st.mutations + 1 + zn_prng_below(&p, WINDOW);
        if (round < ROUNDS) {
            zn_disk_sim_crash_at(&d, at, modes[zn_prng_below(&p, 3)]);
        }
        struct zn_hardstate_file hf;
        struct zn_hardstate hs;
        struct zn_disk_report rep;
        memset(&rep, 0, sizeof(rep));
        int rc = zn_hardstate_open(&hf, &d, CLUSTER, NODE, false, &hs, &rep);
        if (round > 0) {
            judge(&m, rc, &hs, &rep, f, seed, round); /* what the last crash (and flip) left */
        }
        if (rc != 0) {
            CHECK(round > 0, "seed %llu: first open: %s", (unsigned long long)seed, rep.message);
            break;
        }
        zn_disk_sim_stats(&d, &st);
        bool opened = !(round < ROUNDS && st.mutations >= at);
        if (!opened) {
            f->open_crashes++; /* the cut fell inside open's repair: no new flip (see above) */
        } else {
            m.last = hs; /* open returned: this state is on disk twice */
            m.npend = 0;
            for (uint32_t w = 0; w < WRITES_MAX; w++) {
                struct zn_hardstate n = state_for(++term, &p);
                m.written[n.term] = n;
                m.npend++;
                CHECK(zn_hardstate_write(&hf, &n) == 0, "write");
                zn_disk_sim_stats(&d, &st);
                if (round < ROUNDS && st.mutations >= at) {
                    break; /* the cut fell inside this update: it stays in flight */
                }
                m.last = n;
                m.npend = 0;
            }
        }
        zn_hardstate_close(&hf);
        if (round == ROUNDS) {
            break;
        }
        struct zn_disk img;
        if (zn_disk_sim_take_image(&d, &img) != 0) {
            CHECK(false, "seed %llu round %u: no crash image", (unsigned long long)seed, round);
            break;
        }
        zn_disk_sim_destroy(&d);
        d = img;
        if (opened && zn_prng_chance(&p, 3, 4)) {
            flip_one_copy(&d, &p, f);
        }
    }
    zn_disk_sim_destroy(&d);
}

/* ---- 2. transient read errors ------------------------------------------------------------ */

/* Each byte read has a 1/1000 chance of a flipped bit (about 8% of the reads of one copy): the
 * experiment that found the bug was a read flip. A copy that fails is read again, and the twin
 * is there: every open must return the last synced state (deterministic for the seed; the
 * chance that both copies fail three reads each is ~2e-7 per open). */
static void read_flips(uint64_t *tried, uint64_t *ok)
{
    struct zn_disk d;
    new_disk(&d, 77);
    struct zn_prng p;
    zn_prng_seed(&p, 77);
    struct zn_hardstate_file hf;
    struct zn_hardstate hs, last = {0};
    if (zn_hardstate_open(&hf, &d, CLUSTER, NODE, true, &hs, NULL) != 0) {
        printf("cannot create the hard state\n");
        exit(1);
    }
    zn_disk_sim_read_flips(&d, 1, 1000);
    uint64_t n = 0, good = 0;
    for (uint64_t t = 1; t <= READ_FLIP_OPENS; t++) {
        if (t % 16 == 0) { /* an update now and then, so both slots take turns as the newest */
            last = state_for(t, &p);
            CHECK(zn_hardstate_write(&hf, &last) == 0, "write %llu", (unsigned long long)t);
        }
        zn_hardstate_close(&hf);
        struct zn_disk_report rep;
        memset(&rep, 0, sizeof(rep));
        int rc = zn_hardstate_open(&hf, &d, CLUSTER, NODE, false, &hs, &rep);
        n++;
        if (rc != 0) {
            CHECK(false, "read flips, open %llu refused: %s", (unsigned long long)t, rep.message);
            break;
        }
        CHECK(same(&hs, &last), "read flips, open %llu: term %llu, last synced term %llu: %s",
              (unsigned long long)t, (unsigned long long)hs.term, (unsigned long long)last.term,
              rep.message);
        good += same(&hs, &last);
    }
    zn_hardstate_close(&hf);
    printf("transient read flips (1/1000 per byte read): %llu/%llu opens recovered the last synced "
           "state\n",
           (unsigned long long)good, (unsigned long long)n);
    *tried += n;
    *ok += good;
    zn_disk_sim_destroy(&d);
}

int main(void)
{
    uint64_t tried = 0, ok = 0;
    at_rest(7, &tried, &ok);
    at_rest(8, &tried, &ok);
    read_flips(&tried, &ok);
    struct figures f;
    memset(&f, 0, sizeof(f));
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        crash_seed(seed, &f);
    }
    printf("crash matrix: %u seeds x %u rounds: %llu crash states tried (%llu with a bit flipped "
           "in one copy, %llu cuts inside open), recovered the last synced state %llu, an update "
           "in flight %llu, refused %llu, lost=%llu\n",
           SEEDS, ROUNDS, (unsigned long long)f.states, (unsigned long long)f.flips,
           (unsigned long long)f.open_crashes, (unsigned long long)f.got_last,
           (unsigned long long)f.got_pending, (unsigned long long)f.refused,
           (unsigned long long)f.lost);
    printf("at rest and read flips: %llu damaged files or reads tried, %llu recovered the last "
           "synced state, lost=%llu\n",
           (unsigned long long)tried, (unsigned long long)ok, (unsigned long long)(tried - ok));
    if (failures > 0) {
        printf("hardstate_faults: %d failure(s)\n", failures);
        return 1;
    }
    printf("hardstate_faults: ok\n");
    return 0;
}

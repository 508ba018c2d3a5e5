/*
 * bench_raft.c - cost of the Raft core: nanoseconds per zn_raft_step() by event/message type,
 * and committed entries per second of a 3-node in-memory loop with proposal batches of 1, 16
 * and 256 entries (64-byte payloads).
 *
 * The loop is single-threaded and in-memory: messages are encoded and decoded with the real
 * codec and delivered in FIFO order, every write is "durable" at once (ZN_RAFT_EV_PERSISTED right
 * after the update, held messages released then), the leader proposes a new batch whenever
 * fewer than 4 batches are uncommitted. So the figures are the CPU cost of consensus alone
 * (three replicas on one core), the ceiling a raft stage could reach without I/O.
 *
 *   bench_raft [seconds-per-batch-size]      (default 1.0)
 *
 * Not a test: nothing is asserted about speed. Figures on a shared machine are noisy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zn_err.h"
#include "consensus/codec.h"
#include "consensus/raft.h"

#define NODES    3
#define QCAP     (1u << 16)
#define MSG_MAX  (1u << 20)
#define EV_KINDS (ZN_RAFT_MSG_TYPE_MAX + 4)

struct qmsg {
    uint8_t to;
    uint32_t len;
    uint8_t *buf;
};

struct bench {
    struct zn_raft *r[NODES + 1];
    void *mem[NODES + 1];
    struct qmsg *q;
    uint32_t head;
    uint32_t count;
    uint64_t now;
    uint64_t step_ns[EV_KINDS];
    uint64_t step_n[EV_KINDS];
    uint64_t committed;
    bool timing;
    struct zn_raft_entry dec[512];
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *kind_name(int k)
{
    if (k <= ZN_RAFT_MSG_TYPE_MAX) {
        return zn_raft_msg_type_name((uint8_t)k);
    }
    static const char *const extra[] = {"tick", "persisted", "propose"};
    return extra[k - ZN_RAFT_MSG_TYPE_MAX - 1];
}

static void enqueue(struct bench *b, const struct zn_raft_msg *m)
{
    if (b->count == QCAP) {
        return; /* a full queue drops, like a full ring */
    }
    struct qmsg *x = &b->q[(b->head + b->count) % QCAP];
    size_t len = 0;
    if (zn_raft_msg_encode(m, x->buf, MSG_MAX, &len) != 0) {
        fprintf(stderr, "encode failed\n");
        exit(1);
    }
    x->len = (uint32_t)len;
    x->to = m->to;
    b->count++;
}

static int step(struct bench *b, uint8_t id, struct zn_raft_event *ev, int kind);

static void handle_update(struct bench *b, uint8_t id, struct zn_raft_update *up)
{
    for (uint32_t i = 0; i < up->n_msgs; i++) {
        enqueue(b, &up->msgs[i]);
    }
    /* in-memory mode: the write is durable at once, then the held messages are released */
    for (uint32_t i = 0; i < up->n_msgs_after; i++) {
        enqueue(b, &up->msgs_after[i]);
    }
    if (id == 1 && up->apply_to >= up->apply_from) {
        b->committed += up->apply_to - up->apply_from + 1;
    }
    if (up->persist.id != 0) {
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_PERSISTED};
        ev.persisted.id = up->persist.id;
        step(b, id, &ev, ZN_RAFT_MSG_TYPE_MAX + 2);
    }
}

static int step(struct bench *b, uint8_t id, struct zn_raft_event *ev, int kind)
{
    struct zn_raft_update up;
    ev->now_ns = b->now;
    int rc;
    if (b->timing) {
        uint64_t t0 = mono_ns();
        rc = zn_raft_step(b->r[id], ev, &up);
        uint64_t t1 = mono_ns();
        b->step_ns[kind] += t1 - t0;
        b->step_n[kind]++;
    } else {
        rc = zn_raft_step(b->r[id], ev, &up);
    }
    handle_update(b, id, &up);
    return rc;
}

static void pump(struct bench *b, uint32_t max)
{
    for (uint32_t i = 0; i < max && b->count > 0; i++) {
        struct qmsg *x = &b->q[b->head];
        b->head = (b->head + 1) % QCAP;
        b->count--;
        struct zn_raft_msg m;
        if (zn_raft_msg_decode(&m, b->dec, 512, x->buf, x->len) != 0) {
            fprintf(stderr, "decode failed\n");
            exit(1);
        }
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .msg = &m};
        step(b, x->to, &ev, m.type);
    }
}

static void setup(struct bench *b, uint32_t batch)
{
    memset(b, 0, sizeof(*b));
    b->q = calloc(QCAP, sizeof(*b->q));
    for (uint32_t i = 0; i < QCAP; i++) {
        b->q[i].buf = malloc(MSG_MAX);
        if (b->q[i].buf == NULL) {
            exit(1);
        }
    }
    struct zn_raft_conf conf = {.n_voters = NODES, .voters = {1, 2, 3}};
    for (uint8_t id = 1; id <= NODES; id++) {
        struct zn_raft_config cfg;
        zn_raft_config_default(&cfg, id);
        cfg.batch_entries_max = batch < 16 ? 16 : batch;
        cfg.batch_bytes_max = 1u << 20;
        cfg.log_entries_max = 1u << 16;
        cfg.log_bytes_max = 16u << 20;
        cfg.compact_keep = 1024;
        cfg.priority = id == 1 ? 1 : 0; /* node 1 leads */
        size_t need = zn_raft_mem_size(&cfg);
        b->mem[id] = aligned_alloc(64, (need + 63) & ~(size_t)63);
        if (b->mem[id] == NULL || zn_raft_init(&b->r[id], &cfg, &conf, b->mem[id], need) != 0) {
            fprintf(stderr, "init failed\n");
            exit(1);
        }
    }
    /* elect node 1 */
    for (int i = 0; i < 100; i++) {
        b->now += 2000000;
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK};
        step(b, 1, &ev, ZN_RAFT_MSG_TYPE_MAX + 1);
        pump(b, 1000);
        struct zn_raft_status st;
        zn_raft_status_get(b->r[1], &st);
        if (st.role == ZN_RAFT_LEADER && st.commit == st.last_index) {
            return;
        }
    }
    fprintf(stderr, "no leader\n");
    exit(1);
}

static void teardown(struct bench *b)
{
    for (uint32_t i = 0; i < QCAP; i++) {
        free(b->q[i].buf);
    }
    free(b->q);
    for (int id = 1; id <= NODES; id++) {
        free(b->mem[id]);
    }
}

/* Run the loop for `seconds`; returns committed entries per second. */
static double run(struct bench *b, uint32_t batch, double seconds, bool timing)
{
    static uint8_t payload[64];
    struct zn_raft_entry ents[256];
    for (uint32_t i = 0; i < batch; i++) {
        ents[i] = (struct zn_raft_entry){.type = ZN_RAFT_ENTRY_NORMAL, .len = 64, .data = payload};
    }
    b->timing = timing;
    uint64_t start = mono_ns();
    uint64_t c0 = b->committed;
    uint64_t snap_at = 0;
    uint64_t rounds = 0;
    for (;;) {
        struct zn_raft_status st;
        zn_raft_status_get(b->r[1], &st);
        if (st.last_index - st.commit < 4u * batch) {
            struct zn_raft_event ev = {.type = ZN_RAFT_EV_PROPOSE};
            ev.propose.entries = ents;
            ev.propose.n = batch;
            int rc = step(b, 1, &ev, ZN_RAFT_MSG_TYPE_MAX + 3);
            if (rc != 0 && rc != ZN_EFULL) {
                fprintf(stderr, "propose: %s\n", zn_strerror(rc));
                exit(1);
            }
        }
        pump(b, 64);
        /* the application snapshots every 16k entries so the windows never fill */
        if (st.commit > snap_at + 16384) {
            for (uint8_t id = 1; id <= NODES; id++) {
                struct zn_raft_status s2;
                zn_raft_status_get(b->r[id], &s2);
                struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_TAKEN};
                ev.snapshot_taken.index = s2.applied;
                step(b, id, &ev, ZN_RAFT_MSG_TYPE_MAX + 3);
            }
            snap_at = st.commit;
        }
        if ((++rounds & 255) == 0) {
            b->now += 100000; /* time passes: heartbeats, check-quorum */
            for (uint8_t id = 1; id <= NODES; id++) {
                struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK};
                step(b, id, &ev, ZN_RAFT_MSG_TYPE_MAX + 1);
            }
            if ((double)(mono_ns() - start) / 1e9 >= seconds) {
                break;
            }
        }
    }
    double el = (double)(mono_ns() - start) / 1e9;
    return (double)(b->committed - c0) / el;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    if (seconds <= 0 || seconds > 60) {
        seconds = 1.0;
    }
    static struct bench b;
    uint32_t batches[] = {1, 16, 256};
    printf("3-node in-memory loop (one core, codec on every message, 64-byte entries):\n");
    for (int i = 0; i < 3; i++) {
        setup(&b, batches[i]);
        double rate = run(&b, batches[i], seconds, false);
        printf("  batch %3u: %10.0f committed entries/s\n", batches[i], rate);
        teardown(&b);
    }
    /* per-step cost, batch 16, timing each call (clock overhead subtracted) */
    uint64_t t0 = mono_ns();
    for (int i = 0; i < 1000000; i++) {
        (void)mono_ns();
    }
    double overhead = (double)(mono_ns() - t0) / 1e6;
    setup(&b, 16);
    run(&b, 16, seconds, true);
    printf("ns per zn_raft_step (batch 16, clock overhead %.0f ns subtracted):\n", overhead);
    for (int k = 1; k < EV_KINDS; k++) {
        if (b.step_n[k] == 0) {
            continue;
        }
        double ns = (double)b.step_ns[k] / (double)b.step_n[k] - overhead;
        printf("  %-15s %8.0f ns  (%llu steps)\n", kind_name(k), ns < 0 ? 0 : ns,
               (unsigned long long)b.step_n[k]);
    }
    teardown(&b);
    return 0;
}

/*
 * sim.c - a single-threaded discrete-event simulator that runs the real Raft core
 * (consensus/raft.c) on N simulated nodes and tries to break it (models: TigerBeetle's VOPR,
 * cowsql/raft test/lib/cluster.c, sqlite test6.c for the disk).
 *
 * Everything is driven by one seeded PRNG and one event heap ordered by (time, sequence), so a
 * seed replays exactly; the trace hash (every processed event folded in) proves it.
 *
 * Network: every message is encoded with the real codec (consensus/codec.c) and decoded at the
 * receiver. Faults: loss, duplication, delay (reordering falls out of per-message latency),
 * symmetric and one-way partitions, isolate-one, halves, bridge (two halves joined by one node),
 * heal. A node can be paused (its events wait) for longer than the election timeout. Each node's
 * clock runs at its own rate (drift within +-2%): the core only ever sees that local time.
 *
 * Disk model. Each node owns a sector-level simulated disk (store/disk_sim.c) that outlives its
 * crashes, and runs the real durable-state code on it exactly as zincd does (node/node.c): the
 * WAL (store/wal.c: records appended to an open batch, group commit as one disk job of write +
 * fdatasync, segment rotation, suffix truncation on a conflict, compaction behind a snapshot),
 * the hard state (store/hardstate.c, written by the WAL job after the batch) and snapshot files
 * (store/snapfile.c). The messages the core releases only after a write (vote grants, append
 * acks) and its ZN_RAFT_EV_PERSISTED are an item deferred on the WAL batch (STYLE.md 3) and
 * leave only when zn_wal_poll reports the batch durable. A batch job is submitted at once and
 * finishes at the node's next WAL event (the disk latency); a crash in between cuts the power
 * inside the job: at a random one of its next disk mutations (before the segment write, between
 * write and fdatasync, before the rename or directory fsync, before the hard state slot...) the
 * disk's unsynced state meets one fate - dropped, torn at 512 B / 4 KiB, or reordered sector by
 * sector (disk_sim.c) - and everything else in the process is gone; one crash in two also flips
 * a bit of one hard-state copy at rest (hs_flip_at_rest). A restart runs zincd's
 * recovery sequence: zn_hardstate_open -> zn_snapfile_latest/read -> zn_raft_load ->
 * zn_wal_open delivering each recovered entry to zn_raft_load_entry.
 * The simulator keeps a shadow of what each node was told is durable (the WAL's durable index
 * and the terms of those entries, the hard state of each durable batch, the newest committed
 * snapshot, every vote grant released): the durability invariants below check the core against
 * it, and after every restart the recovered state must contain all of it.
 *
 * Invariants checked after every event (a violation is counted, described and the run stops):
 *   election safety (one leader per term), leader append-only, log matching (every (index, term)
 *   names one payload with one predecessor term), leader completeness (a new leader holds every
 *   entry known committed), state-machine safety (the same hash chain at each applied index on
 *   every node), durability (a released vote grant is in the voter's durable hard state; a
 *   released append ack is covered by the follower's durable log; the core's own durable index
 *   is; an entry the leader commits is durable on a quorum of its voters; after a crash the
 *   recovered log, hard state and snapshot still hold everything that was durable - checked on
 *   the bytes the real recovery code read back), term and commit monotonic per
 *   incarnation, linearizable reads (a ReadIndex result is >= every commit index known when the
 *   read was issued). Liveness (end of run): all nodes crash and restart (power loss), faults
 *   heal, then a leader within 10 election timeouts, a read served within 5, every client
 *   operation committed and every node caught up.
 */
#include "tests/sim/sim.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "consensus/codec.h"
#include "store/disk.h"
#include "store/hardstate.h"
#include "store/snapfile.h"
#include "store/wal.h"

#define ET_NS       (10 * SIM_MS)
#define HB_NS       (2 * SIM_MS)
#define BATCH_MAX   16u
#define ENTRIES_DEC 64u
#define CHUNK_BYTES 64u
#define OPS_MAX     (1u << 20)
#define READS_TRACK 4096u
/* The durable-state code's settings in the simulation: small segments so that rotation,
 * compaction and multi-segment recovery happen in every run. */
#define SIM_CLUSTER_ID   0x7a696e63ull
#define SIM_SEG_BYTES    (16u * 1024u)
#define SIM_BATCH_BYTES  (4u * 1024u)
#define SIM_ENTRY_MAX    256u
#define SIM_STAGE_BYTES  4096u
#define SIM_SNAP_RETAIN  2u
#define SIM_FD_SLOTS     2048u
#define SIM_CRASH_WINDOW 8u /* a power cut lands within the next this many disk mutations */

static const char *const fault_names[F_COUNT] = {
    "loss",       "dup",        "partition", "one_way",   "isolate",   "halves",
    "bridge",     "heal",       "crash",     "disk_drop", "disk_torn", "disk_reorder",
    "pause",      "conf",       "transfer",  "snapshot",  "install",   "crash_in_io",
    "prio0_runs", "wal_enospc", "settings",  "hs_flip"};

const char *sim_fault_name(int f)
{
    return f >= 0 && f < F_COUNT ? fault_names[f] : "?";
}

/* ---- small containers ---------------------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    return q;
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    return h;
}

static uint64_t hash_bytes(const uint8_t *p, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

struct wmsg {
    uint8_t *buf;
    uint32_t len;
    uint8_t to;
    uint64_t ack_term; /* append ack: term of the acked entry when the ack was made */
};

/* What a node defers on a WAL batch: messages released, then PERSISTED(persist_id). */
struct relitem {
    struct relitem *prev; /* on the node's deferred list until the WAL hands it back */
    struct relitem *next;
    uint64_t persist_id;
    uint32_t n;
    struct wmsg *msgs;
};

/* Process memory of one incarnation (the WAL's buffers): dropped whole by a crash. */
struct arena_blk {
    struct arena_blk *prev;
    struct arena_blk *next;
    size_t size;
    max_align_t data[];
};

struct node {
    uint8_t id;
    bool up;
    struct zn_raft *raft;
    void *mem;
    /* storage: the simulated device outlives crashes; the rest is process state */
    struct zn_disk disk; /* the sector-level sim disk */
    struct zn_disk io;   /* what the WAL, hard state and snapshot code use (forwards to disk) */
    struct arena_blk *arena;
    struct zn_hardstate_file hsf;
    struct zn_wal *wal;
    uint8_t *stage; /* snapshot file staging buffer */
    uint64_t compact_pending;
    uint8_t wal_fd[SIM_FD_SLOTS]; /* fd -> 1: a WAL segment, 2: already synced once (canary) */
    struct relitem *deferred;     /* items on WAL batches (freed by a crash) */
    struct relitem **relq;        /* items handed back by the WAL, to release */
    uint32_t n_relq;
    uint32_t cap_relq;
    /* the newest committed snapshot file (what zn_snapfile_latest must find) */
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t snap_hash;
    struct zn_raft_conf snap_conf;
    /* shadow of what the node was told is durable */
    uint64_t *wterm; /* term of the entry the node wrote at each index */
    uint64_t cap_wterm;
    uint64_t dur_last; /* the WAL's durable index */
    uint64_t hs_term;  /* hard state of the last durable batch that carried one */
    uint8_t hs_vote;
    bool hs_open; /* a hard state is set on the open batch / the batch in flight */
    uint64_t hs_open_term;
    uint8_t hs_open_vote;
    bool hs_fl;
    uint64_t hs_fl_term;
    uint8_t hs_fl_vote;
    bool told_to_stand;   /* received TimeoutNow since it last followed or led */
    uint8_t prio;         /* own priority in force (config at boot, then settings events) */
    uint32_t enospc_left; /* segment creations still to fail with ENOSPC */
    bool wal_failed;      /* the WAL holds a batch that met ENOSPC (resubmitted first) */
    bool dying;           /* a power cut is armed at a future disk mutation */
    bool cut;             /* ... and has happened: cut_img is what the disk holds */
    uint32_t cut_mode;    /* index into the crash modes */
    struct zn_disk cut_img;
    uint64_t grant_term; /* the last vote grant released */
    uint8_t grant_to;
    uint64_t applied;
    uint64_t sm_hash;
    uint64_t gen;
    uint64_t tick_gen;
    bool sync_pending;
    int64_t drift_ppm;
    uint64_t paused_until;
    uint8_t *rbuf;
    uint32_t rlen;
    uint32_t rcap;
    uint64_t seen_term;
    uint64_t seen_commit;
    uint8_t role;
    uint64_t lead_term;
    uint64_t lead_last;
    uint64_t lead_last_term;
    uint64_t snap_every;
};

enum ev_kind {
    EV_DELIVER,
    EV_TICK,
    EV_SYNC,
    EV_RESTART,
    EV_CHAOS,
    EV_CLIENT,
    EV_CHUNK,
    EV_CUT_DEADLINE
};

struct sev {
    uint64_t t;
    uint64_t seq;
    uint8_t kind;
    uint8_t node;
    uint8_t from;
    uint8_t c;
    uint32_t len;
    uint8_t *buf;
    uint64_t a;
    uint64_t b;
};

struct reg_slot {
    uint64_t index;
    uint64_t term;
    uint64_t hash;
    uint64_t prev_term;
};

struct client {
    uint64_t op; /* pending op id, 0 = none */
    uint64_t sent_at;
    uint8_t target;
};

struct sim {
    struct sim_opts o;
    struct zn_prng prng;
    struct sim_stats st;
    uint64_t now;
    uint64_t seq;
    struct sev *heap;
    uint32_t n_heap;
    uint32_t cap_heap;
    uint32_t n_nodes; /* nodes that exist (voters + spares) */
    struct node nodes[SIM_NODES_MAX + 1];
    struct zn_raft_conf boot;
    bool link[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1];
    bool hold[SIM_NODES_MAX + 1][ZN_RAFT_MSG_TYPE_MAX + 1];
    uint32_t loss_pm;
    uint32_t dup_pm;
    uint32_t slow_pm;
    struct zn_raft_config cfg;
    /* checkers */
    uint8_t *leader_of_term;
    uint64_t cap_terms;
    struct reg_slot *reg;
    uint64_t cap_reg;
    uint64_t n_reg;
    uint64_t *chain; /* state hash after applying index i; 0 = unknown */
    uint64_t *cterm; /* committed term at index */
    uint64_t *cby;   /* term of the leader that first committed index */
    uint64_t cap_chain;
    uint64_t max_commit;
    uint64_t read_floor[READS_TRACK];
    uint64_t read_ctx;
    uint64_t reads_done;
    /* clients */
    struct client clients[SIM_CLIENTS_MAX];
    uint8_t *op_done;
    uint64_t next_op;
    bool clients_on;
    bool writes_retry;
    bool stop;
    bool no_commit_rule; /* ZN_SIM_NO_COMMIT_RULE: leave the safety checks alone to find it */
    uint8_t prio0;       /* the node configured with priority 0 (never campaigns), or 0 */
    bool zincd_install;  /* ZN_SIM_ZINCD_INSTALL: install truncates the WAL as zincd does */
    bool settings;       /* ZN_SIM_SETTINGS: priorities and timers change at random times */
    char *transcript;
    size_t n_tr;
    size_t cap_tr;
    struct zn_raft_entry dec[ENTRIES_DEC];
};

static void violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(struct sim *s, const char *fmt, ...)
{
    s->st.violations++;
    if (s->st.violations == 1) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->st.first_violation, sizeof(s->st.first_violation), fmt, ap);
        va_end(ap);
        if (s->o.trace && s->o.out) {
            fprintf(s->o.out, "VIOLATION t=%.3fms %s\n", (double)s->now / SIM_MS,
                    s->st.first_violation);
        }
    }
    s->stop = true;
}

static void check(struct sim *s)
{
    s->st.checks++;
}

void sim_note(struct sim *s, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = strlen(line);
    if (s->n_tr + len + 2 > s->cap_tr) {
        s->cap_tr = (s->cap_tr + len + 2) * 2;
        s->transcript = xrealloc(s->transcript, s->cap_tr);
    }
    memcpy(s->transcript + s->n_tr, line, len);
    s->n_tr += len;
    s->transcript[s->n_tr++] = '\n';
    s->transcript[s->n_tr] = 0;
    if (s->o.trace && s->o.out) {
        fprintf(s->o.out, "  * %s\n", line);
    }
}

const char *sim_transcript(const struct sim *s)
{
    return s->transcript ? s->transcript : "";
}

/* ---- event heap ---------------------------------------------------------------------------- */

static bool ev_less(const struct sev *a, const struct sev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(struct sim *s, struct sev e)
{
    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 1024;
        s->heap = xrealloc(s->heap, s->cap_heap * sizeof(*s->heap));
    }
    e.seq = s->seq++;
    uint32_t i = s->n_heap++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ev_less(&e, &s->heap[p])) {
            break;
        }
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static struct sev pop(struct sim *s)
{
    struct sev top = s->heap[0];
    struct sev last = s->heap[--s->n_heap];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= s->n_heap) {
            break;
        }
        uint32_t m = l;
        if (l + 1 < s->n_heap && ev_less(&s->heap[l + 1], &s->heap[l])) {
            m = l + 1;
        }
        if (!ev_less(&s->heap[m], &last)) {
            break;
        }
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->n_heap > 0) {
        s->heap[i] = last;
    }
    return top;
}

/* ---- node clocks --------------------------------------------------------------------------- */

static uint64_t local_at(const struct node *n, uint64_t t)
{
    __int128 skew = (__int128)t * n->drift_ppm / 1000000;
    return (uint64_t)((__int128)t + skew);
}

static uint64_t local_now(const struct sim *s, const struct node *n)
{
    return local_at(n, s->now);
}

/* The first simulated time at which the node's local clock reads at least local. */
static uint64_t sim_time_of_local(const struct sim *s, const struct node *n, uint64_t local)
{
    if (local_at(n, s->now) >= local) {
        return s->now;
    }
    uint64_t t = (uint64_t)((__int128)local * 1000000 / (1000000 + n->drift_ppm));
    if (t <= s->now) {
        t = s->now + 1;
    }
    while (local_at(n, t) < local) {
        t++;
    }
    while (t > s->now + 1 && local_at(n, t - 1) >= local) {
        t--;
    }
    return t;
}

/* ---- checker tables ------------------------------------------------------------------------ */

static void grow_chain(struct sim *s, uint64_t index)
{
    if (index < s->cap_chain) {
        return;
    }
    uint64_t cap = s->cap_chain ? s->cap_chain : 4096;
    while (cap <= index) {
        cap *= 2;
    }
    s->chain = xrealloc(s->chain, cap * sizeof(uint64_t));
    s->cterm = xrealloc(s->cterm, cap * sizeof(uint64_t));
    s->cby = xrealloc(s->cby, cap * sizeof(uint64_t));
    memset(s->cby + s->cap_chain, 0, (cap - s->cap_chain) * sizeof(uint64_t));
    memset(s->chain + s->cap_chain, 0, (cap - s->cap_chain) * sizeof(uint64_t));
    memset(s->cterm + s->cap_chain, 0, (cap - s->cap_chain) * sizeof(uint64_t));
    s->cap_chain = cap;
}

static uint64_t reg_hash(uint64_t index, uint64_t term)
{
    return mix64(mix64(0, index), term);
}

static void reg_grow(struct sim *s)
{
    uint64_t old_cap = s->cap_reg;
    struct reg_slot *old = s->reg;
    s->cap_reg = old_cap ? old_cap * 2 : 1u << 14;
    s->reg = calloc(s->cap_reg, sizeof(*s->reg));
    if (s->reg == NULL) {
        abort();
    }
    s->n_reg = 0;
    for (uint64_t i = 0; i < old_cap; i++) {
        if (old[i].term != 0) {
            uint64_t h = reg_hash(old[i].index, old[i].term) & (s->cap_reg - 1);
            while (s->reg[h].term != 0) {
                h = (h + 1) & (s->cap_reg - 1);
            }
            s->reg[h] = old[i];
            s->n_reg++;
        }
    }
    free(old);
}

/* Log matching: (index, term) names exactly one payload whose predecessor has one term. */
static void reg_check(struct sim *s, uint8_t node, uint64_t index, uint64_t term, uint64_t hash,
                      uint64_t prev_term, bool prev_known)
{
    if (s->n_reg * 2 >= s->cap_reg) {
        reg_grow(s);
    }
    check(s);
    uint64_t h = reg_hash(index, term) & (s->cap_reg - 1);
    while (s->reg[h].term != 0) {
        struct reg_slot *r = &s->reg[h];
        if (r->index == index && r->term == term) {
            if (r->hash != hash) {
                violation(s, "log matching: n%u entry (%llu,%llu) payload differs", node,
                          (unsigned long long)index, (unsigned long long)term);
            } else if (prev_known && r->prev_term != UINT64_MAX && r->prev_term != prev_term) {
                violation(s,
                          "log matching: n%u entry (%llu,%llu) follows term %llu, first seen "
                          "after term %llu",
                          node, (unsigned long long)index, (unsigned long long)term,
                          (unsigned long long)prev_term, (unsigned long long)r->prev_term);
            } else if (prev_known && r->prev_term == UINT64_MAX) {
                r->prev_term = prev_term;
            }
            return;
        }
        h = (h + 1) & (s->cap_reg - 1);
    }
    s->reg[h] = (struct reg_slot){index, term, hash, prev_known ? prev_term : UINT64_MAX};
    s->n_reg++;
}

/* ---- disk ---------------------------------------------------------------------------------- */

static void *heap_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size ? size : 1);
}

static void heap_release(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const struct zn_allocator heap_allocator = {heap_alloc, heap_release, NULL};

static void *arena_alloc(void *ctx, size_t size)
{
    struct node *nd = ctx;
    struct arena_blk *b = malloc(sizeof(*b) + size);
    if (b == NULL) {
        return NULL;
    }
    b->size = size;
    b->prev = NULL;
    b->next = nd->arena;
    if (nd->arena != NULL) {
        nd->arena->prev = b;
    }
    nd->arena = b;
    return b->data;
}

static void arena_release(void *ctx, void *ptr, size_t size)
{
    struct node *nd = ctx;
    (void)size;
    if (ptr == NULL) {
        return;
    }
    struct arena_blk *b = (struct arena_blk *)((char *)ptr - offsetof(struct arena_blk, data));
    if (b->prev != NULL) {
        b->prev->next = b->next;
    } else {
        nd->arena = b->next;
    }
    if (b->next != NULL) {
        b->next->prev = b->prev;
    }
    free(b);
}

/* A crash: the process's memory is gone (the WAL is not closed - it would wait for its job). */
static void arena_drop(struct node *nd)
{
    while (nd->arena != NULL) {
        struct arena_blk *b = nd->arena;
        nd->arena = b->next;
        free(b);
    }
}

/*
 * The disk the durable-state code sees: every operation forwards to the node's current sim disk
 * (a crash may replace it with the image a power cut left). In the canary build
 * ZN_SIM_CANARY_WAL_NO_FSYNC, every fdatasync of a WAL segment after the one that made its
 * header durable returns success without syncing: a node that acknowledges batches before they
 * are on the platter. Only a disk that loses unsynced writes on a crash can catch it.
 */
static int io_open(void *ctx, const char *name, int flags, int *fd)
{
    struct node *nd = ctx;
    int rc = zn_disk_open(&nd->disk, name, flags, fd);
    if (rc == 0 && *fd >= 0 && (uint32_t)*fd < SIM_FD_SLOTS) {
        nd->wal_fd[*fd] = strncmp(name, "wal-", 4) == 0 ? 1 : 0;
    }
    return rc;
}

static void io_close(void *ctx, int fd)
{
    struct node *nd = ctx;
    zn_disk_close(&nd->disk, fd);
}

static long io_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    struct node *nd = ctx;
    return zn_disk_pread(&nd->disk, fd, buf, len, off);
}

static int io_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    struct node *nd = ctx;
    return zn_disk_pwrite(&nd->disk, fd, buf, len, off);
}

static int io_fdatasync(void *ctx, int fd)
{
    struct node *nd = ctx;
#ifdef ZN_SIM_CANARY_WAL_NO_FSYNC
    if (fd >= 0 && (uint32_t)fd < SIM_FD_SLOTS && nd->wal_fd[fd] == 2) {
        return 0;
    }
    if (fd >= 0 && (uint32_t)fd < SIM_FD_SLOTS && nd->wal_fd[fd] == 1) {
        nd->wal_fd[fd] = 2; /* the segment's creation is synced, later batches are not */
    }
#endif
    return zn_disk_fdatasync(&nd->disk, fd);
}

static int io_fsync_dir(void *ctx)
{
    struct node *nd = ctx;
    return zn_disk_fsync_dir(&nd->disk);
}

static int io_rename(void *ctx, const char *from, const char *to)
{
    struct node *nd = ctx;
    return zn_disk_rename(&nd->disk, from, to);
}

static int io_unlink(void *ctx, const char *name)
{
    struct node *nd = ctx;
    return zn_disk_unlink(&nd->disk, name);
}

static int io_fallocate(void *ctx, int fd, uint64_t off, uint64_t len)
{
    struct node *nd = ctx;
    return zn_disk_fallocate(&nd->disk, fd, off, len);
}

static int io_truncate(void *ctx, int fd, uint64_t size)
{
    struct node *nd = ctx;
    return zn_disk_truncate(&nd->disk, fd, size);
}

static int io_size(void *ctx, int fd, uint64_t *size)
{
    struct node *nd = ctx;
    return zn_disk_size(&nd->disk, fd, size);
}

static int io_list(void *ctx, int (*fn)(void *arg, const char *name), void *arg)
{
    struct node *nd = ctx;
    return zn_disk_list(&nd->disk, fn, arg);
}

static int io_job_submit(void *ctx, zn_disk_job_fn fn, void *arg)
{
    struct node *nd = ctx;
    return zn_disk_job_submit(&nd->disk, fn, arg);
}

static int io_job_poll(void *ctx, void **args, int max)
{
    struct node *nd = ctx;
    return zn_disk_job_poll(&nd->disk, args, max);
}

static const struct zn_disk_ops io_ops = {
    .open = io_open,
    .close = io_close,
    .pread = io_pread,
    .pwrite = io_pwrite,
    .fdatasync = io_fdatasync,
    .fsync_dir = io_fsync_dir,
    .rename = io_rename,
    .unlink = io_unlink,
    .fallocate = io_fallocate,
    .truncate = io_truncate,
    .size = io_size,
    .list = io_list,
    .job_submit = io_job_submit,
    .job_poll = io_job_poll,
};

/* ---- the durability shadow ---------------------------------------------------------------- */

static void wterm_set(struct node *nd, uint64_t index, uint64_t term)
{
    if (index >= nd->cap_wterm) {
        uint64_t cap = nd->cap_wterm ? nd->cap_wterm : 1024;
        while (cap <= index) {
            cap *= 2;
        }
        nd->wterm = xrealloc(nd->wterm, cap * sizeof(uint64_t));
        memset(nd->wterm + nd->cap_wterm, 0, (cap - nd->cap_wterm) * sizeof(uint64_t));
        nd->cap_wterm = cap;
    }
    nd->wterm[index] = term;
}

static uint64_t wterm_get(const struct node *nd, uint64_t index)
{
    return index < nd->cap_wterm ? nd->wterm[index] : 0;
}

static uint64_t disk_last(const struct node *nd)
{
    return nd->dur_last > nd->snap_index ? nd->dur_last : nd->snap_index;
}

/* Is entry (index, term) durable on the node (its committed snapshot or its WAL's durable
 * prefix)? term 0: any term. */
static bool disk_covers(const struct node *nd, uint64_t index, uint64_t term)
{
    if (index <= nd->snap_index) {
        return true;
    }
    if (index > nd->dur_last) {
        return false;
    }
    return term == 0 || wterm_get(nd, index) == term;
}

/* Has an armed power cut happened (a disk mutation reached its point)? From then on the node
 * is dead: nothing it learns about durability counts, and the event ends in the crash. */
static bool power_cut(struct node *nd)
{
    if (!nd->dying) {
        return false;
    }
    if (!nd->cut && zn_disk_sim_take_image(&nd->disk, &nd->cut_img) == 0) {
        nd->cut = true;
    }
    return nd->cut;
}

/* ---- the WAL stage (node/node.c's wal stage, deterministic) -------------------------------- */

static void relitem_free(struct relitem *r)
{
    for (uint32_t i = 0; i < r->n; i++) {
        free(r->msgs[i].buf);
    }
    free(r->msgs);
    free(r);
}

static void deferred_unlink(struct node *nd, struct relitem *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        nd->deferred = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    r->prev = r->next = NULL;
}

static void relq_push(struct node *nd, struct relitem *r)
{
    deferred_unlink(nd, r);
    if (nd->n_relq == nd->cap_relq) {
        nd->cap_relq = nd->cap_relq ? nd->cap_relq * 2 : 16;
        nd->relq = xrealloc(nd->relq, nd->cap_relq * sizeof(*nd->relq));
    }
    nd->relq[nd->n_relq++] = r;
}

/* Submit the open batch (group commit: one job in flight); the hard state set on it goes too. */
static void wal_flush(struct node *nd)
{
    if (zn_wal_flush(nd->wal) == 1) {
        if (nd->wal_failed) {
            nd->wal_failed = false; /* the batch that met ENOSPC went again, with its hard state */
            return;
        }
        nd->hs_fl = nd->hs_open;
        nd->hs_fl_term = nd->hs_open_term;
        nd->hs_fl_vote = nd->hs_open_vote;
        nd->hs_open = false;
    }
}

static void durable_check(struct sim *s, struct node *nd, const struct wmsg *w);

/* A batch or log-wide operation finished: the shadow learns what is durable now and the
 * deferred items queue for release. Their acks and grants are checked now, against what is
 * durable at the moment the WAL hands them back: a later conflict may truncate the acked
 * entries before the node sends the ack, which is safe - it is the same as a slow network - as
 * long as the entries were durable when the ack was released by the WAL (etcd-raft's
 * msgsAfterAppend make the same argument). */
static void wal_harvest(struct sim *s, struct node *nd, const struct zn_wal_persisted *p)
{
    if (power_cut(nd)) {
        return; /* the power went before the batch was durable: its items die with the node */
    }
    if (p->op == ZN_WAL_OP_NONE) {
        nd->dur_last = p->index;
        if (p->hardstate) {
            if (!nd->hs_fl) {
                violation(s, "n%u: the WAL reports a hard state the simulator did not set", nd->id);
            }
            nd->hs_term = nd->hs_fl_term;
            nd->hs_vote = nd->hs_fl_vote;
            nd->hs_fl = false;
        }
    }
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(p->index, p->nitems));
    for (uint32_t i = 0; i < p->nitems; i++) {
        struct relitem *r = p->items[i];
        for (uint32_t j = 0; j < r->n; j++) {
            durable_check(s, nd, &r->msgs[j]);
        }
        relq_push(nd, r);
    }
}

/* Run the WAL until nothing is open or in flight (truncation, a full batch), like
 * node_wal_wait_idle: the sim disk runs a job inside zn_wal_poll, so this is bounded. */
static void wal_wait_idle(struct sim *s, struct node *nd)
{
    for (int i = 0; i < 16 && !zn_wal_idle(nd->wal); i++) {
        wal_flush(nd);
        struct zn_wal_persisted p;
        int rc = zn_wal_poll(nd->wal, &p);
        if (rc == 1) {
            wal_harvest(s, nd, &p);
        } else if (rc < 0) {
            violation(s, "n%u WAL poll: %s", nd->id, zn_strerror(rc));
            return;
        }
    }
    if (!zn_wal_idle(nd->wal)) {
        violation(s, "n%u WAL does not become idle", nd->id);
    }
}

/* ---- nodes --------------------------------------------------------------------------------- */

static void process_update(struct sim *s, struct node *nd, struct zn_raft_update *up);

static int node_step(struct sim *s, struct node *nd, struct zn_raft_event *ev)
{
    struct zn_raft_update up;
    ev->now_ns = local_now(s, nd);
    s->st.steps++;
    int rc = zn_raft_step(nd->raft, ev, &up);
    process_update(s, nd, &up);
    return rc;
}

static void schedule_tick(struct sim *s, struct node *nd, uint64_t deadline_local)
{
    nd->tick_gen++;
    push(s, (struct sev){.t = sim_time_of_local(s, nd, deadline_local),
                         .kind = EV_TICK,
                         .node = nd->id,
                         .a = nd->tick_gen});
}

/* The application's snapshot file body: the state hash and the configuration at its index. */
struct snap_body {
    uint8_t b[8 + ZN_RAFT_CONF_ENCODED_MAX];
    uint32_t len;
};

static int snap_body_put(void *ctx, const void *buf, size_t len)
{
    struct snap_body *sb = ctx;
    if (sb->len + len > sizeof(sb->b)) {
        return ZN_ECORRUPT;
    }
    memcpy(sb->b + sb->len, buf, len);
    sb->len += (uint32_t)len;
    return 0;
}

/* Write and commit a snapshot file (temporary name, fdatasync, rename, directory fsync); only
 * then does the node's shadow hold it. */
static int snap_write(struct node *nd, uint64_t index, uint64_t term, uint64_t hash,
                      const struct zn_raft_conf *conf)
{
    struct zn_snapfile_writer sw;
    int rc = zn_snapfile_begin(&sw, &nd->io, SIM_CLUSTER_ID, nd->id, index, term, SIM_SNAP_RETAIN,
                               nd->stage, SIM_STAGE_BYTES);
    if (rc != 0) {
        return rc;
    }
    struct snap_body sb = {.len = 8};
    memcpy(sb.b, &hash, 8);
    sb.len += zn_raft_conf_encode(conf, sb.b + 8);
    rc = zn_snapfile_sink(&sw, sb.b, sb.len);
    if (rc != 0) {
        zn_snapfile_abort(&sw);
        return rc;
    }
    struct zn_snapfile_info info;
    rc = zn_snapfile_commit(&sw, &info);
    if (rc != 0) {
        return rc;
    }
    if (power_cut(nd)) {
        return 0; /* the power went before the commit finished */
    }
    nd->snap_index = index;
    nd->snap_term = term;
    nd->snap_hash = hash;
    nd->snap_conf = *conf;
    return 0;
}

struct recover_ctx {
    struct sim *s;
    struct node *nd;
    uint64_t snap_index;
    uint64_t loaded;
    bool lost;
};

/* zincd's node_recover_entry, plus the check that the entry matches what was durable. */
static int recover_entry(void *ctx, const struct zn_wal_entry *we)
{
    struct recover_ctx *rc = ctx;
    struct node *nd = rc->nd;
    if (we->index <= rc->snap_index) {
        return 0; /* covered by the snapshot (the WAL is compacted lazily) */
    }
    if (we->index <= nd->dur_last && wterm_get(nd, we->index) != we->term && !rc->lost) {
        rc->lost = true;
        violation(rc->s,
                  "durability: n%u recovered entry %llu with term %llu, but term %llu was "
                  "durable before the crash",
                  nd->id, (unsigned long long)we->index, (unsigned long long)we->term,
                  (unsigned long long)wterm_get(nd, we->index));
    }
    struct zn_raft_entry e = {.index = we->index,
                              .term = we->term,
                              .type = (uint32_t)(we->type - 1),
                              .len = we->len,
                              .data = we->payload};
    int err = zn_raft_load_entry(nd->raft, &e);
    if (err != 0) {
        return err;
    }
    wterm_set(nd, we->index, we->term);
    rc->loaded++;
    return 0;
}

static void refuse(struct sim *s, struct node *nd, const char *what, int rc,
                   const struct zn_disk_report *rep)
{
    violation(s, "n%u refuses to restart: %s: %s (file %s, offset %llu): %s", nd->id, what,
              zn_strerror(rc), rep->file, (unsigned long long)rep->offset, rep->message);
    nd->up = false;
    nd->raft = NULL;
    arena_drop(nd);
    nd->wal = NULL;
}

static struct zn_wal_config wal_config(struct node *nd, uint64_t snap_index, uint64_t snap_term,
                                       uint64_t commit_hint)
{
    struct zn_wal_config wc = {
        .disk = &nd->io,
        .alloc = {arena_alloc, arena_release, nd},
        .cluster_id = SIM_CLUSTER_ID,
        .node_id = nd->id,
        .segment_bytes = SIM_SEG_BYTES,
        .batch_bytes = SIM_BATCH_BYTES,
        .entry_bytes_max = SIM_ENTRY_MAX,
        .snapshot_index = snap_index,
        .snapshot_term = snap_term,
        .commit_hint = commit_hint,
        .allow_repair = false,
        .hardstate = &nd->hsf,
    };
    return wc;
}

/*
 * Start (or restart) a node from its disk with zincd's recovery sequence (node/node.c
 * node_recover): hard state -> newest snapshot file -> zn_raft_load -> WAL recovery into
 * zn_raft_load_entry. Whatever the shadow says was durable must come back.
 */
static void node_boot(struct sim *s, struct node *nd)
{
    struct zn_raft_config cfg = s->cfg;
    cfg.id = nd->id;
    cfg.seed = mix64(s->o.seed, (nd->gen << 8) | nd->id);
    cfg.priority = nd->id == s->prio0 ? 0 : 1;
    nd->prio = cfg.priority; /* runtime settings are volatile: a restart takes the config */
    size_t need = zn_raft_mem_size(&cfg);
    if (nd->mem == NULL) {
        nd->mem = xrealloc(NULL, need);
    }
    struct zn_raft_conf conf = s->boot;
    if (!zn_raft_conf_is_voter(&s->boot, nd->id)) {
        memset(&conf, 0, sizeof(conf)); /* a spare learns its configuration from the leader */
    }
    int rc = zn_raft_init(&nd->raft, &cfg, &conf, nd->mem, need);
    if (rc != 0) {
        fprintf(stderr, "sim: zn_raft_init: %s\n", zn_strerror(rc));
        abort();
    }
    nd->up = true;
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    struct zn_hardstate hs;
    rc = zn_hardstate_open(&nd->hsf, &nd->io, SIM_CLUSTER_ID, nd->id, true, &hs, &rep);
    if (rc != 0) {
        refuse(s, nd, "hard state", rc, &rep);
        return;
    }
    check(s);
    if (hs.term < nd->hs_term ||
        (hs.term == nd->hs_term && nd->hs_vote && hs.vote != nd->hs_vote)) {
        violation(s,
                  "durability: n%u hard state term %llu vote %u was durable, recovered term %llu "
                  "vote %u",
                  nd->id, (unsigned long long)nd->hs_term, nd->hs_vote, (unsigned long long)hs.term,
                  hs.vote);
    }
    if (hs.term < nd->grant_term || (hs.term == nd->grant_term && hs.vote != nd->grant_to)) {
        violation(s,
                  "vote lost: n%u granted its vote to n%u in term %llu, recovered term %llu "
                  "vote %u",
                  nd->id, nd->grant_to, (unsigned long long)nd->grant_term,
                  (unsigned long long)hs.term, hs.vote);
    }
    nd->hs_term = hs.term;
    nd->hs_vote = (uint8_t)hs.vote;
    struct zn_snapfile_info info;
    memset(&info, 0, sizeof(info));
    rc = zn_snapfile_latest(&nd->io, SIM_CLUSTER_ID, nd->id, nd->stage, SIM_STAGE_BYTES, &info,
                            &rep);
    struct snap_body sb = {.len = 0};
    if (rc == 0) {
        rc = zn_snapfile_read(&nd->io, &info, nd->stage, SIM_STAGE_BYTES, snap_body_put, &sb, &rep);
    }
    if (rc == ZN_ENOENT) {
        memset(&info, 0, sizeof(info));
    } else if (rc != 0 || sb.len < 8) {
        refuse(s, nd, "snapshot", rc ? rc : ZN_ECORRUPT, &rep);
        return;
    }
    check(s);
    if (info.index < nd->snap_index) {
        violation(s, "durability: n%u snapshot %llu was committed, recovery found %llu", nd->id,
                  (unsigned long long)nd->snap_index, (unsigned long long)info.index);
    }
    nd->snap_index = info.index;
    nd->snap_term = info.term;
    nd->snap_hash = 0;
    memset(&nd->snap_conf, 0, sizeof(nd->snap_conf));
    if (info.index > 0) {
        memcpy(&nd->snap_hash, sb.b, 8);
        if (zn_raft_conf_decode(&nd->snap_conf, sb.b + 8, sb.len - 8) != 0) {
            violation(s, "n%u snapshot %llu: configuration does not decode", nd->id,
                      (unsigned long long)info.index);
        }
    }
    struct zn_raft_snapshot_meta snap = {
        .index = nd->snap_index, .term = nd->snap_term, .conf = nd->snap_conf};
    rc = zn_raft_load(nd->raft, hs.term, (uint8_t)hs.vote, nd->snap_index ? &snap : NULL);
    if (rc != 0) {
        violation(s, "n%u load failed: %s", nd->id, zn_strerror(rc));
    }
    struct zn_wal_config wc = wal_config(nd, info.index, info.term, hs.commit);
    struct recover_ctx ctx = {.s = s, .nd = nd, .snap_index = info.index};
    struct zn_wal_recovery rec;
    rc = zn_wal_open(&nd->wal, &wc, recover_entry, &ctx, &rec);
    if (rc != 0) {
        refuse(s, nd, "WAL recovery", rc, &rec.report);
        return;
    }
    check(s);
    if (nd->dur_last > info.index && rec.last_index < nd->dur_last) {
        violation(s,
                  "durability: n%u lost durable entries: %llu was durable, the WAL recovered up "
                  "to %llu (torn tail of %llu bytes in %s at %llu)",
                  nd->id, (unsigned long long)nd->dur_last, (unsigned long long)rec.last_index,
                  (unsigned long long)rec.torn_bytes, rec.torn_file,
                  (unsigned long long)rec.torn_offset);
    }
    nd->dur_last = zn_wal_durable_index(nd->wal);
    nd->applied = nd->snap_index;
    nd->sm_hash = nd->snap_hash;
    nd->rlen = 0;
    nd->seen_term = 0;
    nd->seen_commit = 0;
    nd->role = ZN_RAFT_FOLLOWER;
    nd->lead_term = 0;
    nd->sync_pending = false;
    nd->compact_pending = 0;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK};
    node_step(s, nd, &ev);
}

/* First start of an original voter: a fresh data directory holding the bootstrap configuration
 * as entry 1 (term 1), written through the WAL (zincctl-init style), then closed. */
static void node_bootstrap(struct sim *s, struct node *nd, const struct zn_raft_conf *boot)
{
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    struct zn_hardstate hs;
    int rc = zn_hardstate_open(&nd->hsf, &nd->io, SIM_CLUSTER_ID, nd->id, true, &hs, &rep);
    struct zn_wal_config wc = wal_config(nd, 0, 0, 0);
    struct zn_wal_recovery rec;
    if (rc == 0) {
        rc = zn_wal_open(&nd->wal, &wc, NULL, NULL, &rec);
    }
    uint8_t buf[ZN_RAFT_CONF_ENCODED_MAX];
    uint32_t len = zn_raft_conf_encode(boot, buf);
    if (rc == 0) {
        wterm_set(nd, 1, 1);
        rc = zn_wal_append(nd->wal, ZN_RAFT_ENTRY_CONF + 1, 1, 1, buf, len);
    }
    if (rc != 0) {
        fprintf(stderr, "sim: bootstrap of n%u: %s\n", nd->id, zn_strerror(rc));
        abort();
    }
    struct zn_hardstate h1 = {.term = 1};
    zn_wal_set_hardstate(nd->wal, &h1);
    nd->hs_open = true;
    nd->hs_open_term = 1;
    nd->hs_open_vote = 0;
    wal_wait_idle(s, nd);
    zn_wal_close(nd->wal);
    nd->wal = NULL;
    zn_hardstate_close(&nd->hsf);
}

/* Corruption at rest: one crash in two also flips one bit of one of the four hard-state copies
 * (store/hardstate.h), which must never cost a vote or a term (the restart's checks below). At
 * most one flip per crash, and the restart's open rewrites a damaged copy of the newest state
 * before the node can crash again: "one damaged sector". The draws come from a PRNG of their own
 * so the schedule of every seed is unchanged. */
static void hs_flip_at_rest(struct sim *s, struct node *nd)
{
    struct zn_prng p;
    zn_prng_seed(&p, mix64(mix64(s->o.seed, 0x45f11bull), (nd->gen << 8) | nd->id));
    if (!zn_prng_chance(&p, 1, 2)) {
        return;
    }
    uint64_t off = zn_hardstate_copy_off((unsigned)zn_prng_below(&p, 2),
                                         (unsigned)zn_prng_below(&p, ZN_HARDSTATE_COPIES)) +
                   zn_prng_below(&p, ZN_HARDSTATE_SLOT_SIZE);
    uint8_t b;
    if (zn_disk_sim_peek(&nd->disk, ZN_HARDSTATE_FILE, off, &b, 1) != 0) {
        return; /* not created yet, or a format-1-sized file */
    }
    b ^= (uint8_t)(1u << zn_prng_below(&p, 8));
    if (zn_disk_sim_poke(&nd->disk, ZN_HARDSTATE_FILE, off, &b, 1) == 0) {
        s->st.faults[F_HS_FLIP]++;
    }
}

/* Power loss: the disk keeps what the crash model leaves; the process is gone. A WAL job in
 * flight is cut at a random one of its next disk mutations. */
void sim_crash(struct sim *s, uint8_t id)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return;
    }
    s->st.faults[F_CRASH]++;
    static const enum zn_disk_sim_crash modes[3] = {ZN_SIM_CRASH_DROP, ZN_SIM_CRASH_TEAR,
                                                    ZN_SIM_CRASH_REORDER};
    uint32_t m = (uint32_t)zn_prng_below(&s->prng, 3);
    bool mid = false;
    if (nd->dying) {
        (void)power_cut(nd);
        if (nd->cut) {
            m = nd->cut_mode;
            zn_disk_sim_destroy(&nd->disk);
            nd->disk = nd->cut_img;
            mid = true;
            s->st.faults[F_CRASH_IO]++;
        }
        zn_disk_sim_crash_at(&nd->disk, 0, modes[m]);
        nd->dying = nd->cut = false;
    }
    s->st.faults[F_DISK_DROP + m]++;
    if (!mid && nd->wal != NULL && !zn_wal_idle(nd->wal)) {
        struct zn_disk_sim_stats ds;
        zn_disk_sim_stats(&nd->disk, &ds);
        zn_disk_sim_crash_at(
            &nd->disk, ds.mutations + 1 + zn_prng_below(&s->prng, SIM_CRASH_WINDOW), modes[m]);
        void *args[ZN_DISK_JOBS_MAX];
        (void)zn_disk_job_poll(&nd->disk, args, ZN_DISK_JOBS_MAX);
        zn_disk_sim_crash_at(&nd->disk, 0, modes[m]);
        struct zn_disk img;
        if (zn_disk_sim_take_image(&nd->disk, &img) == 0) {
            zn_disk_sim_destroy(&nd->disk);
            nd->disk = img;
            mid = true;
            s->st.faults[F_CRASH_IO]++;
        }
    }
    if (!mid) {
        zn_disk_sim_crash(&nd->disk, modes[m]);
    }
    hs_flip_at_rest(s, nd);
    arena_drop(nd);
    nd->wal = NULL;
    while (nd->deferred != NULL) {
        struct relitem *r = nd->deferred;
        deferred_unlink(nd, r);
        relitem_free(r);
    }
    for (uint32_t i = 0; i < nd->n_relq; i++) {
        relitem_free(nd->relq[i]);
    }
    nd->n_relq = 0;
    nd->hs_open = nd->hs_fl = false;
    nd->wal_failed = false;
    nd->enospc_left = 0;
    nd->compact_pending = 0;
    nd->up = false;
    nd->raft = NULL;
    nd->gen++;
    nd->tick_gen++;
    nd->rlen = 0;
    if (s->o.trace && s->o.out) {
        fprintf(s->o.out, "%10.3fms n%u CRASH mode=%s%s durable_last=%llu\n",
                (double)s->now / SIM_MS, id, sim_fault_name(F_DISK_DROP + (int)m),
                mid ? " inside a WAL job" : "", (unsigned long long)disk_last(nd));
    }
}

void sim_restart(struct sim *s, uint8_t id)
{
    struct node *nd = &s->nodes[id];
    if (nd->up) {
        return;
    }
    node_boot(s, nd);
    if (nd->up && s->o.trace && s->o.out) {
        struct zn_raft_status st;
        zn_raft_status_get(nd->raft, &st);
        char cs[64];
        int pos = 0;
        for (uint32_t i = 0; i < st.conf.n_voters && pos < 48; i++) {
            pos += snprintf(cs + pos, sizeof(cs) - (size_t)pos, "%u,", st.conf.voters[i]);
        }
        pos += snprintf(cs + pos, sizeof(cs) - (size_t)pos, "/");
        for (uint32_t i = 0; i < st.conf.n_learners && pos < 56; i++) {
            pos += snprintf(cs + pos, sizeof(cs) - (size_t)pos, "%u,", st.conf.learners[i]);
        }
        fprintf(s->o.out, "%10.3fms n%u RESTART term=%llu disk_last=%llu snap=%llu conf=%s\n",
                (double)s->now / SIM_MS, id, (unsigned long long)nd->hs_term,
                (unsigned long long)disk_last(nd), (unsigned long long)nd->snap_index, cs);
    }
}

/* ---- network ------------------------------------------------------------------------------- */

static void net_send(struct sim *s, uint8_t from, const struct wmsg *w)
{
    uint8_t to = w->to;
    bool self = from == to;
    if (!self) {
        if (zn_prng_below(&s->prng, 1000) < s->loss_pm) {
            return;
        }
    }
    uint32_t copies = 1;
    if (!self && zn_prng_below(&s->prng, 1000) < s->dup_pm) {
        copies = 2;
    }
    for (uint32_t c = 0; c < copies; c++) {
        uint64_t lat = self ? 0 : 50000 + zn_prng_below(&s->prng, 400000);
        if (!self && zn_prng_below(&s->prng, 1000) < s->slow_pm) {
            lat += zn_prng_below(&s->prng, 3 * ET_NS);
        }
        uint8_t *buf = xrealloc(NULL, w->len);
        memcpy(buf, w->buf, w->len);
        push(s, (struct sev){.t = s->now + lat,
                             .kind = EV_DELIVER,
                             .node = to,
                             .from = from,
                             .len = w->len,
                             .buf = buf});
    }
}

static void encode_msg(struct sim *s, const struct zn_raft_msg *m, struct wmsg *w)
{
    size_t need = zn_raft_msg_encoded_size(m);
    w->buf = xrealloc(NULL, need);
    size_t len = 0;
    int rc = zn_raft_msg_encode(m, w->buf, need, &len);
    if (rc != 0 || len != need) {
        violation(s, "codec: encode of %s failed", zn_raft_msg_type_name(m->type));
    }
    w->len = (uint32_t)len;
    w->to = m->to;
    w->ack_term = 0;
}

/* A held message is released: the disk must back what it claims (durability invariants). */
static void durable_check(struct sim *s, struct node *nd, const struct wmsg *w)
{
    struct zn_raft_msg m;
    if (zn_raft_msg_decode(&m, s->dec, ENTRIES_DEC, w->buf, w->len) != 0) {
        violation(s, "codec: cannot decode own message");
        return;
    }
    check(s);
    if ((m.type == ZN_RAFT_MSG_VOTE_RESP) && !m.reject) {
        /* backed if the durable hard state is this vote or a later term (which cannot vote
         * in this term again) */
        if (nd->hs_term < m.term || (nd->hs_term == m.term && nd->hs_vote != m.to)) {
            violation(s,
                      "vote not durable: n%u grants n%u in term %llu, durable hard state has "
                      "term %llu vote %u",
                      nd->id, m.to, (unsigned long long)m.term, (unsigned long long)nd->hs_term,
                      nd->hs_vote);
        }
        if (m.term >= nd->grant_term) {
            nd->grant_term = m.term;
            nd->grant_to = m.to;
        }
    }
    if (m.type == ZN_RAFT_MSG_APPEND_RESP && !m.reject && m.index > 0) {
        if (!disk_covers(nd, m.index, w->ack_term)) {
            violation(s, "ack not durable: n%u acks index %llu, durable last %llu", nd->id,
                      (unsigned long long)m.index, (unsigned long long)disk_last(nd));
        }
    }
}

/* An ack or grant sent at once must already be durable. */
static void release(struct sim *s, struct node *nd, struct wmsg *w)
{
    durable_check(s, nd, w);
    net_send(s, nd->id, w);
}

static void schedule_sync(struct sim *s, struct node *nd)
{
    if (nd->sync_pending || (zn_wal_idle(nd->wal) && nd->n_relq == 0)) {
        return;
    }
    nd->sync_pending = true;
    uint64_t lat = 20000 + zn_prng_below(&s->prng, 600000);
    push(s, (struct sev){.t = s->now + lat, .kind = EV_SYNC, .node = nd->id, .a = nd->gen});
}

/* ---- the application (state machine, snapshots, clients) ---------------------------------- */

static uint64_t op_of(const struct zn_raft_entry *e)
{
    if (e->type != ZN_RAFT_ENTRY_NORMAL || e->len < 8) {
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, e->data, 8);
    return v;
}

static void apply_entry(struct sim *s, struct node *nd, const struct zn_raft_entry *e)
{
    if (e->index != nd->applied + 1) {
        violation(s, "apply order: n%u applies %llu after %llu", nd->id,
                  (unsigned long long)e->index, (unsigned long long)nd->applied);
        return;
    }
    nd->sm_hash = mix64(mix64(mix64(nd->sm_hash, e->index), e->term),
                        mix64(e->type, hash_bytes(e->data, e->len)));
    nd->applied = e->index;
    grow_chain(s, e->index);
    check(s);
    if (s->chain[e->index] == 0) {
        s->chain[e->index] = nd->sm_hash;
        s->cterm[e->index] = e->term;
        s->st.committed++;
    } else if (s->chain[e->index] != nd->sm_hash) {
        violation(s,
                  "state machine safety: n%u state at index %llu (term %llu) differs from "
                  "the first replica's (term %llu)",
                  nd->id, (unsigned long long)e->index, (unsigned long long)e->term,
                  (unsigned long long)s->cterm[e->index]);
    }
    uint64_t op = op_of(e);
    if (op > 0 && op < s->next_op) {
        s->op_done[op] = 1;
    }
}

#define SNAP_MAGIC 0x5a4e534e41503031ull

static uint32_t snap_size(uint64_t index)
{
    return 32u + (uint32_t)(index % 200u);
}

static void snap_blob(uint64_t index, uint64_t term, uint64_t hash, uint8_t *buf, uint32_t len)
{
    uint64_t hdr[4] = {SNAP_MAGIC, index, term, hash};
    memcpy(buf, hdr, 32);
    for (uint32_t i = 32; i < len; i++) {
        buf[i] = (uint8_t)mix64(hash, i);
    }
}

/* zincd's order (node_snapshot.c): the snapshot file is committed, the core told, and the WAL
 * compacted behind it once idle. */
static void take_snapshot(struct sim *s, struct node *nd)
{
    uint64_t idx = nd->applied;
    if (idx <= nd->snap_index || power_cut(nd)) {
        return;
    }
    struct zn_raft_status st0;
    zn_raft_status_get(nd->raft, &st0);
    if (idx > st0.durable) {
        return; /* the WAL does not hold everything the state covers yet: later */
    }
    uint64_t term = zn_raft_term_at(nd->raft, idx);
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = idx;
    uint64_t hash = nd->sm_hash;
    struct zn_raft_update up;
    ev.now_ns = local_now(s, nd);
    int rc = zn_raft_step(nd->raft, &ev, &up);
    if (rc != 0) {
        violation(s, "n%u snapshot at %llu refused: %s", nd->id, (unsigned long long)idx,
                  zn_strerror(rc));
        return;
    }
    struct zn_raft_status st;
    zn_raft_status_get(nd->raft, &st);
    s->st.faults[F_SNAPSHOT]++;
    rc = snap_write(nd, idx, term, hash, &st.snap_conf);
    if (rc != 0) {
        violation(s, "n%u snapshot file %llu: %s", nd->id, (unsigned long long)idx,
                  zn_strerror(rc));
    }
    nd->compact_pending = idx;
    process_update(s, nd, &up);
}

static int wal_reopen_entry(void *ctx, const struct zn_wal_entry *we)
{
    (void)ctx;
    (void)we;
    return 0; /* entries after an installed snapshot were truncated; nothing to load */
}

static void install_snapshot(struct sim *s, struct node *nd, const struct zn_raft_install *in)
{
    if (in->offset == 0) {
        nd->rlen = 0;
    }
    if (in->offset != nd->rlen) {
        violation(s, "n%u snapshot chunk at %llu, expected %u", nd->id,
                  (unsigned long long)in->offset, nd->rlen);
        return;
    }
    if (nd->rlen + in->len > nd->rcap) {
        nd->rcap = (nd->rlen + in->len) * 2;
        nd->rbuf = xrealloc(nd->rbuf, nd->rcap);
    }
    memcpy(nd->rbuf + nd->rlen, in->data, in->len);
    nd->rlen += in->len;
    if (!in->last) {
        return;
    }
    uint64_t hdr[4];
    if (nd->rlen != snap_size(in->index) || nd->rlen < 32) {
        violation(s, "n%u snapshot %llu has %u bytes", nd->id, (unsigned long long)in->index,
                  nd->rlen);
        return;
    }
    memcpy(hdr, nd->rbuf, 32);
    uint8_t check_buf[256];
    snap_blob(hdr[1], hdr[2], hdr[3], check_buf, nd->rlen);
    if (hdr[0] != SNAP_MAGIC || hdr[1] != in->index || hdr[2] != in->term ||
        memcmp(check_buf, nd->rbuf, nd->rlen) != 0) {
        violation(s, "n%u snapshot %llu corrupt", nd->id, (unsigned long long)in->index);
        return;
    }
    s->st.faults[F_INSTALL]++;
    /* zincd's node_install_finish: the snapshot file is committed, the log restarts after it */
    int rc = snap_write(nd, in->index, in->term, hdr[3], &in->conf);
    if (power_cut(nd)) {
        return; /* dead: the event ends in its crash */
    }
    if (rc != 0) {
        violation(s, "n%u snapshot file %llu: %s", nd->id, (unsigned long long)in->index,
                  zn_strerror(rc));
        return;
    }
    wal_flush(nd);
    wal_wait_idle(s, nd);
    /* The core keeps its log after the snapshot when the log continues it (same term at the
     * snapshot index, Raft section 7) and still counts those entries durable; so must the WAL.
     * (ZN_SIM_ZINCD_INSTALL=1 reproduces node_snapshot.c, which truncates them regardless.) */
    struct zn_raft_status cst;
    zn_raft_status_get(nd->raft, &cst);
    bool continues = zn_raft_term_at(nd->raft, in->index) == in->term && in->index < cst.last_index;
    if ((!continues || s->zincd_install) && zn_wal_last_index(nd->wal) > in->index &&
        zn_wal_first_index(nd->wal) <= in->index + 1) {
        rc = zn_wal_truncate_suffix(nd->wal, in->index + 1);
        if (rc != 0) {
            violation(s, "n%u WAL truncation at %llu: %s", nd->id,
                      (unsigned long long)in->index + 1, zn_strerror(rc));
        }
    }
    zn_wal_close(nd->wal);
    nd->wal = NULL;
    struct zn_wal_config wc = wal_config(nd, in->index, in->term, 0);
    struct zn_wal_recovery rec;
    rc = zn_wal_open(&nd->wal, &wc, wal_reopen_entry, NULL, &rec);
    if (rc != 0) {
        violation(s, "n%u WAL reopen after snapshot %llu: %s (%s)", nd->id,
                  (unsigned long long)in->index, zn_strerror(rc), rec.report.message);
        nd->up = false; /* zincd panics here */
        nd->raft = NULL;
        return;
    }
    nd->dur_last = zn_wal_durable_index(nd->wal);
    nd->applied = in->index;
    nd->sm_hash = hdr[3];
    grow_chain(s, in->index);
    check(s);
    if (s->chain[in->index] != 0 && s->chain[in->index] != hdr[3]) {
        violation(s, "n%u installed snapshot %llu with a different state", nd->id,
                  (unsigned long long)in->index);
    }
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_INSTALLED};
    ev.installed.index = in->index;
    ev.installed.term = in->term;
    rc = node_step(s, nd, &ev);
    if (rc != 0) {
        violation(s, "n%u install refused: %s", nd->id, zn_strerror(rc));
    }
}

static void read_result(struct sim *s, struct node *nd, const struct zn_raft_read_result *r)
{
    check(s);
    uint64_t floor = s->read_floor[r->ctx % READS_TRACK];
    if (r->index < floor) {
        violation(s,
                  "stale read: n%u read %llu served at index %llu < commit %llu known when "
                  "it was issued",
                  nd->id, (unsigned long long)r->ctx, (unsigned long long)r->index,
                  (unsigned long long)floor);
    }
    s->reads_done++;
    s->st.reads++;
}

/* ---- the update: everything the core asked for ------------------------------------------- */

static void check_node(struct sim *s, struct node *nd, const struct zn_raft_update *up)
{
    struct zn_raft_status st;
    zn_raft_status_get(nd->raft, &st);
    check(s);
    if (st.term < nd->seen_term) {
        violation(s, "term regressed on n%u: %llu -> %llu", nd->id,
                  (unsigned long long)nd->seen_term, (unsigned long long)st.term);
    }
    if (st.commit < nd->seen_commit) {
        violation(s, "commit regressed on n%u: %llu -> %llu", nd->id,
                  (unsigned long long)nd->seen_commit, (unsigned long long)st.commit);
    }
    if (!disk_covers(nd, st.durable, zn_raft_term_at(nd->raft, st.durable))) {
        violation(s,
                  "durable index not on disk: n%u believes %llu durable (term %llu), disk "
                  "last %llu term %llu",
                  nd->id, (unsigned long long)st.durable,
                  (unsigned long long)zn_raft_term_at(nd->raft, st.durable),
                  (unsigned long long)disk_last(nd), (unsigned long long)wterm_get(nd, st.durable));
    }
    if (st.role == ZN_RAFT_LEADER) {
        if (nd->role != ZN_RAFT_LEADER || nd->lead_term != st.term) {
            /* a new leader: election safety and leader completeness */
            s->st.elections++;
            if (st.term >= s->cap_terms) {
                uint64_t cap = s->cap_terms ? s->cap_terms : 256;
                while (cap <= st.term) {
                    cap *= 2;
                }
                s->leader_of_term = xrealloc(s->leader_of_term, cap);
                memset(s->leader_of_term + s->cap_terms, 0, cap - s->cap_terms);
                s->cap_terms = cap;
            }
            if (s->leader_of_term[st.term] != 0 && s->leader_of_term[st.term] != nd->id) {
                violation(s, "election safety: n%u and n%u both lead term %llu",
                          s->leader_of_term[st.term], nd->id, (unsigned long long)st.term);
            }
            s->leader_of_term[st.term] = nd->id;
            uint64_t from = st.first_index > 1 ? st.first_index : 1;
            if (s->max_commit > 2000 && from < s->max_commit - 2000) {
                from = s->max_commit - 2000;
            }
            for (uint64_t i = from; i <= s->max_commit && i < s->cap_chain; i++) {
                /* Leader completeness is about entries committed in earlier terms: a stale
                 * candidate may still win an older term with delayed grants. */
                if (s->cterm[i] != 0 && s->cby[i] != 0 && s->cby[i] < st.term &&
                    zn_raft_term_at(nd->raft, i) != s->cterm[i]) {
                    violation(s,
                              "leader completeness: n%u leads term %llu without committed "
                              "entry %llu (term %llu), has term %llu",
                              nd->id, (unsigned long long)st.term, (unsigned long long)i,
                              (unsigned long long)s->cterm[i],
                              (unsigned long long)zn_raft_term_at(nd->raft, i));
                    break;
                }
            }
            nd->lead_term = st.term;
            nd->lead_last = st.last_index;
            nd->lead_last_term = zn_raft_term_at(nd->raft, st.last_index);
        } else {
            if (st.last_index < nd->lead_last ||
                (nd->lead_last >= st.first_index &&
                 zn_raft_term_at(nd->raft, nd->lead_last) != nd->lead_last_term)) {
                violation(s, "leader append-only: n%u log changed under its own term", nd->id);
            }
            nd->lead_last = st.last_index;
            nd->lead_last_term = zn_raft_term_at(nd->raft, st.last_index);
        }
        if (st.commit > nd->seen_commit) {
            grow_chain(s, st.commit);
            for (uint64_t i = st.commit; i > nd->seen_commit && s->cby[i] == 0; i--) {
                s->cby[i] = st.term;
            }
            /* an entry the leader commits is on the disks of a quorum of its voters */
            uint64_t t = zn_raft_term_at(nd->raft, st.commit);
            /* and a leader advances commit only to an entry of its own term (Figure 2,
             * section 5.4.2: earlier entries commit indirectly, Figure 8) */
            if (t != st.term && !s->no_commit_rule) {
                violation(s,
                          "commit rule: n%u (term %llu) advanced commit to %llu, an entry of "
                          "term %llu",
                          nd->id, (unsigned long long)st.term, (unsigned long long)st.commit,
                          (unsigned long long)t);
            }
            uint32_t have = 0;
            for (uint32_t i = 0; i < st.conf.n_voters; i++) {
                struct node *v = &s->nodes[st.conf.voters[i]];
                have += disk_covers(v, st.commit, t) ? 1 : 0;
            }
            if (have < st.conf.n_voters / 2u + 1u) {
                violation(s,
                          "commit not durable: n%u commits %llu (term %llu) with only %u of "
                          "%u voters' disks holding it",
                          nd->id, (unsigned long long)st.commit, (unsigned long long)t, have,
                          st.conf.n_voters);
            }
        }
    }
    /* priority 0: never campaigns on its own (a leadership transfer may still make it stand);
     * the priority in force, which settings events change at runtime */
    if (nd->prio == 0 && nd->role != st.role &&
        (st.role == ZN_RAFT_PRECANDIDATE || st.role == ZN_RAFT_CANDIDATE) && !nd->told_to_stand) {
        violation(s, "priority 0: n%u became %s in term %llu without a TimeoutNow", nd->id,
                  zn_raft_role_name(st.role), (unsigned long long)st.term);
    }
    if (st.role == ZN_RAFT_FOLLOWER || st.role == ZN_RAFT_LEADER) {
        nd->told_to_stand = false;
    }
    if (up->role_changed && s->o.role_notes) {
        sim_note(s, "t=%.1fms n%u %s term %llu leader %u", (double)s->now / SIM_MS, nd->id,
                 zn_raft_role_name(st.role), (unsigned long long)st.term, st.leader);
    }
    nd->role = st.role;
    nd->seen_term = st.term;
    nd->seen_commit = st.commit;
    if (st.commit > s->max_commit) {
        s->max_commit = st.commit;
    }
}

/* zincd's node_persist: entries into the open WAL batch (a conflict truncates the log first,
 * on an idle WAL), the hard state with them. */
static void persist(struct sim *s, struct node *nd, const struct zn_raft_update *up)
{
    const struct zn_raft_persist *p = &up->persist;
    if (p->n_entries > 0) {
        if (p->first_index <= nd->snap_index) {
            violation(s, "n%u asked to write entry %llu at or below its snapshot %llu", nd->id,
                      (unsigned long long)p->first_index, (unsigned long long)nd->snap_index);
            return;
        }
        if (p->first_index <= zn_wal_last_index(nd->wal)) {
            wal_wait_idle(s, nd);
            int rc = zn_wal_truncate_suffix(nd->wal, p->first_index);
            if (rc != 0) {
                violation(s, "n%u WAL truncation at %llu: %s", nd->id,
                          (unsigned long long)p->first_index, zn_strerror(rc));
                return;
            }
            if (nd->dur_last >= p->first_index) {
                nd->dur_last = p->first_index - 1;
            }
        }
        for (uint32_t i = 0; i < p->n_entries; i++) {
            const struct zn_raft_entry *e = &p->entries[i];
            uint64_t index = p->first_index + i;
            wterm_set(nd, index, e->term);
            int rc =
                zn_wal_append(nd->wal, (uint16_t)(e->type + 1), e->term, index, e->data, e->len);
            if (rc == ZN_EFULL) {
                wal_flush(nd);
                wal_wait_idle(s, nd);
                rc = zn_wal_append(nd->wal, (uint16_t)(e->type + 1), e->term, index, e->data,
                                   e->len);
            }
            if (rc != 0) {
                violation(s, "n%u WAL append of %llu: %s", nd->id, (unsigned long long)index,
                          zn_strerror(rc));
                return;
            }
        }
    }
    if (p->hard_state) {
        uint64_t last = zn_wal_last_index(nd->wal);
        struct zn_hardstate hs = {
            .term = p->term, .vote = p->vote, .commit = up->commit < last ? up->commit : last};
        zn_wal_set_hardstate(nd->wal, &hs);
        nd->hs_open = true;
        nd->hs_open_term = p->term;
        nd->hs_open_vote = p->vote;
    }
}

/* Defer an item on the open batch (released when the batch is durable). */
static void defer_item(struct sim *s, struct node *nd, struct relitem *r)
{
    r->prev = NULL;
    r->next = nd->deferred;
    if (nd->deferred != NULL) {
        nd->deferred->prev = r;
    }
    nd->deferred = r;
    if (zn_wal_defer(nd->wal, r) == ZN_EFULL) {
        wal_flush(nd);
        wal_wait_idle(s, nd);
        if (zn_wal_defer(nd->wal, r) != 0) {
            violation(s, "n%u cannot defer on the WAL", nd->id);
        }
    }
}

static void process_update(struct sim *s, struct node *nd, struct zn_raft_update *up)
{
    if (power_cut(nd)) {
        return; /* the process died during this event: nothing more leaves it */
    }
    s->st.dropped_msgs += up->dropped_msgs;
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(up->term, up->commit));
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(up->n_msgs, up->persist.id));
    /* 1. the write (log matching checked on every entry written) */
    if (up->persist.id != 0 && nd->wal != NULL) {
        for (uint32_t i = 0; i < up->persist.n_entries; i++) {
            const struct zn_raft_entry *e = &up->persist.entries[i];
            uint64_t prev =
                i == 0 ? zn_raft_term_at(nd->raft, e->index - 1) : up->persist.entries[i - 1].term;
            reg_check(s, nd->id, e->index, e->term, mix64(e->type, hash_bytes(e->data, e->len)),
                      prev, i > 0 || prev != 0);
            if (e->type == ZN_RAFT_ENTRY_CONF && s->o.trace && s->o.out) {
                struct zn_raft_conf c;
                zn_raft_conf_decode(&c, e->data, e->len);
                fprintf(s->o.out,
                        "%10.3fms n%u writes CONF at %llu term %llu: %u voters %u "
                        "learners (v0=%u v1=%u)\n",
                        (double)s->now / SIM_MS, nd->id, (unsigned long long)e->index,
                        (unsigned long long)e->term, c.n_voters, c.n_learners, c.voters[0],
                        c.voters[1]);
            }
        }
        persist(s, nd, up);
        if (power_cut(nd)) {
            return;
        }
    }
    /* 2. messages now */
    for (uint32_t i = 0; i < up->n_msgs; i++) {
        struct wmsg m;
        encode_msg(s, &up->msgs[i], &m);
        if (up->msgs[i].type == ZN_RAFT_MSG_APPEND_RESP) {
            m.ack_term = zn_raft_term_at(nd->raft, up->msgs[i].index);
        }
        if (up->msgs[i].type == ZN_RAFT_MSG_VOTE_RESP ||
            up->msgs[i].type == ZN_RAFT_MSG_APPEND_RESP) {
            release(s, nd, &m); /* checks: an ack or grant sent now must already be durable */
        } else {
            net_send(s, nd->id, &m);
        }
        free(m.buf);
    }
    /* 3. messages after the writes issued so far are durable: an item on the WAL batch */
    if ((up->n_msgs_after > 0 || up->persist.id != 0) && nd->wal != NULL) {
        struct relitem *r = xrealloc(NULL, sizeof(*r));
        memset(r, 0, sizeof(*r));
        r->persist_id = up->persist_id;
        r->n = up->n_msgs_after;
        r->msgs = xrealloc(NULL, (r->n ? r->n : 1) * sizeof(struct wmsg));
        for (uint32_t i = 0; i < up->n_msgs_after; i++) {
            encode_msg(s, &up->msgs_after[i], &r->msgs[i]);
            if (up->msgs_after[i].type == ZN_RAFT_MSG_APPEND_RESP) {
                r->msgs[i].ack_term = zn_raft_term_at(nd->raft, up->msgs_after[i].index);
            }
        }
        defer_item(s, nd, r);
    }
    if (nd->wal != NULL) {
        wal_flush(nd); /* the WAL stage runs right after the raft stage */
        schedule_sync(s, nd);
    }
    /* 4. apply */
    for (uint64_t i = up->apply_from; i <= up->apply_to && !s->stop; i++) {
        struct zn_raft_entry e;
        if (zn_raft_entry_get(nd->raft, i, &e) != 0) {
            violation(s, "n%u cannot read committed entry %llu", nd->id, (unsigned long long)i);
            break;
        }
        apply_entry(s, nd, &e);
    }
    /* 5. reads */
    for (uint32_t i = 0; i < up->n_reads; i++) {
        read_result(s, nd, &up->reads[i]);
    }
    /* 6. snapshot chunks the leader wants to send: served by the application a bit later */
    for (uint32_t i = 0; i < up->n_chunk_reqs; i++) {
        const struct zn_raft_chunk_request *c = &up->chunk_reqs[i];
        push(s, (struct sev){.t = s->now + 10000 + zn_prng_below(&s->prng, 100000),
                             .kind = EV_CHUNK,
                             .node = nd->id,
                             .from = c->to,
                             .a = c->index,
                             .b = c->offset,
                             .len = c->max_bytes});
    }
    check_node(s, nd, up);
    schedule_tick(s, nd, up->deadline_ns);
    /* 7. a received snapshot chunk (after the checks: installing steps the core again) */
    if (up->install.valid) {
        struct zn_raft_install in = up->install;
        install_snapshot(s, nd, &in);
    }
    /* 8. the application snapshots now and then */
    if (nd->up && nd->applied >= nd->snap_index + nd->snap_every && !s->stop) {
        take_snapshot(s, nd);
    }
}

/* ---- event handlers ------------------------------------------------------------------------ */

/* The WAL stage (node.c node_stage_wal): harvest the batch that became durable, submit the open
 * one, compact behind a snapshot, release what the WAL handed back. */
static void do_sync(struct sim *s, struct node *nd)
{
    nd->sync_pending = false;
    struct zn_wal_persisted p;
    if (nd->enospc_left > 0) {
        /* the disk is full when this batch job creates its segment (the only place the WAL
         * allocates); the batch stays unacknowledged and the next flush retries it */
        zn_disk_sim_fail(&nd->disk, ZN_SIM_OP_FALLOCATE, ZN_ENOSPC, 0, 1);
    }
    int rc = zn_wal_poll(nd->wal, &p);
    if (nd->enospc_left > 0) {
        zn_disk_sim_fail(&nd->disk, 0, 0, 0, 0);
    }
    if (rc == ZN_ENOSPC) {
        nd->enospc_left--;
        nd->wal_failed = true;
        s->st.faults[F_ENOSPC]++;
        if (s->o.trace && s->o.out) {
            fprintf(s->o.out, "%10.3fms n%u WAL batch met ENOSPC creating a segment\n",
                    (double)s->now / SIM_MS, nd->id);
        }
        rc = 0;
    }
    if (rc == 1) {
        wal_harvest(s, nd, &p);
        if (s->o.trace && s->o.out) {
            fprintf(s->o.out, "%10.3fms n%u WAL batch durable: index %llu, %u items%s\n",
                    (double)s->now / SIM_MS, nd->id, (unsigned long long)p.index, p.nitems,
                    p.hardstate ? ", hard state" : "");
        }
    } else if (rc < 0) {
        violation(s, "n%u WAL poll: %s", nd->id, zn_strerror(rc));
        return;
    }
    wal_flush(nd);
    if (nd->compact_pending != 0 && zn_wal_idle(nd->wal)) {
        rc = zn_wal_compact(nd->wal, nd->compact_pending);
        if (rc < 0) {
            violation(s, "n%u WAL compaction behind %llu: %s", nd->id,
                      (unsigned long long)nd->compact_pending, zn_strerror(rc));
        }
        nd->compact_pending = 0;
    }
    /* take the queue: releasing steps the core, which may queue more */
    struct relitem **q = nd->relq;
    uint32_t n = nd->n_relq;
    nd->relq = NULL;
    nd->n_relq = 0;
    nd->cap_relq = 0;
    uint64_t gen = nd->gen;
    for (uint32_t i = 0; i < n; i++) {
        struct relitem *r = q[i];
        if (nd->up && nd->gen == gen && !s->stop) {
            for (uint32_t j = 0; j < r->n; j++) {
                net_send(s, nd->id, &r->msgs[j]); /* checked when the WAL handed it back */
            }
            if (r->persist_id != 0) {
                struct zn_raft_event ev = {.type = ZN_RAFT_EV_PERSISTED};
                ev.persisted.id = r->persist_id;
                node_step(s, nd, &ev);
            }
        }
        relitem_free(r);
    }
    free(q);
    if (nd->up && nd->gen == gen) {
        schedule_sync(s, nd);
    }
}

static void deliver(struct sim *s, struct sev *e)
{
    struct node *nd = &s->nodes[e->node];
    if (!nd->up || !s->link[e->from][e->node] || s->hold[e->from][e->buf[1] % 12]) {
        return;
    }
    struct zn_raft_msg m;
    int rc = zn_raft_msg_decode(&m, s->dec, ENTRIES_DEC, e->buf, e->len);
    if (rc != 0) {
        violation(s, "codec: decode of a %s from n%u failed: %s", zn_raft_msg_type_name(e->buf[1]),
                  e->from, zn_strerror(rc));
        return;
    }
    if (s->o.trace && s->o.out) {
        fprintf(s->o.out,
                "%10.3fms n%u <- n%u %-14s term=%llu idx=%llu lterm=%llu commit=%llu n=%u%s\n",
                (double)s->now / SIM_MS, m.to, m.from, zn_raft_msg_type_name(m.type),
                (unsigned long long)m.term, (unsigned long long)m.index,
                (unsigned long long)m.log_term, (unsigned long long)m.commit, m.n_entries,
                m.reject ? " reject" : "");
    }
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(m.type, mix64(m.term, m.index)));
    if (m.type == ZN_RAFT_MSG_TIMEOUT_NOW) {
        nd->told_to_stand = true;
    }
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .msg = &m};
    node_step(s, nd, &ev);
}

static void serve_chunk(struct sim *s, struct sev *e)
{
    struct node *nd = &s->nodes[e->node];
    if (!nd->up || nd->snap_index != e->a) {
        return; /* the snapshot moved on; the core restarts the stream */
    }
    uint32_t size = snap_size(e->a);
    uint8_t blob[256];
    snap_blob(nd->snap_index, nd->snap_term, nd->snap_hash, blob, size);
    if (e->b > size) {
        return;
    }
    uint32_t len = size - (uint32_t)e->b;
    if (len > e->len) {
        len = e->len;
    }
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_CHUNK};
    ev.chunk.to = e->from;
    ev.chunk.index = e->a;
    ev.chunk.offset = e->b;
    ev.chunk.len = len;
    ev.chunk.data = blob + e->b;
    ev.chunk.last = e->b + len == size;
    node_step(s, nd, &ev);
}

uint8_t sim_leader(const struct sim *s)
{
    uint8_t best = 0;
    uint64_t term = 0;
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        const struct node *nd = &s->nodes[i];
        if (!nd->up) {
            continue;
        }
        struct zn_raft_status st;
        zn_raft_status_get(nd->raft, &st);
        if (st.role == ZN_RAFT_LEADER && st.term >= term) {
            best = (uint8_t)i;
            term = st.term;
        }
    }
    return best;
}

static uint8_t random_up(struct sim *s)
{
    uint8_t ids[SIM_NODES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        if (s->nodes[i].up) {
            ids[n++] = (uint8_t)i;
        }
    }
    return n ? ids[zn_prng_below(&s->prng, n)] : 0;
}

static int propose_op(struct sim *s, uint8_t id, uint64_t op)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return ZN_ENOTLEADER;
    }
    uint8_t payload[64];
    uint32_t len = 8 + (uint32_t)(op % 40);
    memcpy(payload, &op, 8);
    for (uint32_t i = 8; i < len; i++) {
        payload[i] = (uint8_t)(op * 31 + i);
    }
    struct zn_raft_entry e = {.type = ZN_RAFT_ENTRY_NORMAL, .len = len, .data = payload};
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_PROPOSE};
    ev.propose.entries = &e;
    ev.propose.n = 1;
    int rc = node_step(s, nd, &ev);
    if (rc == ZN_EFULL) {
        s->st.proposals_full++;
    }
    return rc;
}

static uint64_t new_op(struct sim *s)
{
    if (s->next_op >= OPS_MAX - 1) {
        return 0;
    }
    return s->next_op++;
}

static void client_event(struct sim *s, struct sev *e)
{
    struct client *c = &s->clients[e->c];
    uint64_t next = 300000 + zn_prng_below(&s->prng, 2 * SIM_MS);
    if (c->op != 0 && s->op_done[c->op]) {
        c->op = 0;
    }
    bool retry_due = c->op != 0 && s->now >= c->sent_at + 3 * ET_NS && s->writes_retry;
    if ((c->op == 0 && s->clients_on) || retry_due) {
        if (c->op == 0) {
            c->op = new_op(s);
        }
        if (c->op != 0) {
            uint8_t target = sim_leader(s);
            if (target == 0 || zn_prng_chance(&s->prng, 1, 10)) {
                target = random_up(s);
            }
            if (target != 0) {
                int rc = propose_op(s, target, c->op);
                c->sent_at = rc == 0 || s->now < 2 * ET_NS ? s->now : s->now - 2 * ET_NS;
            }
        }
    }
    if (s->clients_on && zn_prng_chance(&s->prng, 1, 8)) {
        uint8_t l = sim_leader(s);
        if (l) {
            sim_read(s, l);
        }
    }
    if (s->clients_on || s->writes_retry) {
        push(s, (struct sev){.t = s->now + next, .kind = EV_CLIENT, .c = e->c});
    }
}

int sim_read(struct sim *s, uint8_t id)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return ZN_ENOTLEADER;
    }
    uint64_t ctx = ++s->read_ctx;
    s->read_floor[ctx % READS_TRACK] = s->max_commit;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_READ_INDEX};
    ev.read.ctx = ctx;
    return node_step(s, nd, &ev);
}

/* ---- chaos --------------------------------------------------------------------------------- */

static void links_all(struct sim *s, bool up)
{
    for (uint32_t a = 0; a <= SIM_NODES_MAX; a++) {
        for (uint32_t b = 0; b <= SIM_NODES_MAX; b++) {
            s->link[a][b] = up;
        }
    }
    for (uint32_t a = 0; a <= SIM_NODES_MAX; a++) {
        s->link[a][a] = true;
    }
}

void sim_link(struct sim *s, uint8_t from, uint8_t to, bool up)
{
    s->link[from][to] = up;
}

void sim_isolate(struct sim *s, uint8_t id, bool isolated)
{
    for (uint32_t i = 1; i <= SIM_NODES_MAX; i++) {
        if (i != id) {
            s->link[id][i] = !isolated;
            s->link[i][id] = !isolated;
        }
    }
}

void sim_hold(struct sim *s, uint8_t from, uint8_t msg_type, bool held)
{
    s->hold[from][msg_type % 12] = held;
}

static void crash_and_restart(struct sim *s, struct node *nd)
{
    sim_crash(s, nd->id);
    push(s, (struct sev){.t = s->now + SIM_MS + zn_prng_below(&s->prng, 4 * ET_NS),
                         .kind = EV_RESTART,
                         .node = nd->id});
}

/* A power cut at one of the node's next disk mutations, wherever it falls: inside a WAL batch
 * job, a suffix truncation, a compaction, a snapshot file commit, an install. If the node does
 * not touch its disk for two election timeouts it simply crashes then. */
static void arm_power_cut(struct sim *s, struct node *nd)
{
    static const enum zn_disk_sim_crash modes[3] = {ZN_SIM_CRASH_DROP, ZN_SIM_CRASH_TEAR,
                                                    ZN_SIM_CRASH_REORDER};
    nd->cut_mode = (uint32_t)zn_prng_below(&s->prng, 3);
    struct zn_disk_sim_stats ds;
    zn_disk_sim_stats(&nd->disk, &ds);
    zn_disk_sim_crash_at(&nd->disk,
                         ds.mutations + 1 + zn_prng_below(&s->prng, 4 * SIM_CRASH_WINDOW),
                         modes[nd->cut_mode]);
    nd->dying = true;
    nd->cut = false;
    push(s, (struct sev){
                .t = s->now + 2 * ET_NS, .kind = EV_CUT_DEADLINE, .node = nd->id, .a = nd->gen});
}

/*
 * Runtime settings (ZN_RAFT_EV_SETTINGS) at a random time on a random live node: its own
 * priority (0 on at most one node at a time: two nodes that never stand can block the rest),
 * a hand-over priority sent to every live node as `zincctl leader priority` does, a new
 * election timeout or heartbeat interval, or an invalid change that must be refused whole.
 * The invariants (priority 0 never campaigns, safety) run after every step as always.
 */
static void settings_fault(struct sim *s)
{
    uint8_t id = random_up(s);
    if (id == 0) {
        return;
    }
    struct node *nd = &s->nodes[id];
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SETTINGS};
    struct zn_raft_status before;
    zn_raft_status_get(nd->raft, &before);
    uint32_t kind = (uint32_t)zn_prng_below(&s->prng, 5);
    int want = 0;
    if (kind == 0) {
        uint8_t p = (uint8_t)zn_prng_below(&s->prng, 4);
        for (uint32_t i = 1; i <= s->n_nodes && p == 0; i++) {
            if (i != id && s->nodes[i].up && s->nodes[i].prio == 0) {
                p = 1;
            }
        }
        if (p == 0 && (s->prio0 != 0 && s->prio0 != id)) {
            p = 1; /* the configured priority-0 node comes back with 0 after a restart */
        }
        ev.settings.what = ZN_RAFT_SET_PRIORITY;
        ev.settings.priority = p;
    } else if (kind == 1) {
        uint8_t target = (uint8_t)(1 + zn_prng_below(&s->prng, s->n_nodes));
        uint8_t p = (uint8_t)(1 + zn_prng_below(&s->prng, 3));
        for (uint32_t i = 1; i <= s->n_nodes; i++) {
            struct node *o = &s->nodes[i];
            if (!o->up || o == nd) {
                continue;
            }
            struct zn_raft_event e2 = {.type = ZN_RAFT_EV_SETTINGS};
            e2.settings.what = ZN_RAFT_SET_NODE_PRIORITY;
            e2.settings.node = target;
            e2.settings.node_priority = p;
            int rc = node_step(s, o, &e2);
            if (rc != 0) {
                violation(s, "settings: n%u refused priority %u for n%u: %s", o->id, p, target,
                          zn_strerror(rc));
            } else if (target == o->id) {
                o->prio = p;
            }
        }
        ev.settings.what = ZN_RAFT_SET_NODE_PRIORITY;
        ev.settings.node = target;
        ev.settings.node_priority = p;
    } else if (kind == 2) {
        ev.settings.what = ZN_RAFT_SET_ELECTION_TIMEOUT;
        ev.settings.election_timeout_ns = ET_NS / 2 + zn_prng_below(&s->prng, ET_NS);
        if (ev.settings.election_timeout_ns <= before.heartbeat_interval_ns) {
            want = ZN_EINVAL;
        } else if (s->cfg.lease_reads &&
                   ev.settings.election_timeout_ns != before.election_timeout_ns) {
            want = ZN_ENOTSUP;
        }
    } else if (kind == 3) {
        ev.settings.what = ZN_RAFT_SET_HEARTBEAT;
        ev.settings.heartbeat_interval_ns = HB_NS / 2 + zn_prng_below(&s->prng, HB_NS);
        if (ev.settings.heartbeat_interval_ns >= before.election_timeout_ns) {
            want = ZN_EINVAL;
        }
    } else {
        /* refused whole: a valid priority with a heartbeat not below the election timeout */
        ev.settings.what = ZN_RAFT_SET_PRIORITY | ZN_RAFT_SET_HEARTBEAT;
        ev.settings.priority = (uint8_t)(before.priority + 1);
        ev.settings.heartbeat_interval_ns = before.election_timeout_ns;
        want = ZN_EINVAL;
    }
    int rc = node_step(s, nd, &ev);
    s->st.faults[F_SETTINGS]++;
    struct zn_raft_status after;
    zn_raft_status_get(nd->raft, &after);
    if (rc != want) {
        violation(s, "settings: n%u kind %u returned %s, expected %s", id, kind, zn_strerror(rc),
                  zn_strerror(want));
    } else if (rc != 0 &&
               (after.priority != before.priority ||
                after.election_timeout_ns != before.election_timeout_ns ||
                after.heartbeat_interval_ns != before.heartbeat_interval_ns ||
                memcmp(after.priorities, before.priorities, sizeof(after.priorities)) != 0)) {
        violation(s, "settings: n%u refused a change (%s) but applied part of it", id,
                  zn_strerror(rc));
    } else if (rc == 0) {
        if (ev.settings.what == ZN_RAFT_SET_PRIORITY) {
            nd->prio = ev.settings.priority;
        } else if (ev.settings.what == ZN_RAFT_SET_NODE_PRIORITY && ev.settings.node == id) {
            nd->prio = ev.settings.node_priority;
        }
        if (after.priority != nd->prio) {
            violation(s, "settings: n%u holds priority %u, expected %u", id, after.priority,
                      nd->prio);
        }
    }
}

static void chaos(struct sim *s)
{
    uint32_t n = s->n_nodes;
    if (s->settings && zn_prng_chance(&s->prng, 1, 6)) {
        settings_fault(s);
        return;
    }
    uint32_t pick = (uint32_t)zn_prng_below(&s->prng, 100);
    if (pick < 12) {
        links_all(s, true);
        s->st.faults[F_HEAL]++;
    } else if (pick < 20) {
        sim_isolate(s, (uint8_t)(1 + zn_prng_below(&s->prng, n)), true);
        s->st.faults[F_ISOLATE]++;
    } else if (pick < 27) {
        links_all(s, true);
        for (uint32_t a = 1; a <= n; a++) {
            for (uint32_t b = 1; b <= n; b++) {
                if ((a <= n / 2) != (b <= n / 2)) {
                    s->link[a][b] = false;
                }
            }
        }
        s->st.faults[F_HALVES]++;
    } else if (pick < 33) {
        uint8_t a = (uint8_t)(1 + zn_prng_below(&s->prng, n));
        uint8_t b = (uint8_t)(1 + zn_prng_below(&s->prng, n));
        s->link[a][b] = a == b;
        s->st.faults[F_ONE_WAY]++;
    } else if (pick < 38) {
        /* bridge: two halves that only the bridge node connects */
        links_all(s, true);
        uint8_t br = (uint8_t)(1 + zn_prng_below(&s->prng, n));
        for (uint32_t a = 1; a <= n; a++) {
            for (uint32_t b = 1; b <= n; b++) {
                if (a != br && b != br && (a % 2) != (b % 2)) {
                    s->link[a][b] = false;
                }
            }
        }
        s->st.faults[F_BRIDGE]++;
    } else if (pick < 43) {
        for (uint32_t a = 1; a <= n; a++) {
            for (uint32_t b = 1; b <= n; b++) {
                if (a != b && zn_prng_chance(&s->prng, 1, 4)) {
                    s->link[a][b] = false;
                }
            }
        }
        s->st.faults[F_PARTITION]++;
    } else if (pick < 55) {
        uint8_t id = random_up(s);
        if (id && !s->nodes[id].dying && zn_prng_chance(&s->prng, 1, 2)) {
            arm_power_cut(s, &s->nodes[id]);
        } else if (id) {
            crash_and_restart(s, &s->nodes[id]);
        }
    } else if (pick < 60) {
        uint8_t id = random_up(s);
        if (id) {
            s->nodes[id].paused_until = s->now + ET_NS + zn_prng_below(&s->prng, 3 * ET_NS);
            s->st.faults[F_PAUSE]++;
        }
    } else if (pick < 67) {
        static const uint32_t loss[] = {0, 0, 20, 100, 300};
        s->loss_pm = loss[zn_prng_below(&s->prng, 5)];
        s->st.faults[F_LOSS]++;
    } else if (pick < 72) {
        static const uint32_t dup[] = {0, 10, 100};
        s->dup_pm = dup[zn_prng_below(&s->prng, 3)];
        static const uint32_t slow[] = {0, 5, 50};
        s->slow_pm = slow[zn_prng_below(&s->prng, 3)];
        s->st.faults[F_DUP]++;
    } else if (pick < 82) {
        uint8_t l = sim_leader(s);
        if (l) {
            static const uint32_t ops[] = {ZN_RAFT_CONF_ADD_LEARNER, ZN_RAFT_CONF_ADD_VOTER,
                                           ZN_RAFT_CONF_PROMOTE, ZN_RAFT_CONF_REMOVE};
            uint32_t op = ops[zn_prng_below(&s->prng, 4)];
            uint8_t who = (uint8_t)(1 + zn_prng_below(&s->prng, s->n_nodes));
            struct zn_raft_status st;
            zn_raft_status_get(s->nodes[l].raft, &st);
            /* keep at least 1 voter and never more than the cluster size plus one */
            if (op == ZN_RAFT_CONF_REMOVE && st.conf.n_voters <= 1) {
                op = ZN_RAFT_CONF_ADD_VOTER;
            }
            /* and never leave the node that does not campaign a voter among fewer than three:
             * in {prio0, X} a prio0 node holding the longer log blocks X forever (by design:
             * it never stands, and X can never win its vote) */
            bool is_voter = zn_raft_conf_is_voter(&st.conf, who);
            uint32_t voters_after = st.conf.n_voters;
            bool prio0_after = s->prio0 != 0 && zn_raft_conf_is_voter(&st.conf, s->prio0);
            if (op == ZN_RAFT_CONF_REMOVE || op == ZN_RAFT_CONF_ADD_LEARNER) {
                voters_after -= is_voter ? 1u : 0u;
                prio0_after = prio0_after && who != s->prio0;
            } else {
                voters_after += is_voter ? 0u : 1u;
                prio0_after = prio0_after || (s->prio0 != 0 && who == s->prio0);
            }
            if (prio0_after && voters_after < 3) {
                return;
            }
            if (sim_conf(s, l, op, who) == 0) {
                s->st.faults[F_CONF]++;
            }
        }
    } else if (pick < 88) {
        uint8_t l = sim_leader(s);
        if (l) {
            uint8_t to = (uint8_t)(1 + zn_prng_below(&s->prng, n));
            if (sim_transfer(s, l, to) == 0) {
                s->st.faults[F_TRANSFER]++;
            }
        }
    } else if (pick < 95) {
        uint8_t id = random_up(s);
        if (id) {
            take_snapshot(s, &s->nodes[id]);
        }
    } else {
        uint8_t id = random_up(s);
        if (id) {
            s->nodes[id].enospc_left = 1 + (uint32_t)zn_prng_below(&s->prng, 3);
        }
    }
}

/* ---- main loop ----------------------------------------------------------------------------- */

static void handle(struct sim *s, struct sev *e)
{
    struct node *nd = e->node ? &s->nodes[e->node] : NULL;
    if (nd && nd->paused_until > s->now &&
        (e->kind == EV_DELIVER || e->kind == EV_TICK || e->kind == EV_SYNC ||
         e->kind == EV_CHUNK)) {
        e->t = nd->paused_until;
        push(s, *e); /* the paused process handles it when it resumes */
        return;
    }
    s->st.events++;
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(e->t, mix64(e->kind, e->node)));
    switch (e->kind) {
    case EV_DELIVER:
        deliver(s, e);
        free(e->buf);
        break;
    case EV_TICK:
        if (nd->up && e->a == nd->tick_gen) {
            struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK};
            node_step(s, nd, &ev);
        }
        break;
    case EV_SYNC:
        if (nd->up && e->a == nd->gen) {
            do_sync(s, nd);
        }
        break;
    case EV_RESTART:
        sim_restart(s, e->node);
        break;
    case EV_CHAOS:
        if (s->o.faults) {
            chaos(s);
            push(s, (struct sev){.t = s->now + SIM_MS + zn_prng_below(&s->prng, 8 * SIM_MS),
                                 .kind = EV_CHAOS});
        }
        break;
    case EV_CLIENT:
        client_event(s, e);
        break;
    case EV_CHUNK:
        serve_chunk(s, e);
        break;
    case EV_CUT_DEADLINE:
        if (nd->up && nd->gen == e->a && nd->dying) {
            crash_and_restart(s, nd);
        }
        break;
    default:
        break;
    }
    /* an armed power cut that happened during this event ends it: the node is dead */
    if (nd != NULL && nd->up && power_cut(nd)) {
        crash_and_restart(s, nd);
    }
}

static bool run_one(struct sim *s)
{
    if (s->n_heap == 0) {
        return false;
    }
    struct sev e = pop(s);
    if (e.t > s->now) {
        s->now = e.t;
    }
    handle(s, &e);
    return true;
}

void sim_advance(struct sim *s, uint64_t ns)
{
    uint64_t until = s->now + ns;
    while (s->n_heap > 0 && s->heap[0].t <= until && !s->stop) {
        run_one(s);
    }
    if (s->now < until) {
        s->now = until;
    }
}

struct sim *sim_new(const struct sim_opts *opts)
{
    struct sim *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        abort();
    }
    s->o = *opts;
    s->no_commit_rule = getenv("ZN_SIM_NO_COMMIT_RULE") != NULL;
    s->zincd_install = getenv("ZN_SIM_ZINCD_INSTALL") != NULL;
    s->settings = getenv("ZN_SIM_SETTINGS") != NULL;
    zn_prng_seed(&s->prng, opts->seed);
    s->n_nodes = opts->nodes + 2 <= SIM_NODES_MAX ? opts->nodes + 2 : SIM_NODES_MAX;
    s->boot.n_voters = (uint8_t)opts->nodes;
    for (uint32_t i = 0; i < opts->nodes; i++) {
        s->boot.voters[i] = (uint8_t)(i + 1);
    }
    zn_raft_config_default(&s->cfg, 1);
    s->cfg.election_timeout_ns = ET_NS;
    s->cfg.heartbeat_interval_ns = HB_NS;
    s->cfg.pre_vote = opts->faults ? zn_prng_chance(&s->prng, 4, 5) : true;
    s->cfg.check_quorum = true; /* without it a removed server may disrupt forever (4.2.3) */
    s->cfg.lease_reads = s->cfg.check_quorum && zn_prng_chance(&s->prng, 1, 3);
    s->cfg.members_max = SIM_NODES_MAX;
    s->cfg.inflight_max = 4;
    s->cfg.batch_entries_max = BATCH_MAX;
    s->cfg.batch_bytes_max = 512;
    s->cfg.log_entries_max = 512;
    s->cfg.log_bytes_max = 32768;
    s->cfg.compact_keep = 8;
    s->cfg.msgs_max = 64;
    s->cfg.update_entries_max = 512;
    s->cfg.reads_max = 64;
    s->cfg.snapshot_chunk_bytes = CHUNK_BYTES;
    bool tight = opts->faults && zn_prng_chance(&s->prng, 1, 3);
    if (tight) {
        /* tight buffers: window and arena fill up (EFULL, prefix acks, arena wrap), single
         * in-flight appends, tiny batches, dropped output messages */
        s->cfg.log_entries_max = 64;
        s->cfg.log_bytes_max = 4096 + (uint32_t)zn_prng_below(&s->prng, 4096);
        s->cfg.batch_entries_max = 1 + (uint32_t)zn_prng_below(&s->prng, 8);
        s->cfg.batch_bytes_max = 64 + (uint32_t)zn_prng_below(&s->prng, 256);
        s->cfg.inflight_max = 1 + (uint32_t)zn_prng_below(&s->prng, 8);
        s->cfg.compact_keep = (uint32_t)zn_prng_below(&s->prng, 8);
        s->cfg.msgs_max = 8 + (uint32_t)zn_prng_below(&s->prng, 16);
        s->cfg.update_entries_max = 16 + (uint32_t)zn_prng_below(&s->prng, 48);
        s->cfg.reads_max = 4 + (uint32_t)zn_prng_below(&s->prng, 8);
    }
    if (opts->faults && zn_prng_chance(&s->prng, 1, 2)) {
        /* leader priorities: the leader hands over to a caught-up higher-priority voter */
        for (uint32_t i = 1; i <= SIM_NODES_MAX; i++) {
            s->cfg.priorities[i] = (uint8_t)(1 + zn_prng_below(&s->prng, 3));
        }
    }
    if (opts->faults && opts->nodes >= 3 && zn_prng_chance(&s->prng, 1, 3)) {
        /* one node never campaigns (priority 0): it votes, replicates and may be handed the
         * leadership by a transfer, but never starts an election of its own */
        s->prio0 = (uint8_t)(1 + zn_prng_below(&s->prng, opts->nodes + 2u));
        s->st.faults[F_PRIO0]++;
        if (s->cfg.priorities[s->prio0] != 0) {
            s->cfg.priorities[s->prio0] = 0;
        }
    }
    if (opts->batch) {
        s->cfg.batch_entries_max = opts->batch;
    }
    for (uint32_t i = 1; i <= SIM_NODES_MAX; i++) {
        if (opts->priorities[i]) {
            memcpy(s->cfg.priorities, opts->priorities, sizeof(opts->priorities));
            break;
        }
    }
    links_all(s, true);
    s->op_done = calloc(OPS_MAX, 1);
    s->next_op = 1;
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        struct node *nd = &s->nodes[i];
        nd->id = (uint8_t)i;
        nd->drift_ppm = opts->faults ? (int64_t)zn_prng_below(&s->prng, 40001) - 20000 : 0;
        /* the application snapshots well before the window fills */
        nd->snap_every =
            tight ? 4 + zn_prng_below(&s->prng, 16) : 20 + zn_prng_below(&s->prng, 100);
        if (zn_disk_sim_create(&nd->disk, &heap_allocator, mix64(opts->seed, 0xd15c00u + i), 0) !=
            0) {
            abort();
        }
        nd->io = (struct zn_disk){.ops = &io_ops, .ctx = nd};
        nd->stage = xrealloc(NULL, SIM_STAGE_BYTES);
        if (i <= opts->nodes) {
            /* bootstrap: the initial configuration is entry 1 (term 1) of every original
             * voter's log, so a node that joins later learns it from the log or a snapshot */
            node_bootstrap(s, nd, &s->boot);
        }
        node_boot(s, nd);
    }
    s->clients_on = opts->clients;
    s->writes_retry = opts->clients;
    if (opts->clients) {
        for (uint32_t c = 0; c < 3; c++) {
            push(s, (struct sev){.t = SIM_MS * (c + 1), .kind = EV_CLIENT, .c = (uint8_t)c});
        }
    }
    if (opts->faults) {
        push(s, (struct sev){.t = 20 * SIM_MS, .kind = EV_CHAOS});
    }
    return s;
}

static void liveness(struct sim *s)
{
    /* power loss of every node, then a healed network */
    s->o.faults = false;
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        sim_crash(s, (uint8_t)i);
    }
    links_all(s, true);
    s->loss_pm = s->dup_pm = s->slow_pm = 0;
    memset(s->hold, 0, sizeof(s->hold));
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        s->nodes[i].paused_until = 0;
    }
    s->clients_on = false;
    s->writes_retry = false;
    sim_advance(s, SIM_MS);
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        sim_restart(s, (uint8_t)i);
    }
    uint64_t start = s->now;
    uint8_t l = 0;
    while (!s->stop && s->now < start + 10 * ET_NS) {
        sim_advance(s, SIM_MS);
        l = sim_leader(s);
        if (l) {
            break;
        }
    }
    check(s);
    if (l == 0) {
        violation(s, "liveness: no leader within 10 election timeouts after healing");
        return;
    }
    /* a linearizable read needs the new leader to commit in its term: without writes */
    uint64_t done0 = s->reads_done;
    uint64_t t0 = s->now;
    struct zn_raft_status ls0;
    zn_raft_status_get(s->nodes[l].raft, &ls0);
    uint64_t lterm = ls0.term;
    sim_read(s, l);
    while (!s->stop && s->reads_done == done0 && s->now < t0 + 5 * ET_NS) {
        sim_advance(s, SIM_MS);
        uint8_t l2 = sim_leader(s);
        if (l2) {
            zn_raft_status_get(s->nodes[l2].raft, &ls0);
            if (l2 != l || ls0.term != lterm) {
                l = l2; /* a new leader (the read failed with the old one): ask it */
                lterm = ls0.term;
                sim_read(s, l);
            }
        }
    }
    check(s);
    if (s->reads_done == done0 && !s->stop) {
        struct zn_raft_status ls;
        zn_raft_status_get(s->nodes[l].raft, &ls);
        violation(s,
                  "liveness: a read on leader n%u was not served within 5 election timeouts "
                  "(term %llu commit %llu last %llu durable %llu)",
                  l, (unsigned long long)ls.term, (unsigned long long)ls.commit,
                  (unsigned long long)ls.last_index, (unsigned long long)ls.durable);
        return;
    }
    /* every client operation commits; every member catches up */
    s->writes_retry = true;
    for (uint32_t c = 0; c < 3; c++) {
        push(s, (struct sev){.t = s->now + 1, .kind = EV_CLIENT, .c = (uint8_t)c});
    }
    uint64_t t1 = s->now;
    bool ok = false;
    while (!s->stop && s->now < t1 + 40 * ET_NS) {
        sim_advance(s, SIM_MS);
        bool pending = false;
        for (uint32_t c = 0; c < 3; c++) {
            struct client *cl = &s->clients[c];
            if (cl->op != 0 && !s->op_done[cl->op]) {
                pending = true;
            }
        }
        l = sim_leader(s);
        if (pending || l == 0) {
            continue;
        }
        struct zn_raft_status ls;
        zn_raft_status_get(s->nodes[l].raft, &ls);
        bool caught = ls.commit == ls.last_index;
        for (uint32_t i = 0; i < ls.conf.n_voters && caught; i++) {
            struct node *v = &s->nodes[ls.conf.voters[i]];
            struct zn_raft_status vs;
            zn_raft_status_get(v->raft, &vs);
            caught = vs.commit == ls.commit;
        }
        if (caught) {
            ok = true;
            break;
        }
    }
    s->writes_retry = false;
    check(s);
    if (!ok && !s->stop && s->o.trace && s->o.out) {
        for (uint32_t i = 1; i <= s->n_nodes; i++) {
            struct zn_raft_status st;
            zn_raft_status_get(s->nodes[i].raft, &st);
            fprintf(s->o.out, "  n%u %s term %llu leader %u commit %llu last %llu voters %u\n", i,
                    zn_raft_role_name(st.role), (unsigned long long)st.term, st.leader,
                    (unsigned long long)st.commit, (unsigned long long)st.last_index,
                    st.conf.n_voters);
        }
        for (uint32_t c = 0; c < 3; c++) {
            fprintf(s->o.out, "  client %u op %llu done %u\n", c,
                    (unsigned long long)s->clients[c].op,
                    s->clients[c].op ? s->op_done[s->clients[c].op] : 1);
        }
    }
    if (!ok && !s->stop) {
        violation(s, "liveness: client operations or followers not caught up within 40 election "
                     "timeouts after healing");
    }
}

uint64_t sim_run(struct sim *s)
{
    while (!s->stop && s->st.events < s->o.events && run_one(s)) {
    }
    if (!s->stop && s->o.liveness) {
        liveness(s);
    }
    s->st.sim_ns = s->now;
    return s->st.violations;
}

const struct sim_stats *sim_stats(const struct sim *s)
{
    return &s->st;
}

void sim_free(struct sim *s)
{
    while (s->n_heap > 0) {
        struct sev e = pop(s);
        free(e.buf);
    }
    free(s->heap);
    for (uint32_t i = 1; i <= SIM_NODES_MAX; i++) {
        struct node *nd = &s->nodes[i];
        while (nd->deferred != NULL) {
            struct relitem *r = nd->deferred;
            deferred_unlink(nd, r);
            relitem_free(r);
        }
        for (uint32_t j = 0; j < nd->n_relq; j++) {
            relitem_free(nd->relq[j]);
        }
        free(nd->relq);
        arena_drop(nd); /* the WAL's memory (not closed: that would run its job) */
        if (nd->disk.ops != NULL) {
            zn_disk_sim_destroy(&nd->disk);
        }
        if (nd->cut) {
            zn_disk_sim_destroy(&nd->cut_img);
        }
        free(nd->wterm);
        free(nd->stage);
        free(nd->mem);
        free(nd->rbuf);
    }
    free(s->leader_of_term);
    free(s->reg);
    free(s->chain);
    free(s->cterm);
    free(s->cby);
    free(s->op_done);
    free(s->transcript);
    free(s);
}

/* ---- scripted control ---------------------------------------------------------------------- */

int sim_propose(struct sim *s, uint8_t id, uint32_t n)
{
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint64_t op = new_op(s);
        rc = propose_op(s, id, op);
    }
    return rc;
}

int sim_conf(struct sim *s, uint8_t id, uint32_t op, uint8_t node)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return ZN_ENOTLEADER;
    }
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_CONF_CHANGE};
    ev.conf.op = op;
    ev.conf.node = node;
    return node_step(s, nd, &ev);
}

int sim_transfer(struct sim *s, uint8_t id, uint8_t to)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return ZN_ENOTLEADER;
    }
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TRANSFER};
    ev.transfer.to = to;
    return node_step(s, nd, &ev);
}

int sim_snapshot(struct sim *s, uint8_t id)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return ZN_EINVAL;
    }
    take_snapshot(s, nd);
    return 0;
}

void sim_status(const struct sim *s, uint8_t id, struct zn_raft_status *st)
{
    memset(st, 0, sizeof(*st));
    if (s->nodes[id].up) {
        zn_raft_status_get(s->nodes[id].raft, st);
    }
}

bool sim_up(const struct sim *s, uint8_t id)
{
    return s->nodes[id].up;
}

uint64_t sim_reads_done(const struct sim *s)
{
    return s->reads_done;
}

uint64_t sim_term_at(const struct sim *s, uint8_t id, uint64_t index)
{
    return s->nodes[id].up ? zn_raft_term_at(s->nodes[id].raft, index) : 0;
}

uint64_t sim_violations(const struct sim *s)
{
    return s->st.violations;
}

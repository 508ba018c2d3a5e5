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
 * Disk model. Each node's disk is synced state (hard state, snapshot, log) plus a list of
 * pending (unsynced) writes, one per core update with a persist id. A sync event completes all
 * pending writes (group commit), then releases their held messages (vote grants, append acks),
 * then tells the core ZN_RAFT_EV_PERSISTED. On a crash the pending writes meet one fate:
 *   - dropped: none survives;
 *   - prefix: a random prefix of the writes survives whole - this is also the outcome of
 *     reordering, because the WAL recovers only a checksummed prefix: a later write that
 *     reached the platter before an earlier one is discarded at recovery;
 *   - torn: a prefix survives and the next write is cut at an entry boundary (sector
 *     granularity), its last surviving entry possibly corrupted - the checksum detects it and
 *     recovery drops it; the hard state of the torn write (a separate double-buffered file)
 *     survives with probability 1/2.
 * Snapshots taken by the application and snapshots installed from a leader are written
 * atomically and synced before they are reported (write, fsync, rename, fsync dir); installing
 * one resets the WAL unless the WAL's entry at the snapshot index has the snapshot's term.
 *
 * Invariants checked after every event (a violation is counted, described and the run stops):
 *   election safety (one leader per term), leader append-only, log matching (every (index, term)
 *   names one payload with one predecessor term), leader completeness (a new leader holds every
 *   entry known committed), state-machine safety (the same hash chain at each applied index on
 *   every node), durability (a released vote grant is on the voter's disk; a released append
 *   ack is covered by the follower's disk; the core's own durable index is on its disk; an entry
 *   the leader commits is on the disks of a quorum of its voters), term and commit monotonic per
 *   incarnation, linearizable reads (a ReadIndex result is >= every commit index known when the
 *   read was issued). Liveness (end of run): all nodes crash and restart (power loss), faults
 *   heal, then a leader within 10 election timeouts, a read served within 5, every client
 *   operation committed and every node caught up.
 */
#include "tests/sim/sim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "consensus/codec.h"

#define ET_NS       (10 * SIM_MS)
#define HB_NS       (2 * SIM_MS)
#define BATCH_MAX   16u
#define ENTRIES_DEC 64u
#define CHUNK_BYTES 64u
#define OPS_MAX     (1u << 20)
#define READS_TRACK 4096u

static const char *const fault_names[F_COUNT] = {
    "loss",   "dup",  "partition", "one_way",   "isolate",   "halves",
    "bridge", "heal", "crash",     "disk_drop", "disk_torn", "disk_prefix",
    "pause",  "conf", "transfer",  "snapshot",  "install"};

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

struct dent {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    uint8_t *data;
};

struct wmsg {
    uint8_t *buf;
    uint32_t len;
    uint8_t to;
    uint64_t ack_term; /* append ack: term of the acked entry when the ack was made */
};

struct pwrite {
    uint64_t id;
    bool hs;
    uint64_t term;
    uint8_t vote;
    uint64_t first;
    uint32_t n;
    struct dent *ents;
    struct wmsg *after;
    uint32_t n_after;
};

struct disk {
    uint64_t term;
    uint8_t vote;
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t snap_hash;
    struct zn_raft_conf snap_conf;
    uint64_t log_first; /* index of log[0] */
    struct dent *log;
    uint64_t n;
    uint64_t cap;
    struct pwrite *pend;
    uint32_t n_pend;
    uint32_t cap_pend;
};

struct node {
    uint8_t id;
    bool up;
    struct zn_raft *raft;
    void *mem;
    struct disk d;
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

enum ev_kind { EV_DELIVER, EV_TICK, EV_SYNC, EV_RESTART, EV_CHAOS, EV_CLIENT, EV_CHUNK };

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

static uint64_t disk_last(const struct disk *d)
{
    uint64_t l = d->n ? d->log_first + d->n - 1 : 0;
    return l > d->snap_index ? l : d->snap_index;
}

static uint64_t disk_term_at(const struct disk *d, uint64_t index)
{
    if (index == d->snap_index) {
        return d->snap_term;
    }
    if (d->n && index >= d->log_first && index < d->log_first + d->n) {
        return d->log[index - d->log_first].term;
    }
    return 0;
}

/* Does the disk back entry (index, term)? term 0: any term. */
static bool disk_covers(const struct disk *d, uint64_t index, uint64_t term)
{
    if (index <= d->snap_index) {
        return true;
    }
    if (index > disk_last(d)) {
        return false;
    }
    return term == 0 || disk_term_at(d, index) == term;
}

static void dent_free(struct dent *e)
{
    free(e->data);
    e->data = NULL;
}

static void disk_truncate_from(struct disk *d, uint64_t index)
{
    if (d->n == 0) {
        return;
    }
    if (index <= d->log_first) {
        for (uint64_t i = 0; i < d->n; i++) {
            dent_free(&d->log[i]);
        }
        d->n = 0;
        return;
    }
    uint64_t keep = index - d->log_first;
    if (keep >= d->n) {
        return;
    }
    for (uint64_t i = keep; i < d->n; i++) {
        dent_free(&d->log[i]);
    }
    d->n = keep;
}

static void disk_compact_to(struct disk *d, uint64_t index)
{
    if (d->n == 0) {
        d->log_first = index + 1;
        return;
    }
    if (index < d->log_first) {
        return;
    }
    uint64_t drop = index - d->log_first + 1;
    if (drop > d->n) {
        drop = d->n;
    }
    for (uint64_t i = 0; i < drop; i++) {
        dent_free(&d->log[i]);
    }
    memmove(d->log, d->log + drop, (d->n - drop) * sizeof(struct dent));
    d->n -= drop;
    d->log_first += drop;
    if (d->n == 0) {
        d->log_first = index + 1;
    }
}

static void disk_append(struct sim *s, struct node *nd, uint64_t index, const struct dent *e)
{
    struct disk *d = &nd->d;
    if (index <= d->snap_index) {
        return;
    }
    if (d->n == 0) {
        d->log_first = index;
        if (index != d->snap_index + 1 && d->snap_index != 0) {
            violation(s, "disk gap: n%u writes %llu after snapshot %llu", nd->id,
                      (unsigned long long)index, (unsigned long long)d->snap_index);
        }
    } else if (index != d->log_first + d->n) {
        violation(s, "disk gap: n%u writes %llu after %llu", nd->id, (unsigned long long)index,
                  (unsigned long long)(d->log_first + d->n - 1));
        return;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->log = xrealloc(d->log, d->cap * sizeof(struct dent));
    }
    struct dent *x = &d->log[d->n++];
    *x = *e;
    x->data = xrealloc(NULL, e->len);
    memcpy(x->data, e->data, e->len);
}

static void disk_apply_write(struct sim *s, struct node *nd, const struct pwrite *w,
                             uint32_t n_entries, bool hs)
{
    struct disk *d = &nd->d;
    if (hs && w->hs) {
        d->term = w->term;
        d->vote = w->vote;
    }
    if (w->n == 0) {
        return;
    }
    disk_truncate_from(d, w->first > d->snap_index ? w->first : d->snap_index + 1);
    for (uint32_t i = 0; i < n_entries; i++) {
        disk_append(s, nd, w->first + i, &w->ents[i]);
    }
}

static void pwrite_free(struct pwrite *w)
{
    for (uint32_t i = 0; i < w->n; i++) {
        dent_free(&w->ents[i]);
    }
    free(w->ents);
    for (uint32_t i = 0; i < w->n_after; i++) {
        free(w->after[i].buf);
    }
    free(w->after);
    memset(w, 0, sizeof(*w));
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

static void node_boot(struct sim *s, struct node *nd)
{
    struct zn_raft_config cfg = s->cfg;
    cfg.id = nd->id;
    cfg.seed = mix64(s->o.seed, (nd->gen << 8) | nd->id);
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
    struct zn_raft_snapshot_meta snap = {
        .index = nd->d.snap_index, .term = nd->d.snap_term, .conf = nd->d.snap_conf};
    rc = zn_raft_load(nd->raft, nd->d.term, nd->d.vote, nd->d.snap_index ? &snap : NULL);
    if (rc != 0) {
        violation(s, "n%u load failed: %s", nd->id, zn_strerror(rc));
    }
    for (uint64_t i = 0; i < nd->d.n; i++) {
        struct dent *e = &nd->d.log[i];
        struct zn_raft_entry x = {.index = nd->d.log_first + i,
                                  .term = e->term,
                                  .type = e->type,
                                  .len = e->len,
                                  .data = e->data};
        rc = zn_raft_load_entry(nd->raft, &x);
        if (rc != 0) {
            violation(s, "n%u load entry %llu failed: %s", nd->id, (unsigned long long)x.index,
                      zn_strerror(rc));
            break;
        }
    }
    nd->up = true;
    nd->applied = nd->d.snap_index;
    nd->sm_hash = nd->d.snap_hash;
    nd->rlen = 0;
    nd->seen_term = 0;
    nd->seen_commit = 0;
    nd->role = ZN_RAFT_FOLLOWER;
    nd->lead_term = 0;
    nd->sync_pending = false;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK};
    node_step(s, nd, &ev);
}

void sim_crash(struct sim *s, uint8_t id)
{
    struct node *nd = &s->nodes[id];
    if (!nd->up) {
        return;
    }
    s->st.faults[F_CRASH]++;
    struct disk *d = &nd->d;
    /* fate of the unsynced writes (model in the file comment) */
    uint32_t fate = d->n_pend ? (uint32_t)zn_prng_below(&s->prng, 3) : 3;
    uint32_t keep = 0;
    if (fate == 0) {
        s->st.faults[F_DISK_DROP]++;
    } else if (fate == 1) {
        s->st.faults[F_DISK_PREFIX]++;
        keep = (uint32_t)zn_prng_below(&s->prng, d->n_pend + 1);
    } else if (fate == 2) {
        s->st.faults[F_DISK_TORN]++;
        keep = (uint32_t)zn_prng_below(&s->prng, d->n_pend);
    }
    for (uint32_t i = 0; i < keep; i++) {
        disk_apply_write(s, nd, &d->pend[i], d->pend[i].n, true);
    }
    if (fate == 2 && keep < d->n_pend) {
        struct pwrite *w = &d->pend[keep];
        uint32_t part = w->n ? (uint32_t)zn_prng_below(&s->prng, w->n + 1) : 0;
        /* the last surviving entry may be corrupt: recovery's checksum drops it */
        if (part > 0 && zn_prng_chance(&s->prng, 1, 2)) {
            part--;
        }
        disk_apply_write(s, nd, w, part, zn_prng_chance(&s->prng, 1, 2));
    }
    for (uint32_t i = 0; i < d->n_pend; i++) {
        pwrite_free(&d->pend[i]);
    }
    d->n_pend = 0;
    nd->up = false;
    nd->raft = NULL;
    nd->gen++;
    nd->tick_gen++;
    nd->rlen = 0;
    if (s->o.trace && s->o.out) {
        fprintf(s->o.out, "%10.3fms n%u CRASH fate=%u kept=%u disk_last=%llu\n",
                (double)s->now / SIM_MS, id, fate, keep, (unsigned long long)disk_last(d));
    }
}

void sim_restart(struct sim *s, uint8_t id)
{
    struct node *nd = &s->nodes[id];
    if (nd->up) {
        return;
    }
    node_boot(s, nd);
    if (s->o.trace && s->o.out) {
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
                (double)s->now / SIM_MS, id, (unsigned long long)nd->d.term,
                (unsigned long long)disk_last(&nd->d), (unsigned long long)nd->d.snap_index, cs);
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
static void release(struct sim *s, struct node *nd, struct wmsg *w)
{
    struct zn_raft_msg m;
    if (zn_raft_msg_decode(&m, s->dec, ENTRIES_DEC, w->buf, w->len) != 0) {
        violation(s, "codec: cannot decode own message");
        return;
    }
    check(s);
    if ((m.type == ZN_RAFT_MSG_VOTE_RESP) && !m.reject &&
        (nd->d.term != m.term || nd->d.vote != m.to)) {
        violation(s, "vote not durable: n%u grants n%u in term %llu, disk has term %llu vote %u",
                  nd->id, m.to, (unsigned long long)m.term, (unsigned long long)nd->d.term,
                  nd->d.vote);
    }
    if (m.type == ZN_RAFT_MSG_APPEND_RESP && !m.reject && m.index > 0) {
        if (!disk_covers(&nd->d, m.index, w->ack_term)) {
            violation(s, "ack not durable: n%u acks index %llu, disk last %llu", nd->id,
                      (unsigned long long)m.index, (unsigned long long)disk_last(&nd->d));
        }
    }
    net_send(s, nd->id, w);
}

static void schedule_sync(struct sim *s, struct node *nd)
{
    if (nd->sync_pending || nd->d.n_pend == 0) {
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

static void take_snapshot(struct sim *s, struct node *nd)
{
    uint64_t idx = nd->applied;
    if (idx <= nd->d.snap_index) {
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
    nd->d.snap_index = idx;
    nd->d.snap_term = term;
    nd->d.snap_hash = hash;
    nd->d.snap_conf = st.snap_conf;
    disk_compact_to(&nd->d, idx);
    process_update(s, nd, &up);
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
    /* atomic install: snapshot file synced; the WAL is reset unless it continues the snapshot */
    struct disk *d = &nd->d;
    bool continues = disk_term_at(d, in->index) == in->term;
    d->snap_index = in->index;
    d->snap_term = in->term;
    d->snap_hash = hdr[3];
    d->snap_conf = in->conf;
    if (continues) {
        disk_compact_to(d, in->index);
    } else {
        disk_truncate_from(d, 0);
        d->log_first = in->index + 1;
    }
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
    int rc = node_step(s, nd, &ev);
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
    if (!disk_covers(&nd->d, st.durable, zn_raft_term_at(nd->raft, st.durable))) {
        violation(s,
                  "durable index not on disk: n%u believes %llu durable (term %llu), disk "
                  "last %llu term %llu",
                  nd->id, (unsigned long long)st.durable,
                  (unsigned long long)zn_raft_term_at(nd->raft, st.durable),
                  (unsigned long long)disk_last(&nd->d),
                  (unsigned long long)disk_term_at(&nd->d, st.durable));
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
                have += disk_covers(&v->d, st.commit, t) ? 1 : 0;
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

static void process_update(struct sim *s, struct node *nd, struct zn_raft_update *up)
{
    s->st.dropped_msgs += up->dropped_msgs;
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(up->term, up->commit));
    s->st.trace_hash = mix64(s->st.trace_hash, mix64(up->n_msgs, up->persist.id));
    /* 1. the write (log matching checked on every entry written) */
    struct pwrite *w = NULL;
    struct disk *d = &nd->d;
    if (up->persist.id != 0) {
        if (d->n_pend == d->cap_pend) {
            d->cap_pend = d->cap_pend ? d->cap_pend * 2 : 16;
            d->pend = xrealloc(d->pend, d->cap_pend * sizeof(*d->pend));
        }
        w = &d->pend[d->n_pend++];
        memset(w, 0, sizeof(*w));
        w->id = up->persist.id;
        w->hs = up->persist.hard_state;
        w->term = up->persist.term;
        w->vote = up->persist.vote;
        w->first = up->persist.first_index;
        w->n = up->persist.n_entries;
        w->ents = xrealloc(NULL, (w->n ? w->n : 1) * sizeof(struct dent));
        for (uint32_t i = 0; i < w->n; i++) {
            const struct zn_raft_entry *e = &up->persist.entries[i];
            w->ents[i] = (struct dent){.term = e->term, .type = e->type, .len = e->len};
            w->ents[i].data = xrealloc(NULL, e->len);
            memcpy(w->ents[i].data, e->data, e->len);
            uint64_t prev = i == 0 ? zn_raft_term_at(nd->raft, e->index - 1) : w->ents[i - 1].term;
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
        schedule_sync(s, nd);
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
    /* 3. messages after the writes issued so far are durable */
    if (up->n_msgs_after > 0) {
        struct pwrite *last = d->n_pend ? &d->pend[d->n_pend - 1] : NULL;
        for (uint32_t i = 0; i < up->n_msgs_after; i++) {
            struct wmsg m;
            encode_msg(s, &up->msgs_after[i], &m);
            if (up->msgs_after[i].type == ZN_RAFT_MSG_APPEND_RESP) {
                m.ack_term = zn_raft_term_at(nd->raft, up->msgs_after[i].index);
            }
            if (last) {
                last->after = xrealloc(last->after, (last->n_after + 1) * sizeof(struct wmsg));
                last->after[last->n_after++] = m;
            } else {
                release(s, nd, &m);
                free(m.buf);
            }
        }
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
    if (nd->up && nd->applied >= nd->d.snap_index + nd->snap_every && !s->stop) {
        take_snapshot(s, nd);
    }
}

/* ---- event handlers ------------------------------------------------------------------------ */

static void do_sync(struct sim *s, struct node *nd)
{
    struct disk *d = &nd->d;
    nd->sync_pending = false;
    uint32_t n = d->n_pend;
    if (n == 0) {
        return;
    }
    uint64_t id = d->pend[n - 1].id;
    /* take the list: releasing and stepping may queue new writes */
    struct pwrite *done = d->pend;
    d->pend = NULL;
    d->n_pend = 0;
    d->cap_pend = 0;
    for (uint32_t i = 0; i < n; i++) {
        disk_apply_write(s, nd, &done[i], done[i].n, true);
        for (uint32_t j = 0; j < done[i].n_after; j++) {
            release(s, nd, &done[i].after[j]);
        }
        pwrite_free(&done[i]);
    }
    free(done);
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_PERSISTED};
    ev.persisted.id = id;
    if (s->o.trace && s->o.out) {
        fprintf(s->o.out, "%10.3fms n%u synced writes up to id %llu, disk last %llu\n",
                (double)s->now / SIM_MS, nd->id, (unsigned long long)id,
                (unsigned long long)disk_last(d));
    }
    node_step(s, nd, &ev);
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
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .msg = &m};
    node_step(s, nd, &ev);
}

static void serve_chunk(struct sim *s, struct sev *e)
{
    struct node *nd = &s->nodes[e->node];
    if (!nd->up || nd->d.snap_index != e->a) {
        return; /* the snapshot moved on; the core restarts the stream */
    }
    uint32_t size = snap_size(e->a);
    uint8_t blob[256];
    snap_blob(nd->d.snap_index, nd->d.snap_term, nd->d.snap_hash, blob, size);
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

static void chaos(struct sim *s)
{
    uint32_t n = s->n_nodes;
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
        if (id) {
            sim_crash(s, id);
            push(s, (struct sev){.t = s->now + SIM_MS + zn_prng_below(&s->prng, 4 * ET_NS),
                                 .kind = EV_RESTART,
                                 .node = id});
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
            if (op != ZN_RAFT_CONF_REMOVE && st.conf.n_voters >= s->o.nodes + 1) {
                op = ZN_RAFT_CONF_REMOVE;
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
    } else {
        uint8_t id = random_up(s);
        if (id) {
            take_snapshot(s, &s->nodes[id]);
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
    default:
        break;
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
        if (i <= opts->nodes) {
            /* bootstrap: the initial configuration is entry 1 (term 1) of every original
             * voter's log, so a node that joins later learns it from the log or a snapshot */
            uint8_t buf[ZN_RAFT_CONF_ENCODED_MAX];
            uint32_t len = zn_raft_conf_encode(&s->boot, buf);
            struct dent e = {.term = 1, .type = ZN_RAFT_ENTRY_CONF, .len = len, .data = buf};
            nd->d.term = 1;
            disk_append(s, nd, 1, &e);
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
        for (uint32_t j = 0; j < nd->d.n_pend; j++) {
            pwrite_free(&nd->d.pend[j]);
        }
        free(nd->d.pend);
        for (uint64_t j = 0; j < nd->d.n; j++) {
            dent_free(&nd->d.log[j]);
        }
        free(nd->d.log);
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

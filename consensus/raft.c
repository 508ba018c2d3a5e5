/*
 * raft.c - the Raft core (Ongaro, "Consensus: Bridging Theory and Practice", 2014; the
 * structure follows etcd-io/raft raft.go and cowsql/raft src/raft.c).
 *
 * What it does: leader election with pre-vote (dissertation 9.6) and check-quorum (6.2), a no-op
 * entry at the start of each term (8), pipelined AppendEntries with a per-follower inflight
 * window and probe/replicate/snapshot states, fast conflict backtracking by term hints (5.3),
 * commit by counting current-term entries only (3.6.2, Figure 3.7), InstallSnapshot in chunks
 * streamed from the application (5.3), ReadIndex batched by heartbeat rounds and an opt-in lease
 * (6.4), single-server membership changes with learners (4.1, 4.2.1), leadership transfer (3.10).
 *
 * Invariants (asserted where cheap):
 *   - base_index <= snap_index <= commit <= last_index; applied <= commit; base_index < first.
 *   - entries at or below commit are never truncated (a conflicting append below commit is a
 *     protocol violation by the leader and is asserted).
 *   - durable (the locally durable prefix the leader counts for itself) never exceeds what the
 *     completed writes put on disk: every truncation at index f caps durable and every in-flight
 *     write at f - 1 (the canary ZN_CANARY_DURABLE_NO_ROLLBACK removes exactly this).
 *   - a vote grant, an append ack and a snapshot-chunk ack are only ever put in msgs_after, which
 *     the caller releases after the write ids issued so far are durable (canaries
 *     ZN_CANARY_ACK_BEFORE_PERSIST and ZN_CANARY_VOTE_NOT_PERSISTED break this on purpose).
 *   - the candidate counts its own vote only when its own grant comes back through msgs_after,
 *     i.e. once its term and vote are durable.
 *   - the configuration is the latest CONF entry in the log (or the snapshot's), taken as soon as
 *     it is appended and reverted if the entry is truncated; one change in flight at a time, and
 *     none before the leader has committed an entry of its term (Ongaro's raft-dev 2015 fix).
 *
 * Canaries: compile-time switches that re-introduce classic bugs so the simulator can prove it
 * catches them (tests/sim/README in sim.c). Never defined in production builds.
 */
#include "consensus/raft.h"

#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_prng.h"

#ifndef ZN_CANARY_ACK_BEFORE_PERSIST
#define ZN_CANARY_ACK_BEFORE_PERSIST 0
#endif
#ifndef ZN_CANARY_VOTE_NOT_PERSISTED
#define ZN_CANARY_VOTE_NOT_PERSISTED 0
#endif
#ifndef ZN_CANARY_NO_NOOP
#define ZN_CANARY_NO_NOOP 0
#endif
#ifndef ZN_CANARY_COMMIT_PREV_TERM
#define ZN_CANARY_COMMIT_PREV_TERM 0
#endif
#ifndef ZN_CANARY_DURABLE_NO_ROLLBACK
#define ZN_CANARY_DURABLE_NO_ROLLBACK 0
#endif

enum { PR_PROBE = 0, PR_REPLICATE = 1, PR_SNAPSHOT = 2 };

struct progress {
    bool used;
    bool probe_sent;
    bool recent_active;
    bool promote; /* added with ADD_VOTER: promote once caught up */
    uint8_t id;
    uint8_t state;
    bool chunk_pending; /* a chunk was requested from the application */
    bool snap_done;     /* last chunk acknowledged; waiting for the install ack */
    uint64_t match;
    uint64_t next;
    uint64_t commit_sent; /* commit the follower can learn from what we last sent it */
    uint64_t read_ack;
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t snap_offset;
    uint64_t snap_progress_ns; /* last chunk sent or acknowledged */
    uint64_t chunk_req_ns;     /* last chunk request to the application */
    uint32_t infl_head;
    uint32_t infl_count;
    uint64_t *infl; /* last index of each AppendEntries in flight */
};

struct ent {
    uint64_t term;
    uint32_t type;
    uint32_t len;
    uint32_t off;
};

struct write_rec {
    uint64_t id;
    uint64_t last; /* 0: hard state only */
    uint64_t cap;  /* lowest truncation point (minus one) since the write was issued */
};

struct pending_read {
    uint64_t ctx;
    uint64_t round;
};

#define ROUND_RING 16u
/* Window slots only no-op entries may use (see log_has_room_for). */
#define NOOP_RESERVE 64u
#define RING_CAP(r)  ((r)->cfg.log_entries_max + NOOP_RESERVE)

struct zn_raft {
    struct zn_raft_config cfg;
    struct zn_prng prng;
    uint8_t id;
    uint8_t role;
    uint8_t leader;
    uint8_t vote;
    uint64_t term;
    uint64_t commit;
    uint64_t applied;
    uint64_t now;
    bool started; /* the first event sets the clock base for the election timer */
    uint64_t start_ns;

    /* log window: base_index is the entry just before the first one kept */
    uint64_t base_index;
    uint64_t base_term;
    struct zn_raft_conf base_conf;
    struct ent *ents;
    uint32_t ent_head;
    uint32_t ent_count;
    uint8_t *arena;
    uint32_t arena_head;
    uint32_t arena_tail;

    uint64_t snap_index;
    uint64_t snap_term;
    struct zn_raft_conf snap_conf;

    struct zn_raft_conf conf;
    uint64_t conf_index;

    /* persistence */
    uint64_t write_id;
    uint64_t durable;
    struct write_rec *writes;
    uint32_t writes_head;
    uint32_t writes_count;
    uint64_t step_persist_from;
    bool step_hs;

    /* progress */
    struct progress *prs;
    uint8_t slot_of[ZN_NODE_ID_MAX + 1]; /* slot + 1, 0 = none */

    /* timers */
    uint64_t election_deadline;
    uint64_t heartbeat_deadline;
    uint64_t quorum_deadline;
    uint64_t last_heard_ns; /* follower: last message from the leader */

    /* votes in the current (pre-)election */
    uint64_t granted[4];
    uint64_t rejected[4];

    /* leader */
    uint64_t term_start_index;
    uint64_t pending_conf_index;
    uint8_t transfer_to;
    uint64_t transfer_deadline;

    /* reads */
    struct pending_read *reads_q;
    uint32_t reads_head;
    uint32_t reads_count;
    uint64_t read_round;
    uint64_t read_acked;
    bool read_want;
    uint64_t round_sent_ns[ROUND_RING];
    uint64_t lease_until_ns;

    /* follower: snapshot being received */
    bool recv_active;
    bool installing;
    uint8_t recv_from;
    uint64_t recv_index;
    uint64_t recv_term;
    uint64_t recv_next;
    struct zn_raft_conf recv_conf;

    /* update buffers */
    struct zn_raft_update *up;
    struct zn_raft_msg *msgs;
    struct zn_raft_msg *msgs_after;
    struct zn_raft_msg dummy;
    struct zn_raft_entry *uents;
    uint32_t uents_used;
    struct zn_raft_entry *pents;
    struct zn_raft_read_result *reads_out;
    struct zn_raft_read_result *reads_fail_out;
    struct zn_raft_chunk_request *chunk_out;
};

/* ---- configuration helpers ----------------------------------------------------------------- */

bool zn_raft_conf_is_voter(const struct zn_raft_conf *conf, uint8_t id)
{
    for (uint32_t i = 0; i < conf->n_voters; i++) {
        if (conf->voters[i] == id) {
            return true;
        }
    }
    return false;
}

bool zn_raft_conf_is_learner(const struct zn_raft_conf *conf, uint8_t id)
{
    for (uint32_t i = 0; i < conf->n_learners; i++) {
        if (conf->learners[i] == id) {
            return true;
        }
    }
    return false;
}

static bool conf_is_member(const struct zn_raft_conf *conf, uint8_t id)
{
    return zn_raft_conf_is_voter(conf, id) || zn_raft_conf_is_learner(conf, id);
}

uint32_t zn_raft_conf_encode(const struct zn_raft_conf *conf, uint8_t *buf)
{
    uint32_t n = 0;
    buf[n++] = conf->n_voters;
    for (uint32_t i = 0; i < conf->n_voters; i++) {
        buf[n++] = conf->voters[i];
    }
    buf[n++] = conf->n_learners;
    for (uint32_t i = 0; i < conf->n_learners; i++) {
        buf[n++] = conf->learners[i];
    }
    return n;
}

int zn_raft_conf_decode(struct zn_raft_conf *conf, const uint8_t *buf, uint32_t len)
{
    memset(conf, 0, sizeof(*conf));
    uint32_t pos = 0;
    if (len < 2) {
        return ZN_EPROTO;
    }
    uint8_t nv = buf[pos++];
    if (nv > ZN_CLUSTER_VOTERS_MAX || pos + nv + 1 > len) {
        return ZN_EPROTO;
    }
    uint64_t seen[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < nv; i++) {
        uint8_t id = buf[pos++];
        if (id == 0 || (seen[id >> 6] >> (id & 63)) & 1) {
            return ZN_EPROTO;
        }
        seen[id >> 6] |= 1ull << (id & 63);
        conf->voters[i] = id;
    }
    uint8_t nl = buf[pos++];
    if (nl + nv > ZN_CLUSTER_MEMBERS_MAX || pos + nl != len) {
        return ZN_EPROTO;
    }
    for (uint32_t i = 0; i < nl; i++) {
        uint8_t id = buf[pos++];
        if (id == 0 || (seen[id >> 6] >> (id & 63)) & 1) {
            return ZN_EPROTO;
        }
        seen[id >> 6] |= 1ull << (id & 63);
        conf->learners[i] = id;
    }
    conf->n_voters = nv;
    conf->n_learners = nl;
    return 0;
}

static bool conf_valid(const struct zn_raft_conf *conf)
{
    uint8_t buf[ZN_RAFT_CONF_ENCODED_MAX];
    struct zn_raft_conf tmp;
    if (conf->n_voters > ZN_CLUSTER_VOTERS_MAX ||
        conf->n_voters + conf->n_learners > ZN_CLUSTER_MEMBERS_MAX) {
        return false;
    }
    return zn_raft_conf_decode(&tmp, buf, zn_raft_conf_encode(conf, buf)) == 0;
}

static void conf_remove(struct zn_raft_conf *conf, uint8_t id)
{
    for (uint32_t i = 0; i < conf->n_voters; i++) {
        if (conf->voters[i] == id) {
            conf->voters[i] = conf->voters[--conf->n_voters];
            return;
        }
    }
    for (uint32_t i = 0; i < conf->n_learners; i++) {
        if (conf->learners[i] == id) {
            conf->learners[i] = conf->learners[--conf->n_learners];
            return;
        }
    }
}

/* ---- names --------------------------------------------------------------------------------- */

const char *zn_raft_msg_type_name(uint8_t type)
{
    static const char *const names[] = {"?",
                                        "APPEND",
                                        "APPEND_RESP",
                                        "VOTE",
                                        "VOTE_RESP",
                                        "PREVOTE",
                                        "PREVOTE_RESP",
                                        "HEARTBEAT",
                                        "HEARTBEAT_RESP",
                                        "SNAPSHOT",
                                        "SNAPSHOT_RESP",
                                        "TIMEOUT_NOW"};
    return type <= ZN_RAFT_MSG_TYPE_MAX ? names[type] : "?";
}

const char *zn_raft_role_name(uint8_t role)
{
    static const char *const names[] = {"follower", "precandidate", "candidate", "leader"};
    return role <= ZN_RAFT_LEADER ? names[role] : "?";
}

/* ---- init ---------------------------------------------------------------------------------- */

void zn_raft_config_default(struct zn_raft_config *cfg, uint8_t id)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->id = id;
    cfg->priority = 1;
    cfg->pre_vote = true;
    cfg->check_quorum = true;
    cfg->lease_reads = false;
    cfg->lease_drift_ppm = 100000; /* 10%: generous for crystal drift plus scheduling */
    cfg->seed = id;
    cfg->election_timeout_ns = 10u * 1000u * 1000u;
    cfg->heartbeat_interval_ns = 1u * 1000u * 1000u;
    cfg->members_max = ZN_CLUSTER_MEMBERS_MAX;
    cfg->inflight_max = 64;
    cfg->batch_entries_max = 256;
    cfg->batch_bytes_max = 256u * ZN_KIB;
    cfg->log_entries_max = 65536;
    cfg->log_bytes_max = 64u * ZN_MIB;
    cfg->compact_keep = 1024;
    cfg->msgs_max = 256;
    cfg->update_entries_max = 4096;
    cfg->reads_max = 4096;
    cfg->snapshot_chunk_bytes = 64u * ZN_KIB;
}

static bool config_valid(const struct zn_raft_config *c)
{
    return c->id != 0 && c->election_timeout_ns > 0 && c->heartbeat_interval_ns > 0 &&
           c->heartbeat_interval_ns < c->election_timeout_ns && c->members_max >= 1 &&
           c->members_max <= ZN_CLUSTER_MEMBERS_MAX && c->inflight_max >= 1 &&
           c->inflight_max <= ZN_RAFT_INFLIGHT_MAX && c->batch_entries_max >= 1 &&
           c->batch_entries_max <= ZN_RAFT_BATCH_ENTRIES_MAX && c->batch_bytes_max >= 1 &&
           c->log_entries_max >= 4 && c->log_entries_max <= ZN_RAFT_LOG_ENTRIES_MAX &&
           c->batch_entries_max + 2 < c->log_entries_max && c->log_bytes_max >= 1 &&
           c->log_bytes_max <= ZN_RAFT_LOG_BYTES_MAX && c->msgs_max >= 4 &&
           c->msgs_max <= ZN_RAFT_MSGS_PER_UPDATE_MAX && c->update_entries_max >= 1 &&
           c->update_entries_max <= ZN_RAFT_LOG_ENTRIES_MAX && c->reads_max >= 1 &&
           c->reads_max <= ZN_RAFT_READS_MAX && c->snapshot_chunk_bytes >= 1 &&
           c->snapshot_chunk_bytes <= ZN_RAFT_SNAPSHOT_CHUNK_MAX_BYTES &&
           c->lease_drift_ppm < 1000000;
}

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

struct layout {
    size_t raft, ents, arena, writes, prs, infl, msgs, msgs_after, uents, pents, reads_q, reads_out,
        reads_fail_out, chunk_out, total;
};

static void layout_of(const struct zn_raft_config *c, struct layout *l)
{
    size_t off = 0;
#define LAY(field, bytes)     \
    do {                      \
        l->field = off;       \
        off += ALIGN8(bytes); \
    } while (0)
    LAY(raft, sizeof(struct zn_raft));
    LAY(ents, ((size_t)c->log_entries_max + NOOP_RESERVE) * sizeof(struct ent));
    LAY(arena, c->log_bytes_max);
    LAY(writes, (size_t)c->log_entries_max * sizeof(struct write_rec));
    LAY(prs, (size_t)c->members_max * sizeof(struct progress));
    LAY(infl, (size_t)c->members_max * c->inflight_max * sizeof(uint64_t));
    LAY(msgs, (size_t)c->msgs_max * sizeof(struct zn_raft_msg));
    LAY(msgs_after, (size_t)c->msgs_max * sizeof(struct zn_raft_msg));
    LAY(uents, (size_t)c->update_entries_max * sizeof(struct zn_raft_entry));
    LAY(pents, ((size_t)c->batch_entries_max + 2) * sizeof(struct zn_raft_entry));
    LAY(reads_q, (size_t)c->reads_max * sizeof(struct pending_read));
    LAY(reads_out, (size_t)c->reads_max * sizeof(struct zn_raft_read_result));
    LAY(reads_fail_out, (size_t)c->reads_max * sizeof(struct zn_raft_read_result));
    LAY(chunk_out, (size_t)c->members_max * sizeof(struct zn_raft_chunk_request));
#undef LAY
    l->total = off;
}

size_t zn_raft_mem_size(const struct zn_raft_config *cfg)
{
    if (!config_valid(cfg)) {
        return 0;
    }
    struct layout l;
    layout_of(cfg, &l);
    return l.total;
}

static void reset_election_timer(struct zn_raft *r)
{
    uint64_t et = r->cfg.election_timeout_ns;
    r->election_deadline = r->now + et + zn_prng_below(&r->prng, et);
}

static void progress_reset_all(struct zn_raft *r);

int zn_raft_init(struct zn_raft **out, const struct zn_raft_config *cfg,
                 const struct zn_raft_conf *conf, void *mem, size_t len)
{
    if (!config_valid(cfg) || conf == NULL || !conf_valid(conf) || mem == NULL ||
        ((uintptr_t)mem & 7u) != 0) {
        return ZN_EINVAL;
    }
    struct layout l;
    layout_of(cfg, &l);
    if (len < l.total) {
        return ZN_ENOMEM;
    }
    uint8_t *base = mem;
    memset(base, 0, l.total);
    struct zn_raft *r = (struct zn_raft *)(base + l.raft);
    r->cfg = *cfg;
    r->id = cfg->id;
    zn_prng_seed(&r->prng, cfg->seed);
    r->ents = (struct ent *)(base + l.ents);
    r->arena = base + l.arena;
    r->writes = (struct write_rec *)(base + l.writes);
    r->prs = (struct progress *)(base + l.prs);
    uint64_t *infl = (uint64_t *)(base + l.infl);
    for (uint32_t i = 0; i < cfg->members_max; i++) {
        r->prs[i].infl = infl + (size_t)i * cfg->inflight_max;
    }
    r->msgs = (struct zn_raft_msg *)(base + l.msgs);
    r->msgs_after = (struct zn_raft_msg *)(base + l.msgs_after);
    r->uents = (struct zn_raft_entry *)(base + l.uents);
    r->pents = (struct zn_raft_entry *)(base + l.pents);
    r->reads_q = (struct pending_read *)(base + l.reads_q);
    r->reads_out = (struct zn_raft_read_result *)(base + l.reads_out);
    r->reads_fail_out = (struct zn_raft_read_result *)(base + l.reads_fail_out);
    r->chunk_out = (struct zn_raft_chunk_request *)(base + l.chunk_out);
    r->conf = *conf;
    r->base_conf = *conf;
    r->snap_conf = *conf;
    r->role = ZN_RAFT_FOLLOWER;
    r->step_persist_from = UINT64_MAX;
    progress_reset_all(r);
    reset_election_timer(r);
    *out = r;
    return 0;
}

/* ---- log window ---------------------------------------------------------------------------- */

static uint64_t last_index(const struct zn_raft *r)
{
    return r->base_index + r->ent_count;
}

static uint64_t first_index(const struct zn_raft *r)
{
    return r->base_index + 1;
}

static const struct ent *ent_at(const struct zn_raft *r, uint64_t index)
{
    ZN_DASSERT(index > r->base_index && index <= last_index(r));
    uint64_t pos = (r->ent_head + (index - r->base_index - 1)) % RING_CAP(r);
    return &r->ents[pos];
}

uint64_t zn_raft_term_at(const struct zn_raft *r, uint64_t index)
{
    if (index == r->base_index) {
        return r->base_term;
    }
    if (index > r->base_index && index <= last_index(r)) {
        return ent_at(r, index)->term;
    }
    if (index == r->snap_index) {
        return r->snap_term;
    }
    return 0;
}

static uint64_t last_term(const struct zn_raft *r)
{
    return zn_raft_term_at(r, last_index(r));
}

static void fill_entry(const struct zn_raft *r, uint64_t index, struct zn_raft_entry *e)
{
    const struct ent *x = ent_at(r, index);
    e->index = index;
    e->term = x->term;
    e->type = x->type;
    e->len = x->len;
    e->data = r->arena + x->off;
}

int zn_raft_entry_get(const struct zn_raft *r, uint64_t index, struct zn_raft_entry *e)
{
    if (index <= r->base_index || index > last_index(r)) {
        return ZN_ENOENT;
    }
    fill_entry(r, index, e);
    return 0;
}

/* Byte arena: FIFO allocation with tail rollback; an allocation never wraps. The live bytes
 * are [head, tail) when tail >= head, else [head, end) + [0, tail); the strict comparisons keep
 * tail from ever reaching head after a wrap, so tail == head means "no live bytes". */
static bool arena_alloc(struct zn_raft *r, uint32_t len, uint32_t *off)
{
    uint32_t cap = r->cfg.log_bytes_max;
    if (r->ent_count == 0) {
        r->arena_head = 0;
        r->arena_tail = 0;
    }
    uint32_t head = r->arena_head;
    uint32_t tail = r->arena_tail;
    if (tail >= head) {
        if (cap - tail >= len) {
            *off = tail;
        } else if (head > len) {
            *off = 0;
        } else {
            return false;
        }
    } else if (head - tail > len) {
        *off = tail;
    } else {
        return false;
    }
    r->arena_tail = *off + len;
    return true;
}

/* Payload bytes between head and tail (wrap waste at the end of the arena not counted). */
static uint32_t arena_used(const struct zn_raft *r)
{
    if (r->ent_count == 0) {
        return 0;
    }
    if (r->arena_tail >= r->arena_head) {
        return r->arena_tail - r->arena_head;
    }
    return r->cfg.log_bytes_max - r->arena_head + r->arena_tail;
}

/*
 * No-op entries may also use NOOP_RESERVE slots beyond log_entries_max. Without it a window
 * full of uncommitted entries deadlocks: a new leader cannot append the no-op that would commit
 * them, so nothing is applied, snapshotted or compacted (simulator seed 51545, 3 nodes, tight
 * buffers). Followers take no-ops into the reserve too, so the no-op can reach a quorum.
 */
static bool log_has_room_for(const struct zn_raft *r, uint32_t type)
{
    uint32_t cap = r->cfg.log_entries_max + (type == ZN_RAFT_ENTRY_NOOP ? NOOP_RESERVE : 0);
    return r->ent_count + 1 <= cap;
}

static void mark_persist(struct zn_raft *r, uint64_t index)
{
    if (index < r->step_persist_from) {
        r->step_persist_from = index;
    }
}

static void conf_changed(struct zn_raft *r);

/* Append one entry at last_index + 1; false if the window or the arena is full. */
static bool log_append(struct zn_raft *r, uint64_t term, uint32_t type, const uint8_t *data,
                       uint32_t len)
{
    uint32_t off = 0;
    if (!log_has_room_for(r, type) || len > r->cfg.log_bytes_max) {
        return false;
    }
    if (!arena_alloc(r, len, &off)) {
        return false;
    }
    if (len > 0) {
        memcpy(r->arena + off, data, len);
    }
    uint32_t pos = (r->ent_head + r->ent_count) % RING_CAP(r);
    r->ents[pos] = (struct ent){.term = term, .type = type, .len = len, .off = off};
    r->ent_count++;
    uint64_t index = last_index(r);
    mark_persist(r, index);
    if (type == ZN_RAFT_ENTRY_CONF) {
        struct zn_raft_conf c;
        if (zn_raft_conf_decode(&c, data, len) == 0) {
            r->conf = c;
            r->conf_index = index;
            conf_changed(r);
        }
    }
    return true;
}

/* The configuration in force at index (latest CONF entry at or before it). */
static void conf_at(const struct zn_raft *r, uint64_t index, struct zn_raft_conf *out)
{
    uint64_t hi = index < last_index(r) ? index : last_index(r);
    for (uint64_t i = hi; i > r->base_index; i--) {
        const struct ent *e = ent_at(r, i);
        if (e->type == ZN_RAFT_ENTRY_CONF &&
            zn_raft_conf_decode(out, r->arena + e->off, e->len) == 0) {
            return;
        }
    }
    *out = r->base_conf;
}

static uint64_t conf_index_at(const struct zn_raft *r, uint64_t index)
{
    uint64_t hi = index < last_index(r) ? index : last_index(r);
    for (uint64_t i = hi; i > r->base_index; i--) {
        if (ent_at(r, i)->type == ZN_RAFT_ENTRY_CONF) {
            return i;
        }
    }
    return r->base_index;
}

/* Remove entries from index on (a conflict with the leader's log). */
static void log_truncate_from(struct zn_raft *r, uint64_t index)
{
    ZN_ASSERT(index > r->commit);
    ZN_ASSERT(index > r->base_index && index <= last_index(r));
    uint64_t last = last_index(r);
    r->arena_tail = ent_at(r, index)->off;
    r->ent_count = (uint32_t)(index - 1 - r->base_index);
    if (r->ent_count == 0) {
        r->arena_head = r->arena_tail = 0;
    }
#if !ZN_CANARY_DURABLE_NO_ROLLBACK
    if (r->durable > index - 1) {
        r->durable = index - 1;
    }
    for (uint32_t i = 0; i < r->writes_count; i++) {
        struct write_rec *w = &r->writes[(r->writes_head + i) % r->cfg.log_entries_max];
        if (w->cap > index - 1) {
            w->cap = index - 1;
        }
    }
#endif
    (void)last;
    if (r->conf_index >= index) {
        conf_at(r, index - 1, &r->conf);
        r->conf_index = conf_index_at(r, index - 1);
        conf_changed(r);
    }
}

/* Drop entries up to and including index (compaction behind a snapshot). */
static void log_compact_to(struct zn_raft *r, uint64_t index)
{
    if (index <= r->base_index) {
        return;
    }
    if (index >= last_index(r)) {
        struct zn_raft_conf c;
        conf_at(r, index, &c);
        r->base_term = zn_raft_term_at(r, index);
        r->base_conf = c;
        r->base_index = index;
        r->ent_count = 0;
        r->arena_head = r->arena_tail = 0;
        return;
    }
    struct zn_raft_conf c;
    conf_at(r, index, &c);
    r->base_term = ent_at(r, index)->term;
    r->base_conf = c;
    uint32_t drop = (uint32_t)(index - r->base_index);
    r->ent_head = (r->ent_head + drop) % RING_CAP(r);
    r->ent_count -= drop;
    r->base_index = index;
    r->arena_head = ent_at(r, index + 1)->off;
}

/* ---- persistence --------------------------------------------------------------------------- */

static void hs_dirty(struct zn_raft *r)
{
    r->step_hs = true;
}

/* Called at the end of a step: turn this step's log and hard-state changes into one write. */
static void finish_persist(struct zn_raft *r, struct zn_raft_update *up)
{
    uint64_t last = last_index(r);
    bool entries = r->step_persist_from <= last;
    if (!entries && !r->step_hs) {
        up->persist_id = r->write_id;
        r->step_persist_from = UINT64_MAX;
        return;
    }
    r->write_id++;
    up->persist.id = r->write_id;
    up->persist_id = r->write_id;
    up->persist.hard_state = r->step_hs;
    up->persist.term = r->term;
    up->persist.vote = r->vote;
    if (entries) {
        uint64_t n = last - r->step_persist_from + 1;
        ZN_ASSERT(n <= (uint64_t)r->cfg.batch_entries_max + 2);
        for (uint64_t i = 0; i < n; i++) {
            fill_entry(r, r->step_persist_from + i, &r->pents[i]);
        }
        up->persist.first_index = r->step_persist_from;
        up->persist.n_entries = (uint32_t)n;
        up->persist.entries = r->pents;
    }
    /* Record the write; when the ring is full merge into the newest record (conservative:
     * the older write's completion is then only noticed with the newer one). */
    uint32_t cap = r->cfg.log_entries_max;
    struct write_rec w = {.id = r->write_id, .last = entries ? last : 0, .cap = UINT64_MAX};
    if (r->writes_count == cap) {
        struct write_rec *newest = &r->writes[(r->writes_head + cap - 1) % cap];
        if (w.last == 0) {
            w.last = newest->last;
            w.cap = newest->cap;
        }
        *newest = w;
    } else {
        r->writes[(r->writes_head + r->writes_count) % cap] = w;
        r->writes_count++;
    }
    r->step_persist_from = UINT64_MAX;
    r->step_hs = false;
}

/* ---- outputs ------------------------------------------------------------------------------- */

static struct zn_raft_msg *msg_push(struct zn_raft *r, bool after, uint8_t to, uint8_t type)
{
    struct zn_raft_update *up = r->up;
    struct zn_raft_msg *m;
    if (after) {
        if (up->n_msgs_after >= r->cfg.msgs_max) {
            up->dropped_msgs++;
            m = &r->dummy;
        } else {
            m = &r->msgs_after[up->n_msgs_after++];
        }
    } else {
        if (up->n_msgs >= r->cfg.msgs_max) {
            up->dropped_msgs++;
            m = &r->dummy;
        } else {
            m = &r->msgs[up->n_msgs++];
        }
    }
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = r->id;
    m->to = to;
    m->term = r->term;
    return m;
}

static struct zn_raft_msg *msg_new(struct zn_raft *r, uint8_t to, uint8_t type)
{
    return msg_push(r, false, to, type);
}

/* An acknowledgement the disk must back: released only after the writes so far are durable. */
static struct zn_raft_msg *msg_new_ack(struct zn_raft *r, uint8_t to, uint8_t type)
{
    return msg_push(r, !ZN_CANARY_ACK_BEFORE_PERSIST, to, type);
}

static void read_fail_all(struct zn_raft *r)
{
    struct zn_raft_update *up = r->up;
    while (r->reads_count > 0) {
        struct pending_read *p = &r->reads_q[r->reads_head];
        r->reads_head = (r->reads_head + 1) % r->cfg.reads_max;
        r->reads_count--;
        if (up->n_reads_failed < r->cfg.reads_max) {
            r->reads_fail_out[up->n_reads_failed++] = (struct zn_raft_read_result){p->ctx, 0};
        }
    }
    up->reads_failed = r->reads_fail_out;
}

/* ---- progress ------------------------------------------------------------------------------ */

static struct progress *pr_of(struct zn_raft *r, uint8_t id)
{
    uint8_t s = r->slot_of[id];
    return s ? &r->prs[s - 1] : NULL;
}

static void pr_init(struct zn_raft *r, struct progress *p, uint8_t id)
{
    uint64_t *infl = p->infl;
    memset(p, 0, sizeof(*p));
    p->infl = infl;
    p->used = true;
    p->id = id;
    p->state = PR_PROBE;
    p->next = last_index(r) + 1;
    p->recent_active = true;
}

static void pr_add(struct zn_raft *r, uint8_t id)
{
    if (r->slot_of[id]) {
        return;
    }
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        if (!r->prs[i].used) {
            pr_init(r, &r->prs[i], id);
            r->slot_of[id] = (uint8_t)(i + 1);
            return;
        }
    }
    /* members_max bounds the configuration; a conf over it is refused before append. */
}

static void progress_reset_all(struct zn_raft *r)
{
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        r->prs[i].used = false;
    }
    memset(r->slot_of, 0, sizeof(r->slot_of));
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        pr_add(r, r->conf.voters[i]);
    }
    for (uint32_t i = 0; i < r->conf.n_learners; i++) {
        pr_add(r, r->conf.learners[i]);
    }
    pr_add(r, r->id);
}

/* The configuration changed (append, truncation, snapshot): resize the progress table. */
static void conf_changed(struct zn_raft *r)
{
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        struct progress *p = &r->prs[i];
        if (p->used && p->id != r->id && !conf_is_member(&r->conf, p->id)) {
            p->used = false;
            r->slot_of[p->id] = 0;
        }
    }
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        pr_add(r, r->conf.voters[i]);
    }
    for (uint32_t i = 0; i < r->conf.n_learners; i++) {
        pr_add(r, r->conf.learners[i]);
    }
    if (r->transfer_to && !zn_raft_conf_is_voter(&r->conf, r->transfer_to)) {
        r->transfer_to = 0;
    }
}

static void infl_add(struct zn_raft *r, struct progress *p, uint64_t last)
{
    uint32_t cap = r->cfg.inflight_max;
    ZN_ASSERT(p->infl_count < cap);
    p->infl[(p->infl_head + p->infl_count) % cap] = last;
    p->infl_count++;
}

static void infl_free_to(struct zn_raft *r, struct progress *p, uint64_t index)
{
    uint32_t cap = r->cfg.inflight_max;
    while (p->infl_count > 0 && p->infl[p->infl_head] <= index) {
        p->infl_head = (p->infl_head + 1) % cap;
        p->infl_count--;
    }
}

static void pr_become_probe(struct zn_raft *r, struct progress *p)
{
    (void)r;
    p->state = PR_PROBE;
    p->probe_sent = false;
    p->infl_count = 0;
    p->infl_head = 0;
    p->next = p->match + 1;
    p->commit_sent = 0; /* it may have restarted and forgotten the commit */
}

static void pr_become_replicate(struct progress *p)
{
    p->state = PR_REPLICATE;
    p->probe_sent = false;
    p->infl_count = 0;
    p->infl_head = 0;
    p->next = p->match + 1;
}

/* ---- sending ------------------------------------------------------------------------------- */

static void request_chunk(struct zn_raft *r, struct progress *p)
{
    struct zn_raft_update *up = r->up;
    if (up->n_chunk_reqs >= r->cfg.members_max) {
        return;
    }
    up->chunk_reqs = r->chunk_out;
    r->chunk_out[up->n_chunk_reqs++] = (struct zn_raft_chunk_request){
        .to = p->id,
        .index = p->snap_index,
        .term = p->snap_term,
        .offset = p->snap_offset,
        .max_bytes = r->cfg.snapshot_chunk_bytes,
    };
    p->chunk_pending = true;
    p->chunk_req_ns = r->now;
}

static void start_snapshot(struct zn_raft *r, struct progress *p)
{
    p->state = PR_SNAPSHOT;
    p->snap_index = r->snap_index;
    p->snap_term = r->snap_term;
    p->snap_offset = 0;
    p->snap_done = false;
    p->infl_count = 0;
    p->snap_progress_ns = r->now;
    request_chunk(r, p);
}

/* Send AppendEntries to p if its state and window allow; true if a message was sent. */
static bool send_append(struct zn_raft *r, struct progress *p, bool allow_empty)
{
    if (p->id == r->id || p->state == PR_SNAPSHOT) {
        return false;
    }
    if (p->state == PR_PROBE && p->probe_sent) {
        return false;
    }
    if (p->state == PR_REPLICATE && p->infl_count >= r->cfg.inflight_max) {
        return false;
    }
    uint64_t prev = p->next - 1;
    if (prev < r->base_index) {
        if (r->snap_index > 0) {
            start_snapshot(r, p);
        }
        return false;
    }
    uint64_t last = last_index(r);
    uint32_t room = r->cfg.update_entries_max - r->uents_used;
    uint64_t n = 0;
    uint64_t bytes = 0;
    while (prev + n < last && n < r->cfg.batch_entries_max && n < room) {
        uint32_t len = ent_at(r, prev + n + 1)->len;
        if (n > 0 && bytes + len > r->cfg.batch_bytes_max) {
            break;
        }
        bytes += len;
        n++;
    }
    if (n == 0 && (!allow_empty || (prev < last && room == 0))) {
        return false;
    }
    struct zn_raft_msg *m = msg_new(r, p->id, ZN_RAFT_MSG_APPEND);
    m->index = prev;
    m->log_term = zn_raft_term_at(r, prev);
    m->commit = r->commit;
    p->commit_sent = r->commit < prev + n ? r->commit : prev + n;
    m->n_entries = (uint32_t)n;
    m->entries = r->uents + r->uents_used;
    for (uint64_t i = 0; i < n; i++) {
        fill_entry(r, prev + 1 + i, &r->uents[r->uents_used + i]);
    }
    r->uents_used += (uint32_t)n;
    if (p->state == PR_REPLICATE) {
        if (n > 0) {
            p->next = prev + n + 1;
            infl_add(r, p, prev + n);
        }
    } else {
        p->probe_sent = true;
    }
    return true;
}

static void send_heartbeat(struct zn_raft *r, struct progress *p)
{
    struct zn_raft_msg *m = msg_new(r, p->id, ZN_RAFT_MSG_HEARTBEAT);
    m->commit = p->match < r->commit ? p->match : r->commit;
    m->ctx = r->read_round;
    if (m->commit > p->commit_sent) {
        p->commit_sent = m->commit;
    }
}

/*
 * The commit advanced: tell a follower in replicate state at once instead of at the next
 * heartbeat (etcd-io/raft bcastAppend after maybeCommit). An empty append marked commit-only
 * (ctx 1) whose previous entry is min(next - 1, commit): a follower that holds that entry with
 * that term matches the leader up to it and commits up to it; one that does not (the appends
 * carrying it are still in flight or were lost) ignores the message instead of rejecting it, so
 * reordering never knocks a healthy follower back to probing (loss is repaired by the
 * heartbeat path). Not sent when the window is full (flow control) or when the follower can
 * already learn this commit from what it was sent.
 */
static void send_commit(struct zn_raft *r, struct progress *p)
{
    if (p->id == r->id || p->state != PR_REPLICATE || p->infl_count >= r->cfg.inflight_max) {
        return;
    }
    uint64_t prev = p->next - 1 < r->commit ? p->next - 1 : r->commit;
    if (prev < r->base_index || prev <= p->commit_sent) {
        return;
    }
    struct zn_raft_msg *m = msg_new(r, p->id, ZN_RAFT_MSG_APPEND);
    m->index = prev;
    m->log_term = zn_raft_term_at(r, prev);
    m->commit = r->commit;
    m->ctx = 1;
    p->commit_sent = prev;
}

static void bcast_append(struct zn_raft *r)
{
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        struct progress *p = &r->prs[i];
        if (p->used && p->id != r->id) {
            while (send_append(r, p, false)) {
            }
        }
    }
}

static void bcast_commit(struct zn_raft *r)
{
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        struct progress *p = &r->prs[i];
        if (p->used && p->id != r->id) {
            while (send_append(r, p, false)) {
            }
            send_commit(r, p);
        }
    }
}

static void bcast_heartbeat(struct zn_raft *r)
{
    r->read_round++;
    r->round_sent_ns[r->read_round % ROUND_RING] = r->now;
    r->read_want = false;
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        struct progress *p = &r->prs[i];
        if (p->used && p->id != r->id) {
            send_heartbeat(r, p);
        }
    }
    r->heartbeat_deadline = r->now + r->cfg.heartbeat_interval_ns;
}

/* ---- role changes -------------------------------------------------------------------------- */

static void votes_clear(struct zn_raft *r)
{
    memset(r->granted, 0, sizeof(r->granted));
    memset(r->rejected, 0, sizeof(r->rejected));
}

static void become_follower(struct zn_raft *r, uint64_t term, uint8_t leader)
{
    if (term > r->term) {
        r->term = term;
        r->vote = 0;
        hs_dirty(r);
    }
    if (r->role == ZN_RAFT_LEADER) {
        read_fail_all(r);
    }
    /* A follower keeps its timer on a mere term change: only a leader's message or a granted
     * vote reset it (Figure 3.1), or candidates that keep bumping the term starve the one
     * node that could win (simulator seed 418, 3 nodes). */
    if (r->role != ZN_RAFT_FOLLOWER) {
        reset_election_timer(r);
    }
    r->role = ZN_RAFT_FOLLOWER;
    r->leader = leader;
    r->transfer_to = 0;
    votes_clear(r);
}

static uint32_t quorum(uint32_t n)
{
    return n / 2 + 1;
}

static uint32_t bits_count(const uint64_t *b, const struct zn_raft_conf *conf)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < conf->n_voters; i++) {
        uint8_t id = conf->voters[i];
        n += (b[id >> 6] >> (id & 63)) & 1;
    }
    return n;
}

static void bit_set(uint64_t *b, uint8_t id)
{
    b[id >> 6] |= 1ull << (id & 63);
}

static void become_leader(struct zn_raft *r);
static void campaign(struct zn_raft *r, bool transfer);
static bool can_campaign(const struct zn_raft *r);

static void poll_votes(struct zn_raft *r)
{
    uint32_t q = quorum(r->conf.n_voters);
    if (bits_count(r->granted, &r->conf) >= q) {
        if (r->role == ZN_RAFT_PRECANDIDATE) {
            campaign(r, false); /* pre-vote won: the real election */
        } else if (r->role == ZN_RAFT_CANDIDATE) {
            become_leader(r);
        }
    } else if (bits_count(r->rejected, &r->conf) >= q) {
        become_follower(r, r->term, 0);
    }
}

static void campaign(struct zn_raft *r, bool transfer)
{
    votes_clear(r);
    r->leader = 0;
    reset_election_timer(r);
    r->role = ZN_RAFT_CANDIDATE;
    r->term++;
    r->vote = r->id;
    hs_dirty(r);
    /* Our own vote counts once it is durable: it comes back through msgs_after. */
    struct zn_raft_msg *self =
        msg_push(r, !ZN_CANARY_VOTE_NOT_PERSISTED, r->id, ZN_RAFT_MSG_VOTE_RESP);
    (void)self;
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        uint8_t id = r->conf.voters[i];
        if (id == r->id) {
            continue;
        }
        struct zn_raft_msg *m = msg_new(r, id, ZN_RAFT_MSG_VOTE);
        m->index = last_index(r);
        m->log_term = last_term(r);
        m->ctx = transfer ? 1 : 0;
    }
}

static void pre_campaign(struct zn_raft *r)
{
    votes_clear(r);
    r->leader = 0;
    reset_election_timer(r);
    r->role = ZN_RAFT_PRECANDIDATE;
    bit_set(r->granted, r->id);
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        uint8_t id = r->conf.voters[i];
        if (id == r->id) {
            continue;
        }
        struct zn_raft_msg *m = msg_new(r, id, ZN_RAFT_MSG_PREVOTE);
        m->term = r->term + 1;
        m->index = last_index(r);
        m->log_term = last_term(r);
    }
    poll_votes(r);
}

static void become_leader(struct zn_raft *r)
{
    r->role = ZN_RAFT_LEADER;
    r->leader = r->id;
    r->transfer_to = 0;
    r->read_acked = r->read_round;
    r->lease_until_ns = 0;
    r->reads_count = 0;
    r->reads_head = 0;
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        struct progress *p = &r->prs[i];
        if (p->used) {
            bool promote = p->promote;
            pr_init(r, p, p->id);
            p->promote = promote;
            p->read_ack = r->read_round;
        }
    }
    struct progress *self = pr_of(r, r->id);
    if (self) {
        self->match = r->durable;
        self->next = last_index(r) + 1;
    }
#if ZN_CANARY_NO_NOOP
    r->term_start_index = last_index(r);
#else
    /* The no-op (dissertation 8): commits everything before this term and tells the leader
     * what is committed, which ReadIndex and membership changes wait for. */
    bool ok = log_append(r, r->term, ZN_RAFT_ENTRY_NOOP, NULL, 0);
    if (!ok) {
        /* window full: step down and let a node with room lead (liveness only) */
        become_follower(r, r->term, 0);
        return;
    }
    r->term_start_index = last_index(r);
#endif
    r->pending_conf_index = last_index(r);
    r->heartbeat_deadline = r->now;
    r->quorum_deadline = r->now + r->cfg.election_timeout_ns;
    bcast_append(r);
    /* Probes carry no entries when the follower is caught up: send them empty. */
    for (uint32_t i = 0; i < r->cfg.members_max; i++) {
        struct progress *p = &r->prs[i];
        if (p->used && p->id != r->id) {
            send_append(r, p, true);
        }
    }
}

/* ---- commit and reads ---------------------------------------------------------------------- */

static bool committed_in_term(const struct zn_raft *r)
{
    return zn_raft_term_at(r, r->commit) == r->term;
}

static void reads_release(struct zn_raft *r)
{
    struct zn_raft_update *up = r->up;
    if (!committed_in_term(r)) {
        return;
    }
    while (r->reads_count > 0) {
        struct pending_read *p = &r->reads_q[r->reads_head];
        if (p->round > r->read_acked) {
            break;
        }
        if (up->n_reads < r->cfg.reads_max) {
            r->reads_out[up->n_reads++] = (struct zn_raft_read_result){p->ctx, r->commit};
        }
        r->reads_head = (r->reads_head + 1) % r->cfg.reads_max;
        r->reads_count--;
    }
    up->reads = r->reads_out;
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
    return a < b ? 1 : (a > b ? -1 : 0);
}

/* The value a quorum of voters has reached (k-th largest), voters' values in vals. */
static uint64_t quorum_value(uint64_t *vals, uint32_t n)
{
    /* insertion sort, n <= ZN_CLUSTER_VOTERS_MAX */
    for (uint32_t i = 1; i < n; i++) {
        uint64_t v = vals[i];
        uint32_t j = i;
        while (j > 0 && cmp_u64_desc(vals[j - 1], v) > 0) {
            vals[j] = vals[j - 1];
            j--;
        }
        vals[j] = v;
    }
    return vals[quorum(n) - 1];
}

static void maybe_step_down_removed(struct zn_raft *r)
{
    if (r->role == ZN_RAFT_LEADER && !zn_raft_conf_is_voter(&r->conf, r->id) &&
        r->commit >= r->conf_index) {
        /* Removed and the removal is committed: stop leading (dissertation 4.2.2). */
        become_follower(r, r->term, 0);
    }
}

static void maybe_commit(struct zn_raft *r)
{
    if (r->role != ZN_RAFT_LEADER || r->conf.n_voters == 0) {
        return;
    }
    uint64_t vals[ZN_CLUSTER_VOTERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        struct progress *p = pr_of(r, r->conf.voters[i]);
        vals[n++] = p ? p->match : 0;
    }
    uint64_t c = quorum_value(vals, n);
#if ZN_CANARY_COMMIT_PREV_TERM
    bool ok = c > r->commit;
#else
    /* Only entries of the current term are committed by counting (Figure 3.7 / Figure 8). */
    bool ok = c > r->commit && zn_raft_term_at(r, c) == r->term;
#endif
    if (ok) {
        r->commit = c;
        reads_release(r);
        bcast_commit(r);
        maybe_step_down_removed(r);
    }
}

/* A read round is confirmed once a quorum of voters echoed it (heartbeat ctx); a confirmed
 * round releases every read queued before it was sent, and starts the next round if reads
 * are waiting for one. A single voter confirms its own rounds at once. */
static void update_read_quorum(struct zn_raft *r)
{
    if (!zn_raft_conf_is_voter(&r->conf, r->id)) {
        return; /* a leader being removed serves no reads */
    }
    for (int iter = 0; iter < 2; iter++) {
        uint64_t vals[ZN_CLUSTER_VOTERS_MAX];
        uint32_t n = 0;
        for (uint32_t i = 0; i < r->conf.n_voters; i++) {
            uint8_t id = r->conf.voters[i];
            struct progress *p = pr_of(r, id);
            vals[n++] = id == r->id ? r->read_round : (p ? p->read_ack : 0);
        }
        uint64_t acked = quorum_value(vals, n);
        if (acked > r->read_acked) {
            r->read_acked = acked;
            if (r->cfg.lease_reads && r->read_round - acked < ROUND_RING && r->transfer_to == 0) {
                uint64_t et = r->cfg.election_timeout_ns;
                uint64_t margin = et / 1000000u * r->cfg.lease_drift_ppm;
                r->lease_until_ns = r->round_sent_ns[acked % ROUND_RING] + et - margin;
            }
            reads_release(r);
        }
        if (r->read_want && r->read_acked == r->read_round) {
            bcast_heartbeat(r);
            continue;
        }
        break;
    }
}

/* ---- message handlers ---------------------------------------------------------------------- */

static void handle_append(struct zn_raft *r, const struct zn_raft_msg *m)
{
    if (r->installing) {
        return;
    }
    if (m->index < r->commit) {
        struct zn_raft_msg *a = msg_new_ack(r, m->from, ZN_RAFT_MSG_APPEND_RESP);
        a->index = r->commit;
        return;
    }
    if (m->index > last_index(r) || m->index < r->base_index ||
        zn_raft_term_at(r, m->index) != m->log_term) {
        if (m->ctx == 1 && m->n_entries == 0) {
            return; /* commit-only: the appends it follows are in flight or lost (send_commit) */
        }
        /* Reject with a hint (dissertation 5.3 optimisation): the last index at or below the
         * probe whose term is <= the probe's term, so the leader skips whole terms. */
        uint64_t hint = m->index < last_index(r) ? m->index : last_index(r);
        while (hint > r->base_index && zn_raft_term_at(r, hint) > m->log_term) {
            hint--;
        }
        struct zn_raft_msg *a = msg_new(r, m->from, ZN_RAFT_MSG_APPEND_RESP);
        a->reject = 1;
        a->index = m->index;
        a->hint = hint;
        a->log_term = zn_raft_term_at(r, hint);
        return;
    }
    uint64_t last_new = m->index;
    bool full = false;
    uint32_t n = m->n_entries;
    if (n > r->cfg.batch_entries_max) {
        n = r->cfg.batch_entries_max;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct zn_raft_entry *e = &m->entries[i];
        uint64_t idx = m->index + 1 + i;
        if (idx <= last_index(r)) {
            if (zn_raft_term_at(r, idx) == e->term) {
                last_new = idx;
                continue;
            }
            log_truncate_from(r, idx);
        }
        if (!log_append(r, e->term, e->type, e->data, e->len)) {
            full = true; /* window full: acknowledge the prefix we took */
            break;
        }
        last_new = idx;
    }
    uint64_t c = m->commit < last_new ? m->commit : last_new;
    if (c > r->commit) {
        r->commit = c;
    }
    struct zn_raft_msg *a = msg_new_ack(r, m->from, ZN_RAFT_MSG_APPEND_RESP);
    a->index = last_new;
    a->ctx = full ? 1 : 0; /* flow control: the leader slows to probing */
}

static void handle_heartbeat(struct zn_raft *r, const struct zn_raft_msg *m)
{
    if (!r->installing) {
        uint64_t c = m->commit < last_index(r) ? m->commit : last_index(r);
        if (c > r->commit) {
            r->commit = c;
        }
    }
    struct zn_raft_msg *a = msg_new(r, m->from, ZN_RAFT_MSG_HEARTBEAT_RESP);
    a->ctx = m->ctx;
}

static void handle_snapshot(struct zn_raft *r, const struct zn_raft_msg *m)
{
    if (r->installing) {
        return;
    }
    if (m->index <= r->commit) {
        struct zn_raft_msg *a = msg_new_ack(r, m->from, ZN_RAFT_MSG_APPEND_RESP);
        a->index = r->commit;
        return;
    }
    if (m->offset == 0) {
        r->recv_active = true;
        r->recv_from = m->from;
        r->recv_index = m->index;
        r->recv_term = m->log_term;
        r->recv_next = 0;
        r->recv_conf = m->conf;
    }
    if (!r->recv_active || m->index != r->recv_index || m->log_term != r->recv_term ||
        m->offset != r->recv_next || !conf_valid(&m->conf)) {
        struct zn_raft_msg *a = msg_new(r, m->from, ZN_RAFT_MSG_SNAPSHOT_RESP);
        a->index = m->index;
        a->hint = r->recv_active && m->index == r->recv_index ? r->recv_next : 0;
        a->reject = 1;
        return;
    }
    struct zn_raft_update *up = r->up;
    up->install = (struct zn_raft_install){
        .valid = true,
        .last = m->last != 0,
        .from = m->from,
        .len = m->len,
        .index = m->index,
        .term = m->log_term,
        .offset = m->offset,
        .data = m->data,
        .conf = r->recv_conf,
    };
    r->recv_next += m->len;
    if (m->last) {
        r->installing = true;
    }
    struct zn_raft_msg *a = msg_new_ack(r, m->from, ZN_RAFT_MSG_SNAPSHOT_RESP);
    a->index = m->index;
    a->hint = r->recv_next;
    a->last = m->last;
}

static void handle_append_resp(struct zn_raft *r, const struct zn_raft_msg *m)
{
    struct progress *p = pr_of(r, m->from);
    if (p == NULL || m->from == r->id) {
        return;
    }
    p->recent_active = true;
    if (m->reject) {
        if (p->state == PR_REPLICATE) {
            if (m->index <= p->match) {
                return; /* stale */
            }
            pr_become_probe(r, p);
        } else if (p->state == PR_PROBE) {
            if (p->next - 1 != m->index) {
                return; /* stale */
            }
            uint64_t next = m->hint;
            /* leader side of the hint: skip our entries with a term above the follower's */
            while (next > r->base_index && m->log_term > 0 &&
                   zn_raft_term_at(r, next) > m->log_term) {
                next--;
            }
            if (next == r->base_index && next > 0 && m->log_term > 0 &&
                zn_raft_term_at(r, next) > m->log_term) {
                /* the divergence is behind our window: only a snapshot can repair it
                 * (simulator seed 162, 3 nodes, looped on the same probe forever) */
                next = r->base_index - 1;
            }
            if (next < p->match) {
                next = p->match;
            }
            p->next = next + 1;
            p->probe_sent = false;
        } else {
            return;
        }
        send_append(r, p, true);
        return;
    }
    if (m->index > p->match) {
        p->match = m->index;
        if (p->next < m->index + 1) {
            p->next = m->index + 1;
        }
        if (p->state == PR_PROBE) {
            pr_become_replicate(p);
        } else if (p->state == PR_SNAPSHOT && p->match >= p->snap_index) {
            pr_become_replicate(p);
        } else {
            infl_free_to(r, p, m->index);
        }
        maybe_commit(r);
        if (r->role != ZN_RAFT_LEADER) {
            return;
        }
        if (p->promote && p->match >= r->commit && r->pending_conf_index <= r->commit &&
            committed_in_term(r) && r->conf.n_voters < ZN_CLUSTER_VOTERS_MAX &&
            zn_raft_conf_is_learner(&r->conf, p->id)) {
            struct zn_raft_conf c = r->conf;
            conf_remove(&c, p->id);
            c.voters[c.n_voters++] = p->id;
            uint8_t buf[ZN_RAFT_CONF_ENCODED_MAX];
            uint32_t len = zn_raft_conf_encode(&c, buf);
            if (log_append(r, r->term, ZN_RAFT_ENTRY_CONF, buf, len)) {
                r->pending_conf_index = last_index(r);
                p = pr_of(r, m->from);
                if (p) {
                    p->promote = false;
                }
                bcast_append(r);
            }
        }
        p = pr_of(r, m->from);
        if (p == NULL) {
            return;
        }
        if (r->transfer_to == p->id && p->match == last_index(r)) {
            msg_new(r, p->id, ZN_RAFT_MSG_TIMEOUT_NOW);
        }
        if (m->ctx == 1 && p->state == PR_REPLICATE) {
            /* the follower's window is full and it dropped the rest of what we sent: resume
             * from its match, one probe per heartbeat until it has room (simulator seed
             * 416270, 5 nodes: the unacknowledged inflights blocked the window forever) */
            pr_become_probe(r, p);
            p->probe_sent = true;
            return;
        }
    } else if (p->state == PR_PROBE) {
        p->probe_sent = false;
    }
    while (send_append(r, p, false)) {
    }
}

static void handle_heartbeat_resp(struct zn_raft *r, const struct zn_raft_msg *m)
{
    struct progress *p = pr_of(r, m->from);
    if (p == NULL) {
        return;
    }
    p->recent_active = true;
    if (p->state == PR_PROBE) {
        p->probe_sent = false;
    }
    if (m->ctx > p->read_ack && m->ctx <= r->read_round) {
        p->read_ack = m->ctx;
    }
    if (p->state == PR_REPLICATE && p->infl_count >= r->cfg.inflight_max) {
        /* all in-flight appends may be lost: free one slot per heartbeat so the next append
         * (rejected on a gap, then probed) can repair it (etcd-io/raft FreeFirstOne) */
        p->infl_head = (p->infl_head + 1) % r->cfg.inflight_max;
        p->infl_count--;
    }
    if (p->match < last_index(r)) {
        send_append(r, p, true);
    }
    update_read_quorum(r);
}

static void handle_snapshot_resp(struct zn_raft *r, const struct zn_raft_msg *m)
{
    struct progress *p = pr_of(r, m->from);
    if (p == NULL || p->state != PR_SNAPSHOT || m->index != p->snap_index) {
        return;
    }
    p->recent_active = true;
    p->snap_progress_ns = r->now;
    if (m->reject) {
        p->snap_offset = m->hint;
        p->snap_done = false;
        if (!p->chunk_pending) {
            request_chunk(r, p);
        }
        return;
    }
    if (m->hint < p->snap_offset || (m->hint == p->snap_offset && !m->last)) {
        return; /* stale or duplicate */
    }
    p->snap_offset = m->hint;
    if (m->last) {
        p->snap_done = true; /* the install ack (APPEND_RESP) moves it on */
        return;
    }
    if (!p->chunk_pending) {
        request_chunk(r, p);
    }
}

static void handle_vote_request(struct zn_raft *r, const struct zn_raft_msg *m)
{
    bool pre = m->type == ZN_RAFT_MSG_PREVOTE;
    bool can_vote =
        r->vote == m->from || (r->vote == 0 && r->leader == 0) || (pre && m->term > r->term);
    bool up_to_date =
        m->log_term > last_term(r) || (m->log_term == last_term(r) && m->index >= last_index(r));
    uint8_t rtype = pre ? ZN_RAFT_MSG_PREVOTE_RESP : ZN_RAFT_MSG_VOTE_RESP;
    if (can_vote && up_to_date) {
        if (pre) {
            struct zn_raft_msg *a = msg_new(r, m->from, rtype);
            a->term = m->term;
        } else {
            r->vote = m->from;
            hs_dirty(r);
            reset_election_timer(r);
            /* the grant leaves only once the vote is durable (STYLE.md 3) */
            msg_push(r, !ZN_CANARY_VOTE_NOT_PERSISTED, m->from, rtype);
        }
    } else {
        struct zn_raft_msg *a = msg_new(r, m->from, rtype);
        a->reject = 1;
    }
}

static void handle_vote_resp(struct zn_raft *r, const struct zn_raft_msg *m)
{
    bool pre = m->type == ZN_RAFT_MSG_PREVOTE_RESP;
    if ((pre && r->role != ZN_RAFT_PRECANDIDATE) || (!pre && r->role != ZN_RAFT_CANDIDATE)) {
        return;
    }
    if (m->reject) {
        bit_set(r->rejected, m->from);
    } else {
        bit_set(r->granted, m->from);
    }
    poll_votes(r);
}

/* With check-quorum a server that hears from a live leader ignores vote requests (4.2.3): a
 * removed or partitioned server cannot depose it. The leader itself is live until check-quorum
 * steps it down. */
static bool in_lease(const struct zn_raft *r)
{
    if (r->cfg.lease_reads && r->now < r->start_ns + r->cfg.election_timeout_ns) {
        /* A restarted server forgot which leader it heard last: with leases on, it votes for
         * nobody during its first election timeout, or a restart could help elect a new leader
         * while the old one still serves reads from its lease. */
        return true;
    }
    if (!r->cfg.check_quorum || r->leader == 0) {
        return false;
    }
    return r->role == ZN_RAFT_LEADER || r->now < r->last_heard_ns + r->cfg.election_timeout_ns;
}

static void handle_msg(struct zn_raft *r, const struct zn_raft_msg *m)
{
    if (m->to != r->id || m->from == 0 || m->type == 0 || m->type > ZN_RAFT_MSG_TYPE_MAX) {
        return;
    }
    bool vote_req = m->type == ZN_RAFT_MSG_VOTE || m->type == ZN_RAFT_MSG_PREVOTE;
    if (m->term > r->term) {
        if (vote_req && in_lease(r) && m->ctx == 0) {
            return; /* we hear from a live leader: ignore the disruptive candidate (4.2.3) */
        }
        if (m->type == ZN_RAFT_MSG_PREVOTE || (m->type == ZN_RAFT_MSG_PREVOTE_RESP && !m->reject)) {
            /* a pre-vote never changes our term */
        } else if (m->type == ZN_RAFT_MSG_APPEND || m->type == ZN_RAFT_MSG_HEARTBEAT ||
                   m->type == ZN_RAFT_MSG_SNAPSHOT) {
            become_follower(r, m->term, m->from);
        } else {
            become_follower(r, m->term, 0);
        }
    } else if (m->term < r->term) {
        if (m->type == ZN_RAFT_MSG_APPEND || m->type == ZN_RAFT_MSG_HEARTBEAT ||
            m->type == ZN_RAFT_MSG_SNAPSHOT) {
            /* a stale leader: tell it our term so it steps down (needed with pre-vote and
             * check-quorum, where our higher term would otherwise never reach it) */
            msg_new(r, m->from, ZN_RAFT_MSG_APPEND_RESP);
        } else if (m->type == ZN_RAFT_MSG_PREVOTE || m->type == ZN_RAFT_MSG_VOTE) {
            /* reject with our term (Figure 3.1: the reply carries currentTerm): a candidate
             * that never hears higher terms can trail forever behind a voter whose term a
             * third server keeps raising (simulator seed 416384, 1 node, pre-vote off) */
            struct zn_raft_msg *a = msg_new(r, m->from,
                                            m->type == ZN_RAFT_MSG_VOTE ? ZN_RAFT_MSG_VOTE_RESP
                                                                        : ZN_RAFT_MSG_PREVOTE_RESP);
            a->reject = 1;
        }
        return;
    }
    switch (m->type) {
    case ZN_RAFT_MSG_APPEND:
    case ZN_RAFT_MSG_HEARTBEAT:
    case ZN_RAFT_MSG_SNAPSHOT:
        if (r->role == ZN_RAFT_LEADER) {
            return; /* two leaders in one term cannot happen; ignore */
        }
        if (r->role != ZN_RAFT_FOLLOWER || r->leader != m->from) {
            become_follower(r, r->term, m->from);
        }
        r->last_heard_ns = r->now;
        reset_election_timer(r);
        if (m->type == ZN_RAFT_MSG_APPEND) {
            handle_append(r, m);
        } else if (m->type == ZN_RAFT_MSG_HEARTBEAT) {
            handle_heartbeat(r, m);
        } else {
            handle_snapshot(r, m);
        }
        break;
    case ZN_RAFT_MSG_APPEND_RESP:
        if (r->role == ZN_RAFT_LEADER) {
            handle_append_resp(r, m);
        }
        break;
    case ZN_RAFT_MSG_HEARTBEAT_RESP:
        if (r->role == ZN_RAFT_LEADER) {
            handle_heartbeat_resp(r, m);
        }
        break;
    case ZN_RAFT_MSG_SNAPSHOT_RESP:
        if (r->role == ZN_RAFT_LEADER) {
            handle_snapshot_resp(r, m);
        }
        break;
    case ZN_RAFT_MSG_VOTE:
    case ZN_RAFT_MSG_PREVOTE:
        handle_vote_request(r, m);
        break;
    case ZN_RAFT_MSG_VOTE_RESP:
    case ZN_RAFT_MSG_PREVOTE_RESP:
        handle_vote_resp(r, m);
        break;
    case ZN_RAFT_MSG_TIMEOUT_NOW:
        if (r->role == ZN_RAFT_FOLLOWER && m->from == r->leader && can_campaign(r) &&
            !r->installing) {
            campaign(r, true);
        }
        break;
    default:
        break;
    }
}

/* ---- events -------------------------------------------------------------------------------- */

/*
 * A voter campaigns. So does a server whose own removal is appended but not committed: it may
 * still be needed to commit that removal (dissertation 4.2.2, Figure 4.6) - without this a
 * removed server holding the longest log deadlocks the remaining voters (simulator seed 1, 1
 * node, 20000 events found it).
 */
static bool can_campaign(const struct zn_raft *r)
{
    if (zn_raft_conf_is_voter(&r->conf, r->id)) {
        return true;
    }
    if (r->conf_index > r->commit) {
        struct zn_raft_conf prev;
        conf_at(r, r->conf_index - 1, &prev);
        return zn_raft_conf_is_voter(&prev, r->id);
    }
    return false;
}

/* Leader priority: hand leadership to the highest-priority voter above us that is active and
 * has our whole log (a transfer, so proposals pause for at most one election timeout). */
static void maybe_hand_over(struct zn_raft *r)
{
    uint8_t mine = r->cfg.priorities[r->id];
    if (r->transfer_to || !committed_in_term(r) || !zn_raft_conf_is_voter(&r->conf, r->id)) {
        return;
    }
    uint8_t best = 0;
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        uint8_t v = r->conf.voters[i];
        struct progress *p = pr_of(r, v);
        if (v == r->id || p == NULL || !p->recent_active || p->match != last_index(r) ||
            r->cfg.priorities[v] <= mine ||
            (best && r->cfg.priorities[v] <= r->cfg.priorities[best])) {
            continue;
        }
        best = v;
    }
    if (best) {
        r->transfer_to = best;
        r->transfer_deadline = r->now + r->cfg.election_timeout_ns;
        r->lease_until_ns = 0;
        msg_new(r, best, ZN_RAFT_MSG_TIMEOUT_NOW);
    }
}

static void tick(struct zn_raft *r)
{
    if (r->role == ZN_RAFT_LEADER) {
        if (r->transfer_to && r->now >= r->transfer_deadline) {
            r->transfer_to = 0;
        }
        if (r->now >= r->quorum_deadline) {
            r->quorum_deadline = r->now + r->cfg.election_timeout_ns;
            if (r->cfg.check_quorum) {
                uint32_t active = 0;
                for (uint32_t i = 0; i < r->conf.n_voters; i++) {
                    uint8_t id = r->conf.voters[i];
                    struct progress *p = pr_of(r, id);
                    if (id == r->id || (p && p->recent_active)) {
                        active++;
                    }
                    if (p && id != r->id) {
                        p->recent_active = false;
                    }
                }
                if (active < quorum(r->conf.n_voters)) {
                    become_follower(r, r->term, 0); /* check-quorum (6.2) */
                    return;
                }
            }
        }
        if (r->now >= r->heartbeat_deadline) {
            bcast_heartbeat(r);
            update_read_quorum(r);
            maybe_hand_over(r);
            for (uint32_t i = 0; i < r->cfg.members_max; i++) {
                struct progress *p = &r->prs[i];
                if (!p->used || p->id == r->id || p->state != PR_SNAPSHOT) {
                    continue;
                }
                uint64_t half = r->cfg.election_timeout_ns / 2;
                if (r->now >= p->snap_progress_ns + 2 * r->cfg.election_timeout_ns) {
                    pr_become_probe(r, p); /* stalled stream: probe again */
                    send_append(r, p, true);
                } else if (p->snap_index < r->snap_index && !p->snap_done) {
                    start_snapshot(r, p); /* the application only serves its latest snapshot */
                } else if (!p->snap_done && r->now >= p->snap_progress_ns + half &&
                           (!p->chunk_pending || r->now >= p->chunk_req_ns + half)) {
                    request_chunk(r, p); /* chunk, its ack or the request lost: resend */
                }
            }
        }
        return;
    }
    if (r->now >= r->election_deadline) {
        if (!can_campaign(r) || r->cfg.priority == 0 || r->installing) {
            reset_election_timer(r);
            return;
        }
        if (r->cfg.pre_vote) {
            pre_campaign(r);
        } else {
            campaign(r, false);
        }
        if (r->conf.n_voters == 1 && r->role == ZN_RAFT_PRECANDIDATE) {
            poll_votes(r);
        }
    }
}

/*
 * Writes complete in id order. Why ids and caps rather than "persisted(index, term)":
 *   1. write A puts entries 5..10 of term 2 on disk (in flight);
 *   2. a new leader's append truncates at 6 and write B puts 6..8 of term 3;
 *   3. another append puts 6..10 of term 2 back (write C: the new leader had them after all);
 *   4. A completes. "(10, term 2) is durable" would match the log again and count 6..10 as
 *      durable although the disk holds B's 6..8 of term 3 and C is still in flight.
 * With ids, A's record was capped at 5 by the truncation in step 2, so A's completion makes
 * only 5 durable. The simulator checks that the core's durable index is always on its disk; the
 * canary ZN_CANARY_DURABLE_NO_ROLLBACK (no caps, no rollback) is caught by it in seed 1.
 */
static void persisted(struct zn_raft *r, uint64_t id)
{
    uint32_t cap = r->cfg.log_entries_max;
    while (r->writes_count > 0 && r->writes[r->writes_head].id <= id) {
        struct write_rec *w = &r->writes[r->writes_head];
        if (w->last != 0) {
            uint64_t d = w->last < w->cap ? w->last : w->cap;
            if (d < r->snap_index) {
                d = r->snap_index;
            }
            if (d > last_index(r)) {
                d = last_index(r);
            }
            r->durable = d;
        }
        r->writes_head = (r->writes_head + 1) % cap;
        r->writes_count--;
    }
    if (r->role == ZN_RAFT_LEADER) {
        struct progress *self = pr_of(r, r->id);
        if (self) {
            self->match = r->durable;
        }
        maybe_commit(r);
    }
}

static int propose(struct zn_raft *r, const struct zn_raft_event *ev, struct zn_raft_update *up)
{
    if (r->role != ZN_RAFT_LEADER) {
        return ZN_ENOTLEADER;
    }
    if (r->transfer_to) {
        return ZN_EBUSY;
    }
    uint32_t n = ev->propose.n;
    if (n == 0 || ev->propose.entries == NULL) {
        return ZN_EINVAL;
    }
    if (n > r->cfg.batch_entries_max) {
        return ZN_ELIMIT;
    }
    /* Flow control: proposals may fill only half of the window (entries and bytes). The other
     * half is for what a follower holds beyond the leader - committed entries it has not
     * compacted yet, an older tail it will truncate - so followers with the same configuration
     * can always take the leader's log and commit never stalls on a full follower window
     * (simulator seed 401907, 7 nodes, tight buffers). */
    if (r->ent_count + n > r->cfg.log_entries_max / 2 || arena_used(r) > r->cfg.log_bytes_max / 2) {
        return ZN_EFULL;
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct zn_raft_entry *e = &ev->propose.entries[i];
        if (e->type != ZN_RAFT_ENTRY_NORMAL || (e->len > 0 && e->data == NULL)) {
            return ZN_EINVAL;
        }
        bytes += e->len;
    }
    if (bytes > r->cfg.log_bytes_max / 2) {
        return ZN_EFULL;
    }
    uint64_t first = last_index(r) + 1;
    for (uint32_t i = 0; i < n; i++) {
        const struct zn_raft_entry *e = &ev->propose.entries[i];
        if (!log_append(r, r->term, ZN_RAFT_ENTRY_NORMAL, e->data, e->len)) {
            /* arena full part-way: roll back what this proposal appended */
            if (last_index(r) >= first) {
                uint64_t keep = r->step_persist_from;
                r->arena_tail = ent_at(r, first)->off;
                r->ent_count = (uint32_t)(first - 1 - r->base_index);
                r->step_persist_from = keep >= first ? UINT64_MAX : keep;
            }
            return ZN_EFULL;
        }
    }
    up->propose_index = first;
    up->propose_term = r->term;
    struct progress *self = pr_of(r, r->id);
    if (self) {
        self->next = last_index(r) + 1;
    }
    bcast_append(r);
    return 0;
}

static int read_index(struct zn_raft *r, const struct zn_raft_event *ev, struct zn_raft_update *up)
{
    if (r->role != ZN_RAFT_LEADER) {
        return ZN_ENOTLEADER;
    }
    if (!zn_raft_conf_is_voter(&r->conf, r->id)) {
        return ZN_ENOTLEADER;
    }
    if (r->cfg.lease_reads && committed_in_term(r) && r->now < r->lease_until_ns &&
        r->transfer_to == 0) {
        r->reads_out[up->n_reads++] = (struct zn_raft_read_result){ev->read.ctx, r->commit};
        up->reads = r->reads_out;
        return 0;
    }
    if (r->reads_count >= r->cfg.reads_max) {
        return ZN_EFULL;
    }
    struct pending_read *p = &r->reads_q[(r->reads_head + r->reads_count) % r->cfg.reads_max];
    p->ctx = ev->read.ctx;
    p->round = r->read_round + 1;
    r->reads_count++;
    if (r->read_acked == r->read_round) {
        bcast_heartbeat(r); /* no round in flight: start one now */
    } else {
        r->read_want = true; /* joins the round after the one in flight */
    }
    update_read_quorum(r); /* a single voter confirms alone */
    return 0;
}

static int conf_change(struct zn_raft *r, const struct zn_raft_event *ev)
{
    if (r->role != ZN_RAFT_LEADER) {
        return ZN_ENOTLEADER;
    }
    if (r->pending_conf_index > r->commit || !committed_in_term(r) || r->transfer_to) {
        return ZN_EBUSY;
    }
    uint8_t id = ev->conf.node;
    if (id == 0) {
        return ZN_EINVAL;
    }
    struct zn_raft_conf c = r->conf;
    bool promote_later = false;
    switch (ev->conf.op) {
    case ZN_RAFT_CONF_ADD_LEARNER:
    case ZN_RAFT_CONF_ADD_VOTER:
        if (zn_raft_conf_is_learner(&c, id) && ev->conf.op == ZN_RAFT_CONF_ADD_VOTER) {
            struct progress *p = pr_of(r, id);
            if (p) {
                p->promote = true;
            }
            return 0;
        }
        if (conf_is_member(&c, id)) {
            return ZN_EINVAL;
        }
        if (c.n_voters + c.n_learners >= r->cfg.members_max ||
            c.n_voters + c.n_learners >= ZN_CLUSTER_MEMBERS_MAX) {
            return ZN_ELIMIT;
        }
        c.learners[c.n_learners++] = id;
        promote_later = ev->conf.op == ZN_RAFT_CONF_ADD_VOTER;
        break;
    case ZN_RAFT_CONF_PROMOTE: {
        struct progress *p = pr_of(r, id);
        if (!zn_raft_conf_is_learner(&c, id) || p == NULL) {
            return ZN_EINVAL;
        }
        if (c.n_voters >= ZN_CLUSTER_VOTERS_MAX) {
            return ZN_ELIMIT;
        }
        if (p->match < r->commit) {
            return ZN_EAGAIN;
        }
        conf_remove(&c, id);
        c.voters[c.n_voters++] = id;
        break;
    }
    case ZN_RAFT_CONF_REMOVE:
        if (!conf_is_member(&c, id)) {
            return ZN_EINVAL;
        }
        conf_remove(&c, id);
        if (c.n_voters == 0) {
            return ZN_EINVAL;
        }
        break;
    default:
        return ZN_EINVAL;
    }
    uint8_t buf[ZN_RAFT_CONF_ENCODED_MAX];
    uint32_t len = zn_raft_conf_encode(&c, buf);
    if (!log_append(r, r->term, ZN_RAFT_ENTRY_CONF, buf, len)) {
        return ZN_EFULL;
    }
    r->pending_conf_index = last_index(r);
    if (promote_later) {
        struct progress *p = pr_of(r, id);
        if (p) {
            p->promote = true;
        }
    }
    struct progress *self = pr_of(r, r->id);
    if (self) {
        self->next = last_index(r) + 1;
    }
    bcast_append(r);
    maybe_commit(r);
    return 0;
}

static int transfer(struct zn_raft *r, const struct zn_raft_event *ev)
{
    if (r->role != ZN_RAFT_LEADER) {
        return ZN_ENOTLEADER;
    }
    uint8_t to = ev->transfer.to;
    if (to == r->id || !zn_raft_conf_is_voter(&r->conf, to)) {
        return ZN_EINVAL;
    }
    if (r->transfer_to) {
        return ZN_EBUSY;
    }
    struct progress *p = pr_of(r, to);
    if (p == NULL) {
        return ZN_EINVAL;
    }
    r->transfer_to = to;
    r->transfer_deadline = r->now + r->cfg.election_timeout_ns;
    r->lease_until_ns = 0; /* TimeoutNow overrides the followers' lease: give ours up */
    if (p->match == last_index(r)) {
        msg_new(r, to, ZN_RAFT_MSG_TIMEOUT_NOW);
    } else {
        send_append(r, p, true);
    }
    return 0;
}

/*
 * The application's snapshot may not cover entries that are not yet durable in the WAL:
 *   1. a follower truncates 3776.. and appends new 3776..3777 (write pending), commits and
 *      applies them, and snapshots at 3777 (snapshot file synced);
 *   2. it crashes before the write: the WAL still holds the old 3776..3778 of an older term;
 *   3. recovery finds snapshot 3777 followed by a stale 3778 - a log that never existed.
 * Hence index <= durable (simulator seed 900354, 5 nodes, 200000 events).
 */
static int snapshot_taken(struct zn_raft *r, uint64_t index)
{
    if (index > r->applied || index > last_index(r) || index > r->durable) {
        return ZN_ESTALE;
    }
    if (index <= r->snap_index) {
        return 0;
    }
    r->snap_term = zn_raft_term_at(r, index);
    ZN_ASSERT(r->snap_term != 0);
    conf_at(r, index, &r->snap_conf);
    r->snap_index = index;
    if (r->durable < index) {
        r->durable = index; /* the application's snapshot is durable */
    }
    /* Keep compact_keep entries behind the snapshot, but at most a quarter of the arena: with
     * large entries (1 MiB znode values) compact_keep entries do not fit the arena at all, the
     * compaction would free nothing and proposals would stay refused (ZN_EFULL, half the arena)
     * for good. A follower further behind gets the snapshot instead. */
    uint64_t to = index > r->cfg.compact_keep ? index - r->cfg.compact_keep : 0;
    uint64_t kept = 0;
    for (uint64_t i = index; i > to && i > r->base_index; i--) {
        kept += ent_at(r, i)->len;
        if (kept > r->cfg.log_bytes_max / 4) {
            to = i;
            break;
        }
    }
    if (to > 0) {
        log_compact_to(r, to);
    }
    return 0;
}

uint32_t zn_raft_log_bytes(const struct zn_raft *raft)
{
    return arena_used(raft);
}

bool zn_raft_log_wants_snapshot(const struct zn_raft *raft)
{
    /* between the quarter a compaction leaves and the half where proposals stop */
    return arena_used(raft) > raft->cfg.log_bytes_max / 8u * 3u;
}

static void snapshot_chunk(struct zn_raft *r, const struct zn_raft_event *ev)
{
    if (r->role != ZN_RAFT_LEADER) {
        return;
    }
    struct progress *p = pr_of(r, ev->chunk.to);
    if (p == NULL || p->state != PR_SNAPSHOT) {
        return;
    }
    if (ev->chunk.index != p->snap_index || p->snap_index != r->snap_index) {
        if (r->snap_index > p->snap_index) {
            start_snapshot(r, p); /* a newer snapshot exists: stream that one */
        }
        return;
    }
    if (ev->chunk.offset != p->snap_offset) {
        return;
    }
    p->chunk_pending = false;
    p->snap_progress_ns = r->now;
    struct zn_raft_msg *m = msg_new(r, p->id, ZN_RAFT_MSG_SNAPSHOT);
    m->index = p->snap_index;
    m->log_term = p->snap_term;
    m->offset = ev->chunk.offset;
    m->len = ev->chunk.len;
    m->data = ev->chunk.data;
    m->last = ev->chunk.last;
    m->conf = r->snap_conf;
}

static int snapshot_installed(struct zn_raft *r, uint64_t index, uint64_t term)
{
    if (!r->installing || index != r->recv_index || term != r->recv_term) {
        return ZN_EINVAL;
    }
    r->installing = false;
    r->recv_active = false;
    if (zn_raft_term_at(r, index) == term && index < last_index(r)) {
        log_compact_to(r, index); /* our log continues the snapshot: keep the suffix */
        r->base_conf = r->recv_conf;
    } else {
        r->base_index = index;
        r->base_term = term;
        r->base_conf = r->recv_conf;
        r->ent_count = 0;
        r->arena_head = r->arena_tail = 0;
        for (uint32_t i = 0; i < r->writes_count; i++) {
            struct write_rec *w = &r->writes[(r->writes_head + i) % r->cfg.log_entries_max];
            if (w->cap > index) {
                w->cap = index;
            }
        }
        if (r->durable > index) {
            r->durable = index;
        }
    }
    r->snap_index = index;
    r->snap_term = term;
    r->snap_conf = r->recv_conf;
    conf_at(r, last_index(r), &r->conf);
    r->conf_index = conf_index_at(r, last_index(r));
    conf_changed(r);
    if (r->commit < index) {
        r->commit = index;
    }
    if (r->applied < index) {
        r->applied = index;
    }
    if (r->durable < index) {
        r->durable = index;
    }
    if (r->step_persist_from <= index) {
        r->step_persist_from = UINT64_MAX;
    }
    struct zn_raft_msg *a = msg_new(r, r->recv_from, ZN_RAFT_MSG_APPEND_RESP);
    a->index = index;
    return 0;
}

int zn_raft_load(struct zn_raft *r, uint64_t term, uint8_t vote,
                 const struct zn_raft_snapshot_meta *snap)
{
    if (r->ent_count != 0 || r->term != 0) {
        return ZN_EINVAL;
    }
    r->term = term;
    r->vote = vote;
    if (snap && snap->index > 0) {
        if (!conf_valid(&snap->conf)) {
            return ZN_EINVAL;
        }
        r->snap_index = snap->index;
        r->snap_term = snap->term;
        r->snap_conf = snap->conf;
        r->base_index = snap->index;
        r->base_term = snap->term;
        r->base_conf = snap->conf;
        r->conf = snap->conf;
        r->conf_index = snap->index;
        r->commit = snap->index;
        r->applied = snap->index;
        r->durable = snap->index;
        progress_reset_all(r);
        if (snap->term > r->term) {
            /* a snapshot restored (or installed) with an older hard state: terms never go
             * back, so campaigning starts above the snapshot's term, like for a loaded entry */
            r->term = snap->term;
            r->vote = 0;
        }
    }
    return 0;
}

int zn_raft_load_entry(struct zn_raft *r, const struct zn_raft_entry *e)
{
    if (e->index != last_index(r) + 1 || e->term == 0 || e->term < last_term(r) ||
        (e->len > 0 && e->data == NULL)) {
        return ZN_EINVAL;
    }
    if (!log_append(r, e->term, e->type, e->data, e->len)) {
        return ZN_EFULL;
    }
    r->step_persist_from = UINT64_MAX; /* already durable */
    r->durable = last_index(r);
    if (e->term > r->term) {
        r->term = e->term; /* the hard-state write was lost but its entries survived */
        r->vote = 0;
    }
    return 0;
}

/* Runtime settings (raft.h, ZN_RAFT_EV_SETTINGS): validated as a whole, then applied so that
 * every timer in flight follows the new values at once. */
static int settings(struct zn_raft *r, const struct zn_raft_event *ev)
{
    uint32_t what = ev->settings.what;
    if (what == 0 || (what & ~ZN_RAFT_SET_ALL) != 0) {
        return ZN_EINVAL;
    }
    struct zn_raft_config c = r->cfg;
    if (what & ZN_RAFT_SET_PRIORITY) {
        c.priority = ev->settings.priority;
        c.priorities[r->id] = ev->settings.priority;
    }
    if (what & ZN_RAFT_SET_NODE_PRIORITY) {
        uint8_t node = ev->settings.node;
        if (node == 0) {
            return ZN_EINVAL;
        }
        if ((what & ZN_RAFT_SET_PRIORITY) && node == r->id &&
            ev->settings.node_priority != ev->settings.priority) {
            return ZN_EINVAL; /* two different own priorities in one event */
        }
        c.priorities[node] = ev->settings.node_priority;
        if (node == r->id) {
            c.priority = ev->settings.node_priority;
        }
    }
    if (what & ZN_RAFT_SET_ELECTION_TIMEOUT) {
        c.election_timeout_ns = ev->settings.election_timeout_ns;
    }
    if (what & ZN_RAFT_SET_HEARTBEAT) {
        c.heartbeat_interval_ns = ev->settings.heartbeat_interval_ns;
    }
    if (!config_valid(&c)) {
        return ZN_EINVAL;
    }
    bool et_changed = c.election_timeout_ns != r->cfg.election_timeout_ns;
    bool hb_changed = c.heartbeat_interval_ns != r->cfg.heartbeat_interval_ns;
    if (et_changed && r->cfg.lease_reads) {
        return ZN_ENOTSUP;
    }
    r->cfg = c;
    if (r->role == ZN_RAFT_LEADER) {
        if (et_changed && r->now + c.election_timeout_ns < r->quorum_deadline) {
            r->quorum_deadline = r->now + c.election_timeout_ns;
        }
        if (hb_changed && r->now + c.heartbeat_interval_ns < r->heartbeat_deadline) {
            r->heartbeat_deadline = r->now + c.heartbeat_interval_ns;
        }
        return 0;
    }
    if (c.priority == 0 && (r->role == ZN_RAFT_PRECANDIDATE || r->role == ZN_RAFT_CANDIDATE)) {
        become_follower(r, r->term, 0); /* resets the election timer with the new value */
    } else if (et_changed) {
        reset_election_timer(r);
    }
    return 0;
}

int zn_raft_step(struct zn_raft *r, const struct zn_raft_event *ev, struct zn_raft_update *up)
{
    memset(up, 0, sizeof(*up));
    up->msgs = r->msgs;
    up->msgs_after = r->msgs_after;
    up->reads = r->reads_out;
    up->reads_failed = r->reads_fail_out;
    up->chunk_reqs = r->chunk_out;
    r->up = up;
    r->uents_used = 0;
    if (ev->now_ns > r->now) {
        r->now = ev->now_ns;
    }
    if (!r->started) {
        r->started = true;
        r->start_ns = r->now;
        reset_election_timer(r);
    }
    uint8_t role0 = r->role;
    uint8_t leader0 = r->leader;
    uint64_t term0 = r->term;
    int rc = 0;
    switch (ev->type) {
    case ZN_RAFT_EV_MSG:
        if (ev->msg != NULL) {
            handle_msg(r, ev->msg);
        }
        break;
    case ZN_RAFT_EV_TICK:
        tick(r);
        break;
    case ZN_RAFT_EV_PERSISTED:
        persisted(r, ev->persisted.id);
        break;
    case ZN_RAFT_EV_PROPOSE:
        rc = propose(r, ev, up);
        break;
    case ZN_RAFT_EV_READ_INDEX:
        rc = read_index(r, ev, up);
        break;
    case ZN_RAFT_EV_CONF_CHANGE:
        rc = conf_change(r, ev);
        break;
    case ZN_RAFT_EV_TRANSFER:
        rc = transfer(r, ev);
        break;
    case ZN_RAFT_EV_SNAPSHOT_TAKEN:
        rc = snapshot_taken(r, ev->snapshot_taken.index);
        break;
    case ZN_RAFT_EV_SNAPSHOT_CHUNK:
        snapshot_chunk(r, ev);
        break;
    case ZN_RAFT_EV_SNAPSHOT_INSTALLED:
        rc = snapshot_installed(r, ev->installed.index, ev->installed.term);
        break;
    case ZN_RAFT_EV_SETTINGS:
        rc = settings(r, ev);
        break;
    default:
        rc = ZN_EINVAL;
        break;
    }
    finish_persist(r, up);
    if (r->commit > r->applied) {
        up->apply_from = r->applied + 1;
        up->apply_to = r->commit;
        r->applied = r->commit;
    } else {
        up->apply_from = 1;
        up->apply_to = 0;
    }
    ZN_ASSERT(r->commit <= last_index(r));
    ZN_ASSERT(r->snap_index <= r->commit);
    up->role_changed = role0 != r->role || leader0 != r->leader || term0 != r->term;
    up->role = r->role;
    up->leader = r->leader;
    up->term = r->term;
    up->commit = r->commit;
    if (r->role == ZN_RAFT_LEADER) {
        up->deadline_ns =
            r->heartbeat_deadline < r->quorum_deadline ? r->heartbeat_deadline : r->quorum_deadline;
        if (r->transfer_to && r->transfer_deadline < up->deadline_ns) {
            up->deadline_ns = r->transfer_deadline;
        }
    } else {
        up->deadline_ns = r->election_deadline;
    }
    r->up = NULL;
    return rc;
}

void zn_raft_status_get(const struct zn_raft *r, struct zn_raft_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = r->id;
    st->role = r->role;
    st->leader = r->leader;
    st->vote = r->vote;
    st->term = r->term;
    st->commit = r->commit;
    st->applied = r->applied;
    st->first_index = first_index(r);
    st->last_index = last_index(r);
    st->durable = r->durable;
    st->snap_index = r->snap_index;
    st->snap_term = r->snap_term;
    st->log_entries = r->ent_count;
    st->log_bytes = arena_used(r);
    st->conf = r->conf;
    st->snap_conf = r->snap_conf;
    st->priority = r->cfg.priority;
    memcpy(st->priorities, r->cfg.priorities, sizeof(st->priorities));
    st->election_timeout_ns = r->cfg.election_timeout_ns;
    st->heartbeat_interval_ns = r->cfg.heartbeat_interval_ns;
}

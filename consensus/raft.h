/*
 * raft.h - the zinc Raft core: a pure, deterministic step function (DESIGN.md section 6,
 * STYLE.md points 1-3).
 *
 *     int zn_raft_step(struct zn_raft *raft, const struct zn_raft_event *ev,
 *                      struct zn_raft_update *up);
 *
 * One event in (message received, tick, persisted, propose, read-index, membership change,
 * leadership transfer, snapshot taken/chunk/installed, runtime settings), one update out. The
 * core never reads a clock (time is ev->now_ns), the disk or the network, never allocates after
 * init, has no global state and no logger; its PRNG (election timeouts) is seeded per instance
 * from the config.
 *
 * Memory. zn_raft_mem_size(cfg) says how many bytes an instance needs; zn_raft_init() carves the
 * instance and every buffer out of caller-provided memory (8-byte aligned). Nothing else is ever
 * allocated: when an output array is full the extra messages are dropped and counted in
 * up->dropped_msgs (Raft tolerates message loss; the next heartbeat repairs it).
 *
 * Log storage. The core keeps the log window (first_index..last_index) itself: a ring of entry
 * descriptors (index, term, type) plus a byte arena holding a copy of every payload, both sized by
 * the config (log_entries_max, log_bytes_max). The caller's WAL is the durable copy; the core's
 * window is what it replicates from. The window shrinks only when the application reports a
 * snapshot (ZN_RAFT_EV_SNAPSHOT_TAKEN): entries up to that index (minus compact_keep) are
 * dropped, and a follower that needs them gets InstallSnapshot. A proposal that does not fit
 * returns ZN_EFULL (backpressure); a follower whose window is full acknowledges the prefix it
 * could take. On restart the caller loads its durable state with zn_raft_load() and
 * zn_raft_load_entry(), before the first step.
 *
 * Lifetime of an update. Every pointer in *up (messages, their entries, persist entries, install
 * chunk) points into the core's buffers and is valid only until the next zn_raft_step() on the
 * same instance: the caller encodes or copies what it keeps.
 *
 * Persistence and release ordering (STYLE.md point 3; etcd-io/raft msgsAfterAppend):
 *   1. up->persist (hard state and/or entries, id > 0) must be written in id order.
 *   2. up->msgs may be sent at once.
 *   3. up->msgs_after (vote grants, append acks, snapshot-chunk acks, the candidate's own vote
 *      addressed to itself) may be released only after every write with an id <= up->persist_id
 *      (the id current when this update was produced, even if this update wrote nothing) is
 *      durable. Then the caller delivers ZN_RAFT_EV_PERSISTED with that id.
 *   An install chunk (up->install) is written by the caller before it releases msgs_after.
 * The persisted event carries the write id rather than (index, term): an (index, term) pair can
 * be written, truncated and written again while an older write is still in flight (etcd-io/raft
 * stableTo ABA), whereas the id names exactly the disk contents, and the core caps each in-flight
 * write at every truncation made after it was issued.
 *
 * Leader lease (opt-in, cfg.lease_reads): a leader answers ReadIndex locally while
 * now < (send time of a heartbeat round acknowledged by a quorum) + election_timeout_ns *
 * (1 - lease_drift_ppm / 1e6). Followers do not grant votes within election_timeout_ns of
 * hearing from the leader (check_quorum), so the lease is safe provided no node's clock runs
 * slower than the leader's by more than lease_drift_ppm over one election timeout, and no node
 * pauses without its timers noticing. Without lease_reads every ReadIndex costs one heartbeat
 * round (batched: one round confirms all reads queued before it was sent).
 *
 * Context: one instance is owned by one thread (the raft stage). Not thread-safe.
 */
#ifndef ZN_RAFT_H
#define ZN_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"

/* ---- configuration (membership) ------------------------------------------------------------ */

struct zn_raft_conf {
    uint8_t n_voters;
    uint8_t n_learners;
    uint8_t voters[ZN_CLUSTER_VOTERS_MAX];
    uint8_t learners[ZN_CLUSTER_MEMBERS_MAX];
};

/* Encoded size of a configuration entry payload: n_voters, voters, n_learners, learners. */
#define ZN_RAFT_CONF_ENCODED_MAX (2u + ZN_CLUSTER_VOTERS_MAX + ZN_CLUSTER_MEMBERS_MAX)

/* Encode a configuration as an entry payload; returns the length. */
uint32_t zn_raft_conf_encode(const struct zn_raft_conf *conf, uint8_t *buf);
/* Decode and validate (ids 1..ZN_NODE_ID_MAX, no duplicates, limits); 0 or ZN_EPROTO. */
int zn_raft_conf_decode(struct zn_raft_conf *conf, const uint8_t *buf, uint32_t len);
bool zn_raft_conf_is_voter(const struct zn_raft_conf *conf, uint8_t id);
bool zn_raft_conf_is_learner(const struct zn_raft_conf *conf, uint8_t id);

/* ---- entries and messages ------------------------------------------------------------------ */

enum zn_raft_entry_type {
    ZN_RAFT_ENTRY_NORMAL = 0, /* application command */
    ZN_RAFT_ENTRY_NOOP = 1,   /* appended by each new leader at the start of its term */
    ZN_RAFT_ENTRY_CONF = 2,   /* payload: zn_raft_conf_encode() */
};

struct zn_raft_entry {
    uint64_t index; /* ignored in proposals */
    uint64_t term;  /* ignored in proposals */
    uint32_t type;  /* enum zn_raft_entry_type */
    uint32_t len;
    const uint8_t *data;
};

enum zn_raft_msg_type {
    ZN_RAFT_MSG_APPEND = 1,       /* index/log_term: previous entry; entries; commit */
    ZN_RAFT_MSG_APPEND_RESP = 2,  /* index: match (ok) or rejected index; hint/log_term: conflict */
    ZN_RAFT_MSG_VOTE = 3,         /* index/log_term: candidate's last entry; ctx 1 = transfer */
    ZN_RAFT_MSG_VOTE_RESP = 4,    /* reject */
    ZN_RAFT_MSG_PREVOTE = 5,      /* term = candidate's term + 1 */
    ZN_RAFT_MSG_PREVOTE_RESP = 6, /* term = the pre-vote's term when granted */
    ZN_RAFT_MSG_HEARTBEAT = 7,    /* commit; ctx = read round */
    ZN_RAFT_MSG_HEARTBEAT_RESP = 8, /* ctx = read round echoed */
    ZN_RAFT_MSG_SNAPSHOT = 9,       /* index/log_term: snapshot; offset, data, last, conf */
    ZN_RAFT_MSG_SNAPSHOT_RESP = 10, /* index: snapshot; hint: next offset expected */
    ZN_RAFT_MSG_TIMEOUT_NOW = 11,   /* leadership transfer: campaign now */
};
#define ZN_RAFT_MSG_TYPE_MAX 11

struct zn_raft_msg {
    uint8_t type;
    uint8_t from;
    uint8_t to;
    uint8_t reject;
    uint8_t last; /* snapshot: last chunk */
    uint32_t n_entries;
    uint32_t len; /* snapshot chunk length */
    uint64_t term;
    uint64_t index;
    uint64_t log_term;
    uint64_t commit;
    uint64_t hint;
    uint64_t ctx;
    uint64_t offset;
    const struct zn_raft_entry *entries;
    const uint8_t *data;      /* snapshot chunk */
    struct zn_raft_conf conf; /* snapshot: configuration at the snapshot index */
};

/* ---- events -------------------------------------------------------------------------------- */

enum zn_raft_event_type {
    ZN_RAFT_EV_MSG = 1,         /* msg received from a peer (or from itself: own vote) */
    ZN_RAFT_EV_TICK = 2,        /* time passed; call at up->deadline_ns or later */
    ZN_RAFT_EV_PERSISTED = 3,   /* every write with id <= persisted.id is durable */
    ZN_RAFT_EV_PROPOSE = 4,     /* leader: append a batch of entries */
    ZN_RAFT_EV_READ_INDEX = 5,  /* leader: linearizable read request tagged ctx */
    ZN_RAFT_EV_CONF_CHANGE = 6, /* leader: add/remove/promote one member */
    ZN_RAFT_EV_TRANSFER = 7,    /* leader: hand leadership to a voter */
    ZN_RAFT_EV_SNAPSHOT_TAKEN =
        8, /* application: durable snapshot at index (<= applied and <= durable) */
    ZN_RAFT_EV_SNAPSHOT_CHUNK = 9,      /* application: a chunk the core asked for (send it) */
    ZN_RAFT_EV_SNAPSHOT_INSTALLED = 10, /* application: received snapshot installed durably */
    ZN_RAFT_EV_SETTINGS = 11,           /* operator: change priorities and timers (see below) */
};

/*
 * ZN_RAFT_EV_SETTINGS changes this instance's runtime settings; ev->settings.what is a mask of:
 *   ZN_RAFT_SET_PRIORITY          own priority (campaigning and the hand-over table's own row);
 *                                 0 stops campaigning: a (pre-)candidate steps back to follower
 *                                 in its term (its vote stays);
 *   ZN_RAFT_SET_NODE_PRIORITY     the hand-over table's row for ev->settings.node (1..255; the
 *                                 own id means ZN_RAFT_SET_PRIORITY); a leader hands over to a
 *                                 caught-up active voter of strictly higher priority at its next
 *                                 heartbeat, as with priorities given at init;
 *   ZN_RAFT_SET_ELECTION_TIMEOUT  election timeout: a follower's or candidate's election timer
 *                                 is re-armed at once with the new value; a leader's check-quorum
 *                                 deadline is brought forward if the new timeout ends earlier;
 *   ZN_RAFT_SET_HEARTBEAT         heartbeat interval: a leader's next heartbeat is brought forward
 *                                 if the new interval ends earlier.
 * The whole event is validated before anything changes (same bounds as zn_raft_init: timeouts
 * > 0, heartbeat < election timeout): ZN_EINVAL and nothing applied. With lease_reads on, a
 * different election timeout is refused with ZN_ENOTSUP: the lease is safe only while every
 * node refuses votes for at least the leader's election timeout, which a per-node change breaks.
 * Settings are per instance and volatile (the caller reapplies them after a restart).
 */
#define ZN_RAFT_SET_PRIORITY         1u
#define ZN_RAFT_SET_NODE_PRIORITY    2u
#define ZN_RAFT_SET_ELECTION_TIMEOUT 4u
#define ZN_RAFT_SET_HEARTBEAT        8u
#define ZN_RAFT_SET_ALL              15u

enum zn_raft_conf_op {
    ZN_RAFT_CONF_ADD_LEARNER = 1,
    ZN_RAFT_CONF_ADD_VOTER = 2, /* added as a learner, promoted automatically once caught up */
    ZN_RAFT_CONF_PROMOTE = 3,   /* learner -> voter; ZN_EAGAIN if it is not caught up */
    ZN_RAFT_CONF_REMOVE = 4,
};

struct zn_raft_event {
    uint32_t type;
    uint64_t now_ns; /* every event carries the time; the core never reads a clock */
    union {
        const struct zn_raft_msg *msg;
        struct {
            uint64_t id;
        } persisted;
        struct {
            const struct zn_raft_entry *entries;
            uint32_t n;
        } propose;
        struct {
            uint64_t ctx;
        } read;
        struct {
            uint32_t op;
            uint8_t node;
        } conf;
        struct {
            uint8_t to;
        } transfer;
        struct {
            uint64_t index;
        } snapshot_taken;
        struct {
            uint8_t to;
            uint8_t last;
            uint32_t len;
            uint64_t index;
            uint64_t offset;
            const uint8_t *data;
        } chunk;
        struct {
            uint64_t index;
            uint64_t term;
        } installed;
        struct {
            uint32_t what; /* ZN_RAFT_SET_* mask */
            uint8_t priority;
            uint8_t node;
            uint8_t node_priority;
            uint64_t election_timeout_ns;
            uint64_t heartbeat_interval_ns;
        } settings;
    };
};

/* ---- the update ---------------------------------------------------------------------------- */

struct zn_raft_persist {
    uint64_t id;     /* 0: nothing to write in this update */
    bool hard_state; /* term/vote changed: write them (with the entries, same id) */
    uint64_t term;
    uint8_t vote;
    /* Entries [first_index, first_index + n_entries) replace every entry from first_index on. */
    uint64_t first_index;
    uint32_t n_entries;
    const struct zn_raft_entry *entries;
};

/* The core asks the application for bytes [offset, offset + max_bytes) of its snapshot. */
struct zn_raft_chunk_request {
    uint8_t to;
    uint64_t index;
    uint64_t term;
    uint64_t offset;
    uint32_t max_bytes;
};

/* A received snapshot chunk to write at offset; when last, install the whole snapshot after
 * writing and report ZN_RAFT_EV_SNAPSHOT_INSTALLED. */
struct zn_raft_install {
    bool valid;
    bool last;
    uint8_t from;
    uint32_t len;
    uint64_t index;
    uint64_t term;
    uint64_t offset;
    const uint8_t *data;
    struct zn_raft_conf conf;
};

struct zn_raft_read_result {
    uint64_t ctx;
    uint64_t index; /* serve the read once applied >= index */
};

enum zn_raft_role {
    ZN_RAFT_FOLLOWER = 0,
    ZN_RAFT_PRECANDIDATE = 1,
    ZN_RAFT_CANDIDATE = 2,
    ZN_RAFT_LEADER = 3,
};

struct zn_raft_update {
    struct zn_raft_msg *msgs; /* send now */
    uint32_t n_msgs;
    struct zn_raft_msg *msgs_after; /* send after writes <= persist_id are durable */
    uint32_t n_msgs_after;
    uint64_t persist_id; /* the latest write id issued so far (this update's, if any) */
    struct zn_raft_persist persist;
    /* Committed entries to apply: [apply_from, apply_to]; none when apply_from > apply_to.
     * Read them with zn_raft_entry_get() before the next step. */
    uint64_t apply_from;
    uint64_t apply_to;
    struct zn_raft_read_result *reads;
    uint32_t n_reads;
    struct zn_raft_read_result *reads_failed; /* ctx only: retry elsewhere */
    uint32_t n_reads_failed;
    struct zn_raft_chunk_request *chunk_reqs;
    uint32_t n_chunk_reqs;
    struct zn_raft_install install;
    /* Proposal accepted: entries got indexes [propose_index, propose_index + n) in this term. */
    uint64_t propose_index;
    uint64_t propose_term;
    /* For the caller's log: set when the role, term or known leader changed in this step. */
    bool role_changed;
    uint8_t role;
    uint8_t leader;
    uint64_t term;
    uint64_t commit;
    uint64_t deadline_ns; /* deliver a tick at or after this time */
    uint32_t dropped_msgs;
};

/* ---- configuration of an instance ---------------------------------------------------------- */

struct zn_raft_config {
    uint8_t id;       /* this node, 1..ZN_NODE_ID_MAX */
    uint8_t priority; /* 0: never campaigns on its own (it may still be transferred to) */
    /* Priority of every node by id for leader hand-over: a leader transfers leadership to a
     * caught-up, active voter of strictly higher priority (all zero: hand-over off). */
    uint8_t priorities[ZN_NODE_ID_MAX + 1];
    bool pre_vote;     /* Raft dissertation 9.6 */
    bool check_quorum; /* leader steps down without a quorum; followers keep a lease */
    bool lease_reads;  /* answer ReadIndex from the lease (see above) */
    uint32_t lease_drift_ppm;
    uint64_t seed;                /* PRNG for randomized election timeouts */
    uint64_t election_timeout_ns; /* randomized in [t, 2t) */
    uint64_t heartbeat_interval_ns;
    uint32_t members_max;        /* progress slots: voters + learners */
    uint32_t inflight_max;       /* AppendEntries messages in flight per follower */
    uint32_t batch_entries_max;  /* entries per AppendEntries and per proposal */
    uint32_t batch_bytes_max;    /* payload bytes per AppendEntries */
    uint32_t log_entries_max;    /* window of entries kept in memory */
    uint32_t log_bytes_max;      /* payload arena */
    uint32_t compact_keep;       /* entries kept behind a snapshot for slow followers */
    uint32_t msgs_max;           /* messages per update (each list) */
    uint32_t update_entries_max; /* entry descriptors in one update (messages + persist) */
    uint32_t reads_max;          /* pending ReadIndex requests */
    uint32_t snapshot_chunk_bytes;
};

/* Fill *cfg with defaults for node id (3-5 node LAN cluster). */
void zn_raft_config_default(struct zn_raft_config *cfg, uint8_t id);
/* Bytes needed for an instance with this config; 0 if the config is invalid. */
size_t zn_raft_mem_size(const struct zn_raft_config *cfg);

struct zn_raft;

/*
 * Create an instance in mem (len >= zn_raft_mem_size(cfg), 8-byte aligned). The initial
 * configuration is conf (bootstrap) unless zn_raft_load() replaces it. Returns 0, ZN_EINVAL
 * (bad config or conf) or ZN_ENOMEM (len too small).
 */
int zn_raft_init(struct zn_raft **out, const struct zn_raft_config *cfg,
                 const struct zn_raft_conf *conf, void *mem, size_t len);

/* Restore durable state before the first step: hard state and the snapshot the log follows. */
struct zn_raft_snapshot_meta {
    uint64_t index;
    uint64_t term;
    struct zn_raft_conf conf;
};
int zn_raft_load(struct zn_raft *raft, uint64_t term, uint8_t vote,
                 const struct zn_raft_snapshot_meta *snap);
/* Append one durable entry (index must be last_index + 1); ZN_EFULL if the window is full. */
int zn_raft_load_entry(struct zn_raft *raft, const struct zn_raft_entry *e);

/*
 * Process one event. Returns 0, or for requests the caller made: ZN_ENOTLEADER (not the
 * leader: forward or retry), ZN_EFULL (log window full), ZN_EBUSY (a membership change or
 * transfer is in progress), ZN_EAGAIN (learner not caught up), ZN_EINVAL (bad argument),
 * ZN_ELIMIT (batch larger than batch_entries_max), ZN_ESTALE (snapshot index not applied or
 * not yet durable in the WAL: snapshot later, never over entries the WAL does not hold).
 * A malformed message is ignored (0). *up is always filled.
 */
int zn_raft_step(struct zn_raft *raft, const struct zn_raft_event *ev, struct zn_raft_update *up);

/* Entry at index if inside the window (valid until the next step); ZN_ENOENT otherwise. */
int zn_raft_entry_get(const struct zn_raft *raft, uint64_t index, struct zn_raft_entry *e);
/* Term of the entry at index, or of the snapshot at its index; 0 if unknown. */
uint64_t zn_raft_term_at(const struct zn_raft *raft, uint64_t index);
/* Payload bytes of the entries held in memory (of cfg.log_bytes_max). Proposals are refused
 * (ZN_EFULL) above half of it; a snapshot compacts to at most a quarter behind its index. */
uint32_t zn_raft_log_bytes(const struct zn_raft *raft);
/* True when the entries in memory use more than 3/8 of cfg.log_bytes_max: the application
 * should take a snapshot now (whatever its entry interval), or large entries stop proposals. */
bool zn_raft_log_wants_snapshot(const struct zn_raft *raft);

struct zn_raft_status {
    uint8_t id;
    uint8_t role;
    uint8_t leader;
    uint8_t vote;
    uint64_t term;
    uint64_t commit;
    uint64_t applied; /* highest index handed out for apply */
    uint64_t first_index;
    uint64_t last_index;
    uint64_t durable; /* highest index the core believes durable locally */
    uint64_t snap_index;
    uint64_t snap_term;
    /* Occupancy of the log window, for the caller's snapshot scheduling: a proposal gets
     * ZN_EFULL once entries reach log_entries_max / 2 or bytes log_bytes_max / 2, and only a
     * snapshot (ZN_RAFT_EV_SNAPSHOT_TAKEN) frees them. */
    uint32_t log_entries;
    uint32_t log_bytes;
    struct zn_raft_conf conf;      /* in force (latest in the log) */
    struct zn_raft_conf snap_conf; /* at snap_index */
    /* runtime settings in force (init config, then ZN_RAFT_EV_SETTINGS) */
    uint8_t priority;
    uint8_t priorities[ZN_NODE_ID_MAX + 1]; /* hand-over table by node id */
    uint64_t election_timeout_ns;
    uint64_t heartbeat_interval_ns;
};
void zn_raft_status_get(const struct zn_raft *raft, struct zn_raft_status *st);

const char *zn_raft_msg_type_name(uint8_t type);
const char *zn_raft_role_name(uint8_t role);

#endif /* ZN_RAFT_H */

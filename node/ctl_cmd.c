/*
 * ctl_cmd.c - the control endpoint's commands (protocol: ctl.h, docs/operations.md "Control
 * protocol").
 *
 * Each command that needs lcore-owned state defines an argument struct and a function that
 * zn_node_ctrl_call runs on the lcore: the function only copies counters out or steps the Raft
 * core (proposals, membership changes, transfer), never blocks and never allocates; the JSON is
 * built here, on the management thread, from the copy. Files (snapshots, WAL segment sizes) are
 * read on the management thread.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/ctl_internal.h"
#include "node/ctl_raft.h"
#include "node/internal.h"

#define CTL_CALL_TIMEOUT_NS (2000ull * ZN_NS_PER_MS)

static const char *ctl_err_code(int rc)
{
    switch (rc) {
    case ZN_ENOTLEADER:
        return "not_leader";
    case ZN_EBUSY:
        return "busy";
    case ZN_EAGAIN:
        return "not_caught_up";
    case ZN_ETIMEDOUT:
        return "timeout";
    case ZN_ENOENT:
        return "not_found";
    case ZN_EINVAL:
        return "bad_argument";
    case ZN_ENOTSUP:
        return "not_supported";
    default:
        return "failed";
    }
}

static json_t *ctl_rc_error(int rc, const char *what)
{
    return ctl_error(ctl_err_code(rc), "%s: %s", what, zn_strerror(rc));
}

static json_t *ctl_not_leader(uint8_t leader)
{
    json_t *e = ctl_error("not_leader", "this node is not the leader (leader: %u)", leader);
    json_object_set_new(e, "leader", json_integer(leader));
    return e;
}

static json_t *ctl_ok(void)
{
    return json_pack("{s:b}", "ok", 1);
}

/* Integer argument in [min, max]; false (and *err set) when absent or out of range. */
static bool ctl_arg_int(json_t *req, const char *name, json_int_t min, json_int_t max,
                        json_int_t *out, json_t **err)
{
    json_t *v = json_object_get(req, name);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        *err = ctl_error("bad_argument", "\"%s\" must be an integer in [%lld, %lld]", name,
                         (long long)min, (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* ---- status -------------------------------------------------------------------------------- */

struct ctl_status {
    struct zn_raft_status rs;
    uint64_t applied;
    struct zn_store_counts counts;
    uint64_t watches;
    uint64_t last_snap_index;
    bool snap_running;
    bool draining;
    bool memory_mode;
    int64_t last_election_ms;
    char last_election_reason[64];
    uint64_t now_ns;
    bool peer_known[ZN_NODE_ID_MAX + 1];
    uint64_t peer_heard_ns[ZN_NODE_ID_MAX + 1];
    struct zn_dp_addr peer[ZN_NODE_ID_MAX + 1];
    uint32_t sessions_local;
    uint32_t events_used;
    uint64_t n_events, n_forwarded, n_nacks, n_client_dropped, n_proposals, n_early, n_behind;
    uint32_t n_parked, n_held, n_delayed;
};

static int ctl_status_fn(struct zn_node *n, void *arg)
{
    struct ctl_status *s = arg;
    zn_raft_status_get(n->raft, &s->rs);
    s->applied = n->applied_index;
    zn_store_counts(n->store, &s->counts);
    s->watches = zn_watch_count(n->watches);
    s->last_snap_index = n->last_snap_index;
    s->snap_running = n->snap != NULL;
    s->draining = n->draining;
    s->memory_mode = n->memory_mode;
    s->last_election_ms = n->last_election_ms;
    memcpy(s->last_election_reason, n->last_election_reason, sizeof(s->last_election_reason));
    s->now_ns = node_now(n);
    memcpy(s->peer_known, n->peer_known, sizeof(s->peer_known));
    memcpy(s->peer_heard_ns, n->peer_heard_ns, sizeof(s->peer_heard_ns));
    memcpy(s->peer, n->peer, sizeof(s->peer));
    s->sessions_local = 0;
    for (uint32_t i = 0; i < n->sess.capacity; i++)
        s->sessions_local += n->sess.rows[i].id && (n->sess.rows[i].flags & ZN_SESSIONS_F_OWNED);
    s->events_used = n->sess.events_used;
    s->n_events = n->n_events;
    s->n_forwarded = n->n_forwarded;
    s->n_nacks = n->n_nacks;
    s->n_client_dropped = n->n_client_dropped;
    s->n_proposals = n->n_proposals;
    s->n_early = n->n_early;
    s->n_behind = n->n_behind;
    s->n_parked = n->n_parked;
    s->n_held = n->n_held;
    s->n_delayed = n->n_delayed;
    return 0;
}

static int ctl_get_status(struct zn_ctl *c, struct ctl_status *s)
{
    memset(s, 0, sizeof(*s));
    return zn_node_ctrl_call(c->node, c->lc, ctl_status_fn, s, CTL_CALL_TIMEOUT_NS);
}

/* Bytes and count of files in the state directory whose name starts with prefix and ends with
 * suffix. */
static void ctl_dir_usage(const struct zn_ctl *c, const char *prefix, const char *suffix,
                          uint64_t *bytes, uint64_t *files)
{
    char dir[ZN_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/state", ctl_cfg(c)->node.data_dir);
    *bytes = *files = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    size_t pl = strlen(prefix), sl = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < pl + sl || strncmp(de->d_name, prefix, pl) != 0 ||
            strcmp(de->d_name + l - sl, suffix) != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) == 0) {
            *bytes += (uint64_t)st.st_size;
            (*files)++;
        }
    }
    closedir(d);
}

static uint64_t ctl_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static json_t *ctl_conf_json(const struct zn_raft_conf *conf)
{
    json_t *v = json_array(), *l = json_array();
    for (uint32_t i = 0; i < conf->n_voters; i++)
        json_array_append_new(v, json_integer(conf->voters[i]));
    for (uint32_t i = 0; i < conf->n_learners; i++)
        json_array_append_new(l, json_integer(conf->learners[i]));
    return json_pack("{s:o, s:o}", "voters", v, "learners", l);
}

static json_t *cmd_status(struct zn_ctl *c, json_t *req)
{
    (void)req;
    struct ctl_status s;
    int rc = ctl_get_status(c, &s);
    if (rc)
        return ctl_rc_error(rc, "status from the lcore");
    uint64_t wal_bytes, wal_files, snap_bytes, snap_files;
    ctl_dir_usage(c, "wal-", "", &wal_bytes, &wal_files);
    ctl_dir_usage(c, "snap-", ".snap", &snap_bytes, &snap_files);
    json_t *peers = json_array();
    for (uint32_t id = 1; id <= ZN_NODE_ID_MAX; id++) {
        if (!s.peer_known[id] || id == s.rs.id)
            continue;
        char ip[16];
        zn_dp_ip_format(s.peer[id].ip, ip, sizeof(ip));
        int64_t ago =
            s.peer_heard_ns[id] ? (int64_t)((s.now_ns - s.peer_heard_ns[id]) / 1000000) : -1;
        json_array_append_new(peers,
                              json_pack("{s:i, s:s, s:i, s:I}", "id", (int)id, "host", ip, "port",
                                        (int)s.peer[id].port, "heard_ms_ago", (json_int_t)ago));
    }
    const struct zn_config *cfg = ctl_cfg(c);
    bool ready = s.rs.leader != 0 && s.applied >= s.rs.commit && !s.draining;
    char address[96];
    snprintf(address, sizeof(address), "%s:%u", cfg->net.listen_host, cfg->net.listen_port);
    json_t *r = json_pack(
        "{s:b, s:i, s:i, s:s, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I,"
        " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:b, s:s, s:o, s:I, s:s}",
        "ok", 1, "id", (int)s.rs.id, "cluster_id", (int)cfg->node.cluster_id, "role",
        zn_raft_role_name(s.rs.role), "term", (json_int_t)s.rs.term, "leader", (int)s.rs.leader,
        "commit", (json_int_t)s.rs.commit, "applied", (json_int_t)s.applied, "first_index",
        (json_int_t)s.rs.first_index, "last_index", (json_int_t)s.rs.last_index, "durable",
        (json_int_t)s.rs.durable, "snapshot_index", (json_int_t)s.last_snap_index, "members",
        ctl_conf_json(&s.rs.conf), "sessions", (json_int_t)s.counts.sessions, "sessions_local",
        (json_int_t)s.sessions_local, "znodes", (json_int_t)s.counts.znodes, "watches",
        (json_int_t)s.watches, "data_bytes", (json_int_t)s.counts.data_bytes, "rss_bytes",
        (json_int_t)ctl_rss_bytes(), "wal_bytes", (json_int_t)wal_bytes, "wal_segments",
        (json_int_t)wal_files, "snapshot_bytes", (json_int_t)snap_bytes, "snapshot_files",
        (json_int_t)snap_files, "last_election_ms", (json_int_t)s.last_election_ms,
        "last_election_age_ms",
        (json_int_t)(s.last_election_ms
                         ? c->clock->realtime_ns(c->clock->ctx) / 1000000 - s.last_election_ms
                         : -1),
        "last_election_reason", s.last_election_reason, "ready", ready, "draining", s.draining,
        "wal_sync", s.memory_mode ? "memory" : "fsync", "peers", peers, "uptime_ms",
        (json_int_t)((c->clock->monotonic_ns(c->clock->ctx) - c->started_ns) / 1000000), "address",
        address);
    json_object_set_new(r, "raft", ctl_raft_settings_json(&s.rs));
    return r;
}

/* ---- stats, watches, log ------------------------------------------------------------------- */

static json_t *cmd_stats(struct zn_ctl *c, json_t *req)
{
    (void)req;
    struct ctl_status s;
    int rc = ctl_get_status(c, &s);
    if (rc)
        return ctl_rc_error(rc, "stats from the lcore");
    return json_pack(
        "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:I}",
        "ok", 1, "proposals", (json_int_t)s.n_proposals, "forwarded", (json_int_t)s.n_forwarded,
        "forward_nacks", (json_int_t)s.n_nacks, "client_dropped", (json_int_t)s.n_client_dropped,
        "held_early", (json_int_t)s.n_early, "reads_behind", (json_int_t)s.n_behind, "watch_events",
        (json_int_t)s.n_events, "parked_reads", (json_int_t)s.n_parked, "held_requests",
        (json_int_t)s.n_held, "delayed_replies", (json_int_t)s.n_delayed, "sessions",
        (json_int_t)s.counts.sessions, "znodes", (json_int_t)s.counts.znodes, "watches",
        (json_int_t)s.watches, "data_bytes", (json_int_t)s.counts.data_bytes, "control_requests",
        (json_int_t)c->n_requests, "control_auth_failures", (json_int_t)c->n_auth_failures);
}

static json_t *cmd_watches(struct zn_ctl *c, json_t *req)
{
    (void)req;
    struct ctl_status s;
    int rc = ctl_get_status(c, &s);
    if (rc)
        return ctl_rc_error(rc, "watches from the lcore");
    return json_pack("{s:b, s:I, s:I, s:I, s:I}", "ok", 1, "watches", (json_int_t)s.watches,
                     "sessions_local", (json_int_t)s.sessions_local, "events_unacked",
                     (json_int_t)s.events_used, "events_sent", (json_int_t)s.n_events);
}

static json_t *cmd_log_info(struct zn_ctl *c, json_t *req)
{
    (void)req;
    struct ctl_status s;
    int rc = ctl_get_status(c, &s);
    if (rc)
        return ctl_rc_error(rc, "log state from the lcore");
    uint64_t wal_bytes, wal_files;
    ctl_dir_usage(c, "wal-", "", &wal_bytes, &wal_files);
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", 1,
                     "first_index", (json_int_t)s.rs.first_index, "last_index",
                     (json_int_t)s.rs.last_index, "commit", (json_int_t)s.rs.commit, "applied",
                     (json_int_t)s.applied, "durable", (json_int_t)s.rs.durable, "snapshot_index",
                     (json_int_t)s.last_snap_index, "core_snapshot_index",
                     (json_int_t)s.rs.snap_index, "core_snapshot_term", (json_int_t)s.rs.snap_term,
                     "wal_bytes", (json_int_t)wal_bytes, "wal_segments", (json_int_t)wal_files);
}

/* ---- latency ------------------------------------------------------------------------------- */

struct ctl_latency {
    struct zn_hist *h; /* ZN_OPSTATS_OPS */
    bool reset;
    uint64_t evicted;
};

static int ctl_latency_fn(struct zn_node *n, void *arg)
{
    struct ctl_latency *l = arg;
    for (unsigned i = 0; i < zn_opstats_op_count(); i++)
        zn_opstats_copy(n->opstats, i, &l->h[i]);
    l->evicted = zn_opstats_evicted(n->opstats);
    if (l->reset)
        zn_opstats_reset(n->opstats);
    return 0;
}

static json_t *cmd_latency(struct zn_ctl *c, json_t *req)
{
    struct ctl_latency l = {.reset = json_is_true(json_object_get(req, "reset"))};
    l.h = malloc(sizeof(*l.h) * zn_opstats_op_count());
    if (!l.h)
        return ctl_error("failed", "out of memory");
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_latency_fn, &l, CTL_CALL_TIMEOUT_NS);
    if (rc) {
        free(l.h);
        return ctl_rc_error(rc, "latency from the lcore");
    }
    json_t *ops = json_object();
    for (unsigned i = 0; i < zn_opstats_op_count(); i++) {
        const struct zn_hist *h = &l.h[i];
        if (h->count == 0)
            continue;
        json_object_set_new(ops, zn_opstats_op_name(i),
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "count",
                                      (json_int_t)h->count, "mean_ns", (json_int_t)zn_hist_mean(h),
                                      "p50_ns", (json_int_t)zn_hist_percentile(h, 50.0), "p99_ns",
                                      (json_int_t)zn_hist_percentile(h, 99.0), "p999_ns",
                                      (json_int_t)zn_hist_percentile(h, 99.9), "min_ns",
                                      (json_int_t)h->min, "max_ns", (json_int_t)h->max));
    }
    free(l.h);
    return json_pack("{s:b, s:o, s:I, s:b}", "ok", 1, "ops", ops, "evicted", (json_int_t)l.evicted,
                     "reset", l.reset);
}

/* ---- sessions ------------------------------------------------------------------------------ */

struct ctl_session_row {
    uint64_t id;
    uint8_t flags;
    uint32_t timeout_ms;
    uint32_t ip;
    uint16_t port;
    uint64_t heard_ns;
    uint64_t last_zxid;
    uint32_t events;
};

struct ctl_sessions {
    struct ctl_session_row *rows;
    uint32_t n;
    uint32_t total;
    uint64_t now_ns;
};

static int ctl_sessions_fn(struct zn_node *n, void *arg)
{
    struct ctl_sessions *s = arg;
    s->now_ns = node_now(n);
    for (uint32_t i = 0; i < n->sess.capacity; i++) {
        const struct zn_session_row *r = &n->sess.rows[i];
        if (!r->id)
            continue;
        s->total++;
        if (s->n < ZN_CTL_SESSIONS_LIST_MAX)
            s->rows[s->n++] = (struct ctl_session_row){.id = r->id,
                                                       .flags = r->flags,
                                                       .timeout_ms = r->timeout_ms,
                                                       .ip = r->client_ip,
                                                       .port = r->client_port,
                                                       .heard_ns = r->last_heard_ns,
                                                       .last_zxid = r->last_zxid,
                                                       .events = r->event_count};
    }
    return 0;
}

static json_t *cmd_sessions_list(struct zn_ctl *c, json_t *req)
{
    (void)req;
    struct ctl_sessions s = {.rows = calloc(ZN_CTL_SESSIONS_LIST_MAX, sizeof(*s.rows))};
    if (!s.rows)
        return ctl_error("failed", "out of memory");
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_sessions_fn, &s, CTL_CALL_TIMEOUT_NS);
    if (rc) {
        free(s.rows);
        return ctl_rc_error(rc, "sessions from the lcore");
    }
    json_t *a = json_array();
    for (uint32_t i = 0; i < s.n; i++) {
        const struct ctl_session_row *r = &s.rows[i];
        char id[24], ip[16];
        snprintf(id, sizeof(id), "0x%016llx", (unsigned long long)r->id);
        bool owned = (r->flags & ZN_SESSIONS_F_OWNED) != 0;
        zn_dp_ip_format(r->ip, ip, sizeof(ip));
        json_int_t idle =
            owned && r->heard_ns ? (json_int_t)((s.now_ns - r->heard_ns) / 1000000) : -1;
        json_array_append_new(
            a, json_pack("{s:s, s:b, s:i, s:s, s:i, s:I, s:I, s:i}", "id", id, "local", owned,
                         "timeout_ms", (int)r->timeout_ms, "client_ip", owned ? ip : "",
                         "client_port", owned ? (int)r->port : 0, "idle_ms", idle, "last_zxid",
                         (json_int_t)r->last_zxid, "events_queued", (int)r->events));
    }
    free(s.rows);
    return json_pack("{s:b, s:o, s:i, s:b}", "ok", 1, "sessions", a, "total", (int)s.total,
                     "truncated", s.total > s.n);
}

struct ctl_kill {
    uint64_t id;
    uint8_t leader;
};

static int ctl_kill_fn(struct zn_node *n, void *arg)
{
    struct ctl_kill *k = arg;
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    k->leader = st.leader;
    if (st.role != ZN_RAFT_LEADER)
        return ZN_ENOTLEADER;
    uint32_t timeout_ms;
    uint8_t pw[ZN_SESSION_PASSWD_BYTES];
    if (zn_store_session_get(n->store, k->id, &timeout_ms, pw) != 0)
        return ZN_ENOENT;
    struct zn_entry e = {
        .type = ZN_ENTRY_SESSION_CLOSE, .session = k->id, .close_reason = ZN_CLOSE_EXPIRED};
    return node_propose_entry(n, &e);
}

static json_t *cmd_session_kill(struct zn_ctl *c, json_t *req)
{
    const char *text = json_string_value(json_object_get(req, "id"));
    char *end = NULL;
    unsigned long long id = text ? strtoull(text, &end, 0) : 0;
    if (!text || !*text || *end || id == 0)
        return ctl_error("bad_argument", "\"id\" must be a session id (hex 0x... or decimal)");
    struct ctl_kill k = {.id = id};
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_kill_fn, &k, CTL_CALL_TIMEOUT_NS);
    if (rc == ZN_ENOTLEADER)
        return ctl_not_leader(k.leader);
    if (rc == ZN_ENOENT)
        return ctl_error("not_found", "no session 0x%016llx", id);
    if (rc)
        return ctl_rc_error(rc, "session close proposal");
    ZN_INFO("ctl", "session %016llx killed by the operator (close proposed)", id);
    return json_pack("{s:b, s:s}", "ok", 1, "proposed", "session_close");
}

/* ---- membership and leadership ------------------------------------------------------------- */

struct ctl_conf_change {
    uint32_t op;
    uint8_t id;
    bool set_peer;
    struct zn_dp_addr addr;
    uint8_t leader;
};

static int ctl_peer_fn(struct zn_node *n, void *arg)
{
    struct ctl_conf_change *cc = arg;
    if (cc->id == n->self)
        return ZN_EINVAL;
    n->peer[cc->id] = cc->addr;
    n->peer_known[cc->id] = true;
    return 0;
}

static int ctl_conf_fn(struct zn_node *n, void *arg)
{
    struct ctl_conf_change *cc = arg;
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    cc->leader = st.leader;
    if (st.role != ZN_RAFT_LEADER)
        return ZN_ENOTLEADER;
    if (cc->set_peer) {
        int rc = ctl_peer_fn(n, arg);
        if (rc)
            return rc;
    }
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_CONF_CHANGE, .now_ns = node_now(n)};
    ev.conf.op = cc->op;
    ev.conf.node = cc->id;
    return node_step(n, &ev);
}

/* "host" + "port" arguments into an address; NULL on success, else the error reply. */
static json_t *ctl_arg_addr(json_t *req, struct zn_dp_addr *addr)
{
    const char *host = json_string_value(json_object_get(req, "host"));
    json_int_t port;
    json_t *err = NULL;
    if (!host || zn_dp_ip_parse(host, &addr->ip) != 0)
        return ctl_error("bad_argument", "\"host\" must be a dotted IPv4 address");
    if (!ctl_arg_int(req, "port", 1, 65535, &port, &err))
        return err;
    addr->port = (uint16_t)port;
    return NULL;
}

static json_t *cmd_peer_add(struct zn_ctl *c, json_t *req)
{
    json_int_t id;
    json_t *err = NULL;
    struct ctl_conf_change cc = {0};
    if (!ctl_arg_int(req, "id", 1, ZN_NODE_ID_MAX, &id, &err))
        return err;
    if ((err = ctl_arg_addr(req, &cc.addr)) != NULL)
        return err;
    cc.id = (uint8_t)id;
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_peer_fn, &cc, CTL_CALL_TIMEOUT_NS);
    if (rc)
        return ctl_rc_error(rc, "peer address");
    ZN_INFO("ctl", "peer %u is at %s:%u (operator)", cc.id,
            json_string_value(json_object_get(req, "host")), cc.addr.port);
    return ctl_ok();
}

static json_t *cmd_members_change(struct zn_ctl *c, json_t *req, const char *action)
{
    json_int_t id;
    json_t *err = NULL;
    struct ctl_conf_change cc = {0};
    if (!ctl_arg_int(req, "id", 1, ZN_NODE_ID_MAX, &id, &err))
        return err;
    cc.id = (uint8_t)id;
    if (strcmp(action, "add") == 0) {
        if ((err = ctl_arg_addr(req, &cc.addr)) != NULL)
            return err;
        cc.set_peer = true;
        cc.op = json_is_true(json_object_get(req, "learner")) ? ZN_RAFT_CONF_ADD_LEARNER
                                                              : ZN_RAFT_CONF_ADD_VOTER;
    } else if (strcmp(action, "remove") == 0) {
        cc.op = ZN_RAFT_CONF_REMOVE;
    } else {
        cc.op = ZN_RAFT_CONF_PROMOTE;
    }
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_conf_fn, &cc, CTL_CALL_TIMEOUT_NS);
    if (rc == ZN_ENOTLEADER)
        return ctl_not_leader(cc.leader);
    if (rc)
        return ctl_rc_error(rc, "membership change");
    ZN_INFO("ctl", "membership change proposed: %s node %u", action, cc.id);
    return json_pack("{s:b, s:s, s:i}", "ok", 1, "proposed", action, "id", (int)cc.id);
}

struct ctl_transfer {
    uint8_t to;
    uint8_t leader;
    uint8_t chosen;
};

static int ctl_transfer_fn(struct zn_node *n, void *arg)
{
    struct ctl_transfer *t = arg;
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    t->leader = st.leader;
    if (st.role != ZN_RAFT_LEADER)
        return ZN_ENOTLEADER;
    uint8_t to = t->to;
    if (to == 0) { /* the voter heard from most recently */
        uint64_t best = 0;
        for (uint32_t i = 0; i < st.conf.n_voters; i++) {
            uint8_t v = st.conf.voters[i];
            if (v != n->self && n->peer_known[v] && n->peer_heard_ns[v] > best) {
                best = n->peer_heard_ns[v];
                to = v;
            }
        }
        if (to == 0)
            return ZN_ENOENT;
    }
    if (!zn_raft_conf_is_voter(&st.conf, to) || to == n->self)
        return ZN_EINVAL;
    t->chosen = to;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TRANSFER, .now_ns = node_now(n)};
    ev.transfer.to = to;
    return node_step(n, &ev);
}

static json_t *cmd_leader_transfer(struct zn_ctl *c, json_t *req)
{
    struct ctl_transfer t = {0};
    json_t *err = NULL;
    json_int_t to = 0;
    if (json_object_get(req, "to") && !ctl_arg_int(req, "to", 1, ZN_NODE_ID_MAX, &to, &err))
        return err;
    t.to = (uint8_t)to;
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_transfer_fn, &t, CTL_CALL_TIMEOUT_NS);
    if (rc == ZN_ENOTLEADER)
        return ctl_not_leader(t.leader);
    if (rc == ZN_ENOENT)
        return ctl_error("not_found", "no reachable voter to hand leadership to");
    if (rc == ZN_EINVAL)
        return ctl_error("bad_argument", "node %u is not another voter", t.to);
    if (rc)
        return ctl_rc_error(rc, "leadership transfer");
    ZN_INFO("ctl", "leadership transfer to node %u started (operator)", t.chosen);
    return json_pack("{s:b, s:i}", "ok", 1, "to", (int)t.chosen);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

struct ctl_snap {
    uint64_t index;
    uint64_t last;
};

static int ctl_snap_fn(struct zn_node *n, void *arg)
{
    struct ctl_snap *s = arg;
    s->last = n->last_snap_index;
    if (n->snap || n->snap_force)
        return ZN_EBUSY;
    if (!n->snap_disk_open)
        return ZN_ENOTSUP;
    if (n->applied_index <= n->last_snap_index)
        return ZN_ENOENT;
    s->index = n->applied_index;
    n->snap_force = true; /* taken by the apply stage's next run (node_maybe_snapshot) */
    return 0;
}

static json_t *cmd_snapshot_create(struct zn_ctl *c, json_t *req)
{
    (void)req;
    struct ctl_snap s = {0};
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_snap_fn, &s, CTL_CALL_TIMEOUT_NS);
    if (rc == ZN_ENOENT)
        return json_pack("{s:b, s:I, s:b}", "ok", 1, "index", (json_int_t)s.last, "unchanged", 1);
    if (rc == ZN_EBUSY)
        return ctl_error("busy", "a snapshot is being written; retry when it is durable");
    if (rc)
        return ctl_rc_error(rc, "snapshot");
    return json_pack("{s:b, s:I, s:b}", "ok", 1, "index", (json_int_t)s.index, "unchanged", 0);
}

/* "snap-<16 hex>-<16 hex>.snap" */
static bool ctl_snap_name_ok(const char *name)
{
    if (!name || strlen(name) != 43 || strncmp(name, "snap-", 5) != 0 || name[21] != '-' ||
        strcmp(name + 38, ".snap") != 0)
        return false;
    for (unsigned i = 5; i < 38; i++)
        if (i != 21 && !((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    return true;
}

static json_t *cmd_snapshot_list(struct zn_ctl *c, json_t *req)
{
    (void)req;
    char dir[ZN_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/state", ctl_cfg(c)->node.data_dir);
    DIR *d = opendir(dir);
    if (!d)
        return ctl_error("failed", "cannot open %s", dir);
    json_t *a = json_array();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!ctl_snap_name_ok(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue;
        char idx[17], term[17];
        memcpy(idx, de->d_name + 5, 16);
        idx[16] = 0;
        memcpy(term, de->d_name + 22, 16);
        term[16] = 0;
        json_array_append_new(a,
                              json_pack("{s:s, s:I, s:I, s:I, s:I}", "name", de->d_name, "index",
                                        (json_int_t)strtoull(idx, NULL, 16), "term",
                                        (json_int_t)strtoull(term, NULL, 16), "bytes",
                                        (json_int_t)st.st_size, "mtime", (json_int_t)st.st_mtime));
    }
    closedir(d);
    return json_pack("{s:b, s:o}", "ok", 1, "snapshots", a);
}

static json_t *cmd_snapshot_read(struct zn_ctl *c, json_t *req, struct ctl_raw *raw)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    json_int_t off, len;
    json_t *err = NULL;
    if (!ctl_snap_name_ok(name))
        return ctl_error("bad_argument", "\"name\" must be a snapshot file name (snapshot list)");
    if (!ctl_arg_int(req, "offset", 0, INT64_MAX, &off, &err) ||
        !ctl_arg_int(req, "length", 1, ZN_CTL_READ_CHUNK_MAX, &len, &err))
        return err;
    char path[ZN_CONFIG_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/state/%s", ctl_cfg(c)->node.data_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ctl_error("not_found", "snapshot %s: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return ctl_error("failed", "snapshot %s: %s", name, strerror(errno));
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t n = (uint64_t)off >= size ? 0 : size - (uint64_t)off;
    if (n > (uint64_t)len)
        n = (uint64_t)len;
    raw->p = malloc(n ? n : 1);
    ssize_t got = raw->p && n ? pread(fd, raw->p, n, off) : 0;
    close(fd);
    if (!raw->p || got < 0 || (uint64_t)got != n) {
        free(raw->p);
        raw->p = NULL;
        return ctl_error("failed", "snapshot %s: short read", name);
    }
    raw->len = n;
    return json_pack("{s:b, s:I, s:I, s:I}", "ok", 1, "offset", (json_int_t)off, "bytes",
                     (json_int_t)n, "size", (json_int_t)size);
}

/* ---- configuration ------------------------------------------------------------------------- */

/* The runtime keys this build applies to a running node (config.c marks more keys runtime; the
 * others are taken by the consensus core or the poll loops at start only, so `config set`
 * refuses them rather than report a change that would not happen). */
static const char *const ctl_applied_keys[] = {
    "mgmt.log_level",
    "snapshot.interval_entries",
    "snapshot.retain",
    "session.timeout_min_ms",
    "session.timeout_max_ms",
    /* ctl_raft.c: stepped into the core as ZN_RAFT_EV_SETTINGS */
    "raft.election_timeout_ms",
    "raft.heartbeat_interval_ms",
    "raft.priority",
};

struct ctl_cfg_apply {
    const struct zn_config *next;
};

static int ctl_cfg_fn(struct zn_node *n, void *arg)
{
    const struct zn_config *next = ((struct ctl_cfg_apply *)arg)->next;
    if (n->snap && next->snapshot.retain != n->cfg.snapshot.retain)
        return ZN_EBUSY;                     /* the snapshot thread reads retain while it writes */
    int rc = ctl_raft_apply_config(n, next); /* first: the core may refuse the whole change */
    if (rc)
        return rc;
    n->cfg.snapshot.interval_entries = next->snapshot.interval_entries;
    n->cfg.snapshot.retain = next->snapshot.retain;
    n->cfg.session.timeout_min_ms = next->session.timeout_min_ms;
    n->cfg.session.timeout_max_ms = next->session.timeout_max_ms;
    return 0;
}

static json_t *cmd_config_show(struct zn_ctl *c, json_t *req)
{
    (void)req;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return ctl_error("failed", "out of memory");
    zn_config_write(ctl_cfg(c), f);
    fclose(f);
    json_t *keys = json_array();
    for (size_t i = 0; i < sizeof(ctl_applied_keys) / sizeof(ctl_applied_keys[0]); i++)
        json_array_append_new(keys, json_string(ctl_applied_keys[i]));
    json_t *r =
        json_pack("{s:b, s:s, s:o}", "ok", 1, "ini", text ? text : "", "runtime_keys", keys);
    free(text);
    return r;
}

static json_t *cmd_config_set(struct zn_ctl *c, json_t *req)
{
    const char *key = json_string_value(json_object_get(req, "key"));
    const char *value = json_string_value(json_object_get(req, "value"));
    if (!key || !value)
        return ctl_error("bad_argument", "\"key\" (section.key) and \"value\" are required");
    const char *dot = strchr(key, '.');
    char section[64];
    if (!dot || dot == key || (size_t)(dot - key) >= sizeof(section))
        return ctl_error("bad_argument", "key %s: expected section.key", key);
    memcpy(section, key, (size_t)(dot - key));
    section[dot - key] = 0;
    unsigned cur = atomic_load_explicit(&c->cur, memory_order_acquire) & 1u;
    struct zn_config *next = &c->cfg[cur ^ 1u];
    *next = c->cfg[cur];
    char err[512] = "";
    int rc = zn_config_set(next, section, dot + 1, value, true, err, sizeof(err));
    if (rc)
        return ctl_error(rc == ZN_ENOTSUP ? "restart_needed" : "bad_argument", "%s", err);
    bool applied = false;
    for (size_t i = 0; i < sizeof(ctl_applied_keys) / sizeof(ctl_applied_keys[0]); i++)
        applied |= strcmp(ctl_applied_keys[i], key) == 0;
    if (!applied)
        return ctl_error("restart_needed",
                         "%s is read at start by the consensus core or the poll loops in this "
                         "build: change it in the file and restart the node",
                         key);
    rc = zn_config_validate(next, err, sizeof(err));
    if (rc)
        return ctl_error("bad_argument", "%s", err);
    struct ctl_cfg_apply a = {.next = next};
    rc = zn_node_ctrl_call(c->node, c->lc, ctl_cfg_fn, &a, CTL_CALL_TIMEOUT_NS);
    if (rc == ZN_ENOTSUP)
        return ctl_error("restart_needed",
                         "%s cannot change at runtime while [raft] lease_reads is on (the lease "
                         "needs every node's election timeout at least the leader's): change it "
                         "in every node's file and restart",
                         key);
    if (rc)
        return ctl_rc_error(rc, "applying the setting on the lcore");
    enum zn_log_level level;
    if (zn_log_level_parse(next->mgmt.log_level, &level) == 0)
        zn_log_set_level(level);
    atomic_store_explicit(&c->cur, cur ^ 1u, memory_order_release);
    ZN_INFO("ctl", "config set %s = %s (operator)", key, value);
    return json_pack("{s:b, s:s, s:s}", "ok", 1, "key", key, "value", value);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

json_t *ctl_dispatch(struct zn_ctl *c, const char *cmd, json_t *req, struct ctl_raw *raw)
{
    if (strcmp(cmd, "status") == 0)
        return cmd_status(c, req);
    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(c, req);
    if (strcmp(cmd, "latency") == 0)
        return cmd_latency(c, req);
    if (strcmp(cmd, "watches_summary") == 0)
        return cmd_watches(c, req);
    if (strcmp(cmd, "log_info") == 0)
        return cmd_log_info(c, req);
    if (strcmp(cmd, "sessions_list") == 0)
        return cmd_sessions_list(c, req);
    if (strcmp(cmd, "session_kill") == 0)
        return cmd_session_kill(c, req);
    if (strcmp(cmd, "peer_add") == 0)
        return cmd_peer_add(c, req);
    if (strcmp(cmd, "members_add") == 0)
        return cmd_members_change(c, req, "add");
    if (strcmp(cmd, "members_remove") == 0)
        return cmd_members_change(c, req, "remove");
    if (strcmp(cmd, "members_promote") == 0)
        return cmd_members_change(c, req, "promote");
    if (strcmp(cmd, "leader_transfer") == 0)
        return cmd_leader_transfer(c, req);
    if (strcmp(cmd, "leader_priority") == 0)
        return ctl_raft_cmd_leader_priority(c, req);
    if (strcmp(cmd, "snapshot_create") == 0)
        return cmd_snapshot_create(c, req);
    if (strcmp(cmd, "snapshot_list") == 0)
        return cmd_snapshot_list(c, req);
    if (strcmp(cmd, "snapshot_read") == 0)
        return cmd_snapshot_read(c, req, raw);
    if (strcmp(cmd, "config_show") == 0)
        return cmd_config_show(c, req);
    if (strcmp(cmd, "config_set") == 0)
        return cmd_config_set(c, req);
    return ctl_error("unknown_command", "unknown command \"%s\"", cmd);
}

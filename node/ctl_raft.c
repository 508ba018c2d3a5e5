/*
 * ctl_raft.c - the control endpoint's runtime Raft settings: `config set` of
 * raft.election_timeout_ms, raft.heartbeat_interval_ms and raft.priority, and `leader priority`
 * (the hand-over table). Both step ZN_RAFT_EV_SETTINGS on the lcore through zn_node_ctrl_call;
 * the core validates the whole change and applies it at once (timers in flight re-armed).
 *
 * Priorities are per node and not replicated: each node keeps its own priority (campaigning)
 * and a hand-over table (the priority it holds for every other node; a leader hands over to a
 * caught-up voter it holds above itself). The table starts as the node's own [raft] priority and
 * 0 for every other node (hand-over off) and is lost on restart, when the file's values apply.
 */
#include <stdio.h>
#include <string.h>

#include "node/ctl_internal.h"
#include "node/ctl_raft.h"
#include "node/internal.h"

#define CTL_RAFT_CALL_TIMEOUT_NS (2000ull * ZN_NS_PER_MS)

int ctl_raft_apply_config(struct zn_node *n, const struct zn_config *next)
{
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SETTINGS, .now_ns = node_now(n)};
    if (next->raft.priority != n->cfg.raft.priority) {
        ev.settings.what |= ZN_RAFT_SET_PRIORITY;
        ev.settings.priority = (uint8_t)next->raft.priority;
    }
    if (next->raft.election_timeout_ms != n->cfg.raft.election_timeout_ms) {
        ev.settings.what |= ZN_RAFT_SET_ELECTION_TIMEOUT;
        ev.settings.election_timeout_ns = (uint64_t)next->raft.election_timeout_ms * ZN_NS_PER_MS;
    }
    if (next->raft.heartbeat_interval_ms != n->cfg.raft.heartbeat_interval_ms) {
        ev.settings.what |= ZN_RAFT_SET_HEARTBEAT;
        ev.settings.heartbeat_interval_ns =
            (uint64_t)next->raft.heartbeat_interval_ms * ZN_NS_PER_MS;
    }
    if (ev.settings.what == 0)
        return 0;
    int rc = node_step(n, &ev);
    if (rc)
        return rc;
    n->cfg.raft.priority = next->raft.priority;
    n->cfg.raft.election_timeout_ms = next->raft.election_timeout_ms;
    n->cfg.raft.heartbeat_interval_ms = next->raft.heartbeat_interval_ms;
    return 0;
}

json_t *ctl_raft_settings_json(const struct zn_raft_status *rs)
{
    json_t *table = json_object();
    for (uint32_t id = 1; id <= ZN_NODE_ID_MAX; id++) {
        bool member = zn_raft_conf_is_voter(&rs->conf, (uint8_t)id) ||
                      zn_raft_conf_is_learner(&rs->conf, (uint8_t)id);
        if (!member && rs->priorities[id] == 0)
            continue;
        char key[8];
        snprintf(key, sizeof(key), "%u", id);
        json_object_set_new(table, key, json_integer(rs->priorities[id]));
    }
    return json_pack("{s:i, s:o, s:I, s:I}", "priority", (int)rs->priority, "priorities", table,
                     "election_timeout_ms", (json_int_t)(rs->election_timeout_ns / ZN_NS_PER_MS),
                     "heartbeat_interval_ms",
                     (json_int_t)(rs->heartbeat_interval_ns / ZN_NS_PER_MS));
}

struct ctl_prio {
    uint8_t node;
    uint8_t priority;
    struct zn_raft_status rs;
};

static int ctl_prio_fn(struct zn_node *n, void *arg)
{
    struct ctl_prio *p = arg;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SETTINGS, .now_ns = node_now(n)};
    ev.settings.what = ZN_RAFT_SET_NODE_PRIORITY;
    ev.settings.node = p->node;
    ev.settings.node_priority = p->priority;
    int rc = node_step(n, &ev);
    if (rc == 0 && p->node == n->self)
        n->cfg.raft.priority = p->priority;
    zn_raft_status_get(n->raft, &p->rs);
    return rc;
}

json_t *ctl_raft_cmd_leader_priority(struct zn_ctl *c, json_t *req)
{
    json_t *vn = json_object_get(req, "node"), *vp = json_object_get(req, "priority");
    if (!json_is_integer(vn) || json_integer_value(vn) < 1 ||
        json_integer_value(vn) > ZN_NODE_ID_MAX)
        return ctl_error("bad_argument", "\"node\" must be a node id in [1, %d]", ZN_NODE_ID_MAX);
    if (!json_is_integer(vp) || json_integer_value(vp) < 0 || json_integer_value(vp) > 255)
        return ctl_error("bad_argument", "\"priority\" must be an integer in [0, 255]");
    struct ctl_prio p = {.node = (uint8_t)json_integer_value(vn),
                         .priority = (uint8_t)json_integer_value(vp)};
    /* The node's own priority is also a config key: keep `config show` truthful by publishing
     * a copy with it, as `config set raft.priority` does. */
    unsigned cur = atomic_load_explicit(&c->cur, memory_order_acquire) & 1u;
    struct zn_config *next = &c->cfg[cur ^ 1u];
    *next = c->cfg[cur];
    int rc = zn_node_ctrl_call(c->node, c->lc, ctl_prio_fn, &p, CTL_RAFT_CALL_TIMEOUT_NS);
    if (rc)
        return ctl_error(rc == ZN_EINVAL ? "bad_argument" : "failed",
                         "setting priority %u for node %u: %s", p.priority, p.node,
                         zn_strerror(rc));
    if (p.node == p.rs.id) {
        next->raft.priority = p.priority;
        atomic_store_explicit(&c->cur, cur ^ 1u, memory_order_release);
    }
    ZN_INFO("ctl", "leader priority of node %u = %u (operator; per node, not replicated)", p.node,
            p.priority);
    json_t *r = ctl_raft_settings_json(&p.rs);
    json_object_set_new(r, "ok", json_true());
    json_object_set_new(r, "id", json_integer(p.rs.id));
    json_object_set_new(r, "role", json_string(zn_raft_role_name(p.rs.role)));
    json_object_set_new(r, "leader", json_integer(p.rs.leader));
    return r;
}

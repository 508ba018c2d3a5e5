/*
 * ctl_raft.h - runtime Raft settings for the control endpoint (ctl_raft.c): `config set` of the
 * raft keys and `leader priority`, applied on the lcore with ZN_RAFT_EV_SETTINGS.
 */
#ifndef ZN_NODE_CTL_RAFT_H
#define ZN_NODE_CTL_RAFT_H

#include <jansson.h>

#include "consensus/raft.h"
#include "mgmt/config.h"

struct zn_ctl;
struct zn_node;

/* On the lcore: step the changed raft.{priority, election_timeout_ms, heartbeat_interval_ms}
 * of next into the core (validated whole) and take them into n->cfg; 0 or the core's error
 * (ZN_EINVAL, ZN_ENOTSUP with lease reads), nothing changed on error. */
int ctl_raft_apply_config(struct zn_node *n, const struct zn_config *next);
/* {"priority", "priorities": {"id": p, ...} (members and non-zero rows), "election_timeout_ms",
 * "heartbeat_interval_ms"}: the settings the core holds. */
json_t *ctl_raft_settings_json(const struct zn_raft_status *rs);
/* "leader_priority" {node, priority}: this node's table row for node (its own priority when it
 * is this node); replies with the settings the node now holds. */
json_t *ctl_raft_cmd_leader_priority(struct zn_ctl *c, json_t *req);

#endif /* ZN_NODE_CTL_RAFT_H */

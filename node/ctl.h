/*
 * ctl.h - zincd's control endpoint: what `zincctl` talks to (docs/operations.md "Control
 * protocol").
 *
 * Listeners: a Unix stream socket ([mgmt] control_socket, default <data_dir>/control.sock,
 * mode 0600: whoever can open it is trusted like the data directory's owner) and, when
 * [control] tcp_port is set, a TCP listener on [control] tcp_host whose every request must carry
 * the token read from [control] token_file (compared in constant time; the token is never
 * logged or echoed).
 *
 * Framing: one JSON object per line each way. A request is {"cmd": NAME, ...arguments...,
 * "token": T (TCP only)}; the reply is {"ok": true, ...} or {"ok": false, "error": CODE,
 * "message": TEXT[, "leader": ID]}. The one exception is `snapshot_read`, whose reply line
 * announces "bytes": N and is followed by exactly N raw bytes of the snapshot file.
 *
 * Cluster-changing commands (members add/remove/promote, leader transfer, session kill) are
 * proposed through Raft by the leader. A follower does not forward them: it replies
 * error "not_leader" with the leader's id, and zincctl retries on that node's endpoint.
 *
 * Context: the management thread only (node/zincd.c's loop). zn_ctl_poll never blocks: sockets
 * are non-blocking, each connection gets at most one request handled per call, replies wait in
 * a bounded per-connection buffer. Lcore-owned state is read or changed only through
 * zn_node_ctrl_call (a control message run on the lcore, bounded wait).
 */
#ifndef ZN_NODE_CTL_H
#define ZN_NODE_CTL_H

#include "common/zn_clock.h"
#include "dataplane/zn_dp_loop.h"
#include "mgmt/config.h"
#include "node/node.h"

struct zn_ctl;

/*
 * Open the listeners. cfg is copied (the endpoint keeps the running configuration, double
 * buffered, for `config show`/`config set`). Returns 0, or ZN_EINVAL/ZN_EIO with a sentence in
 * err (socket path too long, cannot bind, token file missing or empty).
 */
int zn_ctl_open(const struct zn_config *cfg, struct zn_node *node, struct zn_dp_lcore *lc,
                const struct zn_clock *clock, struct zn_ctl **out, char *err, size_t err_len);

/* Accept, read, handle and write what is ready now; never blocks. */
void zn_ctl_poll(struct zn_ctl *c);

/* Close every connection and the listeners; unlink the Unix socket. */
void zn_ctl_close(struct zn_ctl *c);

#endif /* ZN_NODE_CTL_H */

/*
 * node_moved.c - a session that moved to another node is dropped here as soon as this node
 * learns of it, not only once its client has been silent here for a whole timeout.
 *
 * The node that accepts a reconnection of an existing session (a new connection attempt, epoch
 * = the client's CONNECT ack, which grows with every attempt) tells every other member (MOVED,
 * node/nodemsg.h). A member that owns an older connection of that session forgets it there: its
 * watches, queued events and held replies go (the client re-registers its watches with the node
 * it is on now), and events stop being retransmitted to an address that no longer listens. The
 * epoch keeps a late MOVED from dropping a newer connection that came back to this node. A lost
 * MOVED costs what it cost before: the silent-timeout drop (node_retransmit_events).
 */
#include "node/internal.h"

void node_announce_moved(struct zn_node *n, const struct zn_session_row *row)
{
    struct zn_nodemsg m = {.kind = ZN_NODEMSG_MOVED, .origin = n->self};
    m.u.moved.session = row->id;
    m.u.moved.epoch = row->epoch;
    for (unsigned id = 1; id <= ZN_NODE_ID_MAX; id++)
        if (id != n->self && n->peer_known[id])
            node_send_nodemsg(n, (uint8_t)id, &m);
}

void node_on_moved(struct zn_node *n, const struct zn_nodemsg *m)
{
    struct zn_session_row *row = zn_sessions_find(&n->sess, m->u.moved.session);
    if (!row || !(row->flags & ZN_SESSIONS_F_OWNED) || row->epoch >= m->u.moved.epoch)
        return;
    ZN_INFO("node", "session %016llx moved to node %u (connection %llu): dropped here",
            (unsigned long long)row->id, m->origin, (unsigned long long)m->u.moved.epoch);
    n->n_moved++;
    uint64_t id = row->id;
    node_session_forget(n, id, ZN_SESSIONS_F_OWNED);
    node_auth_forget(n, id); /* identities belong to the connection's node (node_auth.c) */
}

/*
 * node_auth.c - addAuth and whoAmI for the native protocol, and the identities every request of
 * a session carries (node/auth.h).
 *
 * Identities are node-local, per session, as ZooKeeper keeps them per connection: a session's
 * set lives on the node its client is connected to, from its first addAuth until the session
 * closes or moves to another node (reconnecting to the same node keeps it). Every session also
 * has its client's ip identity. A write carries the identities to the leader (FORWARD ids) and
 * the leader stamps them into the log entry, so every replica checks ACLs (and expands `auth`
 * ACLs) with the same identities; a read is checked here with them.
 *
 * Sessions with an addAuth are kept in an open-addressed table (linear probing, deletion by
 * backward shift) of ZN_NODE_AUTH_SESSIONS_MAX slots; a full table refuses addAuth with
 * ZN_ELIMIT (THROTTLEDOP-free: the client sees an error and may retry elsewhere).
 */
#include "node/internal.h"

static uint32_t node_auth_home(uint64_t session)
{
    return (uint32_t)((session * 0x9E3779B97F4A7C15ull) >> 40) & (ZN_NODE_AUTH_SESSIONS_MAX - 1);
}

static struct node_auth_slot *node_auth_find(struct zn_node *n, uint64_t session)
{
    if (!n->auth)
        return NULL;
    for (uint32_t i = node_auth_home(session), k = 0; k < ZN_NODE_AUTH_SESSIONS_MAX;
         i = (i + 1) & (ZN_NODE_AUTH_SESSIONS_MAX - 1), k++) {
        if (!n->auth[i].session)
            return NULL;
        if (n->auth[i].session == session)
            return &n->auth[i];
    }
    return NULL;
}

void node_auth_forget(struct zn_node *n, uint64_t session)
{
    struct node_auth_slot *s = node_auth_find(n, session);
    if (!s)
        return;
    const uint32_t mask = ZN_NODE_AUTH_SESSIONS_MAX - 1;
    uint32_t hole = (uint32_t)(s - n->auth);
    free(s->set);
    s->session = 0;
    s->set = NULL;
    n->n_auth--;
    /* Backward shift: move later entries of the run into the hole when their home allows. */
    for (uint32_t i = (hole + 1) & mask; n->auth[i].session; i = (i + 1) & mask) {
        uint32_t home = node_auth_home(n->auth[i].session);
        bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (movable) {
            n->auth[hole] = n->auth[i];
            n->auth[i].session = 0;
            n->auth[i].set = NULL;
            hole = i;
        }
    }
}

/* The client's address for its ip identity: a ZooKeeper TCP connection's real peer address
 * (the session's client address is the port's pseudo address {ZN_ZKPORT_IP, slot}). */
static uint32_t node_auth_client_ip(const struct zn_node *n, const struct zn_session_row *row)
{
    if (row->client_ip == ZN_ZKPORT_IP && n->zk)
        return zn_zkport_link_peer_ip(n->zk, row->client_port);
    return row->client_ip;
}

/* The session's identity set, created (with its ip identity) on first use. */
static struct zn_auth_set *node_auth_set_for(struct zn_node *n, struct zn_session_row *row)
{
    struct node_auth_slot *s = node_auth_find(n, row->id);
    if (s)
        return s->set;
    if (!n->auth) {
        n->auth = calloc(ZN_NODE_AUTH_SESSIONS_MAX, sizeof(*n->auth));
        if (!n->auth)
            return NULL;
    }
    if (n->n_auth + 1 >= ZN_NODE_AUTH_SESSIONS_MAX)
        return NULL;
    struct zn_auth_set *set = malloc(sizeof(*set));
    if (!set)
        return NULL;
    zn_auth_set_init(set);
    zn_auth_add_ip(set, node_auth_client_ip(n, row));
    uint32_t i = node_auth_home(row->id);
    while (n->auth[i].session)
        i = (i + 1) & (ZN_NODE_AUTH_SESSIONS_MAX - 1);
    n->auth[i].session = row->id;
    n->auth[i].set = set;
    n->n_auth++;
    return set;
}

uint32_t node_auth_ids(struct zn_node *n, const struct zn_session_row *row, struct zn_identity *out,
                       uint32_t max)
{
    struct node_auth_slot *s = node_auth_find(n, row->id);
    if (s)
        return zn_auth_identities(s->set, out, max);
    /* No addAuth: the client's ip identity only (ZooKeeper gives it to every connection). */
    static struct zn_auth_set ip_only;
    zn_auth_set_init(&ip_only);
    zn_auth_add_ip(&ip_only, node_auth_client_ip(n, row));
    return zn_auth_identities(&ip_only, out, max);
}

uint32_t node_auth_fwd_ids(struct zn_node *n, const struct zn_session_row *row,
                           struct zn_nodemsg_ident *out, uint32_t max)
{
    struct zn_identity ids[ZN_AUTH_IDS_MAX];
    uint32_t k = node_auth_ids(n, row, ids, max < ZN_AUTH_IDS_MAX ? max : ZN_AUTH_IDS_MAX);
    for (uint32_t i = 0; i < k; i++) {
        out[i].scheme = zn_bytes_make(ids[i].scheme.ptr, ids[i].scheme.len);
        out[i].id = zn_bytes_make(ids[i].id.ptr, ids[i].id.len);
    }
    return k;
}

/* addAuth and whoAmI: answered at once by this node, in the session's order. */
bool node_auth_request(struct zn_node *n, struct zn_session_row *row, uint64_t seq,
                       const struct zn_zk_request *req)
{
    if (req->type != ZN_ZK_OP_AUTH && req->type != ZN_ZK_OP_WHOAMI)
        return false;
    uint8_t *body = n->tx + ZN_SESS_HDR_BYTES;
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, body, ZN_MSG_SIZE_MAX_BYTES - ZN_SESS_HDR_BYTES);
    uint64_t applied = zn_store_applied_zxid(n->store);
    int rc = 0;
    if (req->type == ZN_ZK_OP_AUTH) {
        struct zn_auth_set *set = node_auth_set_for(n, row);
        rc = set ? zn_auth_add(set, (const char *)req->u.auth.scheme.ptr,
                               (size_t)req->u.auth.scheme.len, req->u.auth.auth.ptr,
                               (size_t)req->u.auth.auth.len)
                 : ZN_ELIMIT;
        ZN_INFO("node", "session %016llx: addAuth %.*s %s", (unsigned long long)row->id,
                (int)req->u.auth.scheme.len, (const char *)req->u.auth.scheme.ptr,
                rc ? zn_strerror(rc) : "accepted");
        /* ZooKeeper answers auth with zxid 0 (success and AuthFailed alike). */
        zn_zkconv_error((int32_t)(uint32_t)seq, 0, rc, &w);
    } else {
        struct zn_identity ids[ZN_AUTH_IDS_MAX];
        uint32_t k = node_auth_ids(n, row, ids, ZN_AUTH_IDS_MAX);
        struct zn_zk_reply_header rh = {
            .xid = (int32_t)(uint32_t)seq, .zxid = (int64_t)applied, .err = 0};
        zn_zk_put_reply_header(&w, &rh);
        zn_jute_put_int(&w, (int32_t)k);
        /* ZooKeeper's ClientInfo: the user name of each identity (DigestAuthenticationProvider
         * getUserName: the part before ':', never the hash), the addAuth identities before the
         * connection's ip one, as ZooKeeper 3.8 lists them. */
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t i = 0; i < k; i++) {
                bool is_ip = ids[i].scheme.len == 2 && !memcmp(ids[i].scheme.ptr, "ip", 2);
                if (is_ip != (pass == 1))
                    continue;
                uint32_t user_len = ids[i].id.len;
                const char *colon = memchr(ids[i].id.ptr, ':', ids[i].id.len);
                if (!is_ip && colon)
                    user_len = (uint32_t)(colon - ids[i].id.ptr);
                zn_jute_put_buffer(&w, zn_bytes_make(ids[i].scheme.ptr, ids[i].scheme.len));
                zn_jute_put_buffer(&w, zn_bytes_make(ids[i].id.ptr, user_len));
            }
        }
    }
    struct zn_sess_hdr h = {.kind = ZN_SESS_REPLY,
                            .leader = n->leader,
                            .session_id = row->id,
                            .seq = seq,
                            .ack = row->next_seq - 1,
                            .zxid = applied};
    node_send_reply(n, row, &h, body, w.len, false);
    return true;
}

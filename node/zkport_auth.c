/*
 * zkport_auth.c - addAuth for the sessions of this node (ZooKeeper's AuthPacket, xid -4), used
 * by ZooKeeper clients through node/zkport.c and by any native client that sends an auth
 * request (opcode 100).
 *
 * ZooKeeper keeps authentication per connection: a client re-sends its auth data after every
 * reconnect. So the identities live here, node-local, with the session's ownership (dropped
 * when this node stops serving the session, node_session_forget) and are stamped into what the
 * session does: reads (zn_store_read), writes (the entry's ids, proposed here or forwarded to
 * the leader in the FORWARD message), and watch delivery (zn_watch_session_auth). Schemes:
 * digest ("user:password" -> "user:base64(sha1(user:password))", store/auth.h). Any other scheme
 * answers AuthFailed (ZooKeeper: an unknown scheme fails the authentication).
 *
 * Context: the lcore that owns the node. Memory: one table allocated at open.
 */
#include "node/internal.h"
#include "store/auth.h"

struct zn_node_auth {
    uint64_t session; /* 0: free */
    uint32_t n;
    struct zn_identity ids[ZN_NODE_AUTH_IDS_MAX];
    uint32_t text_len;
    char text[ZN_NODE_AUTH_TEXT_BYTES];
};

int node_auth_init(struct zn_node *n)
{
    n->auth = calloc(ZN_NODE_AUTH_SESSIONS_MAX, sizeof(*n->auth));
    return n->auth ? 0 : ZN_ENOMEM;
}

void node_auth_fini(struct zn_node *n)
{
    free(n->auth);
    n->auth = NULL;
}

static struct zn_node_auth *node_auth_find(struct zn_node *n, uint64_t session, bool create)
{
    struct zn_node_auth *free_slot = NULL;
    for (uint32_t i = 0; i < ZN_NODE_AUTH_SESSIONS_MAX; i++) {
        struct zn_node_auth *a = &n->auth[i];
        if (a->session == session)
            return a;
        if (!a->session && !free_slot)
            free_slot = a;
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->session = session;
    return free_slot;
}

const struct zn_identity *node_auth_ids(struct zn_node *n, uint64_t session, uint32_t *count)
{
    *count = 0;
    if (!n->auth)
        return NULL;
    struct zn_node_auth *a = node_auth_find(n, session, false);
    if (!a)
        return NULL;
    *count = a->n;
    return a->ids;
}

void node_auth_drop(struct zn_node *n, uint64_t session)
{
    struct zn_node_auth *a = n->auth ? node_auth_find(n, session, false) : NULL;
    if (a)
        memset(a, 0, sizeof(*a));
}

/* Copy len bytes into a's text area; NULL when it does not fit. */
static const char *node_auth_keep(struct zn_node_auth *a, const char *p, size_t len)
{
    if (len > sizeof(a->text) - a->text_len)
        return NULL;
    char *dst = a->text + a->text_len;
    memcpy(dst, p, len);
    a->text_len += (uint32_t)len;
    return dst;
}

int node_auth_add(struct zn_node *n, uint64_t session, struct zn_bytes scheme, struct zn_bytes cred)
{
    if (!zn_bytes_eq_str(scheme, "digest") || cred.len <= 0)
        return ZN_EAUTHFAILED;
    char id[ZN_AUTH_DIGEST_ID_MAX(ZN_NODE_AUTH_TEXT_BYTES)];
    size_t id_len = 0;
    if ((size_t)cred.len > ZN_NODE_AUTH_TEXT_BYTES ||
        zn_auth_digest_identity((const char *)cred.ptr, (size_t)cred.len, id, sizeof(id),
                                &id_len) != 0)
        return ZN_EAUTHFAILED;
    struct zn_node_auth *a = node_auth_find(n, session, true);
    if (!a)
        return ZN_EAUTHFAILED; /* table full: refused, never ignored */
    for (uint32_t i = 0; i < a->n; i++)
        if (a->ids[i].id.len == id_len && !memcmp(a->ids[i].id.ptr, id, id_len))
            return 0; /* already there */
    if (a->n == ZN_NODE_AUTH_IDS_MAX)
        return ZN_EAUTHFAILED;
    const char *sp = node_auth_keep(a, "digest", 6);
    const char *ip = node_auth_keep(a, id, id_len);
    if (!sp || !ip) {
        if (a->n == 0)
            memset(a, 0, sizeof(*a));
        return ZN_EAUTHFAILED;
    }
    a->ids[a->n].scheme = (struct zn_str){sp, 6};
    a->ids[a->n].id = (struct zn_str){ip, (uint32_t)id_len};
    a->n++;
    zn_watch_session_auth(n->watches, session, a->ids, a->n);
    return 0;
}

/*
 * whoAmI (107): WhoAmIResponse{vector<ClientInfo{authScheme, user}>} - the connection's
 * identities as ZooKeeper lists them: ("ip", address) for a client this node hears over UDP
 * (node/zkport.c adds the TCP peer's address itself), then each addAuth identity.
 */
void node_reply_whoami(struct zn_node *n, struct zn_session_row *row, uint64_t seq)
{
    uint8_t *body = n->tx + ZN_SESS_HDR_BYTES;
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, body, ZN_MSG_SIZE_MAX_BYTES - ZN_SESS_HDR_BYTES);
    uint64_t applied = zn_store_applied_zxid(n->store);
    struct zn_zk_reply_header rh = {.xid = (int32_t)(uint32_t)seq, .zxid = (int64_t)applied};
    zn_zk_put_reply_header(&w, &rh);
    uint32_t n_ids;
    const struct zn_identity *ids = node_auth_ids(n, row->id, &n_ids);
    bool udp = row->client_ip != ZN_ZKPORT_IP;
    zn_jute_put_int(&w, (int32_t)(n_ids + (udp ? 1u : 0u)));
    if (udp) {
        char ip[16];
        snprintf(ip, sizeof(ip), "%u.%u.%u.%u", row->client_ip >> 24, (row->client_ip >> 16) & 255,
                 (row->client_ip >> 8) & 255, row->client_ip & 255);
        zn_jute_put_string(&w, "ip");
        zn_jute_put_string(&w, ip);
    }
    for (uint32_t i = 0; i < n_ids; i++) {
        zn_jute_put_buffer(&w, zn_bytes_make(ids[i].scheme.ptr, ids[i].scheme.len));
        zn_jute_put_buffer(&w, zn_bytes_make(ids[i].id.ptr, ids[i].id.len));
    }
    ZN_ASSERT(w.err == 0);
    struct zn_sess_hdr h = {.kind = ZN_SESS_REPLY,
                            .leader = n->leader,
                            .session_id = row->id,
                            .seq = seq,
                            .ack = row->next_seq - 1,
                            .zxid = applied};
    node_send_reply(n, row, &h, body, w.len, false);
}

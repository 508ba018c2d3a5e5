/*
 * metrics_server.c - the HTTP endpoint and the DPDK telemetry commands (see metrics_server.h).
 *
 * Threads: the management thread (start, tick, stop), libmicrohttpd's internal polling thread
 * (one: scrapes are rendered one at a time under scrape_lock, so the view needs no other
 * protection), DPDK's telemetry thread (its callbacks copy the published snapshot under the
 * publication mutex). None of them ever waits for the lcore except tick, which waits at most
 * ZN_METRICS_CTRL_WAIT_NS for the lcore's copy.
 *
 * The one global: rte_telemetry callbacks take no context argument (DPDK 22.11), so the server
 * they read is a static pointer guarded by a static mutex; stop clears it under that mutex, so
 * a telemetry request that comes after stop answers with an error instead of reading freed
 * memory.
 */
#include "node/metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <rte_telemetry.h>

#include "common/zn_err.h"
#include "common/zn_log.h"
#include "node/metrics_node.h"

#define ZN_METRICS_CTRL_WAIT_NS   (200ull * 1000 * 1000)
#define ZN_METRICS_HTTP_CONNS_MAX 32u
#define ZN_METRICS_HTTP_TIMEOUT_S 10u
#define ZN_METRICS_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"

struct zn_metrics_server {
    struct zn_metrics_reg *reg;
    struct zn_metrics_pub pub;
    struct zn_node_metrics_set set;
    pthread_mutex_t scrape_lock;
    struct zn_node_metrics view;  /* the renderer's copy (under scrape_lock) */
    struct zn_node_metrics fresh; /* the management thread's copy (tick) */
    struct MHD_Daemon *httpd;
    uint64_t next_publish_ns;
    uint64_t ctrl_failures;
    bool telemetry;
};

/* ---- rendering ------------------------------------------------------------------------------ */

int zn_metrics_server_render(struct zn_metrics_server *s, char **text, size_t *len)
{
    pthread_mutex_lock(&s->scrape_lock);
    zn_metrics_pub_get(&s->pub, &s->view);
    int rc = zn_metrics_render(s->reg, text, len);
    pthread_mutex_unlock(&s->scrape_lock);
    return rc;
}

static enum MHD_Result zn_metrics_reply(struct MHD_Connection *c, unsigned status, const char *text,
                                        const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result zn_metrics_http(void *cls, struct MHD_Connection *c, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct zn_metrics_server *s = cls;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (*con_cls == NULL) {
        /* first call: headers only; a request body (none is expected) comes in later calls */
        *con_cls = s;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* discard a body */
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0) {
        if (strcmp(url, "/") == 0 && (get || head))
            return zn_metrics_reply(c, MHD_HTTP_OK, "zincd: metrics at /metrics\n", NULL);
        return zn_metrics_reply(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
    }
    if (!get && !head)
        return zn_metrics_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                "GET, HEAD");
    char *text = NULL;
    size_t len = 0;
    int rc = zn_metrics_server_render(s, &text, &len);
    if (rc) {
        ZN_WARN("metrics", "scrape failed: %s", zn_strerror(rc));
        return zn_metrics_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "render failed\n", NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ZN_METRICS_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- DPDK telemetry --------------------------------------------------------------------------- */

static pthread_mutex_t zn_tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zn_metrics_server *zn_tel_server; /* under zn_tel_lock */
static bool zn_tel_registered;                  /* under zn_tel_lock */

/* Copy the published snapshot for a telemetry request; false when no server is attached. */
static bool zn_tel_snapshot(struct zn_node_metrics *m)
{
    pthread_mutex_lock(&zn_tel_lock);
    bool ok = zn_tel_server != NULL;
    if (ok)
        zn_metrics_pub_get(&zn_tel_server->pub, m);
    pthread_mutex_unlock(&zn_tel_lock);
    return ok && m->valid;
}

static int zn_tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    struct zn_node_metrics *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    if (!zn_tel_snapshot(m)) {
        free(m);
        return -EAGAIN;
    }
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "id", m->id);
    rte_tel_data_add_dict_u64(d, "cluster_id", m->cluster_id);
    rte_tel_data_add_dict_string(d, "role", zn_raft_role_name(m->raft.role));
    rte_tel_data_add_dict_u64(d, "term", m->raft.term);
    rte_tel_data_add_dict_u64(d, "leader", m->raft.leader);
    rte_tel_data_add_dict_u64(d, "commit", m->raft.commit);
    rte_tel_data_add_dict_u64(d, "applied", m->applied);
    rte_tel_data_add_dict_u64(d, "first_index", m->raft.first_index);
    rte_tel_data_add_dict_u64(d, "last_index", m->raft.last_index);
    rte_tel_data_add_dict_u64(d, "snapshot_index", m->raft.snap_index);
    rte_tel_data_add_dict_u64(d, "voters", m->raft.conf.n_voters);
    rte_tel_data_add_dict_u64(d, "learners", m->raft.conf.n_learners);
    rte_tel_data_add_dict_u64(d, "sessions", m->sessions);
    rte_tel_data_add_dict_u64(d, "znodes", m->znodes);
    rte_tel_data_add_dict_u64(d, "watches", m->watches);
    rte_tel_data_add_dict_u64(d, "ready", m->ready);
    rte_tel_data_add_dict_u64(d, "last_election_ms", (uint64_t)m->last_election_ms);
    rte_tel_data_add_dict_u64(d, "collected_ms", (uint64_t)m->collected_ms);
    free(m);
    return 0;
}

static int zn_tel_counters(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    struct zn_node_metrics *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    if (!zn_tel_snapshot(m)) {
        free(m);
        return -EAGAIN;
    }
    rte_tel_data_start_dict(d);
#define ZN_TEL(name, v) rte_tel_data_add_dict_u64(d, name, (uint64_t)(v))
    ZN_TEL("wal_write_bytes", m->wal_write_bytes);
    ZN_TEL("wal_fsyncs", m->wal_fsyncs);
    ZN_TEL("wal_fsync_errors", m->wal_fsync_errors);
    ZN_TEL("wal_segments", m->wal_segments);
    ZN_TEL("snapshots_taken", m->mc.snapshots_taken);
    ZN_TEL("snapshots_installed", m->mc.snapshots_installed);
    ZN_TEL("snapshot_bytes", m->mc.snapshot_bytes);
    ZN_TEL("elections_leader_lost", m->mc.elections[ZN_ELECTION_LEADER_LOST]);
    ZN_TEL("elections_no_leader", m->mc.elections[ZN_ELECTION_NO_LEADER]);
    ZN_TEL("leader_elected", m->mc.became_leader);
    ZN_TEL("proposals", m->proposals);
    ZN_TEL("forwarded", m->forwarded);
    ZN_TEL("client_dropped", m->client_dropped);
    ZN_TEL("msgs_rx", m->msgr.rx_msgs);
    ZN_TEL("msgs_tx", m->msgr.tx_msgs);
    ZN_TEL("frames_drop_malformed", m->msgr.drop_malformed);
    ZN_TEL("frames_drop_version", m->msgr.drop_version);
    ZN_TEL("frames_drop_checksum", m->msgr.drop_checksum);
    ZN_TEL("frames_drop_cluster", m->msgr.drop_cluster);
    ZN_TEL("frames_drop_oversize", m->msgr.drop_oversize);
    ZN_TEL("frames_drop_reassembly", m->msgr.drop_reasm);
    ZN_TEL("lcore_busy_iterations", m->lcore.busy_iterations);
    ZN_TEL("lcore_idle_iterations", m->lcore.empty_iterations);
    ZN_TEL("lcore_yields", m->lcore.yields);
    ZN_TEL("lcore_sleeps", m->lcore.sleeps);
    ZN_TEL("port_rx_packets", m->has_port ? m->port_ipackets : m->transport.rx_dgrams);
    ZN_TEL("port_tx_packets", m->has_port ? m->port_opackets : m->transport.tx_dgrams);
    ZN_TEL("port_rx_bytes", m->has_port ? m->port_ibytes : m->transport.rx_bytes);
    ZN_TEL("port_tx_bytes", m->has_port ? m->port_obytes : m->transport.tx_bytes);
    if (m->has_stack) {
#define ZN_TEL_STACK_(name, text) ZN_TEL("stack_" #name, m->stack.name);
        ZN_DP_STACK_COUNTERS(ZN_TEL_STACK_)
#undef ZN_TEL_STACK_
    }
    for (uint8_t t = 1; t <= ZN_RAFT_MSG_TYPE_MAX; t++) {
        char type[32], name[64];
        zn_node_metrics_msg_type_name(t, type, sizeof(type));
        snprintf(name, sizeof(name), "raft_tx_%s", type);
        ZN_TEL(name, m->mc.raft_sent[t]);
        snprintf(name, sizeof(name), "raft_rx_%s", type);
        ZN_TEL(name, m->mc.raft_received[t]);
    }
#undef ZN_TEL
    free(m);
    return 0;
}

/* Attach s to the telemetry commands (registered once per process). */
static void zn_tel_attach(struct zn_metrics_server *s)
{
    pthread_mutex_lock(&zn_tel_lock);
    if (!zn_tel_registered) {
        int a = rte_telemetry_register_cmd(
            "/zinc/status", zn_tel_status,
            "zinc node status: role, term, leader, indexes, sessions, znodes, watches");
        int b = rte_telemetry_register_cmd(
            "/zinc/counters", zn_tel_counters,
            "zinc counters: WAL, snapshots, elections, drops, ports, lcore, raft messages");
        zn_tel_registered = a == 0 && b == 0;
        if (!zn_tel_registered)
            ZN_WARN("metrics", "cannot register the DPDK telemetry commands (%d, %d)", a, b);
    }
    if (zn_tel_registered)
        zn_tel_server = s;
    s->telemetry = zn_tel_registered;
    pthread_mutex_unlock(&zn_tel_lock);
}

static void zn_tel_detach(struct zn_metrics_server *s)
{
    pthread_mutex_lock(&zn_tel_lock);
    if (zn_tel_server == s)
        zn_tel_server = NULL;
    pthread_mutex_unlock(&zn_tel_lock);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

int zn_metrics_server_start(const struct zn_config *cfg, struct zn_metrics_server **out, char *err,
                            size_t err_len)
{
    struct zn_metrics_server *s = calloc(1, sizeof(*s));
    if (!s)
        return ZN_ENOMEM;
    zn_metrics_pub_init(&s->pub);
    pthread_mutex_init(&s->scrape_lock, NULL);
    int rc = zn_metrics_reg_create(&s->reg);
    if (!rc)
        rc = zn_node_metrics_register(s->reg, &s->set, &s->view);
    if (rc) {
        snprintf(err, err_len, "metrics registry: %s", zn_strerror(rc));
        zn_metrics_server_stop(s);
        return rc;
    }
    if (cfg->mgmt.metrics_port != 0) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg->mgmt.metrics_port)};
        if (inet_pton(AF_INET, cfg->metrics.listen_host, &sa.sin_addr) != 1) {
            snprintf(err, err_len, "[metrics] listen_host %s is not an IPv4 address",
                     cfg->metrics.listen_host);
            zn_metrics_server_stop(s);
            return ZN_EINVAL;
        }
        s->httpd = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, cfg->mgmt.metrics_port, NULL, NULL,
            zn_metrics_http, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_CONNECTION_LIMIT, ZN_METRICS_HTTP_CONNS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
            ZN_METRICS_HTTP_TIMEOUT_S, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
        if (!s->httpd) {
            snprintf(err, err_len, "cannot listen for metrics on %s:%u (port in use?)",
                     cfg->metrics.listen_host, cfg->mgmt.metrics_port);
            zn_metrics_server_stop(s);
            return ZN_EIO;
        }
        ZN_INFO("metrics", "Prometheus endpoint on http://%s:%u/metrics", cfg->metrics.listen_host,
                cfg->mgmt.metrics_port);
    }
    if (cfg->net.transport == ZN_TRANSPORT_DPDK)
        zn_tel_attach(s);
    else
        ZN_DEBUG("metrics", "kernel-UDP transport: no DPDK telemetry");
    *out = s;
    return 0;
}

struct zn_metrics_reg *zn_metrics_server_registry(struct zn_metrics_server *s)
{
    return s->reg;
}

void zn_metrics_server_tick(struct zn_metrics_server *s, struct zn_node *n, struct zn_dp_lcore *lc,
                            uint64_t now_ns)
{
    if (!s || now_ns < s->next_publish_ns)
        return;
    s->next_publish_ns = now_ns + ZN_METRICS_PUBLISH_NS;
    int rc = zn_node_ctrl_metrics(n, lc, &s->fresh, ZN_METRICS_CTRL_WAIT_NS);
    if (rc == 0) {
        zn_metrics_pub_put(&s->pub, &s->fresh);
    } else if (s->ctrl_failures++ % 100 == 0) {
        ZN_WARN("metrics", "the lcore did not copy its counters: %s (scrapes show older values)",
                zn_strerror(rc));
    }
}

void zn_metrics_server_publish(struct zn_metrics_server *s, const struct zn_node_metrics *m)
{
    zn_metrics_pub_put(&s->pub, m);
}

void zn_metrics_server_stop(struct zn_metrics_server *s)
{
    if (!s)
        return;
    if (s->httpd)
        MHD_stop_daemon(s->httpd);
    if (s->telemetry)
        zn_tel_detach(s);
    zn_metrics_reg_destroy(s->reg);
    pthread_mutex_destroy(&s->scrape_lock);
    zn_metrics_pub_fini(&s->pub);
    free(s);
}

/*
 * node/ports.c - one DPDK port per peer plus a kernel-UDP client listener (see ports.h).
 */
#include "node/ports.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "common/zn_err.h"
#include "common/zn_log.h"

static void ports_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ports_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

bool node_ports_wanted(const struct zn_config *cfg)
{
    return cfg->peers.ports[0] != '\0' || cfg->peers.memif_dir[0] != '\0';
}

static bool ports_is_member(const struct zn_config *cfg, unsigned id)
{
    for (uint32_t i = 0; i < cfg->cluster.n_members; i++)
        if (cfg->cluster.members[i].id == id)
            return true;
    return false;
}

/* Fill name, memif, memif_client and socket from spec->devargs. */
static int ports_describe(struct node_port_spec *s)
{
    size_t n = strcspn(s->devargs, ",");
    if (n == 0 || n >= sizeof(s->name))
        return ZN_EINVAL;
    memcpy(s->name, s->devargs, n);
    s->name[n] = '\0';
    s->memif = strncmp(s->name, "net_memif", 9) == 0;
    s->memif_client = false;
    s->socket[0] = '\0';
    bool abstract = true; /* memif's default (pitfall 5) */
    char buf[sizeof(s->devargs)];
    snprintf(buf, sizeof(buf), "%s", s->devargs);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        if (!strcmp(kv, "role=client"))
            s->memif_client = true;
        else if (!strcmp(kv, "socket-abstract=no"))
            abstract = false;
        else if (!strncmp(kv, "socket=", 7) && strlen(kv + 7) < sizeof(s->socket))
            snprintf(s->socket, sizeof(s->socket), "%s", kv + 7);
    }
    if (!s->memif || abstract)
        s->socket[0] = '\0';
    return 0;
}

static char *ports_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int ports_add_spec(const struct zn_config *cfg, uint8_t self, struct node_port_spec *specs,
                          unsigned *n, unsigned long id, const char *devargs, const char *key,
                          char *err, size_t err_len)
{
    if (id == self || !ports_is_member(cfg, (unsigned)id)) {
        ports_errf(err, err_len, "[peers] %s: peer %lu is %s", key, id,
                   id == self ? "this node" : "not among [cluster] members");
        return ZN_EINVAL;
    }
    for (unsigned i = 0; i < *n; i++) {
        if (specs[i].peer == id) {
            ports_errf(err, err_len, "[peers] %s: peer %lu has two ports", key, id);
            return ZN_EINVAL;
        }
    }
    if (*n == ZN_DP_PORTS_MAX) {
        ports_errf(err, err_len, "[peers] %s: more than %u ports", key, ZN_DP_PORTS_MAX);
        return ZN_EINVAL;
    }
    struct node_port_spec *s = &specs[*n];
    memset(s, 0, sizeof(*s));
    s->peer = (uint8_t)id;
    if ((size_t)snprintf(s->devargs, sizeof(s->devargs), "%s", devargs) >= sizeof(s->devargs) ||
        ports_describe(s) != 0) {
        ports_errf(err, err_len, "[peers] %s: bad devargs '%s' for peer %lu", key, devargs, id);
        return ZN_EINVAL;
    }
    for (unsigned i = 0; i < *n; i++) {
        if (!strcmp(specs[i].name, s->name)) {
            ports_errf(err, err_len, "[peers] %s: device name %s used twice", key, s->name);
            return ZN_EINVAL;
        }
    }
    (*n)++;
    return 0;
}

int node_ports_parse(const struct zn_config *cfg, uint8_t self, struct node_port_spec *specs,
                     unsigned *n, char *err, size_t err_len)
{
    *n = 0;
    if (!node_ports_wanted(cfg))
        return 0;
    const char *key = cfg->peers.ports[0] ? "ports" : "memif_dir";
    if (cfg->net.transport != ZN_TRANSPORT_DPDK) {
        ports_errf(err, err_len, "[peers] %s needs [net] transport = dpdk", key);
        return ZN_EINVAL;
    }
    if (cfg->dpdk.port_devargs[0]) {
        ports_errf(err, err_len,
                   "[peers] %s and [dpdk] port_devargs = '%s' both name ports: use one", key,
                   cfg->dpdk.port_devargs);
        return ZN_EINVAL;
    }
    if (!cfg->peers.ports[0]) {
        /* memif_dir: a link to every other member; the lower id of a pair is the server. */
        for (uint32_t i = 0; i < cfg->cluster.n_members; i++) {
            unsigned id = cfg->cluster.members[i].id;
            if (id == self)
                continue;
            unsigned a = self < id ? self : id, b = self < id ? id : self;
            char devargs[ZN_CONFIG_STR_MAX + ZN_CONFIG_PATH_MAX];
            snprintf(devargs, sizeof(devargs),
                     "net_memif%u,role=%s,socket=%s/%u-%u.sock,socket-abstract=no", *n,
                     self < id ? "server" : "client", cfg->peers.memif_dir, a, b);
            int rc = ports_add_spec(cfg, self, specs, n, id, devargs, key, err, err_len);
            if (rc)
                return rc;
        }
        return 0;
    }
    char buf[sizeof(cfg->peers.ports)];
    snprintf(buf, sizeof(buf), "%s", cfg->peers.ports);
    char *save = NULL;
    for (char *item = strtok_r(buf, "|", &save); item; item = strtok_r(NULL, "|", &save)) {
        item = ports_trim(item);
        if (*item == '\0')
            continue;
        char *eq = strchr(item, '=');
        char *end = NULL;
        unsigned long id = eq ? strtoul(item, &end, 10) : 0;
        if (!eq || end != eq || id == 0 || id > ZN_NODE_ID_MAX || *ports_trim(eq + 1) == '\0') {
            ports_errf(err, err_len, "[peers] ports: '%s' is not id=devargs", item);
            return ZN_EINVAL;
        }
        int rc = ports_add_spec(cfg, self, specs, n, id, ports_trim(eq + 1), key, err, err_len);
        if (rc)
            return rc;
    }
    if (*n == 0) {
        ports_errf(err, err_len, "[peers] ports = '%s': no port", cfg->peers.ports);
        return ZN_EINVAL;
    }
    return 0;
}

/*
 * A memif server's socket file left by a killed process makes the next server fail silently
 * (pitfall 5). Remove it when nothing listens on it; refuse when something does.
 */
static int ports_clear_socket(const struct node_port_spec *s, char *err, size_t err_len)
{
    struct stat st;
    if (!s->socket[0] || s->memif_client || stat(s->socket, &st) != 0)
        return 0;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(s->socket) >= sizeof(sun.sun_path)) {
        ports_errf(err, err_len, "memif socket path '%s' is too long", s->socket);
        return ZN_EINVAL;
    }
    memcpy(sun.sun_path, s->socket, strlen(s->socket) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    int e = errno;
    close(fd);
    if (rc == 0) {
        ports_errf(err, err_len,
                   "memif socket %s (link to node %u) is in use by another process: is another "
                   "node configured with the same link?",
                   s->socket, s->peer);
        return ZN_EBUSY;
    }
    if (e == ECONNREFUSED && S_ISSOCK(st.st_mode)) {
        if (unlink(s->socket) == 0)
            ZN_INFO("node", "removed stale memif socket %s (nothing listened on it)", s->socket);
    }
    return 0;
}

static int ports_recv(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct node_ports *p = ctx;
    return zn_dp_recv(&p->mux_tr, dg, n, now_ns);
}

static int ports_send(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct node_ports *p = ctx;
    return zn_dp_send(&p->mux_tr, dg, n, now_ns);
}

static int ports_send_frames(void *ctx, const struct zn_dp_frame_out *f, unsigned n,
                             uint64_t now_ns)
{
    struct node_ports *p = ctx;
    return p->mux_tr.ops->send_frames(p->mux_tr.ctx, f, n, now_ns);
}

/* Links: log changes; a memif client whose link is down tries a new connection. */
static void ports_links(struct node_ports *p, uint64_t now_ns)
{
    for (unsigned i = 0; i < p->n_ports; i++) {
        struct node_port *pt = &p->port[i];
        zn_dp_port_link(&pt->info);
        if (pt->info.link_up) {
            if (!pt->was_up)
                ZN_INFO("node", "link to node %u up (%s, port %u)", pt->spec.peer, pt->spec.name,
                        pt->port_id);
            pt->was_up = true;
            pt->retries = 0;
            continue;
        }
        if (pt->was_up) {
            ZN_WARN("node", "link to node %u down (%s)", pt->spec.peer, pt->spec.name);
            pt->was_up = false;
            pt->next_retry_ns = now_ns + ZN_PORTS_RETRY_NS;
        }
        if (!pt->spec.memif_client || now_ns < pt->next_retry_ns)
            continue;
        /* A connection attempt that succeeded completes its handshake within milliseconds on
         * DPDK's control thread: give it four periods before starting over. */
        if (pt->started)
            (void)rte_eth_dev_stop(pt->port_id);
        zn_ports_mux_set_down(&p->mux, pt->member, true);
        pt->started = rte_eth_dev_start(pt->port_id) == 0;
        zn_ports_mux_set_down(&p->mux, pt->member, !pt->started);
        pt->retries++;
        pt->next_retry_ns = now_ns + (pt->started ? 4 : 1) * ZN_PORTS_RETRY_NS;
        if (pt->retries == 1 || pt->retries % 20 == 0)
            ZN_INFO("node", "memif link to node %u: connection attempt %llu (%s)", pt->spec.peer,
                    (unsigned long long)pt->retries,
                    pt->started ? "connected, waiting for the handshake" : "no server yet");
    }
}

static void ports_housekeeping(void *ctx, uint64_t now_ns)
{
    struct node_ports *p = ctx;
    p->mux_tr.ops->housekeeping(p->mux_tr.ctx, now_ns);
    if (now_ns >= p->next_check_ns) {
        p->next_check_ns = now_ns + 100ull * 1000 * 1000;
        ports_links(p, now_ns);
    }
}

static void ports_stats(void *ctx, struct zn_dp_transport_stats *out)
{
    struct node_ports *p = ctx;
    p->mux_tr.ops->stats(p->mux_tr.ctx, out);
}

static const struct zn_dp_transport_ops node_ports_ops = {
    .name = "ports",
    .recv_burst = ports_recv,
    .send_burst = ports_send,
    .housekeeping = ports_housekeeping,
    .stats = ports_stats,
    .send_frames = ports_send_frames,
};

static int ports_start_one(struct node_port *pt, struct rte_mempool *pool, char *err,
                           size_t err_len)
{
    if (rte_eth_dev_get_port_by_name(pt->spec.name, &pt->port_id) != 0) {
        ports_errf(err, err_len, "port %s (link to node %u) did not appear", pt->spec.name,
                   pt->spec.peer);
        return ZN_EIO;
    }
    int rc = zn_dp_port_start(pt->port_id, 1, pool, &pt->info);
    if (rc == 0) {
        pt->started = true;
        return 0;
    }
    if (!pt->spec.memif_client) {
        ports_errf(err, err_len, "port %s (link to node %u) does not start: %s", pt->spec.name,
                   pt->spec.peer, zn_strerror(rc));
        return rc;
    }
    /* A memif client configured but not started (no server yet): housekeeping retries. */
    struct rte_ether_addr mac;
    if (rte_eth_macaddr_get(pt->port_id, &mac) != 0) {
        ports_errf(err, err_len, "port %s: no MAC address", pt->spec.name);
        return ZN_EIO;
    }
    memset(&pt->info, 0, sizeof(pt->info));
    memcpy(pt->info.mac, mac.addr_bytes, 6);
    pt->info.port_id = pt->port_id;
    pt->info.n_queues = 1;
    ZN_INFO("node", "memif link to node %u: server not up yet, will retry", pt->spec.peer);
    return 0;
}

_Static_assert((int)ZN_UDP_TX_CKSUM_OFFLOAD_OR_ZERO == (int)ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO &&
                   (int)ZN_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE ==
                       (int)ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE,
               "[net] udp_tx_checksum values map one to one onto the stack's policy");

int node_ports_open(struct node_ports **out, const struct zn_config *cfg, uint8_t self,
                    struct zn_dp_eal_cfg *eal, const struct zn_dp_addr *local,
                    const struct zn_dp_addr *peer, const bool *peer_known,
                    struct zn_dp_transport *t, char *err, size_t err_len)
{
    *out = NULL;
    struct node_ports *p = calloc(1, sizeof(*p));
    if (!p)
        return ZN_ENOMEM;
    *out = p;
    struct node_port_spec specs[ZN_DP_PORTS_MAX];
    unsigned n = 0;
    int rc = node_ports_parse(cfg, self, specs, &n, err, err_len);
    if (rc)
        return rc;
    if (cfg->peers.memif_dir[0] && mkdir(cfg->peers.memif_dir, 0750) != 0 && errno != EEXIST) {
        ports_errf(err, err_len, "[peers] memif_dir: cannot create '%s': %s", cfg->peers.memif_dir,
                   strerror(errno));
        return ZN_EIO;
    }
    eal->n_vdevs = 0;
    for (unsigned i = 0; i < n; i++) {
        rc = ports_clear_socket(&specs[i], err, err_len);
        if (rc)
            return rc;
        p->port[i].spec = specs[i];
        eal->vdevs[eal->n_vdevs++] = p->port[i].spec.devargs;
    }
    rc = zn_dp_eal_init(eal);
    if (rc) {
        ports_errf(err, err_len, "DPDK EAL start with %u peer ports failed (%s); see above", n,
                   zn_strerror(rc));
        return rc;
    }
    p->eal_up = true;
    struct rte_mempool *pool = zn_dp_pool_create("zincd", n, 1);
    if (!pool) {
        ports_errf(err, err_len, "DPDK: no mbuf pool for %u ports", n);
        return ZN_ENOMEM;
    }
    zn_ports_mux_init(&p->mux, local, &p->mux_tr);
    for (unsigned i = 0; i < n; i++) {
        struct node_port *pt = &p->port[i];
        rc = ports_start_one(pt, pool, err, err_len);
        if (rc)
            return rc;
        p->n_ports = i + 1;
        struct zn_dp_stack_cfg sc = {.port_id = pt->port_id,
                                     .queue = 0,
                                     .ip = local->ip,
                                     .udp_port = local->port,
                                     .pool = pool,
                                     .port = &pt->info,
                                     .udp_tx_cksum =
                                         (enum zn_dp_udp_tx_cksum)cfg->net.udp_tx_checksum};
        rc = zn_dp_stack_init(&pt->stack, &sc, &pt->tr);
        if (rc == 0)
            rc = zn_ports_mux_add(&p->mux, &pt->tr, &pt->member);
        if (rc == 0)
            zn_ports_mux_set_down(&p->mux, pt->member, !pt->started);
        if (rc == 0 && (!peer_known[pt->spec.peer]))
            rc = ZN_EINVAL;
        if (rc == 0)
            rc = zn_ports_mux_route(&p->mux, &peer[pt->spec.peer], pt->member);
        if (rc) {
            ports_errf(err, err_len, "port %s (link to node %u): %s", pt->spec.name, pt->spec.peer,
                       zn_strerror(rc));
            return rc;
        }
        ZN_INFO("node", "link to node %u on %s (port %u, memif %s)", pt->spec.peer, pt->spec.name,
                pt->port_id, pt->spec.memif ? (pt->spec.memif_client ? "client" : "server") : "no");
    }
    if (cfg->peers.client_port) {
        struct zn_dp_addr cl = {.port = cfg->peers.client_port};
        if (zn_dp_ip_parse(cfg->peers.client_host, &cl.ip) != 0) {
            ports_errf(err, err_len, "[peers] client_host: bad address %s", cfg->peers.client_host);
            return ZN_EINVAL;
        }
        p->udp = calloc(1, sizeof(*p->udp));
        if (!p->udp)
            return ZN_ENOMEM;
        p->udp->fd = -1;
        rc = zn_udp_open(p->udp, &cl, &p->udp_tr);
        if (rc) {
            ports_errf(err, err_len, "[peers] client_port: cannot bind UDP %s:%u: %s",
                       cfg->peers.client_host, cfg->peers.client_port, zn_strerror(rc));
            return rc;
        }
        unsigned m;
        rc = zn_ports_mux_add(&p->mux, &p->udp_tr, &m);
        if (rc == 0)
            rc = zn_ports_mux_default(&p->mux, m);
        if (rc)
            return rc;
        ZN_INFO("node", "kernel-UDP client listener on %s:%u", cfg->peers.client_host,
                cfg->peers.client_port);
    }
    t->ops = &node_ports_ops;
    t->ctx = p;
    t->local = *local;
    return 0;
}

void node_ports_close(struct node_ports *p)
{
    if (!p)
        return;
    /* Initiators (memif clients) first: closing a server first can crash DPDK's interrupt
     * thread at exit (dpdk-notes pitfall 5). */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < p->n_ports; i++) {
            struct node_port *pt = &p->port[i];
            if (pt->spec.memif_client != (pass == 0))
                continue;
            zn_dp_stack_fini(&pt->stack);
            zn_dp_port_stop(pt->port_id);
        }
    }
    if (p->udp && p->udp->fd >= 0)
        zn_udp_close(p->udp);
    free(p->udp);
    free(p);
}

uint64_t node_ports_drop_ip(const struct node_ports *p)
{
    uint64_t sum = 0;
    for (unsigned i = 0; p && i < p->n_ports; i++) {
        const struct zn_dp_stack_stats *ss = &p->port[i].stack.stats;
        sum += ss->drop_ip_version + ss->drop_ip_ihl + ss->drop_ip_len + ss->drop_ip_cksum +
               ss->drop_ip_ttl + ss->drop_ip_frag;
    }
    return sum;
}

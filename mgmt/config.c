/*
 * config.c - the key table and the INI loader (see config.h).
 *
 * Defaults are written as text in the table and applied through the same parser as the file,
 * so a default can never be a value the validator would refuse.
 */
#include "mgmt/config.h"
#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum zn_key_type {
    ZN_KEY_U32,     /* unsigned integer in [min, max] */
    ZN_KEY_U16,     /* port-sized unsigned integer in [min, max] */
    ZN_KEY_BYTES,   /* size with optional K/M/G suffix, in [min, max] bytes */
    ZN_KEY_BOOL,    /* true/false/yes/no/on/off/1/0 */
    ZN_KEY_STR,     /* free text up to the field size */
    ZN_KEY_HOST,    /* dotted IPv4 address */
    ZN_KEY_ENUM,    /* one of choices[]; stored as the index (uint32_t) */
    ZN_KEY_MEMBERS, /* id@host:port list */
    ZN_KEY_IDLIST,  /* comma-separated node ids */
    ZN_KEY_LOGLEVEL /* error|warn|info|debug|trace, stored as text */
};

struct zn_key {
    const char *section;
    const char *name;
    enum zn_key_type type;
    size_t offset;
    size_t size;
    uint64_t min;
    uint64_t max;
    const char *const *choices;
    bool runtime; /* may change while the node runs (`zincctl config set`) */
    const char *defval;
    const char *doc;
};

static const char *const zn_transport_names[] = {"kernel", "dpdk", NULL};
static const char *const zn_idle_names[] = {"busy", "lab", NULL};
static const char *const zn_sync_names[] = {"fsync", "memory", NULL};
static const char *const zn_udp_tx_cksum_names[] = {"offload-or-zero", "offload-or-software", NULL};

#define ZN_F(field) offsetof(struct zn_config, field), sizeof(((struct zn_config *)0)->field)

static const struct zn_key zn_keys[] = {
    {"node", "id", ZN_KEY_U32, ZN_F(node.id), 1, ZN_NODE_ID_MAX, NULL, false, "1",
     "This node's id, unique in the cluster (1..255)."},
    {"node", "cluster_id", ZN_KEY_U32, ZN_F(node.cluster_id), 1, UINT32_MAX, NULL, false, "1",
     "Cluster id carried in every datagram and file header; nodes refuse other clusters' data."},
    {"node", "data_dir", ZN_KEY_STR, ZN_F(node.data_dir), 1, 0, NULL, false, "zinc-data",
     "Directory for the WAL, hard state and snapshots (created if missing)."},
    {"cluster", "members", ZN_KEY_MEMBERS, ZN_F(cluster), 1, ZN_CLUSTER_MEMBERS_MAX, NULL, false,
     "1@127.0.0.1:7001",
     "Initial voters and their native UDP endpoints, `id@ipv4:port` separated by commas. Used "
     "to bootstrap a new cluster; afterwards membership comes from the log."},
    {"cluster", "learners", ZN_KEY_IDLIST, ZN_F(cluster.learners), 0, ZN_CLUSTER_MEMBERS_MAX, NULL,
     false, "",
     "Ids from `members` that start as learners (non-voting, like ZooKeeper observers)."},
    {"net", "transport", ZN_KEY_ENUM, ZN_F(net.transport), 0, 0, zn_transport_names, false,
     "kernel", "`dpdk`: poll-mode driver on the port in [dpdk]; `kernel`: kernel UDP sockets."},
    {"net", "listen_host", ZN_KEY_HOST, ZN_F(net.listen_host), 0, 0, NULL, false, "127.0.0.1",
     "IPv4 address of the native UDP endpoint (the dataplane's address with `dpdk`)."},
    {"net", "listen_port", ZN_KEY_U16, ZN_F(net.listen_port), 1, 65535, NULL, false, "7001",
     "UDP port of the native endpoint (peers and clients)."},
    {"net", "idle", ZN_KEY_ENUM, ZN_F(net.idle), 0, 0, zn_idle_names, false, "busy",
     "Idle policy of poll loops: `busy` polls (dedicated cores); `lab` yields while traffic is "
     "recent and sleeps when idle (several nodes sharing few cores)."},
    {"net", "udp_tx_checksum", ZN_KEY_ENUM, ZN_F(net.udp_tx_checksum), 0, 0, zn_udp_tx_cksum_names,
     false, "offload-or-zero",
     "UDP checksum of datagrams the `dpdk` transport sends: the NIC's when the port offers the "
     "offload; otherwise `offload-or-zero` sends 0 (\"none\", RFC 768: every zinc datagram "
     "carries a CRC32C over header and payload end to end) and `offload-or-software` computes "
     "it. Received non-zero checksums are always verified."},
    {"dpdk", "eal_args", ZN_KEY_STR, ZN_F(dpdk.eal_args), 0, 0, NULL, false,
     "--no-huge -m 256 --no-shconf --no-pci --no-telemetry",
     "EAL arguments (a unique --file-prefix is added per node)."},
    {"dpdk", "port_devargs", ZN_KEY_STR, ZN_F(dpdk.port_devargs), 0, 0, NULL, false, "",
     "The port as a --vdev devargs string (e.g. `net_af_packet0,iface=zn1,qdisc_bypass=1`); "
     "empty to use the first probed port."},
    {"dpdk", "mac", ZN_KEY_STR, ZN_F(dpdk.mac), 0, 0, NULL, false, "",
     "MAC address to use on the port (empty: the port's own)."},
    {"peers", "ports", ZN_KEY_STR, ZN_F(peers.ports), 0, 0, NULL, false, "",
     "One DPDK port per peer instead of [dpdk] port_devargs: `id=devargs` items separated by "
     "`|` (e.g. `2=net_memif0,role=server,socket=/lab/1-2.sock,socket-abstract=no`). Messages "
     "to a peer leave on its port; [net] listen_host is this node's address on every port. "
     "Needs `[net] transport = dpdk`. Empty: one port ([dpdk] port_devargs)."},
    {"peers", "memif_dir", ZN_KEY_STR, ZN_F(peers.memif_dir), 0, 0, NULL, false, "",
     "Shorthand for `ports`: a memif link to every other member, socket `<dir>/<a>-<b>.sock` "
     "(a < b; the lower id is the memif server). Used when `ports` is empty."},
    {"peers", "client_host", ZN_KEY_HOST, ZN_F(peers.client_host), 0, 0, NULL, false, "127.0.0.1",
     "Address of the kernel-UDP client listener beside the peer ports."},
    {"peers", "client_port", ZN_KEY_U16, ZN_F(peers.client_port), 0, 65535, NULL, false, "0",
     "UDP port of a kernel-UDP listener for clients beside the peer ports (the memif lab: "
     "clients are kernel processes); replies to any address that is not a peer's leave "
     "through it. 0: none."},
    {"raft", "election_timeout_ms", ZN_KEY_U32, ZN_F(raft.election_timeout_ms), 2, 60000, NULL,
     true, "150", "Base election timeout; followers wait a random time in [t, 2t)."},
    {"raft", "heartbeat_interval_ms", ZN_KEY_U32, ZN_F(raft.heartbeat_interval_ms), 1, 10000, NULL,
     true, "30", "Leader heartbeat interval; must be below election_timeout_ms / 2."},
    {"raft", "pre_vote", ZN_KEY_BOOL, ZN_F(raft.pre_vote), 0, 0, NULL, false, "true",
     "Pre-vote (Raft dissertation 9.6): a partitioned node does not disrupt the cluster."},
    {"raft", "check_quorum", ZN_KEY_BOOL, ZN_F(raft.check_quorum), 0, 0, NULL, false, "true",
     "A leader that cannot hear a majority for an election timeout steps down."},
    {"raft", "lease_reads", ZN_KEY_BOOL, ZN_F(raft.lease_reads), 0, 0, NULL, false, "false",
     "Serve linearizable reads from the leader lease instead of a heartbeat round (assumes "
     "bounded clock drift; see docs/ARCHITECTURE.md). With it on, election_timeout_ms cannot "
     "change at runtime (the lease needs every node's timeout at least the leader's)."},
    {"raft", "priority", ZN_KEY_U32, ZN_F(raft.priority), 0, 255, NULL, true, "1",
     "Leader priority: 0 never campaigns on its own; a leader hands over to a caught-up node "
     "it holds at a higher priority (`zincctl leader priority`; per node, not replicated)."},
    {"raft", "inflight_max", ZN_KEY_U32, ZN_F(raft.inflight_max), 1, 1024, NULL, false, "64",
     "AppendEntries messages in flight per follower."},
    {"raft", "batch_entries_max", ZN_KEY_U32, ZN_F(raft.batch_entries_max), 1, 65536, NULL, false,
     "256", "Entries per AppendEntries message and per proposal batch."},
    {"raft", "batch_bytes_max", ZN_KEY_BYTES, ZN_F(raft.batch_bytes_max), 1024, 64ull * ZN_MIB,
     NULL, false, "1M", "Payload bytes per AppendEntries message."},
    {"raft", "log_entries_max", ZN_KEY_U32, ZN_F(raft.log_entries_max), ZN_CONFIG_LOG_ENTRIES_MIN,
     ZN_CONFIG_LOG_ENTRIES_MAX, NULL, false, "65536",
     "Entries the consensus core keeps in memory (its log window). Proposals may fill half of it; "
     "a snapshot frees it (one is started whenever a quarter of the window is in use beyond "
     "`[snapshot] keep_entries`, whatever `interval_entries` says). A write that finds the "
     "window full waits for that snapshot (the client's retransmission retries it). Minimum "
     "2048 (with keep_entries = 8; the default keep_entries = 1024 needs 3072)."},
    {"wal", "sync", ZN_KEY_ENUM, ZN_F(wal.sync), 0, 0, zn_sync_names, false, "fsync",
     "`fsync`: a write is acknowledged once fdatasync'ed on a majority. `memory`: acknowledged "
     "once held in memory by a majority (replicated-memory mode: a simultaneous power loss of a "
     "majority loses acknowledged writes; for benchmarks and caches only)."},
    {"wal", "segment_bytes", ZN_KEY_BYTES, ZN_F(wal.segment_bytes), ZN_MIB, 4096ull * ZN_MIB, NULL,
     false, "64M", "Size of a preallocated WAL segment."},
    {"snapshot", "interval_entries", ZN_KEY_BYTES, ZN_F(snapshot.interval_entries), 0, 1ull << 40,
     NULL, true, "0",
     "Take a snapshot after this many applied entries. 0: automatic, a quarter of the log "
     "window (`([raft] log_entries_max / 2 - keep_entries) / 2`). A value the window can never "
     "hold (above `[raft] log_entries_max / 2 - keep_entries`) is refused. Snapshots are also "
     "started by log-window occupancy (entries or bytes) whatever this says."},
    {"snapshot", "retain", ZN_KEY_U32, ZN_F(snapshot.retain), 1, ZN_SNAPFILE_RETAIN_MAX, NULL, true,
     "3", "Snapshot files kept (older ones are deleted after a newer one is durable)."},
    {"snapshot", "keep_entries", ZN_KEY_U32, ZN_F(snapshot.keep_entries), 0, 1u << 24, NULL, false,
     "1024",
     "Log entries kept in memory behind a snapshot, so that a follower slightly behind catches "
     "up from the log; one further behind gets the snapshot (InstallSnapshot). At most 16 MiB "
     "of entries are kept, whatever this count."},
    {"session", "timeout_min_ms", ZN_KEY_U32, ZN_F(session.timeout_min_ms),
     ZN_SESSION_TIMEOUT_MIN_MS, ZN_SESSION_TIMEOUT_MAX_MS, NULL, true, "500",
     "Smallest session timeout granted (requests below are raised to it)."},
    {"session", "timeout_max_ms", ZN_KEY_U32, ZN_F(session.timeout_max_ms),
     ZN_SESSION_TIMEOUT_MIN_MS, ZN_SESSION_TIMEOUT_MAX_MS, NULL, true, "40000",
     "Largest session timeout granted (requests above are lowered to it)."},
    {"znode", "container_check_interval_ms", ZN_KEY_U32, ZN_F(znode.container_check_interval_ms),
     100, 3600000, NULL, false, "60000",
     "How often the leader looks for empty containers (that once had a child) and expired TTL "
     "nodes and proposes their deletion (ZooKeeper's znode.container.checkIntervalMs)."},
    {"limits", "data_bytes_max", ZN_KEY_BYTES, ZN_F(limits.data_bytes_max), 1,
     ZN_DATA_SIZE_MAX_BYTES, NULL, false, "1M",
     "Largest znode data (ZooKeeper's jute.maxbuffer equivalent)."},
    {"mgmt", "control_socket", ZN_KEY_STR, ZN_F(mgmt.control_socket), 0, 0, NULL, false, "",
     "Unix socket of the control endpoint (empty: <data_dir>/control.sock)."},
    {"mgmt", "zk_port", ZN_KEY_U16, ZN_F(mgmt.zk_port), 0, 65535, NULL, false, "0",
     "TCP port of the ZooKeeper-protocol listener (0: disabled)."},
    {"mgmt", "metrics_port", ZN_KEY_U16, ZN_F(mgmt.metrics_port), 0, 65535, NULL, false, "0",
     "TCP port of the Prometheus metrics endpoint (0: disabled)."},
    {"mgmt", "log_level", ZN_KEY_LOGLEVEL, ZN_F(mgmt.log_level), 0, 0, NULL, true, "info",
     "Log level: error, warn, info, debug or trace."},
    {"metrics", "listen_host", ZN_KEY_HOST, ZN_F(metrics.listen_host), 0, 0, NULL, false,
     "127.0.0.1",
     "IPv4 address the Prometheus endpoint (`GET /metrics` on [mgmt] metrics_port) listens on; "
     "0.0.0.0 for every address."},
    {"control", "tcp_port", ZN_KEY_U16, ZN_F(control.tcp_port), 0, 65535, NULL, false, "0",
     "TCP port of the token-protected control listener for `zincctl --node` (0: Unix socket "
     "only)."},
    {"control", "tcp_host", ZN_KEY_HOST, ZN_F(control.tcp_host), 0, 0, NULL, false, "127.0.0.1",
     "IPv4 address the TCP control listener binds (the management address)."},
    {"control", "token_file", ZN_KEY_STR, ZN_F(control.token_file), 0, 0, NULL, false, "",
     "File holding the token every TCP control request must carry (first line, surrounding "
     "blanks stripped; required when tcp_port is set; never logged or echoed)."},
    {"zk", "listen_host", ZN_KEY_HOST, ZN_F(zk.listen_host), 0, 0, NULL, false, "0.0.0.0",
     "IPv4 address the ZooKeeper TCP port ([mgmt] zk_port) listens on (0.0.0.0: all)."},
    {"zk", "conn_per_ip_max", ZN_KEY_U32, ZN_F(zk.conn_per_ip_max), 0, 65535, NULL, false, "60",
     "ZooKeeper connections accepted per client IPv4 address (ZooKeeper's maxClientCnxns; "
     "0: no limit)."},
    {"zk", "four_letter_words", ZN_KEY_STR, ZN_F(zk.four_letter_words), 0, 0, NULL, false,
     "ruok,srvr,stat,mntr,conf,cons,wchs,dirs,isro",
     "Four-letter words answered on the ZooKeeper port, comma separated (ZooKeeper's "
     "4lw.commands.whitelist; `*`: all of ruok, srvr, stat, mntr, conf, cons, wchs, dirs, isro; "
     "empty: none). None reveals a password or digest."},
};

#define ZN_KEY_COUNT (sizeof(zn_keys) / sizeof(zn_keys[0]))

static void zn_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void zn_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static const struct zn_key *zn_key_find(const char *section, const char *name)
{
    for (size_t i = 0; i < ZN_KEY_COUNT; i++)
        if (strcmp(zn_keys[i].section, section) == 0 && strcmp(zn_keys[i].name, name) == 0)
            return &zn_keys[i];
    return NULL;
}

static bool zn_parse_u64(const char *text, uint64_t *out)
{
    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool zn_parse_bytes(const char *text, uint64_t *out)
{
    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return false;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024ull;
    else if (*end == 'M' || *end == 'm')
        mult = 1024ull * 1024ull;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024ull * 1024ull;
    else if (*end != '\0')
        return false;
    if (mult > 1 && end[1] != '\0')
        return false;
    if (v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

static bool zn_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool zn_valid_ipv4(const char *text)
{
    struct in_addr a;
    return inet_pton(AF_INET, text, &a) == 1;
}

/* Trim leading and trailing blanks of s in place; returns s. */
static char *zn_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

int zn_config_parse_members(const char *text, struct zn_config_member *out, uint32_t max,
                            uint32_t *n, char *err, size_t err_len)
{
    char buf[ZN_CONFIG_STR_MAX * 2];
    if (strlen(text) >= sizeof(buf)) {
        zn_errf(err, err_len, "member list too long");
        return ZN_EINVAL;
    }
    memcpy(buf, text, strlen(text) + 1);
    *n = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = zn_trim(item);
        if (*item == '\0')
            continue;
        if (*n >= max) {
            zn_errf(err, err_len, "more than %u members", max);
            return ZN_EINVAL;
        }
        char *at = strchr(item, '@'), *colon = strrchr(item, ':');
        if (!at || !colon || colon < at) {
            zn_errf(err, err_len, "'%s' is not id@ipv4:port", item);
            return ZN_EINVAL;
        }
        *at = '\0';
        *colon = '\0';
        uint64_t id, port;
        if (!zn_parse_u64(item, &id) || id < 1 || id > ZN_NODE_ID_MAX) {
            zn_errf(err, err_len, "member id '%s' is not in 1..%d", item, ZN_NODE_ID_MAX);
            return ZN_EINVAL;
        }
        if (!zn_parse_u64(colon + 1, &port) || port < 1 || port > 65535) {
            zn_errf(err, err_len, "member %u: port '%s' is not in 1..65535", (unsigned)id,
                    colon + 1);
            return ZN_EINVAL;
        }
        const char *host = at + 1;
        if (!zn_valid_ipv4(host) || strlen(host) >= sizeof(out[0].host)) {
            zn_errf(err, err_len, "member %u: '%s' is not an IPv4 address", (unsigned)id, host);
            return ZN_EINVAL;
        }
        for (uint32_t i = 0; i < *n; i++) {
            if (out[i].id == id) {
                zn_errf(err, err_len, "member id %u appears twice", (unsigned)id);
                return ZN_EINVAL;
            }
        }
        out[*n].id = (uint8_t)id;
        out[*n].port = (uint16_t)port;
        memcpy(out[*n].host, host, strlen(host) + 1);
        (*n)++;
    }
    if (*n == 0) {
        zn_errf(err, err_len, "no members");
        return ZN_EINVAL;
    }
    return 0;
}

static int zn_key_apply(struct zn_config *cfg, const struct zn_key *k, const char *value, char *err,
                        size_t err_len)
{
    char *field = (char *)cfg + k->offset;
    uint64_t v = 0;
    char msg[256];
    switch (k->type) {
    case ZN_KEY_U32:
    case ZN_KEY_U16:
    case ZN_KEY_BYTES: {
        bool ok = k->type == ZN_KEY_BYTES ? zn_parse_bytes(value, &v) : zn_parse_u64(value, &v);
        if (!ok || v < k->min || v > k->max) {
            zn_errf(err, err_len, "expected %s %llu..%llu",
                    k->type == ZN_KEY_BYTES ? "a size (K/M/G suffix allowed) in" : "an integer in",
                    (unsigned long long)k->min, (unsigned long long)k->max);
            return ZN_EINVAL;
        }
        if (k->size == sizeof(uint64_t))
            *(uint64_t *)field = v;
        else if (k->size == sizeof(uint32_t))
            *(uint32_t *)field = (uint32_t)v;
        else
            *(uint16_t *)field = (uint16_t)v;
        return 0;
    }
    case ZN_KEY_BOOL:
        if (!zn_parse_bool(value, (bool *)field)) {
            zn_errf(err, err_len, "expected true or false");
            return ZN_EINVAL;
        }
        return 0;
    case ZN_KEY_STR:
    case ZN_KEY_HOST:
        if (strlen(value) >= k->size || (k->min > 0 && strlen(value) < k->min)) {
            zn_errf(err, err_len, "expected text of %llu..%zu characters",
                    (unsigned long long)k->min, k->size - 1);
            return ZN_EINVAL;
        }
        if (k->type == ZN_KEY_HOST && !zn_valid_ipv4(value)) {
            zn_errf(err, err_len, "expected a dotted IPv4 address");
            return ZN_EINVAL;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case ZN_KEY_LOGLEVEL: {
        enum zn_log_level level;
        if (zn_log_level_parse(value, &level) != 0) {
            zn_errf(err, err_len, "expected one of error, warn, info, debug, trace");
            return ZN_EINVAL;
        }
        snprintf(field, k->size, "%s", zn_log_level_name(level));
        return 0;
    }
    case ZN_KEY_ENUM:
        for (uint32_t i = 0; k->choices[i]; i++) {
            if (strcmp(value, k->choices[i]) == 0) {
                *(uint32_t *)field = i;
                return 0;
            }
        }
        {
            size_t n = 0;
            msg[0] = '\0';
            for (uint32_t i = 0; k->choices[i]; i++)
                n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s", i ? ", " : "",
                                      k->choices[i]);
            zn_errf(err, err_len, "expected one of %s", msg);
        }
        return ZN_EINVAL;
    case ZN_KEY_MEMBERS:
        return zn_config_parse_members(value, cfg->cluster.members, (uint32_t)k->max,
                                       &cfg->cluster.n_members, err, err_len);
    case ZN_KEY_IDLIST: {
        char buf[ZN_CONFIG_STR_MAX];
        if (strlen(value) >= sizeof(buf)) {
            zn_errf(err, err_len, "list too long");
            return ZN_EINVAL;
        }
        memcpy(buf, value, strlen(value) + 1);
        uint32_t n = 0;
        char *save = NULL;
        for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            item = zn_trim(item);
            if (*item == '\0')
                continue;
            if (!zn_parse_u64(item, &v) || v < 1 || v > ZN_NODE_ID_MAX || n >= k->max) {
                zn_errf(err, err_len, "'%s' is not a node id in 1..%d (at most %llu ids)", item,
                        ZN_NODE_ID_MAX, (unsigned long long)k->max);
                return ZN_EINVAL;
            }
            cfg->cluster.learners[n++] = (uint8_t)v;
        }
        cfg->cluster.n_learners = n;
        return 0;
    }
    }
    return ZN_EINVAL;
}

int zn_config_set(struct zn_config *cfg, const char *section, const char *key, const char *value,
                  bool runtime_only, char *err, size_t err_len)
{
    const struct zn_key *k = zn_key_find(section, key);
    if (k == NULL) {
        zn_errf(err, err_len, "[%s] %s: unknown key (see docs/configuration.md)", section, key);
        return ZN_EINVAL;
    }
    if (runtime_only && !k->runtime) {
        zn_errf(err, err_len, "[%s] %s cannot change while the node runs (restart needed)", section,
                key);
        return ZN_ENOTSUP;
    }
    char why[320];
    int rc = zn_key_apply(cfg, k, value, why, sizeof(why));
    if (rc != 0)
        zn_errf(err, err_len, "[%s] %s = '%s': %s", section, key, value, why);
    return rc;
}

void zn_config_defaults(struct zn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < ZN_KEY_COUNT; i++) {
        char err[256];
        int rc = zn_key_apply(cfg, &zn_keys[i], zn_keys[i].defval, err, sizeof(err));
        ZN_ASSERT(rc == 0); /* a default the parser refuses is a bug in the table */
    }
}

struct zn_config_parse_ctx {
    struct zn_config *cfg;
    char *err;
    size_t err_len;
    int rc;
};

static int zn_config_ini_handler(void *user, const char *section, const char *name,
                                 const char *value)
{
    struct zn_config_parse_ctx *ctx = user;
    int rc = zn_config_set(ctx->cfg, section, name, value, false, ctx->err, ctx->err_len);
    if (rc != 0) {
        ctx->rc = rc;
        return 0; /* stop: ini_parse returns this line number */
    }
    return 1;
}

static int zn_config_finish(struct zn_config_parse_ctx *ctx, int ini_rc, const char *origin)
{
    if (ini_rc == 0)
        return zn_config_validate(ctx->cfg, ctx->err, ctx->err_len);
    char detail[384];
    if (ctx->rc != 0) {
        snprintf(detail, sizeof(detail), "%s", ctx->err ? ctx->err : "");
        zn_errf(ctx->err, ctx->err_len, "%s:%d: %s", origin, ini_rc, detail);
        return ctx->rc;
    }
    if (ini_rc == -1) {
        zn_errf(ctx->err, ctx->err_len, "%s: cannot open: %s", origin, strerror(errno));
        return ZN_ENOENT;
    }
    if (ini_rc == -2) {
        zn_errf(ctx->err, ctx->err_len, "%s: out of memory while parsing", origin);
        return ZN_ENOMEM;
    }
    zn_errf(ctx->err, ctx->err_len, "%s:%d: syntax error (expected [section] or key = value)",
            origin, ini_rc);
    return ZN_EINVAL;
}

int zn_config_load_file(struct zn_config *cfg, const char *path, char *err, size_t err_len)
{
    struct zn_config_parse_ctx ctx = {cfg, err, err_len, 0};
    return zn_config_finish(&ctx, ini_parse(path, zn_config_ini_handler, &ctx), path);
}

int zn_config_load_string(struct zn_config *cfg, const char *text, char *err, size_t err_len)
{
    struct zn_config_parse_ctx ctx = {cfg, err, err_len, 0};
    return zn_config_finish(&ctx, ini_parse_string(text, zn_config_ini_handler, &ctx), "<text>");
}

int zn_config_validate(const struct zn_config *cfg, char *err, size_t err_len)
{
    bool self = false;
    for (uint32_t i = 0; i < cfg->cluster.n_members; i++)
        self |= cfg->cluster.members[i].id == cfg->node.id;
    if (!self) {
        zn_errf(err, err_len, "[node] id = %u is not among [cluster] members", cfg->node.id);
        return ZN_EINVAL;
    }
    uint32_t voters = cfg->cluster.n_members;
    for (uint32_t i = 0; i < cfg->cluster.n_learners; i++) {
        bool found = false;
        for (uint32_t j = 0; j < cfg->cluster.n_members; j++)
            found |= cfg->cluster.members[j].id == cfg->cluster.learners[i];
        if (!found) {
            zn_errf(err, err_len, "[cluster] learners: %u is not among [cluster] members",
                    cfg->cluster.learners[i]);
            return ZN_EINVAL;
        }
        voters--;
    }
    if (voters == 0 || voters > ZN_CLUSTER_VOTERS_MAX) {
        zn_errf(err, err_len, "[cluster] %u voters: need 1..%d", voters, ZN_CLUSTER_VOTERS_MAX);
        return ZN_EINVAL;
    }
    if (cfg->raft.heartbeat_interval_ms * 2 > cfg->raft.election_timeout_ms) {
        zn_errf(err, err_len,
                "[raft] heartbeat_interval_ms = %u must be at most half of "
                "election_timeout_ms = %u",
                cfg->raft.heartbeat_interval_ms, cfg->raft.election_timeout_ms);
        return ZN_EINVAL;
    }
    /* The log window (consensus/raft.c propose): proposals fill at most log_entries_max / 2
     * entries, and a snapshot keeps keep_entries of them behind it; what is left must hold
     * batches, and a snapshot interval beyond it would never be reached (the window fills
     * first and every write waits). */
    uint64_t half = cfg->raft.log_entries_max / 2;
    if (half < (uint64_t)cfg->snapshot.keep_entries + 2ull * cfg->raft.batch_entries_max) {
        zn_errf(err, err_len,
                "[snapshot] keep_entries = %u leaves no room in the log window: [raft] "
                "log_entries_max / 2 = %llu must exceed keep_entries + 2 x batch_entries_max "
                "(%u)",
                cfg->snapshot.keep_entries, (unsigned long long)half, cfg->raft.batch_entries_max);
        return ZN_EINVAL;
    }
    uint64_t room = half - cfg->snapshot.keep_entries;
    if (cfg->snapshot.interval_entries > room) {
        zn_errf(err, err_len,
                "[snapshot] interval_entries = %llu can never be reached: the log window "
                "([raft] log_entries_max = %u) holds %llu entries beyond keep_entries = %u; use "
                "at most %llu, or 0 (automatic)",
                (unsigned long long)cfg->snapshot.interval_entries, cfg->raft.log_entries_max,
                (unsigned long long)room, cfg->snapshot.keep_entries, (unsigned long long)room);
        return ZN_EINVAL;
    }
    if (cfg->session.timeout_min_ms > cfg->session.timeout_max_ms) {
        zn_errf(err, err_len, "[session] timeout_min_ms = %u exceeds timeout_max_ms = %u",
                cfg->session.timeout_min_ms, cfg->session.timeout_max_ms);
        return ZN_EINVAL;
    }
    if (cfg->session.timeout_min_ms < 2 * cfg->raft.election_timeout_ms) {
        zn_errf(err, err_len,
                "[session] timeout_min_ms = %u must be at least twice [raft] "
                "election_timeout_ms = %u (a failover must not expire sessions)",
                cfg->session.timeout_min_ms, cfg->raft.election_timeout_ms);
        return ZN_EINVAL;
    }
    if (cfg->net.transport == ZN_TRANSPORT_DPDK && cfg->dpdk.port_devargs[0] == '\0' &&
        cfg->peers.ports[0] == '\0' && cfg->peers.memif_dir[0] == '\0' &&
        strstr(cfg->dpdk.eal_args, "--vdev") == NULL && strstr(cfg->dpdk.eal_args, "--no-pci")) {
        zn_errf(err, err_len,
                "[net] transport = dpdk needs a port: set [dpdk] port_devargs, [peers] ports or "
                "memif_dir, or a --vdev or PCI device in eal_args");
        return ZN_EINVAL;
    }
    return 0;
}

static void zn_key_format(const struct zn_config *cfg, const struct zn_key *k, char *out,
                          size_t cap)
{
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case ZN_KEY_U32:
        snprintf(out, cap, "%u", *(const uint32_t *)field);
        break;
    case ZN_KEY_U16:
        snprintf(out, cap, "%u", *(const uint16_t *)field);
        break;
    case ZN_KEY_BYTES:
        snprintf(out, cap, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case ZN_KEY_BOOL:
        snprintf(out, cap, "%s", *(const bool *)field ? "true" : "false");
        break;
    case ZN_KEY_STR:
    case ZN_KEY_HOST:
    case ZN_KEY_LOGLEVEL:
        snprintf(out, cap, "%s", field);
        break;
    case ZN_KEY_ENUM:
        snprintf(out, cap, "%s", k->choices[*(const uint32_t *)field]);
        break;
    case ZN_KEY_MEMBERS: {
        size_t n = 0;
        out[0] = '\0';
        for (uint32_t i = 0; i < cfg->cluster.n_members && n < cap; i++)
            n += (size_t)snprintf(out + n, cap - n, "%s%u@%s:%u", i ? ", " : "",
                                  cfg->cluster.members[i].id, cfg->cluster.members[i].host,
                                  cfg->cluster.members[i].port);
        break;
    }
    case ZN_KEY_IDLIST: {
        size_t n = 0;
        out[0] = '\0';
        for (uint32_t i = 0; i < cfg->cluster.n_learners && n < cap; i++)
            n +=
                (size_t)snprintf(out + n, cap - n, "%s%u", i ? ", " : "", cfg->cluster.learners[i]);
        break;
    }
    }
}

void zn_config_write(const struct zn_config *cfg, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < ZN_KEY_COUNT; i++) {
        const struct zn_key *k = &zn_keys[i];
        if (strcmp(section, k->section) != 0) {
            fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        char value[ZN_CONFIG_STR_MAX * 2];
        zn_key_format(cfg, k, value, sizeof(value));
        fprintf(out, "%s = %s\n", k->name, value);
    }
}

static void zn_key_range(const struct zn_key *k, char *out, size_t cap)
{
    switch (k->type) {
    case ZN_KEY_U32:
    case ZN_KEY_U16:
        snprintf(out, cap, "%llu..%llu", (unsigned long long)k->min, (unsigned long long)k->max);
        break;
    case ZN_KEY_BYTES:
        snprintf(out, cap, "%llu..%llu bytes (K/M/G)", (unsigned long long)k->min,
                 (unsigned long long)k->max);
        break;
    case ZN_KEY_BOOL:
        snprintf(out, cap, "true/false");
        break;
    case ZN_KEY_STR:
        snprintf(out, cap, "text, < %zu chars", k->size);
        break;
    case ZN_KEY_HOST:
        snprintf(out, cap, "IPv4 address");
        break;
    case ZN_KEY_LOGLEVEL:
        snprintf(out, cap, "error/warn/info/debug/trace");
        break;
    case ZN_KEY_MEMBERS:
        snprintf(out, cap, "id@ipv4:port, ...");
        break;
    case ZN_KEY_IDLIST:
        snprintf(out, cap, "node ids");
        break;
    case ZN_KEY_ENUM: {
        size_t n = 0;
        out[0] = '\0';
        for (uint32_t i = 0; k->choices[i]; i++)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "/" : "", k->choices[i]);
        break;
    }
    }
}

void zn_config_write_doc(FILE *out)
{
    fputs(
        "# zincd configuration\n\n"
        "<!-- Generated from mgmt/config.c by `meson compile -C build config-doc`; edit the table "
        "there, not this file. -->\n\n"
        "zincd reads one INI file (`zincd -c FILE`). Keys may also be given on the command\n"
        "line as `--set section.key=value`. Unknown keys, malformed values and inconsistent\n"
        "combinations stop the node at start-up with a message naming the file, line, key and\n"
        "value. Keys marked *runtime* can be changed on a running node with\n"
        "`zincctl config set section.key value`; the others need a restart.\n",
        out);
    const char *section = "";
    for (size_t i = 0; i < ZN_KEY_COUNT; i++) {
        const struct zn_key *k = &zn_keys[i];
        if (strcmp(section, k->section) != 0) {
            fprintf(out,
                    "\n## [%s]\n\n| key | default | values | runtime | meaning |\n"
                    "|---|---|---|---|---|\n",
                    k->section);
            section = k->section;
        }
        char range[128];
        zn_key_range(k, range, sizeof(range));
        fprintf(out, "| `%s` | `%s` | %s | %s | %s |\n", k->name, k->defval, range,
                k->runtime ? "runtime" : "restart", k->doc);
    }
}

/*
 * zincctl.c - the zinc management CLI (docs/operations.md "zincctl").
 *
 *   zincctl [-s SOCKET[,SOCKET...]] [--node HOST:PORT[,...] --token-file F] [--json]
 *           [--timeout S] COMMAND ... [--help]
 *
 * It talks to every node it is given (the control endpoint, node/ctl.h: one JSON line per
 * request and reply), learns each endpoint's node id from `status`, sends cluster-changing
 * commands to the leader (a follower answers "not_leader" with the leader's id and zincctl
 * retries there) and node-local ones to every node. Human tables by default, --json prints the
 * replies gathered (one JSON document on stdout). Errors name the node and endpoint that failed.
 *
 * Exit codes: 0 success; 1 a node refused or the command failed; 2 bad usage; 3 a node could not
 * be reached (connection, timeout); 4 authentication refused (token). `check`: 0 healthy,
 * 5 no agreed leader, 6 a node lags or is not ready, 7 a node is unreachable.
 *
 * `restore` is offline: it verifies a snapshot file (header and trailer checksums, body CRC32C,
 * cluster id) and installs it into a fresh data directory (no WAL, not locked by a running
 * zincd) for the given node id, durably (write, fsync, rename, fsync the directory).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "common/zn_crc32c.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"
#include "node/startup.h"
#include "store/disk.h"
#include "store/hardstate.h"
#include "store/snapfile.h"

#define EX_OK          0
#define EX_FAILED      1
#define EX_USAGE       2
#define EX_UNREACHABLE 3
#define EX_AUTH        4
#define EX_NOLEADER    5
#define EX_LAGGING     6
#define EX_NODEDOWN    7

#define EP_MAX 16

struct ep {
    char spec[ZN_CONFIG_PATH_MAX];
    bool tcp;
    char host[64];
    char port[8];
    int id; /* 0 until learned */
    json_t *status;
    int rc; /* EX_* of the last request */
    char err[512];
};

static struct ep eps[EP_MAX];
static int n_eps;
static bool opt_json;
static int opt_timeout_ms = 10000;
static char token[ZN_CTL_TOKEN_MAX];

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zincctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (zincctl --help)\n");
    va_end(ap);
    exit(EX_USAGE);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- endpoints and requests ---------------------------------------------------------------- */

static void ep_add_list(const char *list, bool tcp)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n_eps == EP_MAX)
            die_usage("at most %d endpoints", EP_MAX);
        struct ep *e = &eps[n_eps++];
        memset(e, 0, sizeof(*e));
        snprintf(e->spec, sizeof(e->spec), "%s", t);
        e->tcp = tcp;
        if (tcp) {
            char *colon = strrchr(t, ':');
            if (!colon || colon == t || !colon[1] || strlen(colon + 1) >= sizeof(e->port) ||
                (size_t)(colon - t) >= sizeof(e->host))
                die_usage("--node %s: expected HOST:PORT", t);
            memcpy(e->host, t, (size_t)(colon - t));
            snprintf(e->port, sizeof(e->port), "%s", colon + 1);
        }
    }
}

static int ep_connect(struct ep *e)
{
    int fd = -1;
    if (!e->tcp) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int dirfd = -1;
        if (strlen(e->spec) < sizeof(sa.sun_path)) {
            memcpy(sa.sun_path, e->spec, strlen(e->spec) + 1);
        } else {
            /* Longer than sun_path: connect through the directory's descriptor (as zincd
             * binds it). */
            char dir[sizeof(e->spec)];
            snprintf(dir, sizeof(dir), "%s", e->spec);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            dirfd = slash ? open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
            if (dirfd < 0 ||
                (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd,
                                 slash + 1) >= sizeof(sa.sun_path)) {
                snprintf(e->err, sizeof(e->err), "cannot connect: path too long");
                if (dirfd >= 0)
                    close(dirfd);
                return -1;
            }
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            snprintf(e->err, sizeof(e->err), "cannot connect: %s", strerror(errno));
            close(fd);
            fd = -1;
        }
        if (dirfd >= 0)
            close(dirfd);
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(e->host, e->port, &hints, &ai);
    if (g != 0) {
        snprintf(e->err, sizeof(e->err), "cannot resolve: %s", gai_strerror(g));
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (poll(&p, 1, opt_timeout_ms) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            rc = 0;
        else
            errno = soerr ? soerr : ETIMEDOUT;
    }
    if (rc != 0) {
        snprintf(e->err, sizeof(e->err), "cannot connect: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

static bool io_wait(int fd, short ev, uint64_t deadline)
{
    uint64_t t = now_ms();
    if (t >= deadline)
        return false;
    struct pollfd p = {.fd = fd, .events = ev};
    return poll(&p, 1, (int)(deadline - t)) == 1;
}

/*
 * Send req (a "token" is added for TCP) and read the reply line, then the raw payload when the
 * reply announces "bytes" and raw is given. Returns the reply (ok or not) or NULL with e->err
 * and e->rc = EX_UNREACHABLE.
 */
static json_t *ep_request(struct ep *e, json_t *req, uint8_t **raw, size_t *raw_len)
{
    e->rc = EX_UNREACHABLE;
    e->err[0] = 0;
    if (e->tcp)
        json_object_set_new(req, "token", json_string(token));
    char *text = json_dumps(req, JSON_COMPACT);
    json_object_del(req, "token");
    int fd = text ? ep_connect(e) : -1;
    if (fd < 0) {
        free(text);
        return NULL;
    }
    uint64_t deadline = now_ms() + (uint64_t)opt_timeout_ms;
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps leaves room for the terminator: reuse it */
    size_t off = 0;
    while (off < len + 1) {
        if (!io_wait(fd, POLLOUT, deadline))
            break;
        ssize_t w = send(fd, text + off, len + 1 - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(text);
    if (off < len + 1) {
        snprintf(e->err, sizeof(e->err), "cannot send the request: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap + 1);
    char *nl = NULL;
    while (buf && !nl) {
        if (!io_wait(fd, POLLIN, deadline)) {
            snprintf(e->err, sizeof(e->err), "no reply within %d ms", opt_timeout_ms);
            break;
        }
        if (have == cap) {
            snprintf(e->err, sizeof(e->err), "reply line too long");
            break;
        }
        ssize_t r = recv(fd, buf + have, cap - have, 0);
        if (r <= 0) {
            snprintf(e->err, sizeof(e->err), "connection closed before the reply");
            break;
        }
        have += (size_t)r;
        nl = memchr(buf, '\n', have);
    }
    json_t *rep = NULL;
    if (nl) {
        *nl = 0;
        json_error_t jerr;
        rep = json_loads(buf, 0, &jerr);
        if (!rep)
            snprintf(e->err, sizeof(e->err), "bad reply: %s", jerr.text);
    }
    if (rep && raw && json_is_true(json_object_get(rep, "ok"))) {
        size_t want = (size_t)json_integer_value(json_object_get(rep, "bytes"));
        size_t extra = have - (size_t)(nl + 1 - buf);
        *raw = malloc(want ? want : 1);
        *raw_len = 0;
        if (*raw) {
            size_t first = extra < want ? extra : want;
            memcpy(*raw, nl + 1, first);
            *raw_len = first;
            while (*raw_len < want && io_wait(fd, POLLIN, deadline)) {
                ssize_t r = recv(fd, *raw + *raw_len, want - *raw_len, 0);
                if (r <= 0)
                    break;
                *raw_len += (size_t)r;
            }
        }
        if (!*raw || *raw_len < want) {
            snprintf(e->err, sizeof(e->err), "snapshot data cut short (%zu of %zu bytes)", *raw_len,
                     want);
            json_decref(rep);
            rep = NULL;
        }
    }
    free(buf);
    close(fd);
    if (!rep)
        return NULL;
    if (json_is_true(json_object_get(rep, "ok"))) {
        e->rc = EX_OK;
    } else {
        const char *code = json_string_value(json_object_get(rep, "error"));
        e->rc = code && strcmp(code, "unauthorized") == 0 ? EX_AUTH : EX_FAILED;
        snprintf(e->err, sizeof(e->err), "%s: %s", code ? code : "error",
                 json_string_value(json_object_get(rep, "message")));
    }
    if (!e->id && json_is_integer(json_object_get(rep, "node")))
        e->id = (int)json_integer_value(json_object_get(rep, "node"));
    return rep;
}

static json_t *ep_cmd(struct ep *e, const char *cmd)
{
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    json_t *rep = ep_request(e, req, NULL, NULL);
    json_decref(req);
    return rep;
}

static void ep_report(const struct ep *e)
{
    if (e->id)
        fprintf(stderr, "zincctl: node %d (%s): %s\n", e->id, e->spec, e->err);
    else
        fprintf(stderr, "zincctl: %s: %s\n", e->spec, e->err);
}

/* Worst exit code of a set of requests (unreachable and auth before a plain failure). */
static int rc_worst(int a, int b)
{
    static const int rank[] = {0, 1, 0, 3, 4};
    if (b < 0 || b > 4)
        return a;
    return rank[b] > rank[a] ? b : a;
}

/* Query `status` on every endpoint; returns how many answered. */
static int gather_status(void)
{
    int ok = 0;
    for (int i = 0; i < n_eps; i++) {
        json_decref(eps[i].status);
        eps[i].status = ep_cmd(&eps[i], "status");
        if (eps[i].status && eps[i].rc == EX_OK)
            ok++;
        else if (eps[i].status) {
            json_decref(eps[i].status);
            eps[i].status = NULL;
        }
    }
    return ok;
}

static struct ep *ep_by_id(int id)
{
    for (int i = 0; i < n_eps; i++)
        if (eps[i].id == id && id != 0)
            return &eps[i];
    return NULL;
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The leader id most reachable nodes agree on (0: none). */
static int agreed_leader(void)
{
    int votes[ZN_NODE_ID_MAX + 1] = {0}, best = 0;
    for (int i = 0; i < n_eps; i++)
        if (eps[i].status) {
            int l = (int)jint(eps[i].status, "leader");
            if (l > 0 && l <= ZN_NODE_ID_MAX && ++votes[l] > votes[best])
                best = l;
        }
    return best;
}

/*
 * Send req to the leader: start at the endpoint that says it leads (or the first reachable),
 * follow "not_leader" replies up to 3 times. Returns the reply or NULL (e->err reported).
 */
static json_t *leader_request(json_t *req, struct ep **used)
{
    gather_status();
    struct ep *e = ep_by_id(agreed_leader());
    for (int i = 0; i < n_eps && !e; i++)
        if (eps[i].status)
            e = &eps[i];
    if (!e) {
        for (int i = 0; i < n_eps; i++)
            ep_report(&eps[i]);
        *used = NULL;
        return NULL;
    }
    for (int hop = 0; hop < 4; hop++) {
        *used = e;
        json_t *rep = ep_request(e, req, NULL, NULL);
        if (!rep)
            return NULL;
        const char *code = jstr(rep, "error");
        if (strcmp(code, "not_leader") != 0)
            return rep;
        int l = (int)jint(rep, "leader");
        json_decref(rep);
        struct ep *next = ep_by_id(l);
        if (!next) {
            snprintf(e->err, sizeof(e->err),
                     "not the leader; the leader is node %d, which is not among the endpoints "
                     "given (add it with -s/--node)",
                     l);
            e->rc = EX_FAILED;
            return NULL;
        }
        e = next;
        sleep_ms(100);
    }
    snprintf(e->err, sizeof(e->err), "no stable leader");
    e->rc = EX_FAILED;
    return NULL;
}

/*
 * leader_request and its failure handling, for the commands the leader carries out: releases
 * req; on failure reports the endpoint's error and returns the exit code (EX_UNREACHABLE when
 * no endpoint was reachable); on success returns EX_OK with the ok reply in *out (the caller
 * frees it) and the endpoint that gave it in *used.
 */
static int leader_call(json_t *req, struct ep **used, json_t **out)
{
    json_t *rep = leader_request(req, used);
    json_decref(req);
    struct ep *e = *used;
    *out = NULL;
    if (!rep || !e || e->rc) {
        if (e)
            ep_report(e);
        json_decref(rep);
        return e ? (e->rc ? e->rc : EX_FAILED) : EX_UNREACHABLE;
    }
    *out = rep;
    return EX_OK;
}

static void print_json(json_t *doc)
{
    char *t = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (t)
        puts(t);
    free(t);
}

/* A proposal the leader carries out: the reply as JSON (--json) or "<what> by leader node N". */
static int leader_propose(json_t *req, const char *what)
{
    struct ep *e = NULL;
    json_t *rep = NULL;
    int rc = leader_call(req, &e, &rep);
    if (rc)
        return rc;
    if (opt_json)
        print_json(rep);
    else
        printf("%s by leader node %d\n", what, e->id);
    json_decref(rep);
    return EX_OK;
}

/* ---- fan-out: one request to every endpoint ------------------------------------------------ */

/* The replies of one request sent to each selected endpoint in turn. */
struct fanout {
    json_t *nodes; /* the ok replies without "ok", in endpoint order (owned: fanout_free) */
    int rc;        /* worst EX_* of the endpoints that failed, EX_OK if none did */
    int reached;   /* how many replied ok */
};

/* Endpoint selection: true to leave e out (not asked, not counted). */
typedef bool (*ep_skip_fn)(const struct ep *e, int arg);

/*
 * Send req to every endpoint that skip (NULL: none) does not leave out and collect the ok
 * replies in f->nodes; each failure is reported on stderr (ep_report) and folded into f->rc
 * with rc_worst. req is not modified (ep_request removes the token it adds).
 */
static void fanout_run(json_t *req, ep_skip_fn skip, int skip_arg, struct fanout *f)
{
    f->nodes = json_array();
    f->rc = EX_OK;
    f->reached = 0;
    for (int i = 0; i < n_eps; i++) {
        if (skip && skip(&eps[i], skip_arg))
            continue;
        json_t *rep = ep_request(&eps[i], req, NULL, NULL);
        if (!rep || eps[i].rc != EX_OK) {
            f->rc = rc_worst(f->rc, eps[i].rc);
            ep_report(&eps[i]);
            json_decref(rep);
            continue;
        }
        f->reached++;
        json_object_del(rep, "ok");
        json_array_append_new(f->nodes, rep);
    }
}

/* fanout_run of the argument-less command cmd on every endpoint. */
static void fanout_cmd(const char *cmd, struct fanout *f)
{
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    fanout_run(req, NULL, 0, f);
    json_decref(req);
}

/* Exit code of a fan-out: its worst failure, or EX_UNREACHABLE when nobody answered. */
static int fanout_rc(const struct fanout *f)
{
    return f->reached ? f->rc : (f->rc ? f->rc : EX_UNREACHABLE);
}

/* --json output of a fan-out: {"nodes": [replies]}. */
static void fanout_print_json(const struct fanout *f)
{
    json_t *doc = json_pack("{s:O}", "nodes", f->nodes);
    print_json(doc);
    json_decref(doc);
}

static void fanout_free(struct fanout *f)
{
    json_decref(f->nodes);
    f->nodes = NULL;
}

/* Skip every endpoint but node id (known after gather_status). */
static bool ep_skip_other_id(const struct ep *e, int id)
{
    return e->id != id;
}

/* Skip the endpoints that did not answer status (gather_status) and node id itself. */
static bool ep_skip_down_or_id(const struct ep *e, int id)
{
    return !e->status || e->id == id;
}

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f%s" : "%.0f%s", v, u[i]);
}

/* ---- the commands -------------------------------------------------------------------------- */

struct cmd {
    const char *name; /* "members add" */
    const char *usage;
    const char *help;
    int (*run)(int argc, char **argv);
};

static const struct cmd *cur_cmd;

static int check_argc(int argc, char **argv, int min, int max)
{
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-') {
            fprintf(stderr, "zincctl %s: unknown option %s\nusage: zincctl %s\n", cur_cmd->name,
                    argv[i], cur_cmd->usage);
            exit(EX_USAGE);
        }
    if (argc < min || argc > max) {
        fprintf(stderr, "zincctl %s: wrong number of arguments\nusage: zincctl %s\n", cur_cmd->name,
                cur_cmd->usage);
        exit(EX_USAGE);
    }
    return 0;
}

static int run_status(int argc, char **argv)
{
    (void)argv;
    check_argc(argc, argv, 0, 0);
    gather_status();
    int rc = EX_OK, reached = 0;
    json_t *leader_st = NULL;
    int leader = agreed_leader();
    for (int i = 0; i < n_eps; i++)
        if (eps[i].status && eps[i].id == leader)
            leader_st = eps[i].status;
    json_t *nodes = json_array(), *down = json_array();
    for (int i = 0; i < n_eps; i++) {
        if (!eps[i].status) {
            rc = rc_worst(rc, eps[i].rc);
            json_array_append_new(
                down, json_pack("{s:s, s:s}", "endpoint", eps[i].spec, "error", eps[i].err));
            continue;
        }
        reached++;
        json_t *st = json_deep_copy(eps[i].status);
        json_object_del(st, "ok");
        json_object_set_new(st, "endpoint", json_string(eps[i].spec));
        if (leader_st) {
            long long lag = jint(leader_st, "last_index") - jint(st, "last_index");
            long long alag = jint(leader_st, "commit") - jint(st, "applied");
            json_object_set_new(st, "lag_entries", json_integer(lag < 0 ? 0 : lag));
            json_object_set_new(st, "apply_lag_entries", json_integer(alag < 0 ? 0 : alag));
        }
        json_array_append_new(nodes, st);
    }
    if (opt_json) {
        json_t *doc =
            json_pack("{s:o, s:o, s:i}", "nodes", nodes, "unreachable", down, "leader", leader);
        print_json(doc);
        json_decref(doc);
    } else {
        printf("%-4s %-12s %-5s %-6s %-8s %-8s %-6s %-8s %-8s %-7s %-9s %-9s %-9s %s\n", "ID",
               "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "SESSIONS", "ZNODES",
               "WATCHES", "RSS", "WAL", "SNAPSHOTS", "LAST ELECTION");
        for (size_t i = 0; i < json_array_size(nodes); i++) {
            json_t *st = json_array_get(nodes, i);
            char rss[16], wal[16], snap[16], el[96];
            human_bytes((uint64_t)jint(st, "rss_bytes"), rss, sizeof(rss));
            human_bytes((uint64_t)jint(st, "wal_bytes"), wal, sizeof(wal));
            human_bytes((uint64_t)jint(st, "snapshot_bytes"), snap, sizeof(snap));
            long long age = jint(st, "last_election_age_ms");
            if (age >= 0)
                snprintf(el, sizeof(el), "%.1fs ago (%s)", (double)age / 1000.0,
                         jstr(st, "last_election_reason"));
            else
                snprintf(el, sizeof(el), "never");
            char lag[24] = "-";
            if (json_object_get(st, "lag_entries"))
                snprintf(lag, sizeof(lag), "%lld", jint(st, "lag_entries"));
            printf("%-4lld %-12s %-5lld %-6lld %-8lld %-8lld %-6s %-8lld %-8lld %-7lld %-9s %-9s "
                   "%-9s %s\n",
                   jint(st, "id"), jstr(st, "role"), jint(st, "term"), jint(st, "leader"),
                   jint(st, "commit"), jint(st, "applied"), lag, jint(st, "sessions_local"),
                   jint(st, "znodes"), jint(st, "watches"), rss, wal, snap, el);
        }
        for (size_t i = 0; i < json_array_size(down); i++) {
            json_t *d = json_array_get(down, i);
            printf("%-4s %-12s %s: %s\n", "?", "down", jstr(d, "endpoint"), jstr(d, "error"));
        }
        json_decref(nodes);
        json_decref(down);
    }
    return reached ? rc : (rc ? rc : EX_UNREACHABLE);
}

static bool is_member(json_t *st, int id)
{
    json_t *m = json_object_get(st, "members");
    const char *kinds[2] = {"voters", "learners"};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < json_array_size(json_object_get(m, kinds[k])); i++)
            if (json_integer_value(json_array_get(json_object_get(m, kinds[k]), i)) == id)
                return true;
    return false;
}

static bool is_learner(json_t *st, int id)
{
    json_t *l = json_object_get(json_object_get(st, "members"), "learners");
    for (size_t i = 0; i < json_array_size(l); i++)
        if (json_integer_value(json_array_get(l, i)) == id)
            return true;
    return false;
}

static int run_check(int argc, char **argv)
{
    long max_lag = 1000;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--max-lag") == 0 && i + 1 < argc)
            max_lag = strtol(argv[++i], NULL, 10);
        else
            die_usage("check: unknown argument %s", argv[i]);
    }
    gather_status();
    int leader = agreed_leader();
    json_t *leader_st = NULL;
    int reached = 0, unreachable = 0, lagging = 0, disagree = 0;
    char why[1024] = "";
    size_t wl = 0;
    for (int i = 0; i < n_eps; i++) {
        if (!eps[i].status) {
            unreachable++;
            wl += (size_t)snprintf(why + wl, sizeof(why) > wl ? sizeof(why) - wl : 0,
                                   "%s unreachable (%s); ", eps[i].spec, eps[i].err);
            continue;
        }
        reached++;
        if (eps[i].id == leader && strcmp(jstr(eps[i].status, "role"), "leader") == 0)
            leader_st = eps[i].status;
    }
    int removed = 0;
    for (int i = 0; i < n_eps; i++) {
        json_t *st = eps[i].status;
        if (!st)
            continue;
        if (leader_st && !is_member(leader_st, (int)jint(st, "id"))) {
            removed++; /* removed from the cluster: not part of the verdict */
            wl += (size_t)snprintf(why + wl, sizeof(why) > wl ? sizeof(why) - wl : 0,
                                   "node %lld is not a member (ignored); ", jint(st, "id"));
            continue;
        }
        /* A voter must follow the agreed leader; a learner that knows no leader yet only
         * lags (it does not take part in elections). */
        long long l = jint(st, "leader");
        if ((l != 0 && l != leader) || (l == 0 && !is_learner(leader_st, (int)jint(st, "id"))))
            disagree++;
        long long lag = leader_st ? jint(leader_st, "commit") - jint(st, "applied") : 0;
        if (leader_st && (!json_is_true(json_object_get(st, "ready")) || lag > max_lag)) {
            lagging++;
            wl +=
                (size_t)snprintf(why + wl, sizeof(why) > wl ? sizeof(why) - wl : 0,
                                 "node %lld lags by %lld entries%s; ", jint(st, "id"), lag,
                                 json_is_true(json_object_get(st, "ready")) ? "" : " (not ready)");
        }
    }
    int rc;
    const char *verdict;
    if (reached == 0) {
        rc = EX_NODEDOWN;
        verdict = "unreachable";
    } else if (!leader_st || disagree) {
        rc = EX_NOLEADER;
        verdict = "no_leader";
        wl += (size_t)snprintf(why + wl, sizeof(why) > wl ? sizeof(why) - wl : 0,
                               "no leader agreed by every reachable node; ");
    } else if (unreachable) {
        rc = EX_NODEDOWN;
        verdict = "node_unreachable";
    } else if (lagging) {
        rc = EX_LAGGING;
        verdict = "lagging";
    } else {
        rc = EX_OK;
        verdict = "healthy";
    }
    if (wl >= 2 && wl < sizeof(why))
        why[wl - 2] = 0;
    if (opt_json) {
        json_t *doc =
            json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s}", "verdict", verdict, "exit_code",
                      rc, "leader", leader, "reachable", reached, "unreachable", unreachable,
                      "lagging", lagging, "not_members", removed, "detail", why);
        print_json(doc);
        json_decref(doc);
    } else {
        printf("%s: leader %d, %d/%d nodes reachable%s%s\n", verdict, leader, reached, n_eps,
               why[0] ? "; " : "", why);
    }
    return rc;
}

/* Print a per-node object result: JSON or "key value" columns (one column per node). */
static int per_node_table(const char *cmd)
{
    struct fanout f;
    fanout_cmd(cmd, &f);
    int rc = fanout_rc(&f); /* = f.rc whenever an endpoint was asked (main requires one) */
    json_t *all = f.nodes;
    if (opt_json) {
        fanout_print_json(&f);
        fanout_free(&f);
        return rc;
    }
    if (json_array_size(all)) {
        json_t *first = json_array_get(all, 0);
        printf("%-24s", "NODE");
        for (size_t n = 0; n < json_array_size(all); n++)
            printf(" %12lld", jint(json_array_get(all, n), "node"));
        printf("\n");
        const char *key;
        json_t *val;
        json_object_foreach(first, key, val)
        {
            if (strcmp(key, "node") == 0 || !json_is_integer(val))
                continue;
            printf("%-24s", key);
            for (size_t n = 0; n < json_array_size(all); n++)
                printf(" %12lld", jint(json_array_get(all, n), key));
            printf("\n");
        }
    }
    fanout_free(&f);
    return rc;
}

static int run_stats(int argc, char **argv)
{
    (void)argv;
    check_argc(argc, argv, 0, 0);
    return per_node_table("stats");
}

static int run_watches(int argc, char **argv)
{
    (void)argv;
    check_argc(argc, argv, 0, 0);
    return per_node_table("watches_summary");
}

static int run_log_info(int argc, char **argv)
{
    (void)argv;
    check_argc(argc, argv, 0, 0);
    return per_node_table("log_info");
}

static int run_latency(int argc, char **argv)
{
    bool reset = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--reset") == 0)
            reset = true;
        else
            die_usage("latency: unknown argument %s", argv[i]);
    }
    struct fanout f;
    json_t *req = json_pack("{s:s, s:b}", "cmd", "latency", "reset", reset);
    fanout_run(req, NULL, 0, &f);
    json_decref(req);
    int rc = fanout_rc(&f);
    json_t *all = f.nodes;
    if (opt_json) {
        fanout_print_json(&f);
        fanout_free(&f);
        return rc;
    }
    printf("%-5s %-21s %10s %10s %10s %10s %10s %10s\n", "NODE", "OP", "COUNT", "MEAN_us", "P50_us",
           "P99_us", "P99.9_us", "MAX_us");
    for (size_t n = 0; n < json_array_size(all); n++) {
        json_t *r = json_array_get(all, n);
        const char *op;
        json_t *h;
        json_object_foreach(json_object_get(r, "ops"), op, h)
        {
            printf("%-5lld %-21s %10lld %10.1f %10.1f %10.1f %10.1f %10.1f\n", jint(r, "node"), op,
                   jint(h, "count"), (double)jint(h, "mean_ns") / 1e3,
                   (double)jint(h, "p50_ns") / 1e3, (double)jint(h, "p99_ns") / 1e3,
                   (double)jint(h, "p999_ns") / 1e3, (double)jint(h, "max_ns") / 1e3);
        }
    }
    fanout_free(&f);
    return rc;
}

static int run_members(int argc, char **argv)
{
    if (argc < 1)
        die_usage("members: list, add, remove or promote");
    const char *sub = argv[0];
    if (strcmp(sub, "list") == 0) {
        check_argc(argc, argv, 1, 1);
        if (!gather_status()) {
            for (int i = 0; i < n_eps; i++)
                ep_report(&eps[i]);
            return EX_UNREACHABLE;
        }
        int leader = agreed_leader();
        json_t *src = NULL;
        for (int i = 0; i < n_eps && !src; i++)
            if (eps[i].status && (eps[i].id == leader || leader == 0))
                src = eps[i].status;
        for (int i = 0; i < n_eps && !src; i++)
            src = eps[i].status;
        json_t *mem = json_object_get(src, "members");
        json_t *peers = json_object_get(src, "peers");
        json_t *rows = json_array();
        const char *kinds[2] = {"voters", "learners"};
        for (int k = 0; k < 2; k++) {
            json_t *ids = json_object_get(mem, kinds[k]);
            for (size_t i = 0; i < json_array_size(ids); i++) {
                int id = (int)json_integer_value(json_array_get(ids, i));
                char addr[64] = "";
                if (jint(src, "id") == id)
                    snprintf(addr, sizeof(addr), "%s", jstr(src, "address"));
                for (size_t p = 0; p < json_array_size(peers); p++) {
                    json_t *pe = json_array_get(peers, p);
                    if (jint(pe, "id") == id)
                        snprintf(addr, sizeof(addr), "%s:%lld", jstr(pe, "host"), jint(pe, "port"));
                }
                struct ep *e = ep_by_id(id);
                json_array_append_new(
                    rows, json_pack("{s:i, s:s, s:s, s:b, s:s, s:s}", "id", id, "kind",
                                    k ? "learner" : "voter", "address", addr, "leader",
                                    id == leader, "endpoint", e ? e->spec : "", "state",
                                    e ? (e->status ? jstr(e->status, "role") : "unreachable")
                                      : "unknown"));
            }
        }
        if (opt_json) {
            json_t *doc = json_pack("{s:o, s:i}", "members", rows, "leader", leader);
            print_json(doc);
            json_decref(doc);
        } else {
            printf("%-4s %-8s %-22s %-12s %s\n", "ID", "KIND", "ADDRESS", "STATE", "ENDPOINT");
            for (size_t i = 0; i < json_array_size(rows); i++) {
                json_t *r = json_array_get(rows, i);
                printf("%-4lld %-8s %-22s %-12s %s\n", jint(r, "id"), jstr(r, "kind"),
                       jstr(r, "address"), jstr(r, "state"), jstr(r, "endpoint"));
            }
            json_decref(rows);
        }
        return EX_OK;
    }
    json_t *req = NULL;
    if (strcmp(sub, "add") == 0) {
        bool learner = false;
        const char *spec = NULL;
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--learner") == 0)
                learner = true;
            else if (!spec)
                spec = argv[i];
            else
                die_usage("members add: unexpected %s", argv[i]);
        }
        unsigned id, port;
        char host[64];
        int used = 0;
        if (!spec || sscanf(spec, "%u@%63[0-9.]:%u%n", &id, host, &port, &used) != 3 ||
            spec[used] != 0 || id < 1 || id > ZN_NODE_ID_MAX || port < 1 || port > 65535)
            die_usage("members add: expected ID@IPV4:PORT (like [cluster] members)");
        /* 1. every node learns the new member's address (peer messages from an unknown
         * sender are dropped, so this comes before the configuration change). */
        gather_status();
        json_t *p = json_pack("{s:s, s:i, s:s, s:i}", "cmd", "peer_add", "id", (int)id, "host",
                              host, "port", (int)port);
        struct fanout f;
        fanout_run(p, ep_skip_down_or_id, (int)id, &f);
        json_decref(p);
        fanout_free(&f);
        if (f.rc)
            return f.rc;
        /* 2. the leader proposes the change (a voter joins as a learner and is promoted by the
         * leader once caught up). */
        req = json_pack("{s:s, s:i, s:s, s:i, s:b}", "cmd", "members_add", "id", (int)id, "host",
                        host, "port", (int)port, "learner", learner);
    } else if (strcmp(sub, "remove") == 0 || strcmp(sub, "promote") == 0) {
        check_argc(argc, argv, 2, 2);
        char *end;
        long id = strtol(argv[1], &end, 10);
        if (*end || id < 1 || id > ZN_NODE_ID_MAX)
            die_usage("members %s: bad node id %s", sub, argv[1]);
        req = json_pack("{s:s, s:i}", "cmd",
                        strcmp(sub, "remove") == 0 ? "members_remove" : "members_promote", "id",
                        (int)id);
    } else {
        die_usage("members: unknown subcommand %s", sub);
    }
    char what[64];
    snprintf(what, sizeof(what), "members %s: proposed", sub);
    return leader_propose(req, what);
}

#define PRIORITY_NOTE                                                                            \
    "priorities are per node and not replicated: every node reached now holds this value for "   \
    "the node; a node that was unreachable, joins later or restarts keeps its own table (after " \
    "a restart: its file's [raft] priority for itself and 0 for the others) - set [raft] "       \
    "priority in the node's file too to keep it"

/* `leader priority N P`: every reachable node sets its hand-over table row for N to P (node N
 * also its own priority); prints what each node now holds. */
static int run_leader_priority(const char *node_s, const char *prio_s)
{
    char *end = NULL;
    long node = strtol(node_s, &end, 10);
    if (*node_s == 0 || *end != 0 || node < 1 || node > ZN_NODE_ID_MAX)
        die_usage("leader priority: node id must be an integer in [1, %d], not '%s'",
                  ZN_NODE_ID_MAX, node_s);
    long prio = strtol(prio_s, &end, 10);
    if (*prio_s == 0 || *end != 0 || prio < 0 || prio > 255)
        die_usage("leader priority: priority must be an integer in [0, 255], not '%s'", prio_s);
    json_t *req = json_pack("{s:s, s:i, s:i}", "cmd", "leader_priority", "node", (int)node,
                            "priority", (int)prio);
    struct fanout f;
    fanout_run(req, NULL, 0, &f);
    json_decref(req);
    int rc = f.rc;
    json_t *all = f.nodes;
    if (opt_json) {
        json_t *doc = json_pack("{s:i, s:i, s:o, s:s}", "node", (int)node, "priority", (int)prio,
                                "nodes", json_incref(all), "note", PRIORITY_NOTE);
        print_json(doc);
        json_decref(doc);
    } else {
        for (size_t k = 0; k < json_array_size(all); k++) {
            json_t *r = json_array_get(all, k);
            printf("node %lld (%s): own priority %lld; table:", jint(r, "id"), jstr(r, "role"),
                   jint(r, "priority"));
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(r, "priorities"), key, v)
            {
                printf(" %s=%lld", key, (long long)json_integer_value(v));
            }
            printf("\n");
        }
        printf("note: %s\n", PRIORITY_NOTE);
    }
    fanout_free(&f);
    return rc;
}

static int run_leader(int argc, char **argv)
{
    if (argc < 1)
        die_usage("leader: transfer or priority");
    if (strcmp(argv[0], "priority") == 0) {
        check_argc(argc, argv, 3, 3);
        return run_leader_priority(argv[1], argv[2]);
    }
    if (strcmp(argv[0], "transfer") != 0)
        die_usage("leader: unknown subcommand %s", argv[0]);
    int to = 0;
    if (argc == 3 && strcmp(argv[1], "to") == 0)
        to = (int)strtol(argv[2], NULL, 10) > 0 ? (int)strtol(argv[2], NULL, 10) : -1;
    else if (argc == 2)
        to = (int)strtol(argv[1], NULL, 10) > 0 ? (int)strtol(argv[1], NULL, 10) : -1;
    else if (argc != 1)
        die_usage("leader transfer [to N]");
    if (to < 0 || to > ZN_NODE_ID_MAX)
        die_usage("leader transfer: bad node id");
    json_t *req = json_pack("{s:s}", "cmd", "leader_transfer");
    if (to)
        json_object_set_new(req, "to", json_integer(to));
    struct ep *e = NULL;
    json_t *rep = NULL;
    int rc = leader_call(req, &e, &rep);
    if (rc)
        return rc;
    int target = (int)jint(rep, "to"), from = e->id;
    json_decref(rep);
    /* Wait (bounded) until the reachable nodes agree on the new leader. */
    uint64_t until = now_ms() + (uint64_t)opt_timeout_ms;
    int now_leader = 0;
    while (now_ms() < until) {
        gather_status();
        now_leader = agreed_leader();
        struct ep *t = ep_by_id(now_leader);
        if (now_leader == target && t && t->status &&
            strcmp(jstr(t->status, "role"), "leader") == 0)
            break;
        sleep_ms(50);
    }
    if (opt_json) {
        json_t *doc = json_pack("{s:i, s:i, s:i, s:b}", "from", from, "to", target, "leader",
                                now_leader, "done", now_leader == target);
        print_json(doc);
        json_decref(doc);
    } else {
        printf("leader transfer %d -> %d: %s (leader now %d)\n", from, target,
               now_leader == target ? "done" : "not confirmed in time", now_leader);
    }
    return now_leader == target ? EX_OK : EX_FAILED;
}

static int run_sessions(int argc, char **argv)
{
    if (argc < 1)
        die_usage("sessions: list or kill ID");
    if (strcmp(argv[0], "kill") == 0) {
        check_argc(argc, argv, 2, 2);
        json_t *req = json_pack("{s:s, s:s}", "cmd", "session_kill", "id", argv[1]);
        char what[128];
        snprintf(what, sizeof(what), "session %s: close proposed", argv[1]);
        return leader_propose(req, what);
    }
    if (strcmp(argv[0], "list") != 0)
        die_usage("sessions: unknown subcommand %s", argv[0]);
    check_argc(argc, argv, 1, 1);
    struct fanout f;
    fanout_cmd("sessions_list", &f);
    int rc = fanout_rc(&f);
    json_t *all = f.nodes;
    if (opt_json) {
        fanout_print_json(&f);
        fanout_free(&f);
        return rc;
    }
    printf("%-18s %-5s %-8s %-22s %-8s %-10s %s\n", "SESSION", "NODE", "TIMEOUT", "CLIENT",
           "IDLE_ms", "LAST_ZXID", "EVENTS");
    for (size_t n = 0; n < json_array_size(all); n++) {
        json_t *r = json_array_get(all, n);
        json_t *ss = json_object_get(r, "sessions");
        for (size_t i = 0; i < json_array_size(ss); i++) {
            json_t *s = json_array_get(ss, i);
            if (!json_is_true(json_object_get(s, "local")))
                continue; /* shown by the node the client is connected to */
            char client[40];
            snprintf(client, sizeof(client), "%s:%lld", jstr(s, "client_ip"),
                     jint(s, "client_port"));
            printf("%-18s %-5lld %-8lld %-22s %-8lld %-10lld %lld\n", jstr(s, "id"),
                   jint(r, "node"), jint(s, "timeout_ms"), client, jint(s, "idle_ms"),
                   jint(s, "last_zxid"), jint(s, "events_queued"));
        }
    }
    fanout_free(&f);
    return rc;
}

static int run_config(int argc, char **argv)
{
    if (argc < 1)
        die_usage("config: show or set KEY VALUE");
    int only = 0;
    int n = 0;
    char *args[4];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            only = (int)strtol(argv[++i], NULL, 10);
        else if (n < 4)
            args[n++] = argv[i];
        else
            die_usage("config: too many arguments");
    }
    bool set = strcmp(argv[0], "set") == 0;
    if (!set && strcmp(argv[0], "show") != 0)
        die_usage("config: unknown subcommand %s", argv[0]);
    if ((set && n != 2) || (!set && n != 0))
        die_usage("usage: zincctl %s",
                  set ? "config set SECTION.KEY VALUE [--id N]" : "config show [--id N]");
    if (only)
        gather_status();
    json_t *req =
        set ? json_pack("{s:s, s:s, s:s}", "cmd", "config_set", "key", args[0], "value", args[1])
            : json_pack("{s:s}", "cmd", "config_show");
    struct fanout f;
    fanout_run(req, only ? ep_skip_other_id : NULL, only, &f);
    json_decref(req);
    int rc = f.rc;
    json_t *all = f.nodes;
    if (only && !f.reached && rc == EX_OK) {
        fprintf(stderr, "zincctl: node %d is not among the endpoints given\n", only);
        rc = EX_FAILED;
    }
    if (opt_json) {
        fanout_print_json(&f);
    } else {
        for (size_t k = 0; k < json_array_size(all); k++) {
            json_t *r = json_array_get(all, k);
            if (set)
                printf("node %lld: %s = %s\n", jint(r, "node"), jstr(r, "key"), jstr(r, "value"));
            else
                printf("# node %lld\n%s\n", jint(r, "node"), jstr(r, "ini"));
        }
    }
    fanout_free(&f);
    return rc;
}

/* ---- snapshots, backup, restore ------------------------------------------------------------ */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

struct snapmeta {
    uint64_t cluster;
    uint32_t node;
    uint64_t index, term, body;
    uint32_t crc;
};

/*
 * Verify a snapshot image in memory (store/snapfile.c format: header 64 B with its CRC32C,
 * body, trailer 32 B with the body length and CRC32C and its own CRC32C). 0 or a sentence.
 */
static const char *snap_verify_mem(const uint8_t *p, size_t len, struct snapmeta *m)
{
    if (len < ZN_SNAPFILE_HEADER_BYTES + ZN_SNAPFILE_TRAILER_BYTES)
        return "too short for a snapshot file";
    const uint8_t *t = p + len - ZN_SNAPFILE_TRAILER_BYTES;
    if (memcmp(p, "ZNSNAPSH", 8) != 0)
        return "bad header magic (not a zinc snapshot)";
    if (zn_crc32c(0, p, 60) != get32(p + 60))
        return "header checksum mismatch";
    if (get32(p + 8) != 1 || get32(p + 12) != ZN_SNAPFILE_HEADER_BYTES)
        return "unsupported snapshot version";
    if (memcmp(t, "ZNSNAPND", 8) != 0 || zn_crc32c(0, t, 28) != get32(t + 28))
        return "trailer damaged (truncated or corrupt file)";
    m->body = len - ZN_SNAPFILE_HEADER_BYTES - ZN_SNAPFILE_TRAILER_BYTES;
    if (get64(t + 8) != m->body)
        return "body length does not match the trailer (truncated file)";
    m->crc = zn_crc32c(0, p + ZN_SNAPFILE_HEADER_BYTES, m->body);
    if (m->crc != get32(t + 16))
        return "body checksum (CRC32C) mismatch";
    m->cluster = get64(p + 16);
    m->node = get32(p + 24);
    m->index = get64(p + 32);
    m->term = get64(p + 40);
    return NULL;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return -1;
    }
    *len = (size_t)st.st_size;
    *out = malloc(*len ? *len : 1);
    size_t got = *out ? fread(*out, 1, *len, f) : 0;
    fclose(f);
    if (got != *len) {
        free(*out);
        return -1;
    }
    return 0;
}

static int write_durable(const char *path, const uint8_t *p, size_t len)
{
    char tmp[ZN_CONFIG_PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    char dir[ZN_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static struct ep *pick_node(int id)
{
    gather_status();
    if (id) {
        struct ep *e = ep_by_id(id);
        if (!e || !e->status)
            fprintf(stderr, "zincctl: node %d is not reachable among the endpoints given\n", id);
        return e && e->status ? e : NULL;
    }
    struct ep *e = ep_by_id(agreed_leader());
    for (int i = 0; i < n_eps && (!e || !e->status); i++)
        e = eps[i].status ? &eps[i] : NULL;
    if (!e)
        for (int i = 0; i < n_eps; i++)
            ep_report(&eps[i]);
    return e;
}

/* Download snapshot `name` (newest when NULL) from e into path, verified. */
static int snapshot_download(struct ep *e, const char *name, const char *path, struct snapmeta *m)
{
    json_t *list = ep_cmd(e, "snapshot_list");
    if (!list || e->rc) {
        ep_report(e);
        json_decref(list);
        return e->rc ? e->rc : EX_FAILED;
    }
    json_t *best = NULL;
    json_t *snaps = json_object_get(list, "snapshots");
    for (size_t i = 0; i < json_array_size(snaps); i++) {
        json_t *s = json_array_get(snaps, i);
        if (name ? strcmp(jstr(s, "name"), name) == 0
                 : (!best || jint(s, "index") > jint(best, "index")))
            best = s;
    }
    if (!best) {
        fprintf(stderr, "zincctl: node %d (%s): %s\n", e->id, e->spec,
                name ? "no such snapshot" : "no snapshot yet (zincctl snapshot create)");
        json_decref(list);
        return EX_FAILED;
    }
    char sname[64];
    snprintf(sname, sizeof(sname), "%s", jstr(best, "name"));
    size_t size = (size_t)jint(best, "bytes");
    json_decref(list);
    uint8_t *img = malloc(size ? size : 1);
    size_t have = 0;
    if (!img)
        return EX_FAILED;
    bool tty = isatty(STDERR_FILENO);
    while (have < size) {
        size_t want = size - have < ZN_CTL_READ_CHUNK_MAX ? size - have : ZN_CTL_READ_CHUNK_MAX;
        json_t *req = json_pack("{s:s, s:s, s:I, s:I}", "cmd", "snapshot_read", "name", sname,
                                "offset", (json_int_t)have, "length", (json_int_t)want);
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        json_t *rep = ep_request(e, req, &raw, &raw_len);
        json_decref(req);
        if (!rep || e->rc || raw_len == 0) {
            if (!e->err[0])
                snprintf(e->err, sizeof(e->err), "snapshot shrank while downloading");
            ep_report(e);
            json_decref(rep);
            free(raw);
            free(img);
            return e->rc ? e->rc : EX_FAILED;
        }
        json_decref(rep);
        memcpy(img + have, raw, raw_len);
        have += raw_len;
        free(raw);
        fprintf(stderr, "%sdownloading %s from node %d: %3u%% (%zu/%zu bytes)%s", tty ? "\r" : "",
                sname, e->id, (unsigned)(have * 100 / (size ? size : 1)), have, size,
                tty ? "" : "\n");
    }
    if (tty)
        fprintf(stderr, "\n");
    const char *bad = snap_verify_mem(img, size, m);
    if (bad) {
        fprintf(stderr, "zincctl: downloaded %s does not verify: %s\n", sname, bad);
        free(img);
        return EX_FAILED;
    }
    int rc = write_durable(path, img, size);
    free(img);
    if (rc) {
        fprintf(stderr, "zincctl: cannot write %s: %s\n", path, strerror(errno));
        return EX_FAILED;
    }
    return EX_OK;
}

/* Ask e for a snapshot and wait (bounded) until a durable file covers the index. */
static int snapshot_create_wait(struct ep *e, uint64_t *index)
{
    uint64_t until = now_ms() + (uint64_t)opt_timeout_ms;
    json_t *rep = NULL;
    for (;;) {
        rep = ep_cmd(e, "snapshot_create");
        if (rep && e->rc == EX_FAILED && strcmp(jstr(rep, "error"), "busy") == 0 &&
            now_ms() < until) {
            json_decref(rep);
            sleep_ms(100);
            continue;
        }
        break;
    }
    if (!rep || e->rc) {
        ep_report(e);
        json_decref(rep);
        return e->rc ? e->rc : EX_FAILED;
    }
    *index = (uint64_t)jint(rep, "index");
    json_decref(rep);
    while (now_ms() < until) {
        json_t *list = ep_cmd(e, "snapshot_list");
        json_t *snaps = json_object_get(list, "snapshots");
        bool found = false;
        for (size_t i = 0; i < json_array_size(snaps); i++)
            found |= (uint64_t)jint(json_array_get(snaps, i), "index") >= *index;
        json_decref(list);
        if (found)
            return EX_OK;
        sleep_ms(50);
    }
    fprintf(stderr, "zincctl: node %d (%s): snapshot at index %llu not durable within %d ms\n",
            e->id, e->spec, (unsigned long long)*index, opt_timeout_ms);
    return EX_FAILED;
}

static int run_snapshot(int argc, char **argv)
{
    if (argc < 1)
        die_usage("snapshot: create, list or download FILE");
    int id = 0;
    const char *name = NULL;
    char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            id = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (npos < 2 && argv[i][0] != '-')
            pos[npos++] = argv[i];
        else
            die_usage("snapshot: unexpected argument %s", argv[i]);
    }
    if (strcmp(argv[0], "list") == 0) {
        if (npos)
            die_usage("usage: zincctl snapshot list");
        struct fanout f;
        fanout_cmd("snapshot_list", &f);
        int rc = fanout_rc(&f);
        json_t *all = f.nodes;
        if (opt_json) {
            fanout_print_json(&f);
            fanout_free(&f);
            return rc;
        }
        printf("%-5s %-44s %-10s %-6s %s\n", "NODE", "NAME", "INDEX", "TERM", "BYTES");
        for (size_t n = 0; n < json_array_size(all); n++) {
            json_t *r = json_array_get(all, n);
            json_t *ss = json_object_get(r, "snapshots");
            for (size_t i = 0; i < json_array_size(ss); i++) {
                json_t *s = json_array_get(ss, i);
                printf("%-5lld %-44s %-10lld %-6lld %lld\n", jint(r, "node"), jstr(s, "name"),
                       jint(s, "index"), jint(s, "term"), jint(s, "bytes"));
            }
        }
        fanout_free(&f);
        return rc;
    }
    struct ep *e = NULL;
    if (strcmp(argv[0], "create") == 0) {
        if (npos)
            die_usage("usage: zincctl snapshot create [--id N]");
        if (!(e = pick_node(id)))
            return EX_UNREACHABLE;
        uint64_t index = 0;
        int rc = snapshot_create_wait(e, &index);
        if (rc)
            return rc;
        if (opt_json) {
            json_t *doc = json_pack("{s:i, s:I}", "node", e->id, "index", (json_int_t)index);
            print_json(doc);
            json_decref(doc);
        } else {
            printf("snapshot on node %d covers index %llu (durable)\n", e->id,
                   (unsigned long long)index);
        }
        return EX_OK;
    }
    if (strcmp(argv[0], "download") == 0) {
        if (npos != 1)
            die_usage("usage: zincctl snapshot download FILE [--id N] [--name NAME]");
        if (!(e = pick_node(id)))
            return EX_UNREACHABLE;
        struct snapmeta m;
        int rc = snapshot_download(e, name, pos[0], &m);
        if (rc)
            return rc;
        if (opt_json) {
            json_t *doc =
                json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "file", pos[0], "node", e->id,
                          "cluster_id", (json_int_t)m.cluster, "index", (json_int_t)m.index, "term",
                          (json_int_t)m.term, "body_bytes", (json_int_t)m.body);
            print_json(doc);
            json_decref(doc);
        } else {
            printf("%s: snapshot of cluster %llu at index %llu (term %llu), %llu body bytes, "
                   "CRC32C %08x: verified\n",
                   pos[0], (unsigned long long)m.cluster, (unsigned long long)m.index,
                   (unsigned long long)m.term, (unsigned long long)m.body, m.crc);
        }
        return EX_OK;
    }
    die_usage("snapshot: unknown subcommand %s", argv[0]);
}

static int run_backup(int argc, char **argv)
{
    int id = 0;
    const char *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            id = (int)strtol(argv[++i], NULL, 10);
        else if (!out && argv[i][0] != '-')
            out = argv[i];
        else
            die_usage("backup: unexpected argument %s", argv[i]);
    }
    if (!out)
        die_usage("usage: zincctl backup FILE [--id N]");
    struct ep *e = pick_node(id);
    if (!e)
        return EX_UNREACHABLE;
    uint64_t index = 0;
    int rc = snapshot_create_wait(e, &index);
    if (rc)
        return rc;
    struct snapmeta m;
    rc = snapshot_download(e, NULL, out, &m);
    if (rc)
        return rc;
    /* Verify the file as written (read back from the disk). */
    uint8_t *img = NULL;
    size_t len = 0;
    const char *bad = read_file(out, &img, &len) ? "cannot read it back" : NULL;
    struct snapmeta m2;
    if (!bad)
        bad = snap_verify_mem(img, len, &m2);
    free(img);
    if (bad) {
        fprintf(stderr, "zincctl: backup %s does not verify after writing: %s\n", out, bad);
        return EX_FAILED;
    }
    if (opt_json) {
        json_t *doc =
            json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:b}", "file", out, "node", e->id,
                      "cluster_id", (json_int_t)m2.cluster, "index", (json_int_t)m2.index, "term",
                      (json_int_t)m2.term, "bytes", (json_int_t)len, "verified", 1);
        print_json(doc);
        json_decref(doc);
    } else {
        printf("backup %s: node %d, cluster %llu, index %llu, term %llu, %zu bytes, CRC32C "
               "%08x: verified\n",
               out, e->id, (unsigned long long)m2.cluster, (unsigned long long)m2.index,
               (unsigned long long)m2.term, len, m2.crc);
    }
    return EX_OK;
}

static int run_restore(int argc, char **argv)
{
    const char *file = NULL, *dir = NULL;
    long cluster = -1, node = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--cluster-id") == 0 && i + 1 < argc)
            cluster = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--node-id") == 0 && i + 1 < argc)
            node = strtol(argv[++i], NULL, 10);
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            die_usage("restore: unexpected argument %s", argv[i]);
    }
    if (!file || !dir || cluster < 1 || node < 1 || node > ZN_NODE_ID_MAX)
        die_usage("usage: zincctl restore FILE --data-dir DIR --cluster-id N --node-id N");
    uint8_t *img = NULL;
    size_t len = 0;
    if (read_file(file, &img, &len)) {
        fprintf(stderr, "zincctl restore: cannot read %s: %s\n", file, strerror(errno));
        return EX_FAILED;
    }
    struct snapmeta m;
    const char *bad = snap_verify_mem(img, len, &m);
    if (!bad && m.cluster != (uint64_t)cluster)
        bad = "the snapshot belongs to another cluster (--cluster-id)";
    if (bad) {
        fprintf(stderr, "zincctl restore: %s: %s\n", file, bad);
        free(img);
        return EX_FAILED;
    }
    fprintf(stderr, "restore: %s verified (cluster %llu, index %llu, term %llu, %llu bytes)\n",
            file, (unsigned long long)m.cluster, (unsigned long long)m.index,
            (unsigned long long)m.term, (unsigned long long)m.body);
    /* Offline and fresh only: the directory lock proves no zincd runs on it, and a WAL or hard
     * state there would be newer than (or unrelated to) the snapshot. */
    struct zn_datadir_lock lock;
    char err[512];
    if (zn_datadir_lock(dir, &lock, err, sizeof(err)) != 0) {
        fprintf(stderr, "zincctl restore: %s\n", err);
        free(img);
        return EX_FAILED;
    }
    char state[ZN_CONFIG_PATH_MAX + 16];
    snprintf(state, sizeof(state), "%s/state", dir);
    mkdir(state, 0750);
    DIR *d = opendir(state);
    const char *busy = d ? NULL : "cannot open the state directory";
    struct dirent *de;
    while (d && !busy && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            busy = de->d_name;
    char busy_name[256] = "";
    if (busy)
        snprintf(busy_name, sizeof(busy_name), "%s", busy);
    if (d)
        closedir(d);
    if (busy) {
        fprintf(stderr,
                "zincctl restore: %s is not a fresh data directory (found %s/%s): restore "
                "into an empty one\n",
                dir, state, busy_name);
        zn_datadir_unlock(&lock);
        free(img);
        return EX_FAILED;
    }
    /* The header names the node that wrote the file; the new node must own it. */
    put32(img + 24, (uint32_t)node);
    put32(img + 60, zn_crc32c(0, img, 60));
    char path[ZN_CONFIG_PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s/snap-%016llx-%016llx.snap", state, (unsigned long long)m.index,
             (unsigned long long)m.term);
    fprintf(stderr, "restore: writing %s\n", path);
    int rc = write_durable(path, img, len);
    free(img);
    if (rc) {
        fprintf(stderr, "zincctl restore: cannot write %s: %s\n", path, strerror(errno));
        zn_datadir_unlock(&lock);
        return EX_FAILED;
    }
    /* Check it exactly as zincd will at start (store/snapfile.h). */
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk disk;
    struct zn_snapfile_info info;
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    void *buf = malloc(1u << 16);
    int vr = mem && buf ? zn_disk_posix_init(&disk, mem, state) : ZN_ENOMEM;
    if (!vr) {
        vr = zn_snapfile_latest(&disk, (uint64_t)cluster, (uint32_t)node, buf, 1u << 16, &info,
                                &rep);
        /* The hard state starts at the snapshot's term: a node must never campaign in a term
         * older than entries it holds (its first new entry follows the snapshot's term). */
        struct zn_hardstate_file hf;
        struct zn_hardstate hs;
        if (!vr)
            vr = zn_hardstate_open(&hf, &disk, (uint64_t)cluster, (uint32_t)node, true, &hs, &rep);
        if (!vr) {
            hs = (struct zn_hardstate){.term = m.term, .vote = 0, .commit = m.index};
            vr = zn_hardstate_write(&hf, &hs);
            zn_hardstate_close(&hf);
        }
        zn_disk_posix_fini(&disk);
    }
    free(buf);
    free(mem);
    zn_datadir_unlock(&lock);
    if (vr || info.index != m.index) {
        fprintf(stderr, "zincctl restore: the installed file does not verify: %s (%s)\n",
                zn_strerror(vr), rep.message);
        return EX_FAILED;
    }
    if (opt_json) {
        json_t *doc =
            json_pack("{s:s, s:s, s:I, s:I, s:i}", "file", path, "data_dir", dir, "index",
                      (json_int_t)m.index, "term", (json_int_t)m.term, "node_id", (int)node);
        print_json(doc);
        json_decref(doc);
    } else {
        printf("restored index %llu (term %llu) into %s for node %ld: start zincd with a "
               "configuration for this node and cluster %ld\n",
               (unsigned long long)m.index, (unsigned long long)m.term, dir, node, cluster);
    }
    return EX_OK;
}

/* ---- main ---------------------------------------------------------------------------------- */

static const struct cmd cmds[] = {
    {"status", "status",
     "Per node: role, term, leader, commit/applied, lag behind the leader, "
     "sessions, znodes, watches, memory (RSS), WAL and snapshot sizes, last election.",
     run_status},
    {"members", "members list | add ID@IPV4:PORT [--learner] | remove ID | promote ID",
     "Membership. `add` first tells every node the new member's address, then the leader "
     "proposes the change (a voter joins as a learner and is promoted once caught up).",
     run_members},
    {"leader", "leader transfer [to N] | leader priority N P",
     "Hand leadership to node N (default: the most recently heard voter) and wait until the "
     "nodes agree. `priority N P` sets, on every node reached, the priority it holds for node N "
     "(node N: its own priority; 0 never campaigns); a leader hands over to a caught-up voter it "
     "holds above itself. Per node, not replicated, lost on restart (set [raft] priority too).",
     run_leader},
    {"snapshot", "snapshot create [--id N] | list | download FILE [--id N] [--name NAME]",
     "Take a snapshot now and wait until it is durable; list every node's snapshot files; "
     "download one (the newest by default) with progress, verified before it is written.",
     run_snapshot},
    {"backup", "backup FILE [--id N]",
     "Snapshot create + download + verify (default node: the leader).", run_backup},
    {"restore", "restore FILE --data-dir DIR --cluster-id N --node-id N",
     "Offline: verify FILE (checksums, cluster id) and install it into an empty data directory "
     "for node N; then start zincd there.",
     run_restore},
    {"config", "config show [--id N] | config set SECTION.KEY VALUE [--id N]",
     "Show the running configuration; change a runtime key on every node (or node N).", run_config},
    {"stats", "stats", "Counters of every node.", run_stats},
    {"latency", "latency [--reset]",
     "Per-operation server latency (count, mean, p50, p99, p99.9, max) on every node.",
     run_latency},
    {"sessions", "sessions list | sessions kill ID",
     "Sessions by the node their client is connected to; `kill` closes a session through Raft "
     "(its ephemerals are deleted, its client sees the session expire).",
     run_sessions},
    {"watches", "watches summary", "Watches, unacknowledged events and events sent, per node.",
     NULL},
    {"log", "log info", "First, last, commit, applied and snapshot indexes, WAL size, per node.",
     NULL},
    {"check", "check [--max-lag N]",
     "Health verdict for scripts: exit 0 healthy, 5 no agreed leader, 6 a node lags by more "
     "than N entries (default 1000) or is not ready, 7 a node is unreachable.",
     run_check},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: zincctl [-s SOCKET[,SOCKET...]] [--node HOST:PORT[,...] --token-file FILE]\n"
            "               [--json] [--timeout SECONDS] COMMAND [ARGS] [--help]\n\n"
            "Endpoints: give every node (repeat -s/--node or separate with commas); commands\n"
            "that change the cluster go to the leader, the others to every node.\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(out, "  %s\n", cmds[i].usage);
    fprintf(out,
            "\nexit codes: 0 ok, 1 refused/failed, 2 usage, 3 unreachable, 4 bad token;\n"
            "check: 5 no leader, 6 lagging, 7 node unreachable. docs/operations.md has more.\n");
}

static int run_subtable(int argc, char **argv, const char *want, int (*fn)(int, char **))
{
    if (argc < 1 || strcmp(argv[0], want) != 0)
        die_usage("%s: expected `%s`", cur_cmd->name, want);
    return fn(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
                                         {"node", required_argument, NULL, 'n'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *token_file = NULL;
    bool any_tcp = false;
    int c;
    /* "+": stop at the command; the command's own options come after it. */
    while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            ep_add_list(optarg, false);
            break;
        case 'n':
            ep_add_list(optarg, true);
            any_tcp = true;
            break;
        case 't':
            token_file = optarg;
            break;
        case 'j':
            opt_json = true;
            break;
        case 'T': {
            char *end;
            double s = strtod(optarg, &end);
            if (*end || s <= 0 || s > 3600)
                die_usage("--timeout: seconds in (0, 3600]");
            opt_timeout_ms = (int)(s * 1000);
            break;
        }
        case 'h':
            usage(stdout);
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EX_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && !cur_cmd; i++)
        if (strcmp(cmds[i].name, name) == 0)
            cur_cmd = &cmds[i];
    if (!cur_cmd)
        die_usage("unknown command '%s'", name);
    int cargc = argc - optind - 1;
    char **cargv = argv + optind + 1;
    /* Options after the command: --json and --help anywhere. */
    int k = 0;
    bool help = false;
    for (int i = 0; i < cargc; i++) {
        if (strcmp(cargv[i], "--json") == 0)
            opt_json = true;
        else if (strcmp(cargv[i], "--help") == 0 || strcmp(cargv[i], "-h") == 0)
            help = true;
        else
            cargv[k++] = cargv[i];
    }
    cargc = k;
    if (help) {
        printf("usage: zincctl %s\n\n%s\n", cur_cmd->usage, cur_cmd->help);
        return EX_OK;
    }
    if (strcmp(name, "restore") != 0) {
        if (n_eps == 0)
            die_usage("no endpoint: give -s SOCKET or --node HOST:PORT");
        if (any_tcp) {
            if (!token_file)
                die_usage("--node needs --token-file");
            FILE *f = fopen(token_file, "r");
            if (!f || !fgets(token, sizeof(token), f)) {
                fprintf(stderr, "zincctl: cannot read the token from %s\n", token_file);
                if (f)
                    fclose(f);
                return EX_USAGE;
            }
            fclose(f);
            size_t n = strlen(token), a = strspn(token, " \t");
            while (n > a && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ' ||
                             token[n - 1] == '\t'))
                token[--n] = 0;
            memmove(token, token + a, n - a + 1);
        }
    }
    int rc;
    if (strcmp(name, "watches") == 0)
        rc = run_subtable(cargc, cargv, "summary", run_watches);
    else if (strcmp(name, "log") == 0)
        rc = run_subtable(cargc, cargv, "info", run_log_info);
    else
        rc = cur_cmd->run(cargc, cargv);
    for (int i = 0; i < n_eps; i++)
        json_decref(eps[i].status);
    return rc;
}

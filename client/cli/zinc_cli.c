/*
 * zinc_cli.c - zinc-cli, the interactive client shell of zinc (issue 8), built on libzinc.
 *
 *   zinc-cli [-s host:port[,host:port...][/chroot]] [--cluster-id N] [--timeout ms]
 *            [-c 'command' ...| -f script] [--json]
 *
 * Commands and output formats follow ZooKeeper's zkCli.sh where an equivalent exists (stat
 * printed field by field, errors as "Node does not exist: /a", watch events as
 * "WatchedEvent state:SyncConnected type:NodeDataChanged path:/a"). The guide with real output
 * is docs/operations.md "zinc-cli".
 *
 * Threads: libzinc runs watchers and the state callback on its I/O thread; they only format a
 * line and write() it to a non-blocking pipe (never block, never touch the terminal). The main
 * thread owns the terminal: it polls stdin, that pipe and a SIGINT self-pipe, prints events
 * between keystrokes and redraws the line being edited (libedit's readline callback interface).
 *
 * Exit codes (one-shot and script modes stop at the first failing command):
 *   0 every command succeeded, 1 a command failed with a ZooKeeper error, 2 bad usage,
 *   3 connection failure (no node answered, the session was lost or expired, not connected).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>
#include <jansson.h>

#include "client/zinc.h"
#include "common/zn_log.h"

enum {
    CLI_OK = 0,
    CLI_ZKERR = 1,
    CLI_USAGE = 2,
    CLI_CONN = 3,
};

#define CLI_ARGS_MAX            64
#define CLI_LINE_MAX            65536
#define CLI_MULTI_OPS_MAX       1000    /* below libzinc's 1024 multi ops */
#define CLI_DELETEALL_NODES_MAX 1000000 /* deleteall refuses bigger subtrees */
#define CLI_DELETEALL_BATCH_MAX 1000
#define CLI_HISTORY_MAX         1000
#define CLI_EVENT_LINE_MAX      4000 /* below PIPE_BUF: one write() is atomic */
#define CLI_HOSTS_MAX           16

struct cli_multi_op {
    struct zn_op op;
    char *path;
    char *data;
    struct zn_acl_vec acl;
    char *line;
};

struct cli {
    zn_handle *zh;
    char hosts[4096];
    char host_list[CLI_HOSTS_MAX][300];
    int host_count;
    uint32_t cluster_id;
    uint32_t timeout_ms;
    bool json;
    bool interactive;
    bool print_watches;
    bool quit;
    int command_count;
    int event_pipe[2];
    char *data_buf;
    int32_t data_buf_len;
    bool in_multi;
    int multi_count;
    struct cli_multi_op multi[CLI_MULTI_OPS_MAX];
    char history_file[PATH_MAX];
};

static int sigint_pipe[2] = {-1, -1};
static volatile sig_atomic_t sigint_mode; /* 0: exit at once, 1: report through the pipe */

/* ---- output helpers ------------------------------------------------------------------------ */

static const char *event_type_name(int type)
{
    switch (type) {
    case ZN_EVENT_SESSION:
        return "None";
    case ZN_EVENT_CREATED:
        return "NodeCreated";
    case ZN_EVENT_DELETED:
        return "NodeDeleted";
    case ZN_EVENT_CHANGED:
        return "NodeDataChanged";
    case ZN_EVENT_CHILD:
        return "NodeChildrenChanged";
    case ZN_EVENT_DATA_WATCH_REMOVED:
        return "DataWatchRemoved";
    case ZN_EVENT_CHILD_WATCH_REMOVED:
        return "ChildWatchRemoved";
    case ZN_EVENT_PERSISTENT_WATCH_REMOVED:
        return "PersistentWatchRemoved";
    default:
        return "Unknown";
    }
}

static const char *keeper_state_name(int state)
{
    switch (state) {
    case ZN_STATE_CONNECTED:
        return "SyncConnected";
    case ZN_STATE_SUSPENDED:
        return "Disconnected";
    case ZN_STATE_AUTH_FAILED:
        return "AuthFailed";
    case ZN_STATE_CLOSED:
        return "Closed";
    case ZN_STATE_EXPIRED:
        return "Expired";
    case ZN_STATE_CONNECTING:
        return "Disconnected";
    default:
        return "Unknown";
    }
}

static const char *prompt_state_name(int state)
{
    switch (state) {
    case ZN_STATE_CONNECTING:
        return "CONNECTING";
    case ZN_STATE_CONNECTED:
        return "CONNECTED";
    case ZN_STATE_SUSPENDED:
        return "SUSPENDED";
    case ZN_STATE_AUTH_FAILED:
        return "AUTH_FAILED";
    case ZN_STATE_CLOSED:
        return "CLOSED";
    case ZN_STATE_EXPIRED:
        return "EXPIRED";
    default:
        return "UNKNOWN";
    }
}

static void format_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, len, "%a %b %d %H:%M:%S %Z %Y", &tm) == 0)
        snprintf(buf, len, "%" PRId64, ms);
}

static json_t *stat_json(const struct zn_stat *s)
{
    return json_pack("{sI sI sI sI sI si si si sI si si}", "cZxid", (json_int_t)s->czxid, "ctime",
                     (json_int_t)s->ctime, "mZxid", (json_int_t)s->mzxid, "mtime",
                     (json_int_t)s->mtime, "pZxid", (json_int_t)s->pzxid, "cversion", s->cversion,
                     "dataVersion", s->version, "aclVersion", s->aversion, "ephemeralOwner",
                     (json_int_t)s->ephemeral_owner, "dataLength", s->data_length, "numChildren",
                     s->num_children);
}

/* zkCli's StatPrinter. */
static void print_stat(const struct zn_stat *s)
{
    char ct[64], mt[64];
    format_time(s->ctime, ct, sizeof(ct));
    format_time(s->mtime, mt, sizeof(mt));
    printf("cZxid = 0x%" PRIx64 "\nctime = %s\nmZxid = 0x%" PRIx64
           "\nmtime = %s\npZxid = 0x%" PRIx64
           "\ncversion = %d\ndataVersion = %d\naclVersion = %d\nephemeralOwner = 0x%" PRIx64
           "\ndataLength = %d\nnumChildren = %d\n",
           (uint64_t)s->czxid, ct, (uint64_t)s->mzxid, mt, (uint64_t)s->pzxid, s->cversion,
           s->version, s->aversion, (uint64_t)s->ephemeral_owner, s->data_length, s->num_children);
}

static void json_out(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text) {
        puts(text);
        free(text);
    }
    json_decref(j);
}

static const char *zk_name(int err)
{
    return zn_zk_err_name(zn_err_to_zk(err));
}

/* zkCli's message for a KeeperException, with the ZooKeeper code name appended. */
static void format_error(int err, const char *path, char *buf, size_t len)
{
    switch (err) {
    case ZN_ENONODE:
        snprintf(buf, len, "Node does not exist: %s", path);
        break;
    case ZN_ENODEEXISTS:
        snprintf(buf, len, "Node already exists: %s", path);
        break;
    case ZN_EBADVERSION:
        snprintf(buf, len, "version No is not valid : %s", path);
        break;
    case ZN_ENOTEMPTY:
        snprintf(buf, len, "Node not empty: %s", path);
        break;
    case ZN_ENOAUTH:
        snprintf(buf, len, "Insufficient permission : %s", path);
        break;
    case ZN_ENOCHILDRENFOREPHEMERALS:
        snprintf(buf, len, "Ephemerals cannot have children: %s", path);
        break;
    case ZN_EINVALIDACL:
        snprintf(buf, len, "Acl is not valid : %s", path);
        break;
    case ZN_ENOWATCHER:
        snprintf(buf, len, "No watcher is set on %s", path);
        break;
    case ZN_ETIMEDOUT:
        snprintf(buf, len, "Connection lost or request timed out for %s (outcome unknown)", path);
        break;
    default:
        snprintf(buf, len, "KeeperErrorCode = %s for %s", zn_strerror(err), path);
        break;
    }
}

static bool is_conn_error(int err)
{
    return err == ZN_ETIMEDOUT || err == ZN_ECONNLOSS || err == ZN_ESESSIONEXPIRED ||
           err == ZN_ESHUTDOWN || err == ZN_EAUTHFAILED || err == ZN_ESESSIONMOVED;
}

static const char *current_host(struct cli *cli);

/* Report a failed call; returns the exit code class of the error. */
static int report_error(struct cli *cli, int err, const char *path)
{
    char msg[4400];
    format_error(err, path ? path : "", msg, sizeof(msg));
    if (cli->json) {
        json_t *j = json_pack("{ss si ss ss}", "error", zk_name(err), "code", zn_err_to_zk(err),
                              "message", msg, "path", path ? path : "");
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (text)
            fprintf(stderr, "%s\n", text);
        free(text);
        json_decref(j);
    } else if (is_conn_error(err) && cli->zh) {
        fprintf(stderr, "%s (%s) [node %s, state %s]\n", msg, zk_name(err), current_host(cli),
                prompt_state_name(zn_state(cli->zh)));
    } else {
        fprintf(stderr, "%s (%s)\n", msg, zk_name(err));
    }
    if (err == ZN_EBADARGUMENTS || err == ZN_ELIMIT)
        return CLI_USAGE;
    return is_conn_error(err) ? CLI_CONN : CLI_ZKERR;
}

/* ---- watch plumbing ------------------------------------------------------------------------- */

/* Messages on the event pipe: one line, first byte the kind ('G' global watcher event, 'S' an
 * event of the running `watch` command), then the text. */
static void post_event(struct cli *cli, char kind, int type, int state, const char *path)
{
    char line[CLI_EVENT_LINE_MAX];
    int n;
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "state", json_string(keeper_state_name(state)));
        json_object_set_new(j, "type", json_string(event_type_name(type)));
        json_object_set_new(j, "path", type == ZN_EVENT_SESSION ? json_null() : json_string(path));
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        n = snprintf(line, sizeof(line), "%c%s\n", kind, text ? text : "{}");
        free(text);
        json_decref(j);
    } else {
        n = snprintf(line, sizeof(line), "%cWatchedEvent state:%s type:%s path:%s\n", kind,
                     keeper_state_name(state), event_type_name(type),
                     type == ZN_EVENT_SESSION ? "null" : path);
    }
    if (n >= (int)sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* Non-blocking: a full pipe drops the line rather than stalling the I/O thread. */
    if (write(cli->event_pipe[1], line, (size_t)n) != n)
        return;
}

static void global_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    struct cli *cli = ctx;
    (void)zh;
    /* Scripts get node events only; the shell also shows session changes (as zkCli does). */
    if (type == ZN_EVENT_SESSION && !cli->interactive)
        return;
    post_event(cli, 'G', type, state, path);
}

/* The running `watch` command (set by the main thread before addWatch, cleared before
 * removeWatches, read by the I/O thread). */
static struct cli *stream_cli;
static atomic_bool stream_active;
static void stream_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)ctx;
    if (atomic_load(&stream_active))
        post_event(stream_cli, 'S', type, state, path);
}

/* Print what is in the event pipe. Returns the number of 'S' events printed. */
static int drain_events(struct cli *cli, bool redraw)
{
    static char pending[CLI_EVENT_LINE_MAX * 2];
    static size_t used;
    int stream_events = 0;
    bool printed = false;
    for (;;) {
        ssize_t n = read(cli->event_pipe[0], pending + used, sizeof(pending) - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        char *start = pending;
        char *nl;
        while ((nl = memchr(start, '\n', used - (size_t)(start - pending))) != NULL) {
            *nl = '\0';
            if (start[0] == 'S') {
                if (atomic_load(&stream_active)) { /* else: raced with the end of `watch` */
                    printf("%s\n", start + 1);
                    stream_events++;
                }
            } else if (cli->print_watches) {
                if (redraw && !printed)
                    printf("\n");
                if (cli->json)
                    printf("%s\n", start + 1);
                else
                    printf("\nWATCHER::\n\n%s\n", start + 1);
                printed = true;
            }
            start = nl + 1;
        }
        used -= (size_t)(start - pending);
        memmove(pending, start, used);
    }
    fflush(stdout);
    if (printed && redraw)
        rl_forced_update_display();
    return stream_events;
}

static void on_sigint(int sig)
{
    (void)sig;
    if (sigint_mode == 0)
        _exit(130);
    char c = 'i';
    if (write(sigint_pipe[1], &c, 1) != 1)
        return;
}

static void drain_fd(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

/* ---- connection ---------------------------------------------------------------------------- */

static void split_hosts(struct cli *cli)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", cli->hosts);
    char *slash = strchr(tmp, '/');
    if (slash)
        *slash = '\0';
    cli->host_count = 0;
    char *save = NULL;
    for (char *h = strtok_r(tmp, ",", &save); h && cli->host_count < CLI_HOSTS_MAX;
         h = strtok_r(NULL, ",", &save))
        snprintf(cli->host_list[cli->host_count++], sizeof(cli->host_list[0]), "%s", h);
}

static int cli_connect(struct cli *cli, const char *hosts)
{
    if (cli->zh) {
        zn_close(cli->zh);
        cli->zh = NULL;
    }
    snprintf(cli->hosts, sizeof(cli->hosts), "%s", hosts);
    split_hosts(cli);
    struct zn_options opts;
    zn_options_init(&opts);
    opts.cluster_id = cli->cluster_id;
    opts.connect_timeout_ms = cli->timeout_ms;
    opts.request_timeout_ms = cli->timeout_ms;
    opts.watcher = global_watcher;
    opts.watcher_ctx = cli;
    int rc = zn_open(hosts, &opts, &cli->zh);
    if (rc != 0) {
        cli->zh = NULL;
        if (cli->json) {
            json_t *j = json_pack("{ss si ss ss si}", "error", zk_name(rc), "code",
                                  zn_err_to_zk(rc), "message", zn_strerror(rc), "server", hosts,
                                  "timeout_ms", (int)cli->timeout_ms);
            char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
            if (text)
                fprintf(stderr, "%s\n", text);
            free(text);
            json_decref(j);
        } else {
            fprintf(stderr, "zinc-cli: cannot connect to %s (cluster id %u): %s (%s) after %u ms\n",
                    hosts, cli->cluster_id, zn_strerror(rc), zk_name(rc), cli->timeout_ms);
        }
        return rc == ZN_EBADARGUMENTS ? CLI_USAGE : CLI_CONN;
    }
    return CLI_OK;
}

static int cli_state(struct cli *cli)
{
    return cli->zh ? zn_state(cli->zh) : ZN_STATE_CLOSED;
}

static const char *current_host(struct cli *cli)
{
    if (!cli->zh || cli->host_count == 0)
        return cli->host_count ? cli->host_list[0] : cli->hosts;
    int i = zn_current_node(cli->zh);
    return (i >= 0 && i < cli->host_count) ? cli->host_list[i] : cli->host_list[0];
}

/* ---- argument parsing ---------------------------------------------------------------------- */

/* Split a command line into words: whitespace separates, '...' is literal, "..." and outside
 * quotes a backslash escapes the next character. Returns the count or -1 (unbalanced quote or
 * too many words). Words point into `buf`. */
static int tokenize(const char *line, char *buf, size_t buf_len, char **argv)
{
    int argc = 0;
    size_t o = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        if (argc == CLI_ARGS_MAX)
            return -1;
        argv[argc++] = buf + o;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (o + 2 >= buf_len)
                return -1;
            if (*p == '\'') {
                p++;
                while (*p && *p != '\'') {
                    if (o + 2 >= buf_len)
                        return -1;
                    buf[o++] = *p++;
                }
                if (*p != '\'')
                    return -1;
                p++;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1])
                        p++;
                    if (o + 2 >= buf_len)
                        return -1;
                    buf[o++] = *p++;
                }
                if (*p != '"')
                    return -1;
                p++;
            } else {
                if (*p == '\\' && p[1])
                    p++;
                buf[o++] = *p++;
            }
        }
        buf[o++] = '\0';
    }
    return argc;
}

/* Options of one command: flags in `spec` ("esct:" - a ':' after a letter takes a value),
 * anywhere before "--"; the rest are positional. */
struct opts {
    bool set[128];
    const char *val[128];
    int npos;
    const char *pos[CLI_ARGS_MAX];
};

static int parse_opts(int argc, char **argv, const char *spec, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0' && a[1] != '-' &&
            !(a[1] >= '0' && a[1] <= '9')) {
            for (const char *f = a + 1; *f; f++) {
                const char *s = strchr(spec, *f);
                if (!s || *f == ':' || (unsigned char)*f >= 128) {
                    fprintf(stderr, "Unknown option: -%c\n", *f);
                    return -1;
                }
                o->set[(int)*f] = true;
                if (s[1] == ':') {
                    if (f[1] != '\0') {
                        o->val[(int)*f] = f + 1;
                    } else if (i + 1 < argc) {
                        o->val[(int)*f] = argv[++i];
                    } else {
                        fprintf(stderr, "Missing argument for option: %c\n", *f);
                        return -1;
                    }
                    break;
                }
            }
            continue;
        }
        o->pos[o->npos++] = a;
    }
    return 0;
}

static bool parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *text == '\0' || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_perms(const char *text, int32_t *perms)
{
    *perms = 0;
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case 'c':
            *perms |= ZN_PERM_CREATE;
            break;
        case 'd':
            *perms |= ZN_PERM_DELETE;
            break;
        case 'r':
            *perms |= ZN_PERM_READ;
            break;
        case 'w':
            *perms |= ZN_PERM_WRITE;
            break;
        case 'a':
            *perms |= ZN_PERM_ADMIN;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static void perms_string(int32_t perms, char *buf)
{
    int n = 0;
    if (perms & ZN_PERM_CREATE)
        buf[n++] = 'c';
    if (perms & ZN_PERM_DELETE)
        buf[n++] = 'd';
    if (perms & ZN_PERM_READ)
        buf[n++] = 'r';
    if (perms & ZN_PERM_WRITE)
        buf[n++] = 'w';
    if (perms & ZN_PERM_ADMIN)
        buf[n++] = 'a';
    buf[n] = '\0';
}

static void acl_free(struct zn_acl_vec *acl)
{
    for (int i = 0; i < acl->count; i++) {
        free(acl->data[i].scheme);
        free(acl->data[i].id);
    }
    free(acl->data);
    acl->data = NULL;
    acl->count = 0;
}

/* zkCli ACL syntax: scheme:id:perms[,scheme:id:perms...]; the id may contain ':' (digest). */
static int parse_acl(const char *text, struct zn_acl_vec *acl)
{
    memset(acl, 0, sizeof(*acl));
    char *copy = strdup(text);
    if (!copy)
        return -1;
    int cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    acl->data = calloc((size_t)cap, sizeof(*acl->data));
    if (!acl->data) {
        free(copy);
        return -1;
    }
    char *save = NULL;
    for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        char *first = strchr(a, ':');
        char *last = strrchr(a, ':');
        if (!first || first == last) {
            fprintf(stderr, "%s does not have the form scheme:id:perm\n", a);
            goto fail;
        }
        *first = '\0';
        *last = '\0';
        struct zn_acl *e = &acl->data[acl->count];
        if (parse_perms(last + 1, &e->perms) != 0) {
            fprintf(stderr, "Invalid permission %s: use a combination of cdrwa\n", last + 1);
            goto fail;
        }
        e->scheme = strdup(a);
        e->id = strdup(first + 1);
        acl->count++;
        if (!e->scheme || !e->id)
            goto fail;
    }
    free(copy);
    if (acl->count == 0) {
        fprintf(stderr, "empty ACL\n");
        acl_free(acl);
        return -1;
    }
    return 0;
fail:
    free(copy);
    acl_free(acl);
    return -1;
}

/* ---- commands ------------------------------------------------------------------------------ */

struct command {
    const char *name;
    int (*fn)(struct cli *cli, int argc, char **argv);
    const char *usage;
    const char *help;
    bool needs_session;
};

static const struct command *find_command(const char *name);

static int usage_error(const char *name)
{
    const struct command *c = find_command(name);
    fprintf(stderr, "Usage: %s\n", c ? c->usage : name);
    return CLI_USAGE;
}

static int cmd_create(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "esct:", &o) != 0 || o.npos < 1 || o.npos > 3)
        return usage_error("create");
    bool e = o.set['e'], s = o.set['s'], c = o.set['c'], t = o.set['t'];
    int64_t ttl = 0;
    if (c && (e || s || t)) {
        fprintf(stderr, "-c cannot be combined with -s, -e or -t\n");
        return CLI_USAGE;
    }
    if (t && e) {
        fprintf(stderr, "TTLs cannot be used with Ephemeral znodes\n");
        return CLI_USAGE;
    }
    if (t && !parse_i64(o.val['t'], 1, INT64_MAX / 2, &ttl)) {
        fprintf(stderr, "-t ttl: expected a positive number of milliseconds\n");
        return CLI_USAGE;
    }
    int mode = ZN_PERSISTENT;
    if (c)
        mode = ZN_CONTAINER;
    else if (t)
        mode = s ? ZN_PERSISTENT_SEQUENTIAL_WITH_TTL : ZN_PERSISTENT_WITH_TTL;
    else if (e)
        mode = s ? ZN_EPHEMERAL_SEQUENTIAL : ZN_EPHEMERAL;
    else if (s)
        mode = ZN_PERSISTENT_SEQUENTIAL;
    struct zn_acl_vec acl = ZN_OPEN_ACL_UNSAFE;
    bool own_acl = false;
    if (o.npos == 3) {
        if (parse_acl(o.pos[2], &acl) != 0)
            return CLI_USAGE;
        own_acl = true;
    }
    const char *data = o.npos >= 2 ? o.pos[1] : NULL;
    char created[4200];
    struct zn_stat st;
    int rc = zn_create(cli->zh, o.pos[0], data, data ? (int32_t)strlen(data) : -1, &acl, mode, ttl,
                       created, (int)sizeof(created), &st);
    if (own_acl)
        acl_free(&acl);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    if (cli->json)
        json_out(json_pack("{ss so}", "path", created, "stat", stat_json(&st)));
    else
        printf("Created %s\n", created);
    return CLI_OK;
}

static void print_data(struct cli *cli, const char *path, const char *data, int32_t len,
                       const struct zn_stat *st, bool with_stat)
{
    if (cli->json) {
        json_t *d = len < 0 ? json_null() : json_stringn(data, (size_t)len);
        json_t *j = json_pack("{ss so}", "path", path, "stat", stat_json(st));
        if (d) {
            json_object_set_new(j, "data", d);
        } else {                                            /* not UTF-8: hex */
            size_t hex_len = (size_t)(uint32_t)len * 2 + 1; /* len >= 0 here */
            char *hex = len <= cli->data_buf_len ? malloc(hex_len) : NULL;
            for (int32_t i = 0; hex && i < len; i++)
                snprintf(hex + 2 * i, 3, "%02x", (unsigned char)data[i]);
            if (hex) {
                hex[2 * len] = '\0';
                json_object_set_new(j, "data_hex", json_string(hex));
            }
            free(hex);
        }
        json_out(j);
        return;
    }
    if (len < 0)
        printf("null\n");
    else {
        fwrite(data, 1, (size_t)len, stdout);
        printf("\n");
    }
    if (with_stat)
        print_stat(st);
}

static int cmd_get(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "ws", &o) != 0 || o.npos != 1)
        return usage_error("get");
    int32_t len = cli->data_buf_len;
    struct zn_stat st;
    int rc = zn_get(cli->zh, o.pos[0], o.set['w'], cli->data_buf, &len, &st);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    print_data(cli, o.pos[0], cli->data_buf, len, &st, o.set['s']);
    return CLI_OK;
}

static int cmd_set(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    int64_t version = -1;
    if (parse_opts(argc, argv, "sv:", &o) != 0 || o.npos != 2)
        return usage_error("set");
    if (o.set['v'] && !parse_i64(o.val['v'], -1, INT32_MAX, &version)) {
        fprintf(stderr, "-v version: expected an integer >= -1\n");
        return CLI_USAGE;
    }
    struct zn_stat st;
    int rc = zn_set(cli->zh, o.pos[0], o.pos[1], (int32_t)strlen(o.pos[1]), (int32_t)version, &st);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    if (cli->json)
        json_out(json_pack("{ss so}", "path", o.pos[0], "stat", stat_json(&st)));
    else if (o.set['s'])
        print_stat(&st);
    return CLI_OK;
}

static int cmd_delete(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    int64_t version = -1;
    if (parse_opts(argc, argv, "v:", &o) != 0 || o.npos != 1)
        return usage_error("delete");
    if (o.set['v'] && !parse_i64(o.val['v'], -1, INT32_MAX, &version)) {
        fprintf(stderr, "-v version: expected an integer >= -1\n");
        return CLI_USAGE;
    }
    int rc = zn_delete(cli->zh, o.pos[0], (int32_t)version);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    if (cli->json)
        json_out(json_pack("{ss sb}", "path", o.pos[0], "deleted", 1));
    return CLI_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void child_path(const char *parent, const char *child, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, child);
}

/* The subtree of `root` in pre-order (parents before children, children sorted), at most
 * `max` paths. Returns 0, a ZN_E* error (with *failed_path), or ZN_ELIMIT when bigger. */
struct path_list {
    char **paths;
    int count;
    int cap;
};

static int path_list_add(struct path_list *l, const char *p)
{
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **n = realloc(l->paths, (size_t)cap * sizeof(*n));
        if (!n)
            return ZN_ENOMEM;
        l->paths = n;
        l->cap = cap;
    }
    l->paths[l->count] = strdup(p);
    if (!l->paths[l->count])
        return ZN_ENOMEM;
    l->count++;
    return 0;
}

static void path_list_free(struct path_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof(*l));
}

static int collect_subtree(struct cli *cli, const char *root, int max, struct path_list *out,
                           const char **failed)
{
    int rc = path_list_add(out, root);
    /* Breadth by index, then sorted into pre-order below by path comparison with '/' first. */
    for (int i = 0; rc == 0 && i < out->count; i++) {
        struct zn_strings ch;
        rc = zn_get_children(cli->zh, out->paths[i], 0, &ch);
        if (rc == ZN_ENONODE && i > 0) { /* removed meanwhile */
            rc = 0;
            zn_strings_free(&ch);
            continue;
        }
        if (rc != 0) {
            *failed = out->paths[i];
            zn_strings_free(&ch);
            break;
        }
        if (out->count + ch.count > max) {
            zn_strings_free(&ch);
            rc = ZN_ELIMIT;
            break;
        }
        char p[4200];
        for (int k = 0; rc == 0 && k < ch.count; k++) {
            child_path(out->paths[i], ch.data[k], p, sizeof(p));
            rc = path_list_add(out, p);
        }
        zn_strings_free(&ch);
    }
    return rc;
}

/* Order for a DFS listing: the end of a path first, then '/', then any other byte. Sorting
 * the subtree with it gives pre-order with siblings sorted; reversed, children come before
 * their parent. */
static int tree_rank(unsigned char c)
{
    return c == '\0' ? 0 : c == '/' ? 1 : c + 2;
}

static int cmp_tree(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    for (;; x++, y++) {
        int rx = tree_rank(*x), ry = tree_rank(*y);
        if (rx != ry)
            return rx < ry ? -1 : 1;
        if (*x == '\0')
            return 0;
    }
}

static int cmd_deleteall(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    int64_t batch = CLI_DELETEALL_BATCH_MAX;
    if (parse_opts(argc, argv, "b:", &o) != 0 || o.npos != 1)
        return usage_error("deleteall");
    if (o.set['b'] && !parse_i64(o.val['b'], 1, CLI_DELETEALL_BATCH_MAX, &batch)) {
        fprintf(stderr, "-b batch: expected 1..%d\n", CLI_DELETEALL_BATCH_MAX);
        return CLI_USAGE;
    }
    if (strcmp(o.pos[0], "/") == 0) {
        fprintf(stderr, "deleteall /: refusing to delete the whole tree\n");
        return CLI_USAGE;
    }
    struct path_list l = {0};
    const char *failed = o.pos[0];
    int rc = collect_subtree(cli, o.pos[0], CLI_DELETEALL_NODES_MAX, &l, &failed);
    if (rc == ZN_ELIMIT) {
        fprintf(stderr,
                "deleteall %s: more than %d nodes below, refusing (delete subtrees first)\n",
                o.pos[0], CLI_DELETEALL_NODES_MAX);
        path_list_free(&l);
        return CLI_USAGE;
    }
    if (rc != 0) {
        int code = report_error(cli, rc, failed);
        path_list_free(&l);
        return code;
    }
    qsort(l.paths, (size_t)l.count, sizeof(*l.paths), cmp_tree);
    bool progress = l.count > CLI_DELETEALL_BATCH_MAX;
    int deleted = 0;
    struct zn_op *ops = calloc((size_t)batch, sizeof(*ops));
    struct zn_op_result *res = calloc((size_t)batch, sizeof(*res));
    if (!ops || !res) {
        free(ops);
        free(res);
        path_list_free(&l);
        return report_error(cli, ZN_ENOMEM, o.pos[0]);
    }
    /* Children before parents: walk the pre-order list backwards, in batches of multi. */
    int end = l.count;
    while (rc == 0 && end > 0) {
        int n = end < batch ? end : (int)batch;
        for (int k = 0; k < n; k++)
            zn_op_delete(&ops[k], l.paths[end - 1 - k], -1);
        rc = zn_multi(cli->zh, n, ops, res);
        zn_op_results_free(res, n);
        if (rc != 0 && !is_conn_error(rc)) {
            /* Someone changed the subtree meanwhile: one by one, a vanished node is fine. */
            rc = 0;
            for (int k = 0; k < n && rc == 0; k++) {
                rc = zn_delete(cli->zh, l.paths[end - 1 - k], -1);
                if (rc == ZN_ENONODE)
                    rc = 0;
                failed = l.paths[end - 1 - k];
            }
        } else {
            failed = l.paths[end - 1];
        }
        if (rc == 0) {
            deleted += n;
            end -= n;
            if (progress)
                fprintf(stderr, "deleteall %s: %d/%d deleted\n", o.pos[0], deleted, l.count);
        }
    }
    free(ops);
    free(res);
    int code = CLI_OK;
    if (rc != 0)
        code = report_error(cli, rc, failed);
    else if (cli->json)
        json_out(json_pack("{ss si}", "path", o.pos[0], "deleted", deleted));
    path_list_free(&l);
    return code;
}

static void print_children(struct zn_strings *ch)
{
    qsort(ch->data, (size_t)ch->count, sizeof(*ch->data), cmp_str);
    printf("[");
    for (int i = 0; i < ch->count; i++)
        printf("%s%s", i ? ", " : "", ch->data[i]);
    printf("]\n");
}

static json_t *strings_json(const struct zn_strings *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->count; i++)
        json_array_append_new(a, json_string(s->data[i]));
    return a;
}

static int cmd_ls(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "Rws", &o) != 0 || o.npos > 1)
        return usage_error("ls");
    const char *path = o.npos ? o.pos[0] : "/";
    if (o.set['R']) {
        struct path_list l = {0};
        const char *failed = path;
        int rc = collect_subtree(cli, path, CLI_DELETEALL_NODES_MAX, &l, &failed);
        if (rc != 0) {
            int code = report_error(cli, rc, failed);
            path_list_free(&l);
            return code;
        }
        qsort(l.paths, (size_t)l.count, sizeof(*l.paths), cmp_tree);
        if (cli->json) {
            struct zn_strings s = {l.count, l.paths};
            json_out(json_pack("{ss so}", "path", path, "paths", strings_json(&s)));
        } else {
            for (int i = 0; i < l.count; i++)
                printf("%s\n", l.paths[i]);
        }
        path_list_free(&l);
        return CLI_OK;
    }
    struct zn_strings ch;
    struct zn_stat st;
    int rc = zn_get_children2(cli->zh, path, o.set['w'], &ch, &st);
    if (rc != 0) {
        zn_strings_free(&ch);
        return report_error(cli, rc, path);
    }
    if (cli->json) {
        qsort(ch.data, (size_t)ch.count, sizeof(*ch.data), cmp_str);
        json_out(json_pack("{ss so so}", "path", path, "children", strings_json(&ch), "stat",
                           stat_json(&st)));
    } else {
        print_children(&ch);
        if (o.set['s'])
            print_stat(&st);
    }
    zn_strings_free(&ch);
    return CLI_OK;
}

static int cmd_stat(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "w", &o) != 0 || o.npos != 1)
        return usage_error("stat");
    struct zn_stat st;
    int rc = zn_exists(cli->zh, o.pos[0], o.set['w'], &st);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    if (cli->json)
        json_out(json_pack("{ss so}", "path", o.pos[0], "stat", stat_json(&st)));
    else
        print_stat(&st);
    return CLI_OK;
}

static int cmd_getacl(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "s", &o) != 0 || o.npos != 1)
        return usage_error("getAcl");
    struct zn_acl_vec acl;
    struct zn_stat st;
    int rc = zn_get_acl(cli->zh, o.pos[0], &acl, &st);
    if (rc != 0) {
        zn_acl_vec_free(&acl);
        return report_error(cli, rc, o.pos[0]);
    }
    char perms[8];
    if (cli->json) {
        json_t *a = json_array();
        for (int i = 0; i < acl.count; i++) {
            perms_string(acl.data[i].perms, perms);
            json_array_append_new(a, json_pack("{ss ss ss}", "scheme", acl.data[i].scheme, "id",
                                               acl.data[i].id, "perms", perms));
        }
        json_out(json_pack("{ss so so}", "path", o.pos[0], "acl", a, "stat", stat_json(&st)));
    } else {
        for (int i = 0; i < acl.count; i++) {
            perms_string(acl.data[i].perms, perms);
            printf("'%s,'%s\n: %s\n", acl.data[i].scheme, acl.data[i].id, perms);
        }
        if (o.set['s'])
            print_stat(&st);
    }
    zn_acl_vec_free(&acl);
    return CLI_OK;
}

static int cmd_setacl(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    int64_t version = -1;
    if (parse_opts(argc, argv, "sRv:", &o) != 0 || o.npos != 2)
        return usage_error("setAcl");
    if (o.set['v'] && !parse_i64(o.val['v'], -1, INT32_MAX, &version)) {
        fprintf(stderr, "-v version: expected an integer >= -1\n");
        return CLI_USAGE;
    }
    struct zn_acl_vec acl;
    if (parse_acl(o.pos[1], &acl) != 0)
        return CLI_USAGE;
    struct path_list l = {0};
    const char *failed = o.pos[0];
    int rc = 0;
    if (o.set['R'])
        rc = collect_subtree(cli, o.pos[0], CLI_DELETEALL_NODES_MAX, &l, &failed);
    else
        rc = path_list_add(&l, o.pos[0]);
    for (int i = 0; rc == 0 && i < l.count; i++) {
        /* -v applies to the named node only (zkCli does the same). */
        rc = zn_set_acl(cli->zh, l.paths[i], i == 0 ? (int32_t)version : -1, &acl);
        failed = l.paths[i];
    }
    acl_free(&acl);
    int code = CLI_OK;
    if (rc != 0) {
        code = report_error(cli, rc, failed);
    } else if (o.set['s'] || cli->json) {
        /* libzinc's zn_set_acl returns no stat: read it back (zkCli prints setACL's stat). */
        struct zn_stat st;
        rc = zn_exists(cli->zh, o.pos[0], 0, &st);
        if (rc != 0)
            code = report_error(cli, rc, o.pos[0]);
        else if (cli->json)
            json_out(json_pack("{ss so}", "path", o.pos[0], "stat", stat_json(&st)));
        else
            print_stat(&st);
    }
    path_list_free(&l);
    return code;
}

static int cmd_addauth(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "", &o) != 0 || o.npos < 1 || o.npos > 2)
        return usage_error("addauth");
    const char *auth = o.npos == 2 ? o.pos[1] : "";
    int rc = zn_add_auth(cli->zh, o.pos[0], auth, (int32_t)strlen(auth));
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    return CLI_OK;
}

static int cmd_sync(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "", &o) != 0 || o.npos != 1)
        return usage_error("sync");
    int rc = zn_sync(cli->zh, o.pos[0]);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    if (cli->json)
        json_out(json_pack("{ss sb}", "path", o.pos[0], "synced", 1));
    else
        printf("Sync is OK\n");
    return CLI_OK;
}

static int cmd_whoami(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage_error("whoami");
    struct zn_client_infos infos;
    int rc = zn_whoami(cli->zh, &infos);
    if (rc != 0) {
        zn_client_infos_free(&infos);
        return report_error(cli, rc, "");
    }
    if (cli->json) {
        json_t *a = json_array();
        for (int i = 0; i < infos.count; i++)
            json_array_append_new(a, json_pack("{ss ss}", "scheme", infos.data[i].scheme, "user",
                                               infos.data[i].user));
        json_out(json_pack("{so}", "identities", a));
    } else {
        printf("Auth scheme: User\n");
        for (int i = 0; i < infos.count; i++)
            printf("%s: %s\n", infos.data[i].scheme, infos.data[i].user);
    }
    zn_client_infos_free(&infos);
    return CLI_OK;
}

static int cmd_getephemerals(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "", &o) != 0 || o.npos > 1)
        return usage_error("getEphemerals");
    const char *prefix = o.npos ? o.pos[0] : "/";
    struct zn_strings s;
    int rc = zn_get_ephemerals(cli->zh, prefix, &s);
    if (rc != 0) {
        zn_strings_free(&s);
        return report_error(cli, rc, prefix);
    }
    qsort(s.data, (size_t)s.count, sizeof(*s.data), cmp_str);
    if (cli->json)
        json_out(json_pack("{ss so}", "path", prefix, "ephemerals", strings_json(&s)));
    else
        print_children(&s);
    zn_strings_free(&s);
    return CLI_OK;
}

static int cmd_getallchildrennumber(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "", &o) != 0 || o.npos != 1)
        return usage_error("getAllChildrenNumber");
    int32_t n = 0;
    int rc = zn_get_all_children_number(cli->zh, o.pos[0], &n);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    if (cli->json)
        json_out(json_pack("{ss si}", "path", o.pos[0], "count", n));
    else
        printf("%d\n", n);
    return CLI_OK;
}

static int cmd_removewatches(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "cdal", &o) != 0 || o.npos != 1)
        return usage_error("removewatches");
    int kinds = o.set['c'] + o.set['d'] + o.set['a'];
    if (kinds > 1) {
        fprintf(stderr, "removewatches: only one of -c, -d, -a\n");
        return CLI_USAGE;
    }
    int type = o.set['c'] ? ZN_WATCHER_CHILDREN : o.set['d'] ? ZN_WATCHER_DATA : ZN_WATCHER_ANY;
    int rc = zn_remove_watches(cli->zh, o.pos[0], type, NULL, NULL, o.set['l']);
    if (rc != 0)
        return report_error(cli, rc, o.pos[0]);
    return CLI_OK;
}

static int cmd_addwatch(struct cli *cli, int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, "m:", &o) != 0 || o.npos != 1)
        return usage_error("addWatch");
    int mode = ZN_WATCH_PERSISTENT_RECURSIVE;
    if (o.set['m']) {
        if (strcmp(o.val['m'], "PERSISTENT") == 0)
            mode = ZN_WATCH_PERSISTENT;
        else if (strcmp(o.val['m'], "PERSISTENT_RECURSIVE") == 0)
            mode = ZN_WATCH_PERSISTENT_RECURSIVE;
        else {
            fprintf(stderr, "addWatch -m: PERSISTENT or PERSISTENT_RECURSIVE\n");
            return CLI_USAGE;
        }
    }
    int rc = zn_add_watch(cli->zh, o.pos[0], mode, NULL, NULL);
    return rc ? report_error(cli, rc, o.pos[0]) : CLI_OK;
}

/* Stream the events of a persistent (recursive) watch until Ctrl-C, --count events, or the
 * session ends. One line per event. */
static int cmd_watch(struct cli *cli, int argc, char **argv)
{
    const char *path = NULL;
    bool recursive = false;
    int64_t count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--recursive") == 0 || strcmp(argv[i], "-R") == 0)
            recursive = true;
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            if (!parse_i64(argv[++i], 1, INT32_MAX, &count))
                return usage_error("watch");
        } else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return usage_error("watch");
    }
    if (!path)
        return usage_error("watch");
    drain_events(cli, false);
    stream_cli = cli;
    atomic_store(&stream_active, true);
    int rc =
        zn_add_watch(cli->zh, path, recursive ? ZN_WATCH_PERSISTENT_RECURSIVE : ZN_WATCH_PERSISTENT,
                     stream_watcher, NULL);
    if (rc != 0) {
        atomic_store(&stream_active, false);
        return report_error(cli, rc, path);
    }
    fprintf(stderr, "Watching %s%s (Ctrl-C to stop)\n", path, recursive ? " recursively" : "");
    drain_fd(sigint_pipe[0]);
    int prev_mode = sigint_mode;
    sigint_mode = 1;
    int64_t seen = 0;
    int code = CLI_OK;
    for (;;) {
        struct pollfd p[2] = {{cli->event_pipe[0], POLLIN, 0}, {sigint_pipe[0], POLLIN, 0}};
        int n = poll(p, 2, 500);
        if (n > 0 && (p[0].revents & POLLIN))
            seen += drain_events(cli, false);
        if (count && seen >= count)
            break;
        if (n > 0 && (p[1].revents & POLLIN)) {
            drain_fd(sigint_pipe[0]);
            if (cli->interactive)
                printf("\n"); /* after the terminal's ^C echo */
            break;
        }
        int st = zn_state(cli->zh);
        if (st == ZN_STATE_EXPIRED || st == ZN_STATE_AUTH_FAILED || st == ZN_STATE_CLOSED) {
            fprintf(stderr, "watch %s: session %s\n", path, prompt_state_name(st));
            code = CLI_CONN;
            break;
        }
    }
    sigint_mode = prev_mode;
    atomic_store(&stream_active, false); /* no more lines: exactly --count were printed */
    if (code == CLI_OK) {
        rc = zn_remove_watches(cli->zh, path, ZN_WATCHER_ANY, stream_watcher, NULL, 0);
        if (rc != 0 && rc != ZN_ENOWATCHER)
            code = report_error(cli, rc, path);
    }
    /* The PersistentWatchRemoved notice and events that raced with the stop are dropped; other
     * events (global watcher) are printed. */
    drain_events(cli, false);
    return code;
}

static int cmd_close(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage_error("close");
    if (cli->zh) {
        zn_close(cli->zh);
        cli->zh = NULL;
    }
    return CLI_OK;
}

static int cmd_connect(struct cli *cli, int argc, char **argv)
{
    if (argc > 2)
        return usage_error("connect");
    char hosts[4096];
    snprintf(hosts, sizeof(hosts), "%s", argc == 2 ? argv[1] : cli->hosts);
    return cli_connect(cli, hosts);
}

static int cmd_history(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argv;
    if (argc != 1)
        return usage_error("history");
    for (int i = 0; i < history_length; i++) {
        HIST_ENTRY *h = history_get(history_base + i);
        if (h)
            printf("%d - %s\n", history_base + i, h->line);
    }
    return CLI_OK;
}

static int cmd_quit(struct cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli->quit = true;
    return CLI_OK;
}

static int cmd_printwatches(struct cli *cli, int argc, char **argv)
{
    if (argc == 1) {
        printf("printwatches is %s\n", cli->print_watches ? "on" : "off");
        return CLI_OK;
    }
    if (argc != 2 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0))
        return usage_error("printwatches");
    cli->print_watches = strcmp(argv[1], "on") == 0;
    return CLI_OK;
}

static int cmd_help(struct cli *cli, int argc, char **argv);
static int cmd_multi(struct cli *cli, int argc, char **argv);

static const struct command commands[] = {
    {"addauth", cmd_addauth, "addauth scheme auth",
     "Add an identity to the session (e.g. addauth digest user:pass). libzinc sends it again\n"
     "after a reconnect to another node, so it survives a failover.",
     true},
    {"addWatch", cmd_addwatch, "addWatch [-m mode] path",
     "Set a persistent watch for the global watcher (printed as WATCHER:: lines).\n"
     "  -m PERSISTENT | PERSISTENT_RECURSIVE (default PERSISTENT_RECURSIVE)",
     true},
    {"close", cmd_close, "close", "Close the session (ephemeral nodes go away).", false},
    {"connect", cmd_connect, "connect host:port[,host:port...][/chroot]",
     "Close the current session and open a new one (same --cluster-id and --timeout).", false},
    {"create", cmd_create, "create [-e] [-s] [-c] [-t ttl] path [data] [acl]",
     "Create a znode; prints \"Created <path>\" (with the sequential suffix).\n"
     "  -e ephemeral   -s sequential   -c container   -t ttl (ms, persistent TTL node)\n"
     "  data: the value (default: null data); acl: scheme:id:perms[,...] (default "
     "world:anyone:cdrwa)",
     true},
    {"delete", cmd_delete, "delete [-v version] path",
     "Delete a znode without children.\n  -v version: only if its data version matches", true},
    {"deleteall", cmd_deleteall, "deleteall path [-b batch]",
     "Delete a znode and its whole subtree, children first, in atomic multi batches of\n"
     "  -b batch deletes (default and maximum 1000). Refuses subtrees of more than 1000000\n"
     "  nodes and the root; prints progress on stderr above 1000 nodes.",
     true},
    {"get", cmd_get, "get [-s] [-w] path",
     "Print the value of a znode (\"null\" for null data).\n"
     "  -s also print its stat   -w set a data watch (event printed as WATCHER::)",
     true},
    {"getAcl", cmd_getacl, "getAcl [-s] path",
     "Print the ACL of a znode as 'scheme,'id / : perms.\n  -s also print its stat", true},
    {"getAllChildrenNumber", cmd_getallchildrennumber, "getAllChildrenNumber path",
     "Print the number of znodes below path (the whole subtree, path excluded).", true},
    {"getEphemerals", cmd_getephemerals, "getEphemerals [path]",
     "List the ephemeral znodes of this session under path (default /).", true},
    {"help", cmd_help, "help [command]", "List the commands, or describe one.", false},
    {"history", cmd_history, "history", "List the commands typed so far (persistent history).",
     false},
    {"ls", cmd_ls, "ls [-s] [-w] [-R] path",
     "List the children of a znode, sorted, as [a, b].\n"
     "  -s also print its stat   -w set a child watch   -R the whole subtree, one path a line",
     true},
    {"multi", cmd_multi, "multi",
     "Start a multi block: the following create/delete/set/check commands are collected and\n"
     "executed atomically at \"end\" (\"abort\" discards them). Each op's result is printed.\n"
     "  check [-v version] path: fails the block unless path exists (with that version)",
     true},
    {"printwatches", cmd_printwatches, "printwatches on|off",
     "Print (default) or hide the events of one-shot and addWatch watches.", false},
    {"quit", cmd_quit, "quit", "Leave the shell.", false},
    {"removewatches", cmd_removewatches, "removewatches path [-c|-d|-a] [-l]",
     "Remove this session's watches on path: -c child, -d data, -a any (default).\n"
     "  -l locally only (without asking the node)",
     true},
    {"set", cmd_set, "set [-s] [-v version] path data",
     "Set the value of a znode.\n  -s print its new stat   -v version: only if it matches", true},
    {"setAcl", cmd_setacl, "setAcl [-s] [-v version] [-R] path acl",
     "Set the ACL of a znode; acl is scheme:id:perms[,...], perms a combination of cdrwa\n"
     "  (e.g. world:anyone:r, digest:user:hash:cdrwa, ip:127.0.0.1:rw, auth::cdrwa).\n"
     "  -s print its stat   -v only if the ACL version matches   -R the whole subtree",
     true},
    {"stat", cmd_stat, "stat [-w] path", "Print the stat of a znode.\n  -w set an exists watch",
     true},
    {"sync", cmd_sync, "sync path",
     "Make the next read of this session linearizable (ZooKeeper sync); prints \"Sync is OK\".",
     true},
    {"watch", cmd_watch, "watch path [--recursive] [--count N]",
     "Stream the events of a persistent watch on path, one line per event, until Ctrl-C\n"
     "  (or N events). --recursive: the whole subtree (no NodeChildrenChanged events).",
     true},
    {"whoami", cmd_whoami, "whoami", "Print the identities of the session.", true},
};

#define COMMAND_COUNT ((int)(sizeof(commands) / sizeof(commands[0])))

static const struct command *find_command(const char *name)
{
    for (int i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int cmd_help(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc > 2)
        return usage_error("help");
    if (argc == 2) {
        const struct command *c = find_command(argv[1]);
        if (!c) {
            fprintf(stderr, "Unknown command: %s (help lists them)\n", argv[1]);
            return CLI_USAGE;
        }
        printf("%s\n%s\n", c->usage, c->help);
        return CLI_OK;
    }
    printf("zinc-cli commands (help <command> for details):\n");
    for (int i = 0; i < COMMAND_COUNT; i++)
        printf("\t%s\n", commands[i].usage);
    printf("\tend | abort (inside a multi block)\n");
    return CLI_OK;
}

/* ---- multi --------------------------------------------------------------------------------- */

static void multi_clear(struct cli *cli)
{
    for (int i = 0; i < cli->multi_count; i++) {
        struct cli_multi_op *m = &cli->multi[i];
        free(m->path);
        free(m->data);
        free(m->line);
        acl_free(&m->acl);
    }
    cli->multi_count = 0;
    cli->in_multi = false;
}

static int cmd_multi(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage_error("multi");
    multi_clear(cli);
    cli->in_multi = true;
    if (cli->interactive)
        printf("multi: enter create/delete/set/check lines, then end (or abort)\n");
    return CLI_OK;
}

/* A line inside a multi block. */
static int multi_add(struct cli *cli, const char *line, int argc, char **argv)
{
    if (cli->multi_count == CLI_MULTI_OPS_MAX) {
        fprintf(stderr, "multi: at most %d ops\n", CLI_MULTI_OPS_MAX);
        return CLI_USAGE;
    }
    struct cli_multi_op *m = &cli->multi[cli->multi_count];
    memset(m, 0, sizeof(*m));
    struct opts o;
    int64_t version = -1;
    const char *data = NULL;
    int type;
    if (strcmp(argv[0], "create") == 0) {
        if (parse_opts(argc, argv, "es", &o) != 0 || o.npos < 1 || o.npos > 3)
            return usage_error("create");
        type = ZN_OP_CREATE;
        data = o.npos >= 2 ? o.pos[1] : NULL;
        if (o.npos == 3 && parse_acl(o.pos[2], &m->acl) != 0)
            return CLI_USAGE;
    } else if (strcmp(argv[0], "delete") == 0 || strcmp(argv[0], "check") == 0) {
        if (parse_opts(argc, argv, "v:", &o) != 0 || o.npos != 1)
            return usage_error(argv[0]);
        type = argv[0][0] == 'd' ? ZN_OP_DELETE : ZN_OP_CHECK;
    } else if (strcmp(argv[0], "set") == 0) {
        if (parse_opts(argc, argv, "v:", &o) != 0 || o.npos != 2)
            return usage_error("set");
        type = ZN_OP_SET;
        data = o.pos[1];
    } else {
        fprintf(stderr, "multi: only create, delete, set, check, end and abort here\n");
        return CLI_USAGE;
    }
    if (o.set['v'] && !parse_i64(o.val['v'], -1, INT32_MAX, &version)) {
        fprintf(stderr, "-v version: expected an integer >= -1\n");
        acl_free(&m->acl);
        return CLI_USAGE;
    }
    m->path = strdup(o.pos[0]);
    m->data = data ? strdup(data) : NULL;
    m->line = strdup(line);
    int32_t dlen = data ? (int32_t)strlen(data) : -1;
    int mode = type == ZN_OP_CREATE
                   ? (o.set['e'] ? ZN_EPHEMERAL : ZN_PERSISTENT) | (o.set['s'] ? 2 : 0)
                   : 0;
    switch (type) {
    case ZN_OP_CREATE:
        zn_op_create(&m->op, m->path, m->data, dlen, m->acl.count ? &m->acl : &ZN_OPEN_ACL_UNSAFE,
                     mode);
        break;
    case ZN_OP_DELETE:
        zn_op_delete(&m->op, m->path, (int32_t)version);
        break;
    case ZN_OP_SET:
        zn_op_set(&m->op, m->path, m->data, dlen, (int32_t)version);
        break;
    default:
        zn_op_check(&m->op, m->path, (int32_t)version);
        break;
    }
    cli->multi_count++;
    return CLI_OK;
}

static int multi_end(struct cli *cli)
{
    int n = cli->multi_count;
    if (n == 0) {
        cli->in_multi = false;
        printf("multi: no ops\n");
        return CLI_OK;
    }
    struct zn_op ops[CLI_MULTI_OPS_MAX];
    struct zn_op_result *res = calloc((size_t)n, sizeof(*res));
    if (!res) {
        multi_clear(cli);
        return report_error(cli, ZN_ENOMEM, "multi");
    }
    for (int i = 0; i < n; i++)
        ops[i] = cli->multi[i].op;
    int rc = zn_multi(cli->zh, n, ops, res);
    int code = CLI_OK;
    json_t *arr = cli->json ? json_array() : NULL;
    bool per_op = rc == 0 || !is_conn_error(rc);
    for (int i = 0; per_op && i < n; i++) {
        struct cli_multi_op *m = &cli->multi[i];
        const char *kind = m->op.type == ZN_OP_CREATE   ? "create"
                           : m->op.type == ZN_OP_DELETE ? "delete"
                           : m->op.type == ZN_OP_SET    ? "set"
                                                        : "check";
        int err = rc == 0 ? 0 : res[i].err;
        char msg[4400];
        if (err == 0 && m->op.type == ZN_OP_CREATE)
            snprintf(msg, sizeof(msg), "Created %s", res[i].path ? res[i].path : m->path);
        else if (err == 0)
            snprintf(msg, sizeof(msg), "OK");
        else if (err == ZN_EINCONSISTENT)
            snprintf(msg, sizeof(msg), "not applied (an earlier op failed)");
        else
            format_error(err, m->path, msg, sizeof(msg));
        if (rc != 0 && err == 0)
            snprintf(msg, sizeof(msg), "not applied (a later op failed)");
        if (arr)
            json_array_append_new(arr,
                                  json_pack("{ss ss ss ss}", "op", kind, "path", m->path, "result",
                                            err  ? zk_name(err)
                                            : rc ? "NOT_APPLIED"
                                                 : "OK",
                                            "message", msg));
        else if (err == 0 || err == ZN_EINCONSISTENT)
            printf("[%d] %s %s: %s\n", i + 1, kind, m->path, msg);
        else
            printf("[%d] %s %s: %s (%s)\n", i + 1, kind, m->path, msg, zk_name(err));
    }
    if (arr)
        json_out(json_pack("{sb so}", "committed", rc == 0, "ops", arr));
    if (rc != 0) {
        if (!per_op)
            code = report_error(cli, rc, "multi");
        else {
            fprintf(stderr, "multi: not committed, %s (%s)\n", zn_strerror(rc), zk_name(rc));
            code = CLI_ZKERR;
        }
    } else if (!cli->json) {
        printf("multi: committed %d ops\n", n);
    }
    zn_op_results_free(res, n);
    free(res);
    multi_clear(cli);
    return code;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int run_line(struct cli *cli, const char *line)
{
    char buf[CLI_LINE_MAX];
    char *argv[CLI_ARGS_MAX + 1];
    if (strlen(line) >= sizeof(buf)) {
        fprintf(stderr, "command line too long (max %d bytes)\n", CLI_LINE_MAX - 1);
        return CLI_USAGE;
    }
    int argc = tokenize(line, buf, sizeof(buf), argv);
    if (argc < 0) {
        fprintf(stderr, "unbalanced quote or too many words (max %d)\n", CLI_ARGS_MAX);
        return CLI_USAGE;
    }
    if (argc == 0 || argv[0][0] == '#')
        return CLI_OK;
    argv[argc] = NULL;
    cli->command_count++;
    if (cli->in_multi) {
        if (strcmp(argv[0], "end") == 0) {
            if (cli->zh)
                return multi_end(cli);
            fprintf(stderr, "Not connected: multi discarded (use connect host:port)\n");
            multi_clear(cli);
            return CLI_CONN;
        }
        if (strcmp(argv[0], "abort") == 0) {
            printf("multi: aborted, %d ops discarded\n", cli->multi_count);
            multi_clear(cli);
            return CLI_OK;
        }
        return multi_add(cli, line, argc, argv);
    }
    const struct command *c = find_command(argv[0]);
    if (!c) {
        fprintf(stderr, "Unknown command: %s (help lists the commands)\n", argv[0]);
        return CLI_USAGE;
    }
    if (c->needs_session) {
        int st = cli_state(cli);
        if (!cli->zh || st == ZN_STATE_CLOSED || st == ZN_STATE_EXPIRED ||
            st == ZN_STATE_AUTH_FAILED) {
            fprintf(stderr, "Not connected (%s): use connect host:port\n", prompt_state_name(st));
            return CLI_CONN;
        }
    }
    int code = c->fn(cli, argc, argv);
    fflush(stdout);
    return code;
}

/* ---- interactive shell --------------------------------------------------------------------- */

static struct cli *shell_cli;
static char *shell_line;
static bool shell_eof;

static void on_line(char *line)
{
    if (!line)
        shell_eof = true;
    else
        shell_line = line;
}

static char *command_generator(const char *text, int state)
{
    static int i;
    static size_t len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (i < COMMAND_COUNT) {
        const char *n = commands[i++].name;
        if (strncmp(n, text, len) == 0)
            return strdup(n);
    }
    return NULL;
}

static struct zn_strings completion_children;
static char completion_parent[4200];
static char *path_generator(const char *text, int state)
{
    static int i;
    const char *slash = strrchr(text, '/');
    const char *prefix = slash ? slash + 1 : text;
    if (!state) {
        i = 0;
        zn_strings_free(&completion_children);
        size_t plen = slash ? (size_t)(slash - text) : 0;
        snprintf(completion_parent, sizeof(completion_parent), "%.*s", (int)plen, text);
        const char *parent = plen ? completion_parent : "/";
        int st = cli_state(shell_cli);
        if (st != ZN_STATE_CONNECTED ||
            zn_get_children(shell_cli->zh, parent, 0, &completion_children) != 0)
            return NULL;
        qsort(completion_children.data, (size_t)completion_children.count,
              sizeof(*completion_children.data), cmp_str);
    }
    while (i < completion_children.count) {
        const char *c = completion_children.data[i++];
        if (strncmp(c, prefix, strlen(prefix)) == 0) {
            char out[4400];
            snprintf(out, sizeof(out), "%s/%s", completion_parent, c);
            return strdup(out);
        }
    }
    return NULL;
}

static char **cli_complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    if (start == 0)
        return rl_completion_matches(text, command_generator);
    if (text[0] == '/')
        return rl_completion_matches(text, path_generator);
    return NULL;
}

static void make_prompt(struct cli *cli, char *buf, size_t len)
{
    if (cli->in_multi)
        snprintf(buf, len, "multi> ");
    else
        snprintf(buf, len, "[zinc: %s(%s) %d] ", current_host(cli),
                 prompt_state_name(cli_state(cli)), cli->command_count);
}

static int run_shell(struct cli *cli)
{
    shell_cli = cli;
    char prompt[4600];
    int last_state = cli_state(cli);
    rl_catch_signals = 0;
    rl_attempted_completion_function = cli_complete;
    using_history();
    stifle_history(CLI_HISTORY_MAX);
    read_history(cli->history_file);
    sigint_mode = 1;
    make_prompt(cli, prompt, sizeof(prompt));
    rl_callback_handler_install(prompt, on_line);
    while (!cli->quit && !shell_eof) {
        struct pollfd p[3] = {{STDIN_FILENO, POLLIN, 0},
                              {cli->event_pipe[0], POLLIN, 0},
                              {sigint_pipe[0], POLLIN, 0}};
        int n = poll(p, 3, 500);
        if (n > 0 && (p[1].revents & POLLIN))
            drain_events(cli, true);
        if (n > 0 && (p[2].revents & POLLIN)) {
            drain_fd(sigint_pipe[0]);
            rl_callback_handler_remove();
            printf("^C\n");
            make_prompt(cli, prompt, sizeof(prompt));
            rl_callback_handler_install(prompt, on_line);
        }
        if (n > 0 && (p[0].revents & (POLLIN | POLLHUP)))
            rl_callback_read_char();
        if (shell_line) {
            char *line = shell_line;
            shell_line = NULL;
            rl_callback_handler_remove();
            if (line[strspn(line, " \t")] != '\0') {
                add_history(line);
                if (write_history(cli->history_file) != 0 && errno != 0) {
                    /* History is a convenience: an unwritable file is not an error. */
                }
            }
            run_line(cli, line);
            free(line);
            fflush(stdout);
            drain_events(cli, false);
            if (cli->quit)
                break;
            make_prompt(cli, prompt, sizeof(prompt));
            last_state = cli_state(cli);
            rl_callback_handler_install(prompt, on_line);
            continue;
        }
        int st = cli_state(cli);
        if (st != last_state) { /* show the new connection state in the prompt */
            last_state = st;
            make_prompt(cli, prompt, sizeof(prompt));
            rl_set_prompt(prompt);
            rl_forced_update_display();
        }
    }
    rl_callback_handler_remove();
    if (shell_eof)
        printf("\n");
    write_history(cli->history_file);
    zn_strings_free(&completion_children);
    return CLI_OK;
}

/* Script mode: lines from a file or a non-tty stdin; stops at the first failing command. */
static int run_script(struct cli *cli, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    int code = CLI_OK;
    while (!cli->quit && getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        code = run_line(cli, line);
        drain_events(cli, false);
        if (code != CLI_OK)
            break;
    }
    free(line);
    if (code == CLI_OK && cli->in_multi) {
        fprintf(stderr, "multi block not closed with end: discarded\n");
        multi_clear(cli);
        code = CLI_USAGE;
    }
    return code;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: zinc-cli [-s host:port[,host:port...][/chroot]] [--cluster-id N] "
               "[--timeout ms]\n"
               "                [-c 'command' ...| -f script] [--json]\n"
               "  -s, --server      nodes to connect to (default 127.0.0.1:2281)\n"
               "  --cluster-id N    the cluster id of the nodes (default 0, libzinc's default)\n"
               "  --timeout ms      connect and per-request timeout (default 10000)\n"
               "  -c command        run this command (repeatable, in order) and exit\n"
               "  -f script         run the commands of a file ('-': stdin) and exit\n"
               "  --json            one JSON object per result (errors on stderr, also JSON)\n"
               "Without -c/-f: an interactive shell when stdin is a terminal, else commands are\n"
               "read from stdin. Exit codes: 0 ok, 1 a command failed with a ZooKeeper error,\n"
               "2 bad usage, 3 connection failure. help lists the commands.\n");
}

static bool needs_connection(struct cli *cli, char **cmds, int ncmds)
{
    (void)cli;
    /* One-shot "help ..." alone does not need a node. */
    for (int i = 0; i < ncmds; i++) {
        char buf[CLI_LINE_MAX];
        char *argv[CLI_ARGS_MAX + 1];
        if (strlen(cmds[i]) >= sizeof(buf))
            return true;
        int argc = tokenize(cmds[i], buf, sizeof(buf), argv);
        if (argc <= 0)
            continue;
        const struct command *c = find_command(argv[0]);
        if (!c || c->needs_session || strcmp(argv[0], "connect") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    static struct cli cli_storage;
    struct cli *cli = &cli_storage;
    const char *server = getenv("ZINC_SERVER") ? getenv("ZINC_SERVER") : "127.0.0.1:2281";
    const char *script = NULL;
    char **cmds = calloc((size_t)argc + 1, sizeof(*cmds));
    int ncmds = 0;
    int64_t v;
    int code = CLI_OK;
    FILE *script_file = NULL;
    if (!cmds)
        return CLI_CONN;
    cli->timeout_ms = 10000;
    cli->print_watches = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if ((strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0 || strcmp(a, "-server") == 0) &&
            has_val)
            server = argv[++i];
        else if (strcmp(a, "--cluster-id") == 0 && has_val) {
            if (!parse_i64(argv[++i], 0, UINT32_MAX, &v)) {
                fprintf(stderr, "zinc-cli: --cluster-id '%s': expected 0..%u\n", argv[i],
                        UINT32_MAX);
                usage(stderr);
                code = CLI_USAGE;
                goto out;
            }
            cli->cluster_id = (uint32_t)v;
        } else if (strcmp(a, "--timeout") == 0 && has_val) {
            if (!parse_i64(argv[++i], 1, 3600000, &v)) {
                fprintf(stderr, "zinc-cli: --timeout '%s': expected 1..3600000 ms\n", argv[i]);
                usage(stderr);
                code = CLI_USAGE;
                goto out;
            }
            cli->timeout_ms = (uint32_t)v;
        } else if (strcmp(a, "-c") == 0 && has_val)
            cmds[ncmds++] = argv[++i];
        else if (strcmp(a, "-f") == 0 && has_val)
            script = argv[++i];
        else if (strcmp(a, "--json") == 0)
            cli->json = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            goto out;
        } else {
            fprintf(stderr, "zinc-cli: unexpected argument '%s'\n", a);
            usage(stderr);
            code = CLI_USAGE;
            goto out;
        }
    }
    if (ncmds && script) {
        fprintf(stderr, "zinc-cli: -c and -f are exclusive\n");
        usage(stderr);
        code = CLI_USAGE;
        goto out;
    }
    if (script) {
        script_file = strcmp(script, "-") == 0 ? stdin : fopen(script, "r");
        if (!script_file) {
            fprintf(stderr, "zinc-cli: cannot open %s: %s\n", script, strerror(errno));
            code = CLI_USAGE;
            goto out;
        }
    }
    cli->interactive = !ncmds && !script && isatty(STDIN_FILENO);
    cli->data_buf_len = 1 << 20;
    cli->data_buf = malloc((size_t)cli->data_buf_len);
    if (!cli->data_buf || pipe(cli->event_pipe) != 0 || pipe(sigint_pipe) != 0) {
        fprintf(stderr, "zinc-cli: out of resources\n");
        code = CLI_CONN;
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        fcntl(cli->event_pipe[k], F_SETFL, O_NONBLOCK);
        fcntl(sigint_pipe[k], F_SETFL, O_NONBLOCK);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Line-buffered even into a pipe, so results and errors (stderr) interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* libzinc logs session changes at INFO: the shell shows them in its prompt instead. */
    enum zn_log_level level = ZN_LOG_WARN;
    if (getenv("ZINC_CLI_LOG") && zn_log_level_parse(getenv("ZINC_CLI_LOG"), &level) != 0)
        level = ZN_LOG_WARN;
    zn_log_set_level(level);
    const char *hist = getenv("ZINC_CLI_HISTORY");
    if (hist)
        snprintf(cli->history_file, sizeof(cli->history_file), "%s", hist);
    else
        snprintf(cli->history_file, sizeof(cli->history_file), "%s/.zinc_cli_history",
                 getenv("HOME") ? getenv("HOME") : ".");
    snprintf(cli->hosts, sizeof(cli->hosts), "%s", server);
    split_hosts(cli);

    if (!ncmds || needs_connection(cli, cmds, ncmds)) {
        if (cli->interactive)
            printf("Connecting to %s\n", server);
        code = cli_connect(cli, server);
        if (code != CLI_OK && !cli->interactive)
            goto out;
        code = CLI_OK;
    }
    if (cli->interactive) {
        code = run_shell(cli);
    } else if (ncmds) {
        for (int i = 0; i < ncmds && !cli->quit; i++) {
            code = run_line(cli, cmds[i]);
            if (code != CLI_OK)
                break;
        }
        if (code == CLI_OK && cli->in_multi) {
            fprintf(stderr, "multi block not closed with end: discarded\n");
            multi_clear(cli);
            code = CLI_USAGE;
        }
        drain_events(cli, false);
    } else {
        code = run_script(cli, script_file ? script_file : stdin);
    }
out:
    if (script_file && script_file != stdin)
        fclose(script_file);
    multi_clear(cli);
    if (cli->zh) {
        /* Closing races with the node forgetting the session (a late retransmission is refused
         * as SESSIONEXPIRED): libzinc's warnings then are noise after the last result. */
        if (!getenv("ZINC_CLI_LOG"))
            zn_log_set_level(ZN_LOG_ERROR);
        zn_close(cli->zh);
    }
    free(cli->data_buf);
    free(cmds);
    return code;
}

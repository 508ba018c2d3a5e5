/*
 * ctl.c - the control endpoint's transport: listeners, connections, line framing, the token
 * check (see ctl.h for the protocol; the commands are in ctl_cmd.c).
 *
 * Invariants: every socket is non-blocking; a connection holds at most one request being
 * answered (its reply is written completely before the next line is read), so a client that
 * does not read its replies costs one bounded buffer, never a blocked management thread; a
 * line longer than ZN_CTL_LINE_MAX closes the connection after an error reply.
 */
#include "node/ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "common/zn_log.h"
#include "node/ctl_internal.h"

static void ctl_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ctl_errf(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

json_t *ctl_error(const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "message", msg);
}

static int ctl_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

static int ctl_read_token(struct zn_ctl *c, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ctl_errf(err, err_len, "[control] token_file %s: %s", path, strerror(errno));
        return ZN_EINVAL;
    }
    char line[ZN_CTL_TOKEN_MAX + 2];
    size_t n = fgets(line, sizeof(line), f) ? strlen(line) : 0;
    fclose(f);
    size_t a = 0;
    while (a < n && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (n > a && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
        n--;
    if (n - a == 0 || n - a >= ZN_CTL_TOKEN_MAX) {
        ctl_errf(err, err_len,
                 "[control] token_file %s: the first line must hold a token of 1..%u "
                 "characters",
                 path, ZN_CTL_TOKEN_MAX - 1);
        return ZN_EINVAL;
    }
    memcpy(c->token, line + a, n - a);
    c->token_len = n - a;
    explicit_bzero(line, sizeof(line));
    return 0;
}

static int ctl_listen_unix(struct zn_ctl *c, const struct zn_config *cfg, char *err, size_t err_len)
{
    if (cfg->mgmt.control_socket[0])
        snprintf(c->unix_path, sizeof(c->unix_path), "%s", cfg->mgmt.control_socket);
    else
        snprintf(c->unix_path, sizeof(c->unix_path), "%s/control.sock", cfg->node.data_dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    /* A path longer than sun_path (a deep data directory) is bound through the directory's
     * descriptor: /proc/self/fd/N/control.sock names the same file (zincctl does the same). */
    int dirfd = -1;
    if (strlen(c->unix_path) < sizeof(sa.sun_path)) {
        memcpy(sa.sun_path, c->unix_path, strlen(c->unix_path) + 1);
    } else {
        char dir[sizeof(c->unix_path)];
        snprintf(dir, sizeof(dir), "%s", c->unix_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        dirfd = slash ? open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dirfd < 0 || (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s",
                                          dirfd, slash + 1) >= sizeof(sa.sun_path)) {
            if (dirfd >= 0)
                close(dirfd);
            ctl_errf(err, err_len, "[mgmt] control_socket %s: path too long (set a shorter one)",
                     c->unix_path);
            return ZN_EINVAL;
        }
    }
    /* The data directory is locked by this process: a socket file left there is stale. */
    unlink(c->unix_path);
    c->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177); /* the socket is created 0600 */
    int rc = c->unix_fd < 0 ? -1 : bind(c->unix_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (dirfd >= 0)
        close(dirfd);
    if (rc == 0)
        rc = chmod(c->unix_path, 0600);
    if (rc == 0)
        rc = listen(c->unix_fd, 16);
    if (rc == 0)
        rc = ctl_nonblock(c->unix_fd);
    if (rc) {
        ctl_errf(err, err_len, "control socket %s: %s", c->unix_path, strerror(errno));
        return ZN_EIO;
    }
    return 0;
}

static int ctl_listen_tcp(struct zn_ctl *c, const struct zn_config *cfg, char *err, size_t err_len)
{
    if (!cfg->control.token_file[0]) {
        ctl_errf(err, err_len, "[control] tcp_port = %u needs [control] token_file",
                 cfg->control.tcp_port);
        return ZN_EINVAL;
    }
    int rc = ctl_read_token(c, cfg->control.token_file, err, err_len);
    if (rc)
        return rc;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg->control.tcp_port)};
    if (inet_pton(AF_INET, cfg->control.tcp_host, &sa.sin_addr) != 1) {
        ctl_errf(err, err_len, "[control] tcp_host %s: not an IPv4 address", cfg->control.tcp_host);
        return ZN_EINVAL;
    }
    c->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int r = c->tcp_fd < 0 ? -1 : setsockopt(c->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (r == 0)
        r = bind(c->tcp_fd, (struct sockaddr *)&sa, sizeof(sa));
    if (r == 0)
        r = listen(c->tcp_fd, 16);
    if (r == 0)
        r = ctl_nonblock(c->tcp_fd);
    if (r) {
        ctl_errf(err, err_len, "control TCP listener %s:%u: %s", cfg->control.tcp_host,
                 cfg->control.tcp_port, strerror(errno));
        return ZN_EIO;
    }
    return 0;
}

int zn_ctl_open(const struct zn_config *cfg, struct zn_node *node, struct zn_dp_lcore *lc,
                const struct zn_clock *clock, struct zn_ctl **out, char *err, size_t err_len)
{
    *out = NULL;
    struct zn_ctl *c = calloc(1, sizeof(*c));
    if (!c)
        return ZN_ENOMEM;
    c->cfg[0] = *cfg;
    c->cfg[1] = *cfg;
    atomic_init(&c->cur, 0);
    c->node = node;
    c->lc = lc;
    c->clock = clock;
    c->started_ns = clock->monotonic_ns(clock->ctx);
    c->unix_fd = -1;
    c->tcp_fd = -1;
    int rc = 0;
    for (unsigned i = 0; i < ZN_CTL_CONNS_MAX && !rc; i++) {
        c->conns[i].fd = -1;
        c->conns[i].in = malloc(ZN_CTL_LINE_MAX + 1);
        c->conns[i].out = malloc(ZN_CTL_REPLY_MAX);
        if (!c->conns[i].in || !c->conns[i].out)
            rc = ZN_ENOMEM;
    }
    if (!rc)
        rc = ctl_listen_unix(c, cfg, err, err_len);
    if (!rc && cfg->control.tcp_port)
        rc = ctl_listen_tcp(c, cfg, err, err_len);
    if (rc) {
        zn_ctl_close(c);
        return rc;
    }
    if (cfg->control.tcp_port)
        ZN_INFO("ctl", "control endpoint on %s and TCP %s:%u (token required)", c->unix_path,
                cfg->control.tcp_host, cfg->control.tcp_port);
    else
        ZN_INFO("ctl", "control endpoint on %s", c->unix_path);
    *out = c;
    return 0;
}

static void ctl_conn_close(struct ctl_conn *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->in_len = 0;
    k->out_len = 0;
    k->out_off = 0;
    k->closing = false;
}

void zn_ctl_close(struct zn_ctl *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < ZN_CTL_CONNS_MAX; i++) {
        ctl_conn_close(&c->conns[i]);
        free(c->conns[i].in);
        free(c->conns[i].out);
    }
    if (c->unix_fd >= 0) {
        close(c->unix_fd);
        unlink(c->unix_path);
    }
    if (c->tcp_fd >= 0)
        close(c->tcp_fd);
    explicit_bzero(c->token, sizeof(c->token));
    free(c);
}

static void ctl_accept(struct zn_ctl *c, int lfd, bool tcp)
{
    for (unsigned burst = 0; burst < ZN_CTL_CONNS_MAX; burst++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct ctl_conn *k = NULL;
        for (unsigned i = 0; i < ZN_CTL_CONNS_MAX && !k; i++)
            if (c->conns[i].fd < 0)
                k = &c->conns[i];
        if (!k) {
            static const char busy[] = "{\"ok\": false, \"error\": \"busy\", \"message\": "
                                       "\"too many control connections\"}\n";
            ssize_t w = write(fd, busy, sizeof(busy) - 1);
            (void)w;
            close(fd);
            continue;
        }
        if (tcp) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        k->fd = fd;
        k->tcp = tcp;
        k->in_len = 0;
        k->out_len = 0;
        k->out_off = 0;
        k->closing = false;
    }
}

/* Constant-time comparison: the time taken does not depend on where a guess goes wrong. */
static bool ctl_token_ok(const struct zn_ctl *c, const char *tok)
{
    size_t n = tok ? strlen(tok) : 0;
    unsigned diff = (unsigned)(n != c->token_len);
    for (size_t i = 0; i < c->token_len; i++)
        diff |= (unsigned char)c->token[i] ^ (unsigned char)(i < n ? tok[i] : 0);
    return diff == 0 && c->token_len > 0;
}

static void ctl_queue_reply(struct ctl_conn *k, json_t *reply, struct ctl_raw *raw)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    size_t need = len + 1 + (raw ? raw->len : 0);
    if (!text || need > ZN_CTL_REPLY_MAX) {
        static const char big[] = "{\"ok\": false, \"error\": \"internal\", \"message\": "
                                  "\"reply too large\"}\n";
        memcpy(k->out, big, sizeof(big) - 1);
        k->out_len = sizeof(big) - 1;
    } else {
        memcpy(k->out, text, len);
        k->out[len] = '\n';
        if (raw && raw->len)
            memcpy(k->out + len + 1, raw->p, raw->len);
        k->out_len = need;
    }
    k->out_off = 0;
    free(text);
}

static void ctl_handle_line(struct zn_ctl *c, struct ctl_conn *k, const char *line)
{
    json_error_t jerr;
    json_t *req = json_loads(line, 0, &jerr);
    json_t *reply = NULL;
    struct ctl_raw raw = {NULL, 0};
    const char *cmd = req ? json_string_value(json_object_get(req, "cmd")) : NULL;
    if (!req || !json_is_object(req)) {
        reply = ctl_error("bad_request", "not a JSON object: %s", req ? "" : jerr.text);
    } else if (!cmd) {
        reply = ctl_error("bad_request", "missing \"cmd\"");
    } else if (k->tcp && !ctl_token_ok(c, json_string_value(json_object_get(req, "token")))) {
        c->n_auth_failures++;
        ZN_WARN("ctl", "TCP control request refused: missing or wrong token");
        reply = ctl_error("unauthorized", "missing or wrong token");
        k->closing = true;
    } else {
        c->n_requests++;
        reply = ctl_dispatch(c, cmd, req, &raw);
    }
    if (reply && !json_object_get(reply, "node"))
        json_object_set_new(reply, "node", json_integer(ctl_cfg(c)->node.id));
    ctl_queue_reply(k, reply, &raw);
    json_decref(reply);
    json_decref(req);
    free(raw.p);
}

/* Write what the socket takes; true when the connection is still useful. */
static bool ctl_flush(struct ctl_conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        k->out_off += (size_t)w;
    }
    k->out_len = k->out_off = 0;
    return !k->closing;
}

static void ctl_conn_poll(struct zn_ctl *c, struct ctl_conn *k)
{
    if (k->out_len && !ctl_flush(k)) {
        ctl_conn_close(k);
        return;
    }
    if (k->out_len)
        return; /* the previous reply is still going out */
    if (k->closing) {
        ctl_conn_close(k);
        return;
    }
    char *nl = memchr(k->in, '\n', k->in_len);
    if (!nl) {
        ssize_t r = recv(k->fd, k->in + k->in_len, ZN_CTL_LINE_MAX - k->in_len, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            ctl_conn_close(k);
            return;
        }
        if (r > 0)
            k->in_len += (size_t)r;
        nl = memchr(k->in, '\n', k->in_len);
        if (!nl && k->in_len >= ZN_CTL_LINE_MAX) {
            json_t *e =
                ctl_error("bad_request", "request line longer than %u bytes", ZN_CTL_LINE_MAX);
            ctl_queue_reply(k, e, NULL);
            json_decref(e);
            k->closing = true;
            k->in_len = 0;
            return;
        }
    }
    if (!nl)
        return;
    *nl = '\0';
    size_t used = (size_t)(nl - k->in) + 1;
    ctl_handle_line(c, k, k->in);
    memmove(k->in, k->in + used, k->in_len - used);
    k->in_len -= used;
    if (k->out_len && !ctl_flush(k))
        ctl_conn_close(k);
}

void zn_ctl_poll(struct zn_ctl *c)
{
    struct pollfd pf[ZN_CTL_CONNS_MAX + 2];
    unsigned n = 0;
    if (c->unix_fd >= 0)
        pf[n++] = (struct pollfd){.fd = c->unix_fd, .events = POLLIN};
    if (c->tcp_fd >= 0)
        pf[n++] = (struct pollfd){.fd = c->tcp_fd, .events = POLLIN};
    if (poll(pf, n, 0) > 0) {
        for (unsigned i = 0; i < n; i++)
            if (pf[i].revents & POLLIN)
                ctl_accept(c, pf[i].fd, pf[i].fd == c->tcp_fd);
    }
    for (unsigned i = 0; i < ZN_CTL_CONNS_MAX; i++)
        if (c->conns[i].fd >= 0)
            ctl_conn_poll(c, &c->conns[i]);
}

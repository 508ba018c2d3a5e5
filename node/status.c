/*
 * status.c - render and atomically write <data_dir>/status.json (see status.h).
 */
#include "node/status.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/zn_err.h"

struct zn_out {
    char *buf;
    size_t cap;
    size_t len;
    bool over;
};

static void zn_out_printf(struct zn_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void zn_out_printf(struct zn_out *o, const char *fmt, ...)
{
    if (o->over)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->over = true;
        return;
    }
    o->len += (size_t)n;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void zn_out_str(struct zn_out *o, const char *s)
{
    zn_out_printf(o, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            zn_out_printf(o, "\\%c", *p);
        else if (*p < 0x20)
            zn_out_printf(o, "\\u%04x", *p);
        else
            zn_out_printf(o, "%c", *p);
    }
    zn_out_printf(o, "\"");
}

long zn_status_render(const struct zn_node_status *st, char *buf, size_t cap)
{
    struct zn_out o = {buf, cap, 0, cap == 0};
    zn_out_printf(&o, "{\"id\": %u, \"pid\": %d, \"role\": ", st->id, st->pid);
    zn_out_str(&o, st->role);
    zn_out_printf(&o,
                  ", \"term\": %llu, \"leader\": %u, \"commit\": %llu, \"applied\": %llu, "
                  "\"first_index\": %llu, \"last_index\": %llu, \"members\": [",
                  (unsigned long long)st->term, st->leader, (unsigned long long)st->commit,
                  (unsigned long long)st->applied, (unsigned long long)st->first_index,
                  (unsigned long long)st->last_index);
    for (uint32_t i = 0; i < st->n_members && i < ZN_CLUSTER_MEMBERS_MAX; i++)
        zn_out_printf(&o, "%s%u", i ? ", " : "", st->members[i]);
    zn_out_printf(&o, "], \"sessions\": %llu, \"znodes\": %llu, \"last_election_ms\": %lld, ",
                  (unsigned long long)st->sessions, (unsigned long long)st->znodes,
                  (long long)st->last_election_ms);
    zn_out_printf(&o, "\"last_election_reason\": ");
    zn_out_str(&o, st->last_election_reason);
    zn_out_printf(&o,
                  ", \"drop_frames\": %llu, \"drop_cluster\": %llu, \"drop_client\": %llu, "
                  "\"drop_ip\": %llu",
                  (unsigned long long)st->drop_frames, (unsigned long long)st->drop_cluster,
                  (unsigned long long)st->drop_client, (unsigned long long)st->drop_ip);
    zn_out_printf(&o, ", \"repair\": %s, \"ready\": %s, \"time_ms\": %lld}\n",
                  st->repair ? "true" : "false", st->ready ? "true" : "false",
                  (long long)st->time_ms);
    return o.over ? ZN_ELIMIT : (long)o.len;
}

int zn_status_write(const char *dir, const struct zn_node_status *st)
{
    char text[2048];
    long n = zn_status_render(st, text, sizeof(text));
    if (n < 0)
        return (int)n;
    char tmp[512], path[512];
    if (snprintf(tmp, sizeof(tmp), "%s/status.json.tmp", dir) >= (int)sizeof(tmp) ||
        snprintf(path, sizeof(path), "%s/status.json", dir) >= (int)sizeof(path))
        return ZN_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ZN_EIO;
    bool ok = write(fd, text, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return ZN_EIO;
    }
    return 0;
}

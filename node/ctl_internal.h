/*
 * ctl_internal.h - what the control endpoint's transport (ctl.c) and its commands (ctl_cmd.c)
 * share. Context: the management thread.
 */
#ifndef ZN_NODE_CTL_INTERNAL_H
#define ZN_NODE_CTL_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "node/ctl.h"

struct ctl_conn {
    int fd; /* -1: free */
    bool tcp;
    bool closing; /* close once the reply is written */
    char *in;     /* ZN_CTL_LINE_MAX + 1 */
    size_t in_len;
    uint8_t *out; /* ZN_CTL_REPLY_MAX */
    size_t out_len;
    size_t out_off;
};

/* A raw payload that follows the reply line (snapshot_read). */
struct ctl_raw {
    uint8_t *p; /* malloc'd, freed by the transport */
    size_t len;
};

struct zn_ctl {
    /* The running configuration, double buffered: `config set` writes the spare copy, checks
     * it, has the lcore take the runtime fields, then publishes it by flipping `cur`. */
    struct zn_config cfg[2];
    _Atomic unsigned cur;
    struct zn_node *node;
    struct zn_dp_lcore *lc;
    const struct zn_clock *clock;
    uint64_t started_ns;
    int unix_fd;
    int tcp_fd;
    char unix_path[ZN_CONFIG_PATH_MAX + 32];
    char token[ZN_CTL_TOKEN_MAX];
    size_t token_len;
    struct ctl_conn conns[ZN_CTL_CONNS_MAX];
    uint64_t n_requests;
    uint64_t n_auth_failures;
};

static inline const struct zn_config *ctl_cfg(const struct zn_ctl *c)
{
    return &c->cfg[atomic_load_explicit(&c->cur, memory_order_acquire) & 1u];
}

/* A reply {"ok": false, "error": code, "message": ...}. */
json_t *ctl_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run one request (already authenticated); returns the reply object (never NULL). */
json_t *ctl_dispatch(struct zn_ctl *c, const char *cmd, json_t *req, struct ctl_raw *raw);

#endif /* ZN_NODE_CTL_INTERNAL_H */

/*
 * zp_target.h - the pluggable target interface of zinc-perf.
 *
 * A target is a table of function pointers over two opaque objects: a client (the per-process
 * context: completion queue, event loop or socket) and its connections (one session each). The
 * engine submits asynchronous requests and receives one completion per accepted request; the
 * target stamps the completion with the monotonic time at which it first saw the reply (so that
 * a hand-off between the target's threads and the engine does not count as latency), and hands
 * it to the engine only from inside `poll`. Watch and session events travel the same way.
 *
 * Targets: "zookeeper" (libzookeeper-mt; any ZooKeeper-protocol server), "zinc" (libzinc over
 * kernel UDP), "zinc-dpdk" (the native protocol over the DPDK dataplane stack on a memif port;
 * a single-threaded client whose poll() runs the port), "null" (in-process model).
 *
 * Contract (every target):
 *  - open() makes the client; connect() blocks until a session is established or the timeout
 *    passes (ZN_ETIMEDOUT);
 *  - submit functions never block on the network; they return 0 (exactly one completion will be
 *    delivered later, possibly with an error) or a negative ZN_E* code (no completion);
 *  - poll(client, timeout) delivers pending completions and events of all the client's
 *    sessions through their callbacks, on the caller's thread, waiting at most timeout_ns for
 *    the first one; it returns the number delivered or a negative code;
 *  - close(conn) ends the session; requests still outstanding complete with an error through
 *    later polls (their callback arguments must stay valid until then); close_client() frees the
 *    client after its sessions are closed and drops undelivered completions.
 * Context: one engine thread per process calls every function; callbacks run on that thread.
 */
#ifndef ZP_TARGET_H
#define ZP_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Operation kinds; also the histogram index. */
enum zp_op {
    ZP_OP_CREATE,
    ZP_OP_SET,
    ZP_OP_GET,
    ZP_OP_EXISTS,
    ZP_OP_DELETE,
    ZP_OP_MULTI,
    ZP_OP_CHILDREN,
    ZP_OP_COUNT
};

const char *zp_op_name(enum zp_op op);

/* Outcome of one request. */
struct zp_result {
    uint64_t done_ns; /* monotonic time the target first saw the reply */
    int err;          /* 0 or ZN_E* (ZN_ENONODE, ZN_ENODEEXISTS, ZN_ECONNLOSS, ...) */
    int native_rc;    /* the target's own code (ZooKeeper ZOK/ZNONODE/...) */
    uint32_t count;   /* getChildren: children returned; getData: bytes returned */
};

typedef void (*zp_done_fn)(void *arg, const struct zp_result *res);

/* Watch and session events. */
enum zp_event_type {
    ZP_EV_CREATED,
    ZP_EV_DELETED,
    ZP_EV_CHANGED,
    ZP_EV_CHILD,
    ZP_EV_SESSION_EXPIRED,
    ZP_EV_DISCONNECTED,
    ZP_EV_CONNECTED,
    ZP_EV_OTHER
};

struct zp_event {
    uint64_t at_ns; /* monotonic time the target saw the event */
    enum zp_event_type type;
    char path[256]; /* truncated if longer */
};

typedef void (*zp_event_fn)(void *arg, const struct zp_event *ev);

/* One operation inside a multi: setData, create, delete or check on a path. */
struct zp_multi_op {
    enum zp_op op; /* ZP_OP_CREATE, ZP_OP_SET, ZP_OP_DELETE or ZP_OP_EXISTS (a version check) */
    const char *path;
    const void *value;
    uint32_t value_len;
    int32_t version; /* -1: any */
};

#define ZP_CREATE_EPHEMERAL 1u

struct zp_connect_opts {
    const char *servers;  /* target-specific address, e.g. "127.0.0.1:2181,..." */
    uint32_t session_ms;  /* requested session timeout */
    uint64_t timeout_ns;  /* how long connect may take */
    zp_event_fn on_event; /* may be NULL */
    void *event_arg;
};

struct zp_client;
struct zp_conn;

struct zp_target {
    const char *name;
    const char *description;
    /* Largest value the target accepts (bytes); the harness refuses larger --value-size. */
    uint32_t value_max;
    int (*open)(struct zp_client **out);
    void (*close_client)(struct zp_client *client);
    int (*connect)(struct zp_client *client, const struct zp_connect_opts *opts,
                   struct zp_conn **out);
    void (*close)(struct zp_conn *conn);
    /* Session id as the server sees it (for logs), 0 if unknown. */
    int64_t (*session_id)(struct zp_conn *conn);
    uint32_t (*session_timeout_ms)(struct zp_conn *conn);
    int (*create)(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                  uint32_t flags, zp_done_fn done, void *arg);
    int (*set_data)(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                    int32_t version, zp_done_fn done, void *arg);
    int (*get_data)(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done, void *arg);
    int (*exists)(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done, void *arg);
    int (*remove)(struct zp_conn *conn, const char *path, int32_t version, zp_done_fn done,
                  void *arg);
    int (*multi)(struct zp_conn *conn, const struct zp_multi_op *ops, uint32_t n, zp_done_fn done,
                 void *arg);
    int (*get_children)(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                        void *arg);
    int (*poll)(struct zp_client *client, uint64_t timeout_ns);
};

/* Registry: the targets compiled in. Returns NULL for an unknown name. */
const struct zp_target *zp_target_find(const char *name);
/* Comma-separated names of the compiled-in targets (for --help and errors). */
const char *zp_target_names(void);

/* The i-th compiled-in target, NULL past the end. */
const struct zp_target *zp_target_at(size_t i);

/* The ZooKeeper target (zp_target_zk.c), zinc through libzinc (zp_target_zinc.c), zinc through
 * the kernel-bypass client (zp_target_dpdk.c, DPDK builds) and the in-process modelled server
 * (zp_target_null.c). */
extern const struct zp_target zp_target_zookeeper;
extern const struct zp_target zp_target_zinc;
extern const struct zp_target zp_target_zinc_dpdk;
extern const struct zp_target zp_target_null;

#endif /* ZP_TARGET_H */

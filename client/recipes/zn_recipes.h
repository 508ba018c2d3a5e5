/*
 * zn_recipes.h - coordination recipes on the public libzinc API (client/zinc.h): leader
 * election (Ring-style succession chain and Bully-style priority with hand-off), fencing
 * tokens and fenced writes, exclusive and read/write locks, barrier and double barrier,
 * distributed FIFO queue, group membership with a cached view, config watch.
 * Guide: docs/client.md "Recipes".
 *
 * Sessions: a recipe needs to see the session's SUSPENDED state (leadership and locks are
 * reported lost on suspension, not only on expiry), which libzinc gives only to the handle's
 * state callback. So recipes take a `zr_session`, opened with zr_session_open (a zn_open that
 * installs a state callback dispatching to the recipes, then to the application's own
 * opts->state_cb). zr_session_handle gives the zn_handle for ordinary calls.
 *
 * Threads: every function may be called from any thread except where noted "not from a
 * callback" (those block: they return ZN_EAPI when called from a libzinc callback). Recipe
 * callbacks (election, membership, config) run on the session's libzinc I/O thread, never
 * concurrently with each other for one session; they must not block and must not call
 * blocking functions (libzinc async calls are fine).
 *
 * Errors: 0 or a negative ZN_E* code. ZN_ENOTLEADER: a fenced call while not leading/holding.
 * ZN_ESTALE: a fenced register holds a newer token than the writer's (the writer was fenced
 * off). ZN_ETIMEDOUT: a bounded wait ended.
 */
#ifndef ZN_RECIPES_H
#define ZN_RECIPES_H

#include <stdbool.h>
#include <stdint.h>

#include "client/zinc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- session ----------------------------------------------------------------------------- */

typedef struct zr_session zr_session;

/* zn_open with a state callback owned by the recipes (opts->state_cb, if set, is still
 * called, after the recipes). Blocks; not from a callback. */
int zr_session_open(const char *hosts, const struct zn_options *opts, zr_session **out);
zn_handle *zr_session_handle(zr_session *s);
/* zn_close, then free every recipe object of the session (elections, groups, configs, and
 * locks not yet released: their pointers are invalid afterwards). Not from a callback. */
int zr_session_close(zr_session *s);

/* Create `path` and its missing parents as persistent nodes (ZN_ENODEEXISTS ignored).
 * Blocks; not from a callback. */
int zr_ensure_path(zn_handle *zh, const char *path);

/* ---- leader election ----------------------------------------------------------------------- */

enum zr_elect_style {
    ZR_ELECT_RING = 1,  /* succession chain: lowest sequence leads, each watches its predecessor */
    ZR_ELECT_BULLY = 2, /* highest priority leads (ties: join order); a higher newcomer takes
                           over by asking the leader to yield */
};

enum zr_elect_event {
    ZR_ELECTED = 1,         /* this candidate leads; token = fencing token of the term */
    ZR_LOST = 2,            /* leadership lost (suspended, expired, node gone, yielded) */
    ZR_YIELD_REQUESTED = 3, /* Bully: a higher-priority candidate asks this leader to yield;
                               finish the term, then call zr_election_yield */
    ZR_ENDED = 4,           /* the candidacy ended (session expired/closed): no more events */
};

typedef struct zr_election zr_election;
/* Runs on the session's I/O thread; must not block. */
typedef void (*zr_election_fn)(zr_election *e, int event, int64_t token, void *ctx);

struct zr_election_opts {
    int style;           /* enum zr_elect_style */
    uint32_t priority;   /* Bully: higher wins (0..999999999); ignored by Ring */
    const char *payload; /* stored in the candidate node (e.g. host:port), may be NULL */
    int32_t payload_len;
    bool auto_yield; /* Bully: yield at once on ZR_YIELD_REQUESTED (default false) */
    zr_election_fn cb;
    void *ctx;
};

/* Join the election under `path` (created if missing). Returns once the candidate node exists;
 * leadership is reported through cb. Blocks; not from a callback. */
int zr_election_join(zr_session *s, const char *path, const struct zr_election_opts *o,
                     zr_election **out);
/* Leave: delete the candidate (and leader) node, no more callbacks after it returns. Blocks;
 * not from a callback. */
int zr_election_leave(zr_election *e);
/* Whether this candidate leads now, with the term's fencing token in *token. Any thread. */
bool zr_election_is_leader(zr_election *e, int64_t *token);
/* Wait until leading (or timeout_ms: ZN_ETIMEDOUT; candidacy ended: ZN_ESESSIONEXPIRED). Not
 * from a callback. */
int zr_election_wait_leader(zr_election *e, int timeout_ms, int64_t *token);
/* Bully: end this leader's term after ZR_YIELD_REQUESTED (the leader node is deleted, the
 * candidate stays in the election). ZR_LOST is delivered at once, in the calling thread,
 * before the delete is sent (so no other leader can be elected before the old one knows).
 * Async; any thread including callbacks (auto_yield calls it on the I/O thread). */
int zr_election_yield(zr_election *e);
/* The fence node: this candidate's own node, which exists exactly while its session lives -
 * the node a fenced multi checks (a paused leader whose session expired fails the check).
 * It does not prove the term is still current after a Bully yield: the library refuses
 * fenced writes locally after zr_election_yield, writes sent before it are ordered before the
 * hand-off (session FIFO), and zr_register_write also compares tokens. Copies into buf. Any
 * thread. */
int zr_election_leader_node(zr_election *e, char *buf, int buf_len);
/* A fenced register write by the current leader: ZN_ENOTLEADER unless leading now, else
 * zr_register_write(reg, fence node, token, value). Blocks; not from a callback. */
int zr_election_write(zr_election *e, const char *reg, const char *value, int32_t len);
/* This candidate's node name (e.g. "n-0000000004" or "p000000007-0000000004"). */
const char *zr_election_name(zr_election *e);

/* Candidates in succession order (the first leads or is about to). Blocks; not from a
 * callback. Fills `names` (free with zn_strings_free). */
int zr_election_list(zn_handle *zh, const char *path, int style, struct zn_strings *names);

/* ---- fencing ------------------------------------------------------------------------------- */

/*
 * A fenced multi: ops[] run only if `fence_node` still exists with the creating session's
 * ephemeral node (check version -1 on it is prepended). results must have count + 1 entries
 * (the first is the check's). ZN_ENONODE from the check means the holder was fenced off.
 * Blocks; not from a callback.
 */
int zr_fenced_multi(zn_handle *zh, const char *fence_node, int count, const struct zn_op *ops,
                    struct zn_op_result *results);

/*
 * A fenced register: a znode holding "<token decimal> <value>". zr_register_write stores value
 * under `token` only if the register's token is <= token (the resource refuses an older
 * leader: ZN_ESTALE), with a version-checked set (retries on a concurrent change), and, when
 * fence_node is not NULL, in one multi with a check of fence_node. The register is created
 * when missing. Blocks; not from a callback.
 */
int zr_register_write(zn_handle *zh, const char *reg, const char *fence_node, int64_t token,
                      const char *value, int32_t value_len);
/* Read the register: *token (0 when empty) and the value into buf (*len in/out). */
int zr_register_read(zn_handle *zh, const char *reg, int64_t *token, char *buf, int32_t *len);

/* ---- locks ---------------------------------------------------------------------------------- */

typedef struct zr_lock zr_lock;

/* Exclusive lock under `path`: ephemeral sequential "x-", waits on its predecessor only.
 * Returns the lock with its fencing token (the czxid of its node), or ZN_ETIMEDOUT (the node
 * is removed). timeout_ms < 0: wait forever. Not from a callback. */
int zr_lock_acquire(zr_session *s, const char *path, int timeout_ms, zr_lock **out);
/* Read/write lock: readers "r-" wait for the closest lower "w-"; writers wait for the
 * closest lower node of either kind. Same contract. */
int zr_rwlock_read(zr_session *s, const char *path, int timeout_ms, zr_lock **out);
int zr_rwlock_write(zr_session *s, const char *path, int timeout_ms, zr_lock **out);
int64_t zr_lock_token(zr_lock *l);
/* The lock's node (for zr_fenced_multi / zr_register_write). */
const char *zr_lock_node(zr_lock *l);
/* False once the session was suspended or expired while held (the lock may be gone). */
bool zr_lock_valid(zr_lock *l);
/* Release (delete the node) and free. Not from a callback. */
int zr_lock_release(zr_lock *l);

/* ---- barriers ------------------------------------------------------------------------------- */

/* Single barrier: a node `path`; zr_barrier_wait blocks while it exists. Not from a callback. */
int zr_barrier_set(zn_handle *zh, const char *path);
int zr_barrier_remove(zn_handle *zh, const char *path);
int zr_barrier_wait(zn_handle *zh, const char *path, int timeout_ms);

/* Double barrier of `count` participants under `path`: enter returns once `count` are in;
 * leave returns once all have left. `name` unique per participant. Not from a callback. */
int zr_dbarrier_enter(zn_handle *zh, const char *path, const char *name, int count, int timeout_ms);
int zr_dbarrier_leave(zn_handle *zh, const char *path, const char *name, int timeout_ms);

/* ---- queue ---------------------------------------------------------------------------------- */

/* FIFO queue: persistent sequential "q-" nodes under `path`. put: not from a callback. */
int zr_queue_put(zn_handle *zh, const char *path, const char *data, int32_t len);
/* Take the oldest element (delete wins: each element goes to exactly one taker). Waits up to
 * timeout_ms (0: no wait, ZN_ENONODE when empty). *len in/out. Not from a callback. */
int zr_queue_take(zn_handle *zh, const char *path, int timeout_ms, char *buf, int32_t *len);

/* ---- group membership ----------------------------------------------------------------------- */

typedef struct zr_group zr_group;

struct zr_member {
    const char *name;
    const char *data;
    int32_t data_len;
};
/* The whole current view after each change. Runs on the I/O thread; must not block. */
typedef void (*zr_group_fn)(zr_group *g, int count, const struct zr_member *members, void *ctx);

/* Join as `name` with a payload (ephemeral <path>/<name>). Not from a callback. */
int zr_group_join(zn_handle *zh, const char *path, const char *name, const char *data, int32_t len);
int zr_group_leave(zn_handle *zh, const char *path, const char *name);
/* Watch the group: keeps a cached view current, calls cb (may be NULL) on each change. Returns
 * after the first view is loaded. Not from a callback. */
int zr_group_watch(zr_session *s, const char *path, zr_group_fn cb, void *ctx, zr_group **out);
/* Copy of the cached view: names (free with zn_strings_free). Any thread. Also the version
 * (number of views seen). */
int zr_group_members(zr_group *g, struct zn_strings *names, uint64_t *version);
/* Stop watching and free. Not from a callback. */
void zr_group_close(zr_group *g);

/* ---- config watch --------------------------------------------------------------------------- */

typedef struct zr_config zr_config;
/* Runs on the I/O thread on each change (value NULL, len -1 when the node is missing). */
typedef void (*zr_config_fn)(zr_config *c, const char *value, int32_t len, int64_t mzxid,
                             void *ctx);

/* Keep the value of `path` current (it may not exist yet). Returns after the first read. Not
 * from a callback. */
int zr_config_watch(zr_session *s, const char *path, zr_config_fn cb, void *ctx, zr_config **out);
/* Copy the cached value into buf (*len in/out, -1 when missing); *mzxid of that value. */
int zr_config_get(zr_config *c, char *buf, int32_t *len, int64_t *mzxid);
void zr_config_close(zr_config *c);

#ifdef __cplusplus
}
#endif

#endif /* ZN_RECIPES_H */

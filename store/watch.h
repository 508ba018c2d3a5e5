/*
 * store/watch.h - the node-local watch registry (not replicated).
 *
 * Owned by one thread: the apply stage (the tree's writer). Worker lcores that serve a read
 * with a watch send (session, path, kind, zxid the read reflected) to the apply stage, which
 * registers it here; zn_watch_add compares the tree with that zxid and fires at once if the node
 * changed in between, so no change is lost between the read and the registration. After each
 * zn_store_apply, zn_watch_fire turns the apply's triggers into events (ZooKeeper
 * WatchManager.triggerWatch semantics): one event per session per trigger, one-shot watches
 * removed when they fire, persistent ones kept, persistent-recursive ones match the subtree and
 * never get NodeChildrenChanged; before an event is delivered the session's identities are
 * checked for READ on the node's ACL (an event never reveals a node the session cannot read).
 *
 * Context: writer (the apply thread), every function.
 */
#ifndef ZN_STORE_WATCH_H
#define ZN_STORE_WATCH_H

#include "store/store.h"

struct zn_watch_reg;

enum zn_watch_kind {
    ZN_WATCH_DATA = 1,   /* getData */
    ZN_WATCH_EXISTS = 2, /* exists */
    ZN_WATCH_CHILD = 3,  /* getChildren */
    ZN_WATCH_PERSISTENT = 4,
    ZN_WATCH_PERSISTENT_RECURSIVE = 5,
};

/* removeWatches/checkWatches WatcherType. */
enum zn_watcher_type {
    ZN_WATCHER_CHILDREN = 1,
    ZN_WATCHER_DATA = 2,
    ZN_WATCHER_ANY = 3,
    ZN_WATCHER_PERSISTENT = 4,
    ZN_WATCHER_PERSISTENT_RECURSIVE = 5,
};

struct zn_watch_event {
    uint64_t session;
    int32_t type; /* enum zn_event_type */
    struct zn_str path;
    int64_t zxid;
};

typedef void (*zn_watch_emit_fn)(void *ctx, const struct zn_watch_event *ev);

int zn_watch_reg_create(struct zn_watch_reg **out);
void zn_watch_reg_destroy(struct zn_watch_reg *r);

/* Identities of a session's connection, for the READ check on delivery (copied). */
int zn_watch_session_auth(struct zn_watch_reg *r, uint64_t session, const struct zn_identity *ids,
                          uint32_t id_count);
/* Forget every watch and the identities of a session (closed, expired or disconnected). */
void zn_watch_session_drop(struct zn_watch_reg *r, uint64_t session);

/*
 * Register a watch that a read left at seen_zxid (seen_exists: the read found the node).
 * Fires immediately through emit if the node changed after seen_zxid. Errors: ZN_EFULL
 * (ZN_STORE_WATCHES_MAX reached), ZN_EBADARGUMENTS (path), ZN_ENOMEM.
 */
int zn_watch_add(struct zn_watch_reg *r, const struct zn_store *s, uint64_t session,
                 const char *path, uint32_t len, int kind, uint64_t seen_zxid, bool seen_exists,
                 zn_watch_emit_fn emit, void *ctx);

/*
 * Re-register a watch a client held before a reconnect (setWatches/setWatches2, relative to
 * rel_zxid, the last zxid it saw), with ZooKeeper's DataTree.setWatches rules: an exist watch
 * fires NodeCreated if the node exists now; a data watch fires NodeDeleted if the node is gone,
 * else NodeDataChanged if mzxid > rel_zxid; a child watch fires NodeDeleted if gone, else
 * NodeChildrenChanged if pzxid > rel_zxid; a fired one-shot watch is not kept. Persistent and
 * persistent-recursive watches are re-armed silently (a change missed while away is not
 * reported). Errors as zn_watch_add.
 */
int zn_watch_rearm(struct zn_watch_reg *r, const struct zn_store *s, uint64_t session,
                   const char *path, uint32_t len, int kind, uint64_t rel_zxid,
                   zn_watch_emit_fn emit, void *ctx);

/* Deliver the triggers of one apply result. Returns the number of events emitted. */
uint32_t zn_watch_fire(struct zn_watch_reg *r, const struct zn_apply_result *res,
                       zn_watch_emit_fn emit, void *ctx);

/*
 * removeWatches (remove = true) / checkWatches (remove = false) for session on path and
 * watcher type. Returns 0, or ZN_ENOWATCHER when the session has no such watch.
 */
int zn_watch_remove(struct zn_watch_reg *r, uint64_t session, const char *path, uint32_t len,
                    int watcher_type, bool remove);

/* Number of registered watches. */
uint64_t zn_watch_count(const struct zn_watch_reg *r);

#endif /* ZN_STORE_WATCH_H */

/*
 * watch.c - libzinc's client-side watch registry (I/O thread only).
 *
 * The node keeps one watch per (session, path, kind) and fires it once; the client fans the
 * event out to every watcher registered for it, as ZooKeeper's C client does (zk_hashtable.c):
 *   NodeCreated, NodeDataChanged -> data and exist watchers of the path;
 *   NodeDeleted                  -> data, exist and child watchers of the path;
 *   NodeChildrenChanged          -> child watchers of the path;
 * and to persistent watchers of the path and persistent-recursive watchers of the path and of
 * every ancestor (never for NodeChildrenChanged). One-shot entries are removed before their
 * watcher runs; persistent ones stay. Entries are deduplicated on (path, kind class, fn, ctx),
 * so a watcher registered twice is called once.
 *
 * Table: chained hash on the server path (FNV-1a), ZN_WATCH_BUCKETS buckets, at most
 * ZN_CLIENT_WATCHES_MAX entries.
 */
#include <stdlib.h>
#include <string.h>

#include "client/zn_client_internal.h"
#include "common/zn_assert.h"
#include "common/zn_log.h"

static uint32_t path_hash(const char *p)
{
    uint32_t h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % ZN_WATCH_BUCKETS;
}

static int kind_class(enum zn_wkind k)
{
    return k == ZN_WK_EXIST ? ZN_WK_DATA : (int)k;
}

void zn_watch_init(struct zn_watch_table *t)
{
    memset(t, 0, sizeof(*t));
    t->next_id = 1;
}

static void entry_free(struct zn_watch *w)
{
    free(w->path);
    free(w);
}

void zn_watch_fini(struct zn_watch_table *t)
{
    for (uint32_t b = 0; b < ZN_WATCH_BUCKETS; b++) {
        struct zn_watch *w = t->buckets[b];
        while (w != NULL) {
            struct zn_watch *next = w->next;
            entry_free(w);
            w = next;
        }
        t->buckets[b] = NULL;
    }
    t->count = 0;
}

uint64_t zn_watch_add(struct zn_watch_table *t, const char *path, enum zn_wkind kind,
                      zn_watcher_fn fn, void *ctx, bool *full)
{
    *full = false;
    uint32_t b = path_hash(path);
    for (struct zn_watch *w = t->buckets[b]; w != NULL; w = w->next) {
        if (kind_class(w->kind) == kind_class(kind) && w->fn == fn && w->ctx == ctx &&
            strcmp(w->path, path) == 0)
            return 0;
    }
    if (t->count >= ZN_CLIENT_WATCHES_MAX) {
        *full = true;
        return 0;
    }
    struct zn_watch *w = calloc(1, sizeof(*w));
    char *p = strdup(path);
    if (w == NULL || p == NULL) {
        free(w);
        free(p);
        *full = true;
        return 0;
    }
    w->path = p;
    w->id = t->next_id++;
    w->kind = kind;
    w->fn = fn;
    w->ctx = ctx;
    w->next = t->buckets[b];
    t->buckets[b] = w;
    t->count++;
    return w->id;
}

static struct zn_watch **find_id(struct zn_watch_table *t, const char *path, uint64_t id)
{
    struct zn_watch **pp = &t->buckets[path_hash(path)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id)
            return pp;
    }
    return NULL;
}

void zn_watch_remove_id(struct zn_watch_table *t, const char *path, uint64_t id)
{
    struct zn_watch **pp = find_id(t, path, id);
    if (pp == NULL)
        return; /* already fired */
    struct zn_watch *w = *pp;
    *pp = w->next;
    entry_free(w);
    ZN_ASSERT(t->count > 0);
    t->count--;
}

void zn_watch_set_kind(struct zn_watch_table *t, const char *path, uint64_t id, enum zn_wkind kind)
{
    struct zn_watch **pp = find_id(t, path, id);
    if (pp != NULL)
        (*pp)->kind = kind;
}

static void call_watcher(zn_handle *zh, zn_watcher_fn fn, void *ctx, int type, int state,
                         const char *path)
{
    if (fn == NULL) {
        fn = zh->opts.watcher;
        ctx = zh->opts.watcher_ctx;
    }
    if (fn != NULL)
        fn(zh, type, state, path, ctx);
}

/* Does an entry of kind k on its own path fire for event `type`? */
static bool fires_exact(enum zn_wkind k, int type)
{
    switch (type) {
    case ZN_EVENT_CREATED:
    case ZN_EVENT_CHANGED:
        return k == ZN_WK_DATA || k == ZN_WK_EXIST || k == ZN_WK_PERSISTENT || k == ZN_WK_RECURSIVE;
    case ZN_EVENT_DELETED:
        return true;
    case ZN_EVENT_CHILD:
        return k == ZN_WK_CHILD || k == ZN_WK_PERSISTENT;
    default:
        return false;
    }
}

/* Collected matches, called after the table is updated so a watcher may set new watches. */
struct zn_fire {
    zn_watcher_fn fn;
    void *ctx;
};

#define ZN_FIRE_BATCH 64u

void zn_watch_fire(zn_handle *zh, int type, int state, const char *server_path)
{
    struct zn_watch_table *t = &zh->watches;
    const char *client_path = zn_path_from_server(zh, server_path);
    if (client_path == NULL) {
        ZN_WARN("client", "event for %s outside the chroot dropped", server_path);
        return;
    }
    size_t cap = ZN_FIRE_BATCH, n = 0;
    struct zn_fire *calls = malloc(cap * sizeof(*calls));
    if (calls == NULL)
        return;
    /* The path itself: one-shot and persistent kinds. */
    struct zn_watch **pp = &t->buckets[path_hash(server_path)];
    while (*pp != NULL) {
        struct zn_watch *w = *pp;
        if (strcmp(w->path, server_path) != 0 || !fires_exact(w->kind, type)) {
            pp = &w->next;
            continue;
        }
        if (n == cap) {
            struct zn_fire *bigger = realloc(calls, 2 * cap * sizeof(*calls));
            if (bigger == NULL)
                break;
            calls = bigger;
            cap *= 2;
        }
        calls[n++] = (struct zn_fire){w->fn, w->ctx};
        if (w->kind == ZN_WK_PERSISTENT || w->kind == ZN_WK_RECURSIVE) {
            pp = &w->next;
        } else {
            *pp = w->next;
            entry_free(w);
            t->count--;
        }
    }
    /* Recursive watches of the ancestors (not for child events: the subtree's creates and
     * deletes arrive as their own events). */
    if (type != ZN_EVENT_CHILD) {
        size_t len = strlen(server_path);
        char *anc = malloc(len + 1);
        if (anc != NULL) {
            memcpy(anc, server_path, len + 1);
            while (len > 1) {
                while (len > 1 && anc[len - 1] != '/')
                    len--;
                if (len > 1)
                    len--; /* drop the '/' */
                anc[len] = '\0';
                for (struct zn_watch *w = t->buckets[path_hash(anc)]; w != NULL; w = w->next) {
                    if (w->kind != ZN_WK_RECURSIVE || strcmp(w->path, anc) != 0)
                        continue;
                    if (n == cap) {
                        struct zn_fire *bigger = realloc(calls, 2 * cap * sizeof(*calls));
                        if (bigger == NULL)
                            break;
                        calls = bigger;
                        cap *= 2;
                    }
                    calls[n++] = (struct zn_fire){w->fn, w->ctx};
                }
            }
            free(anc);
        }
    }
    for (size_t i = 0; i < n; i++)
        call_watcher(zh, calls[i].fn, calls[i].ctx, type, state, client_path);
    free(calls);
}

static bool type_matches(enum zn_wkind k, int type)
{
    switch (type) {
    case ZN_WATCHER_CHILDREN:
        return k == ZN_WK_CHILD;
    case ZN_WATCHER_DATA:
        return k == ZN_WK_DATA || k == ZN_WK_EXIST;
    case ZN_WATCHER_ANY:
        return true;
    default:
        return false;
    }
}

uint32_t zn_watch_count(struct zn_watch_table *t, const char *path, int type, zn_watcher_fn fn,
                        void *ctx, bool any_fn)
{
    uint32_t n = 0;
    for (struct zn_watch *w = t->buckets[path_hash(path)]; w != NULL; w = w->next) {
        if (strcmp(w->path, path) == 0 && type_matches(w->kind, type) &&
            (any_fn || (w->fn == fn && w->ctx == ctx)))
            n++;
    }
    return n;
}

uint32_t zn_watch_remove(zn_handle *zh, const char *path, int type, zn_watcher_fn fn, void *ctx,
                         bool any_fn)
{
    struct zn_watch_table *t = &zh->watches;
    const char *client_path = zn_path_from_server(zh, path);
    uint32_t removed = 0;
    struct zn_watch **pp = &t->buckets[path_hash(path)];
    while (*pp != NULL) {
        struct zn_watch *w = *pp;
        if (strcmp(w->path, path) != 0 || !type_matches(w->kind, type) ||
            !(any_fn || (w->fn == fn && w->ctx == ctx))) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        int ev = w->kind == ZN_WK_CHILD ? ZN_EVENT_CHILD_WATCH_REMOVED
                 : (w->kind == ZN_WK_DATA || w->kind == ZN_WK_EXIST)
                     ? ZN_EVENT_DATA_WATCH_REMOVED
                     : ZN_EVENT_PERSISTENT_WATCH_REMOVED;
        zn_watcher_fn wfn = w->fn;
        void *wctx = w->ctx;
        entry_free(w);
        t->count--;
        removed++;
        call_watcher(zh, wfn, wctx, ev, ZN_STATE_CONNECTED, client_path ? client_path : path);
    }
    return removed;
}

void zn_watch_notify_all(zn_handle *zh, int state)
{
    struct zn_watch_table *t = &zh->watches;
    for (uint32_t b = 0; b < ZN_WATCH_BUCKETS; b++) {
        struct zn_watch *w = t->buckets[b];
        t->buckets[b] = NULL;
        while (w != NULL) {
            struct zn_watch *next = w->next;
            /* The global watcher hears about the session through its own event. */
            if (w->fn != NULL)
                w->fn(zh, ZN_EVENT_SESSION, state, "", w->ctx);
            entry_free(w);
            w = next;
        }
    }
    t->count = 0;
}

void zn_watch_visit(struct zn_watch_table *t, zn_watch_visit_fn fn, void *arg)
{
    for (uint32_t b = 0; b < ZN_WATCH_BUCKETS; b++) {
        for (struct zn_watch *w = t->buckets[b]; w != NULL; w = w->next)
            fn(w, arg);
    }
}

/*
 * store/watch.c - watch registry (see watch.h): a chained hash table path -> watcher array,
 * plus a small session -> identities table. Single-threaded (apply thread).
 */
#include "store/watch.h"

#include <string.h>

#include "common/zn_assert.h"
#include "store/alloc.h"
#include "store/internal.h"

struct watcher {
    uint64_t session;
    int32_t kind;
};

struct wentry {
    struct wentry *next;
    uint64_t hash;
    uint32_t len;
    uint32_t count;
    uint32_t cap;
    struct watcher *w;
    char path[];
};

struct wauth {
    struct wauth *next;
    uint64_t session;
    uint32_t count;
    struct zn_identity ids[]; /* strings follow */
};

struct zn_watch_reg {
    struct wentry **tab;
    uint32_t tab_size;
    uint64_t entries;
    uint64_t watches;
    uint64_t recursive;
    struct wauth *auth; /* list: a node serves a bounded number of sessions */
};

int zn_watch_reg_create(struct zn_watch_reg **out)
{
    struct zn_watch_reg *r = zn_mem_zalloc(sizeof(*r));
    if (!r)
        return ZN_ENOMEM;
    r->tab_size = 256;
    r->tab = zn_mem_zalloc(r->tab_size * sizeof(r->tab[0]));
    if (!r->tab) {
        zn_mem_free(r);
        return ZN_ENOMEM;
    }
    *out = r;
    return 0;
}

static void entry_free(struct wentry *e)
{
    zn_mem_free(e->w);
    zn_mem_free(e);
}

void zn_watch_reg_destroy(struct zn_watch_reg *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->tab_size; i++) {
        struct wentry *e = r->tab[i];
        while (e) {
            struct wentry *n = e->next;
            entry_free(e);
            e = n;
        }
    }
    while (r->auth) {
        struct wauth *n = r->auth->next;
        zn_mem_free(r->auth);
        r->auth = n;
    }
    zn_mem_free(r->tab);
    zn_mem_free(r);
}

static struct wentry **find_slot(struct zn_watch_reg *r, const char *path, uint32_t len, uint64_t h)
{
    struct wentry **pp = &r->tab[h & (r->tab_size - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->len == len && memcmp((*pp)->path, path, len) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void grow(struct zn_watch_reg *r)
{
    uint32_t nsize = r->tab_size * 2;
    struct wentry **tab = zn_mem_zalloc(nsize * sizeof(tab[0]));
    if (!tab)
        return; /* keep the smaller table: slower, still correct */
    for (uint32_t i = 0; i < r->tab_size; i++) {
        struct wentry *e = r->tab[i];
        while (e) {
            struct wentry *n = e->next;
            e->next = tab[e->hash & (nsize - 1)];
            tab[e->hash & (nsize - 1)] = e;
            e = n;
        }
    }
    zn_mem_free(r->tab);
    r->tab = tab;
    r->tab_size = nsize;
}

static void remove_at(struct zn_watch_reg *r, struct wentry **slot, uint32_t i)
{
    struct wentry *e = *slot;
    if (e->w[i].kind == ZN_WATCH_PERSISTENT_RECURSIVE)
        r->recursive--;
    e->w[i] = e->w[--e->count];
    r->watches--;
    if (e->count == 0) {
        *slot = e->next;
        entry_free(e);
        r->entries--;
    }
}

static int add_raw(struct zn_watch_reg *r, uint64_t session, const char *path, uint32_t len,
                   int kind)
{
    if (r->watches >= ZN_STORE_WATCHES_MAX)
        return ZN_EFULL;
    uint64_t h = zn_path_hash(path, len);
    struct wentry **slot = find_slot(r, path, len, h);
    struct wentry *e = *slot;
    if (!e) {
        e = zn_mem_zalloc(sizeof(*e) + len + 1);
        if (!e)
            return ZN_ENOMEM;
        e->hash = h;
        e->len = len;
        memcpy(e->path, path, len);
        *slot = e;
        r->entries++;
    }
    for (uint32_t i = 0; i < e->count; i++)
        if (e->w[i].session == session && e->w[i].kind == kind)
            return 0; /* a watcher is a set member, like ZooKeeper's */
    if (e->count == e->cap) {
        uint32_t ncap = e->cap ? e->cap * 2 : 2;
        struct watcher *w = zn_mem_realloc(e->w, ncap * sizeof(*w));
        if (!w)
            return ZN_ENOMEM;
        e->w = w;
        e->cap = ncap;
    }
    e->w[e->count++] = (struct watcher){session, kind};
    r->watches++;
    if (kind == ZN_WATCH_PERSISTENT_RECURSIVE)
        r->recursive++;
    if (r->entries > (uint64_t)r->tab_size * 2)
        grow(r);
    return 0;
}

static const struct wauth *auth_of(const struct zn_watch_reg *r, uint64_t session)
{
    for (const struct wauth *a = r->auth; a; a = a->next)
        if (a->session == session)
            return a;
    return NULL;
}

int zn_watch_session_auth(struct zn_watch_reg *r, uint64_t session, const struct zn_identity *ids,
                          uint32_t id_count)
{
    size_t strs = 0;
    for (uint32_t i = 0; i < id_count; i++)
        strs += ids[i].scheme.len + ids[i].id.len;
    struct wauth *a = zn_mem_alloc(sizeof(*a) + id_count * sizeof(a->ids[0]) + strs);
    if (!a)
        return ZN_ENOMEM;
    a->session = session;
    a->count = id_count;
    char *p = (char *)&a->ids[id_count];
    for (uint32_t i = 0; i < id_count; i++) {
        memcpy(p, ids[i].scheme.ptr, ids[i].scheme.len);
        a->ids[i].scheme = (struct zn_str){p, ids[i].scheme.len};
        p += ids[i].scheme.len;
        memcpy(p, ids[i].id.ptr, ids[i].id.len);
        a->ids[i].id = (struct zn_str){p, ids[i].id.len};
        p += ids[i].id.len;
    }
    struct wauth **pp = &r->auth;
    while (*pp && (*pp)->session != session)
        pp = &(*pp)->next;
    if (*pp) {
        a->next = (*pp)->next;
        zn_mem_free(*pp);
    } else {
        a->next = NULL;
    }
    *pp = a;
    return 0;
}

void zn_watch_session_drop(struct zn_watch_reg *r, uint64_t session)
{
    for (uint32_t b = 0; b < r->tab_size; b++) {
        struct wentry **slot = &r->tab[b];
        while (*slot) {
            struct wentry *e = *slot;
            for (uint32_t i = 0; i < e->count;) {
                if (e->w[i].session == session) {
                    remove_at(r, slot, i);
                    if (*slot != e)
                        break; /* entry freed */
                } else {
                    i++;
                }
            }
            if (*slot == e)
                slot = &e->next;
        }
    }
    struct wauth **pp = &r->auth;
    while (*pp && (*pp)->session != session)
        pp = &(*pp)->next;
    if (*pp) {
        struct wauth *a = *pp;
        *pp = a->next;
        zn_mem_free(a);
    }
}

static void emit_one(zn_watch_emit_fn emit, void *ctx, uint64_t session, int32_t type,
                     struct zn_str path, int64_t zxid)
{
    struct zn_watch_event ev = {session, type, path, zxid};
    emit(ctx, &ev);
}

int zn_watch_add(struct zn_watch_reg *r, const struct zn_store *s, uint64_t session,
                 const char *path, uint32_t len, int kind, uint64_t seen_zxid, bool seen_exists,
                 zn_watch_emit_fn emit, void *ctx)
{
    if (zn_path_validate(path, len))
        return ZN_EBADARGUMENTS;
    if (kind < ZN_WATCH_DATA || kind > ZN_WATCH_PERSISTENT_RECURSIVE)
        return ZN_EBADARGUMENTS;
    int32_t missed = 0;
    if (seen_zxid < zn_store_applied_zxid(s)) {
        const struct zn_znode *n = zn_node_lookup(s, path, len);
        const struct zn_stat *st = n ? &n->state->stat : NULL;
        int64_t z = (int64_t)seen_zxid;
        bool replaced = st && st->czxid > z;
        if (seen_exists && (!st || replaced))
            missed = ZN_EVENT_NODE_DELETED;
        else if (!seen_exists && st && kind != ZN_WATCH_CHILD && kind != ZN_WATCH_DATA)
            missed = ZN_EVENT_NODE_CREATED;
        else if (st && st->mzxid > z && kind != ZN_WATCH_CHILD)
            missed = ZN_EVENT_NODE_DATA_CHANGED;
        else if (st && st->pzxid > z && (kind == ZN_WATCH_CHILD || kind == ZN_WATCH_PERSISTENT))
            missed = ZN_EVENT_NODE_CHILDREN_CHANGED;
    }
    bool persistent = kind == ZN_WATCH_PERSISTENT || kind == ZN_WATCH_PERSISTENT_RECURSIVE;
    if (missed) {
        emit_one(emit, ctx, session, missed, (struct zn_str){path, len},
                 (int64_t)zn_store_applied_zxid(s));
        if (!persistent)
            return 0; /* a one-shot watch is consumed by the event */
    }
    return add_raw(r, session, path, len, kind);
}

int zn_watch_rearm(struct zn_watch_reg *r, const struct zn_store *s, uint64_t session,
                   const char *path, uint32_t len, int kind, uint64_t rel_zxid,
                   zn_watch_emit_fn emit, void *ctx)
{
    if (zn_path_validate(path, len))
        return ZN_EBADARGUMENTS;
    if (kind < ZN_WATCH_DATA || kind > ZN_WATCH_PERSISTENT_RECURSIVE)
        return ZN_EBADARGUMENTS;
    const struct zn_znode *n = zn_node_lookup(s, path, len);
    const struct zn_stat *st = n ? &n->state->stat : NULL;
    int64_t z = (int64_t)rel_zxid;
    int32_t missed = 0;
    switch (kind) {
    case ZN_WATCH_EXISTS: /* the client held it on a node it saw missing */
        missed = st ? ZN_EVENT_NODE_CREATED : 0;
        break;
    case ZN_WATCH_DATA:
        missed = !st ? ZN_EVENT_NODE_DELETED : st->mzxid > z ? ZN_EVENT_NODE_DATA_CHANGED : 0;
        break;
    case ZN_WATCH_CHILD:
        missed = !st ? ZN_EVENT_NODE_DELETED : st->pzxid > z ? ZN_EVENT_NODE_CHILDREN_CHANGED : 0;
        break;
    default: /* persistent kinds: re-armed silently */
        break;
    }
    if (missed) {
        emit_one(emit, ctx, session, missed, (struct zn_str){path, len},
                 (int64_t)zn_store_applied_zxid(s));
        return 0; /* a one-shot watch is consumed by the event */
    }
    return add_raw(r, session, path, len, kind);
}

/* Does a watch of this kind fire for an event of this type on its own path? */
static bool kind_matches(int32_t kind, int32_t type)
{
    switch (type) {
    case ZN_EVENT_NODE_CREATED:
        return kind == ZN_WATCH_EXISTS || kind == ZN_WATCH_PERSISTENT ||
               kind == ZN_WATCH_PERSISTENT_RECURSIVE;
    case ZN_EVENT_NODE_DELETED:
        return true;
    case ZN_EVENT_NODE_DATA_CHANGED:
        return kind == ZN_WATCH_DATA || kind == ZN_WATCH_EXISTS || kind == ZN_WATCH_PERSISTENT ||
               kind == ZN_WATCH_PERSISTENT_RECURSIVE;
    case ZN_EVENT_NODE_CHILDREN_CHANGED:
        return kind == ZN_WATCH_CHILD || kind == ZN_WATCH_PERSISTENT;
    default:
        return false;
    }
}

/*
 * Sessions already notified for the current trigger (one event per session per trigger, like
 * ZooKeeper's "supress" set): an open-addressing set that grows with the watchers touched.
 */
struct fired {
    uint64_t *slot; /* 0 = empty (session ids are never 0) */
    uint32_t cap;   /* power of two */
    uint32_t n;
};

static bool seen_before(struct fired *f, uint64_t session)
{
    if ((f->n + 1) * 2 > f->cap) {
        uint32_t ncap = f->cap ? f->cap * 2 : 64;
        uint64_t *ns = zn_mem_zalloc(ncap * sizeof(*ns));
        if (!ns)
            zn_panic("store: out of memory delivering watch events");
        for (uint32_t i = 0; i < f->cap; i++) {
            if (!f->slot[i])
                continue;
            uint32_t j = (uint32_t)zn_mix64(f->slot[i]) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = f->slot[i];
        }
        zn_mem_free(f->slot);
        f->slot = ns;
        f->cap = ncap;
    }
    uint32_t j = (uint32_t)zn_mix64(session) & (f->cap - 1);
    while (f->slot[j]) {
        if (f->slot[j] == session)
            return true;
        j = (j + 1) & (f->cap - 1);
    }
    f->slot[j] = session;
    f->n++;
    return false;
}

static bool readable(const struct zn_watch_reg *r, const struct zn_trigger *t, uint64_t session)
{
    const struct wauth *a = auth_of(r, session);
    return zn_acl_allows(t->acl, ZN_PERM_READ, a ? a->ids : NULL, a ? a->count : 0);
}

/* Fire watches registered exactly on path (recursive_only: only persistent-recursive ones). */
static uint32_t fire_at(struct zn_watch_reg *r, const struct zn_trigger *t, const char *path,
                        uint32_t len, bool recursive_only, struct fired *f, zn_watch_emit_fn emit,
                        void *ctx)
{
    uint32_t emitted = 0;
    struct wentry **slot = find_slot(r, path, len, zn_path_hash(path, len));
    struct wentry *e = *slot;
    if (!e)
        return 0;
    for (uint32_t i = 0; i < e->count;) {
        struct watcher w = e->w[i];
        bool match = recursive_only ? (w.kind == ZN_WATCH_PERSISTENT_RECURSIVE &&
                                       t->type != ZN_EVENT_NODE_CHILDREN_CHANGED)
                                    : kind_matches(w.kind, t->type);
        if (!match) {
            i++;
            continue;
        }
        if (!seen_before(f, w.session) && readable(r, t, w.session)) {
            emit_one(emit, ctx, w.session, t->type, t->path, t->zxid);
            emitted++;
        }
        if (w.kind == ZN_WATCH_PERSISTENT || w.kind == ZN_WATCH_PERSISTENT_RECURSIVE) {
            i++;
            continue;
        }
        remove_at(r, slot, i);
        if (*slot != e)
            break;
    }
    return emitted;
}

uint32_t zn_watch_fire(struct zn_watch_reg *r, const struct zn_apply_result *res,
                       zn_watch_emit_fn emit, void *ctx)
{
    uint32_t emitted = 0;
    for (uint32_t i = 0; i < res->trigger_count; i++) {
        const struct zn_trigger *t = &res->triggers[i];
        struct fired f = {.n = 0};
        emitted += fire_at(r, t, t->path.ptr, t->path.len, false, &f, emit, ctx);
        if (r->recursive == 0 || t->type == ZN_EVENT_NODE_CHILDREN_CHANGED) {
            zn_mem_free(f.slot);
            continue;
        }
        /* persistent-recursive watches on the path itself and on every ancestor */
        emitted += fire_at(r, t, t->path.ptr, t->path.len, true, &f, emit, ctx);
        uint32_t len = t->path.len;
        while (len > 1) {
            int pl = zn_parent_len(t->path.ptr, len);
            if (pl < 0)
                break;
            len = (uint32_t)pl;
            emitted += fire_at(r, t, t->path.ptr, len, true, &f, emit, ctx);
        }
        zn_mem_free(f.slot);
    }
    if (res->closed_session)
        zn_watch_session_drop(r, res->closed_session);
    return emitted;
}

static bool type_covers(int watcher_type, int32_t kind)
{
    switch (watcher_type) {
    case ZN_WATCHER_CHILDREN:
        return kind == ZN_WATCH_CHILD;
    case ZN_WATCHER_DATA:
        return kind == ZN_WATCH_DATA || kind == ZN_WATCH_EXISTS;
    case ZN_WATCHER_PERSISTENT:
        return kind == ZN_WATCH_PERSISTENT;
    case ZN_WATCHER_PERSISTENT_RECURSIVE:
        return kind == ZN_WATCH_PERSISTENT_RECURSIVE;
    case ZN_WATCHER_ANY:
        return true;
    default:
        return false;
    }
}

int zn_watch_remove(struct zn_watch_reg *r, uint64_t session, const char *path, uint32_t len,
                    int watcher_type, bool remove)
{
    struct wentry **slot = find_slot(r, path, len, zn_path_hash(path, len));
    bool found = false;
    struct wentry *e = *slot;
    if (!e)
        return ZN_ENOWATCHER;
    for (uint32_t i = 0; i < e->count;) {
        if (e->w[i].session == session && type_covers(watcher_type, e->w[i].kind)) {
            found = true;
            if (!remove)
                break;
            remove_at(r, slot, i);
            if (*slot != e)
                break;
        } else {
            i++;
        }
    }
    return found ? 0 : ZN_ENOWATCHER;
}

uint64_t zn_watch_count(const struct zn_watch_reg *r)
{
    return r->watches;
}

/* zr_internal.h - shared internals of client/recipes (not installed). */
#ifndef ZR_INTERNAL_H
#define ZR_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include "client/recipes/zn_recipes.h"

#define ZR_PATH_MAX         512  /* recipe paths (dir + child name); ZooKeeper paths are shorter */
#define ZR_NAME_MAX         128  /* a child name */
#define ZR_FENCED_OPS_MAX   64   /* ops in one zr_fenced_multi besides the check */
#define ZR_REGISTER_MAX     4096 /* a fenced register's content: token, space, value */
#define ZR_REGISTER_RETRIES 64   /* version conflicts before ZN_EAGAIN */

/* Every recipe object with callbacks lives until its session closes (no callback can run on
 * freed memory); `on_state` sees the session's state changes on the I/O thread. */
struct zr_obj {
    struct zr_obj *next;
    void (*on_state)(struct zr_obj *o, int state);
    void (*free_fn)(struct zr_obj *o);
};

struct zr_session {
    zn_handle *zh;
    pthread_mutex_t mu; /* objs; held while on_state runs */
    struct zr_obj *objs;
    zn_state_fn user_cb;
    void *user_ctx;
};

void zr_session_add(struct zr_session *s, struct zr_obj *o);

/* A one-shot wake-up living on the waiting thread's stack. The watch's context is the
 * waiter's id, not its address: a process-wide registry maps ids to live waiters, so a watch
 * that fires (or never fires, or is dropped by libzinc after a failed call) once the waiter
 * is gone finds nothing and does nothing - no lifetime coupling to watch delivery. */
struct zr_waiter {
    struct zr_waiter *next;
    uint64_t id;
    bool fired;
    pthread_cond_t cond;
};
void zr_waiter_init(struct zr_waiter *w);
void *zr_waiter_ctx(const struct zr_waiter *w);
void zr_waiter_watch(zn_handle *zh, int type, int state, const char *path, void *ctx);
/* 0 when the watch fired, ZN_ETIMEDOUT at the deadline. */
int zr_waiter_wait(struct zr_waiter *w, int64_t deadline_ms);
void zr_waiter_done(struct zr_waiter *w);

int64_t zr_now_ms(void);
int64_t zr_deadline(int timeout_ms);
int zr_join(char *out, size_t len, const char *dir, const char *name);
int64_t zr_seq_of(const char *name);

#endif /* ZR_INTERNAL_H */

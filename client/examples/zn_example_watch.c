/*
 * zn_example_watch.c - libzinc's async API and watches: a data watch re-armed on every change
 * (zn_awget), a persistent recursive watch on a subtree, and async writes whose completions
 * arrive in call order. Needs a running zinc node:
 *
 *   zn_example_watch 127.0.0.1:2281,127.0.0.1:2282 [cluster-id]
 *
 * It creates /watched, changes it five times and creates five children, printing every event
 * and completion, then cleans up. Exit status 0 when all events and completions arrived.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/zinc.h"

#define CHANGES 5

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int data_events, tree_events, completions;

static void bump(int *counter)
{
    pthread_mutex_lock(&mu);
    (*counter)++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_data(int rc, const char *value, int32_t len, const struct zn_stat *st,
                    const void *data);

/* One-shot data watch: runs on the I/O thread; re-arms itself with an async get (a blocking
 * call here would return ZN_EAPI). */
static void data_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    printf("data watch: event %d on %s\n", type, path);
    /* Re-arm first: a change made after main() sees the count below finds the watch set
     * (calls take effect in the order they were made). */
    if (type == ZN_EVENT_CHANGED)
        zn_awget(zh, path, data_watcher, NULL, on_data, NULL);
    bump(&data_events);
}

static void on_data(int rc, const char *value, int32_t len, const struct zn_stat *st,
                    const void *data)
{
    (void)data;
    if (rc == 0)
        printf("  value now \"%.*s\" (version %d)\n", len > 0 ? len : 0, value, st->version);
}

static void tree_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    printf("recursive watch: event %d on %s\n", type, path);
    bump(&tree_events);
}

static void on_set(int rc, const struct zn_stat *st, const void *data)
{
    printf("set #%d done: %s, version %d\n", (int)(intptr_t)data, zn_strerror(rc),
           rc == 0 ? st->version : -1);
    bump(&completions);
}

static void on_state(zn_handle *zh, int state, void *ctx)
{
    (void)zh;
    (void)ctx;
    printf("session state %d\n", state);
}

static int wait_for(int *counter, int want)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&mu);
    while (*counter < want) {
        if (pthread_cond_timedwait(&cv, &mu, &until) != 0)
            break;
    }
    int got = *counter;
    pthread_mutex_unlock(&mu);
    return got >= want ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s host:port[,host:port...][/chroot] [cluster-id]\n", argv[0]);
        return 2;
    }
    struct zn_options opts;
    zn_options_init(&opts);
    opts.state_cb = on_state;
    if (argc > 2)
        opts.cluster_id = (uint32_t)strtoul(argv[2], NULL, 0);
    zn_handle *zh;
    int rc = zn_open(argv[1], &opts, &zh);
    if (rc != 0) {
        fprintf(stderr, "zn_open(%s): %s\n", argv[1], zn_strerror(rc));
        return 1;
    }
    rc = zn_create(zh, "/watched", "0", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc != 0 && rc != ZN_ENODEEXISTS) {
        fprintf(stderr, "create: %s\n", zn_strerror(rc));
        return 1;
    }
    char buf[16];
    int32_t len = sizeof(buf);
    zn_wget(zh, "/watched", data_watcher, NULL, buf, &len, NULL);
    zn_add_watch(zh, "/watched", ZN_WATCH_PERSISTENT_RECURSIVE, tree_watcher, NULL);

    /* Async writes: completions run in call order, and each event before the completion of
     * the write that caused it. A one-shot watch sees one change per arming, so each change
     * waits for the event of the previous one (changes made while it is disarmed coalesce,
     * as in ZooKeeper). */
    int bad = 0;
    for (int i = 1; i <= CHANGES; i++) {
        char v[8], child[32];
        snprintf(v, sizeof(v), "%d", i);
        snprintf(child, sizeof(child), "/watched/c%d", i);
        zn_aset(zh, "/watched", v, (int32_t)strlen(v), -1, on_set, (void *)(intptr_t)i);
        zn_acreate(zh, child, "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, NULL);
        bad |= wait_for(&data_events, i);
    }
    bad |= wait_for(&completions, CHANGES);
    bad |= wait_for(&tree_events, 2 * CHANGES); /* CHANGES data changes + CHANGES creates */
    zn_remove_watches(zh, "/watched", ZN_WATCHER_ANY, NULL, NULL, 0);
    zn_close(zh); /* removes the ephemeral children */
    if (zn_open(argv[1], &opts, &zh) == 0) {
        zn_delete(zh, "/watched", -1);
        zn_close(zh);
    }
    printf("%s: %d completions, %d data events, %d subtree events\n", bad ? "FAILED" : "ok",
           completions, data_events, tree_events);
    return bad;
}

/*
 * rt_harness.h - shared harness of the recipes tests and benchmark: where the cluster is
 * (ZN_TEST_CONNECT, else an in-process fake node of tests/client with two servers A and B),
 * session helpers, and "crash" of a session (fake node only: expire it and remove its
 * ephemerals, which the fake node - unlike zincd - does not do on expiry).
 */
#ifndef RT_HARNESS_H
#define RT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "client/recipes/zn_recipes.h"

struct rt_env {
    bool fake;        /* in-process fake node (fault knobs available) */
    char hosts[512];  /* every node */
    char host_a[128]; /* fake: server A only (mutable) */
    char host_b[128]; /* fake: server B only */
    uint32_t cluster_id;
    struct fake_cluster *c;
    struct fake_server *a, *b;
};

/* Set up from the environment (ZN_TEST_CONNECT, ZN_TEST_CLUSTER_ID) or start the fake node. */
int rt_env_init(struct rt_env *env);
void rt_env_fini(struct rt_env *env);
/* Open a recipe session on `hosts` (NULL: env->hosts) with session timeout `timeout_ms`. */
int rt_open(struct rt_env *env, const char *hosts, uint32_t timeout_ms, zr_session **out);
/* Fake node: expire `sid` and delete its ephemerals under `dir` (children and dir/leader,
 * dir/yield) as the cluster would on expiry. Returns nodes removed or a negative code. */
int rt_crash(struct rt_env *env, zn_handle *admin, const char *dir, int64_t sid);
void rt_mute_a(struct rt_env *env, bool mute);
void rt_sleep_ms(int ms);
int64_t rt_now_us(void);

#define RT_CHECK(cond, ...)                                                 \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

#endif /* RT_HARNESS_H */

/* rt_harness.c - see rt_harness.h. Test infrastructure. */
#include "tests/recipes/rt_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/client/fake_server.h"

int rt_env_init(struct rt_env *env)
{
    memset(env, 0, sizeof(*env));
    const char *conn = getenv("ZN_TEST_CONNECT");
    const char *cid = getenv("ZN_TEST_CLUSTER_ID");
    env->cluster_id = cid ? (uint32_t)strtoul(cid, NULL, 10) : 0;
    if (conn && conn[0]) {
        snprintf(env->hosts, sizeof(env->hosts), "%s", conn);
        return 0;
    }
    env->fake = true;
    env->c = fake_cluster_new(env->cluster_id);
    env->a = fake_server_start(env->c, 1);
    env->b = fake_server_start(env->c, 2);
    if (env->c == NULL || env->a == NULL || env->b == NULL)
        return -1;
    snprintf(env->host_a, sizeof(env->host_a), "127.0.0.1:%u", fake_server_port(env->a));
    snprintf(env->host_b, sizeof(env->host_b), "127.0.0.1:%u", fake_server_port(env->b));
    snprintf(env->hosts, sizeof(env->hosts), "%s,%s", env->host_a, env->host_b);
    return 0;
}

void rt_env_fini(struct rt_env *env)
{
    if (!env->fake)
        return;
    fake_server_stop(env->a);
    fake_server_stop(env->b);
    fake_cluster_free(env->c);
}

int rt_open(struct rt_env *env, const char *hosts, uint32_t timeout_ms, zr_session **out)
{
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = timeout_ms;
    o.cluster_id = env->cluster_id;
    /* Generous: 20 sessions opened at once on a loaded CI machine (ASan zincd) took > 5 s. */
    o.connect_timeout_ms = 15000;
    o.request_timeout_ms = 5000;
    o.close_timeout_ms = 1000;
    return zr_session_open(hosts ? hosts : env->hosts, &o, out);
}

static int reap_one(struct rt_env *env, zn_handle *admin, const char *path, int64_t sid)
{
    struct zn_stat st;
    if (zn_exists(admin, path, 0, &st) == 0 && st.ephemeral_owner == sid)
        return fake_cluster_delete(env->c, path) == 0;
    return 0;
}

int rt_crash(struct rt_env *env, zn_handle *admin, const char *dir, int64_t sid)
{
    if (!env->fake)
        return -1;
    fake_cluster_expire(env->c, sid);
    struct zn_strings ch = {0, NULL};
    int rc = zn_get_children(admin, dir, 0, &ch);
    if (rc != 0)
        return rc;
    int n = 0;
    for (int32_t i = 0; i < ch.count; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, ch.data[i]);
        n += reap_one(env, admin, p, sid);
    }
    zn_strings_free(&ch);
    return n;
}

void rt_mute_a(struct rt_env *env, bool mute)
{
    if (env->fake)
        fake_server_set_mute(env->a, mute);
}

void rt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int64_t rt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

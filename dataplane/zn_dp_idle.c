/*
 * dataplane/zn_dp_idle.c - idle policy decisions and waits (see zn_dp_idle.h). No DPDK, no
 * liburcu: the lcore loop adds housekeeping and RCU offline/online around the sleep itself.
 */
#include "dataplane/zn_dp_idle.h"

#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "common/zn_err.h"
#include "common/zn_limits.h"

void zn_dp_idle_default(struct zn_dp_idle_cfg *cfg, enum zn_dp_idle_mode mode)
{
    cfg->mode = mode;
    cfg->yield_window_ns = ZN_DP_IDLE_YIELD_WINDOW_NS_DEFAULT;
    cfg->sleep_ns = ZN_DP_IDLE_SLEEP_NS_DEFAULT;
    cfg->deep_after_ns = ZN_DP_IDLE_DEEP_AFTER_NS_DEFAULT;
    cfg->deep_sleep_ns = ZN_DP_IDLE_DEEP_SLEEP_NS_DEFAULT;
}

int zn_dp_idle_parse(const char *name, struct zn_dp_idle_cfg *cfg)
{
    if (name == NULL)
        return ZN_EINVAL;
    if (strcmp(name, "busy") == 0)
        zn_dp_idle_default(cfg, ZN_DP_IDLE_BUSY);
    else if (strcmp(name, "lab") == 0)
        zn_dp_idle_default(cfg, ZN_DP_IDLE_LAB);
    else
        return ZN_EINVAL;
    return 0;
}

enum zn_dp_idle_action zn_dp_idle_decide(const struct zn_dp_idle_cfg *cfg, uint64_t idle_for_ns,
                                         uint64_t *sleep_ns)
{
    *sleep_ns = 0;
    if (cfg->mode != ZN_DP_IDLE_LAB)
        return ZN_DP_IDLE_SPIN;
    if (idle_for_ns < cfg->yield_window_ns)
        return ZN_DP_IDLE_YIELD;
    *sleep_ns = idle_for_ns >= cfg->deep_after_ns ? cfg->deep_sleep_ns : cfg->sleep_ns;
    return ZN_DP_IDLE_SLEEP;
}

void zn_dp_idle_thread_setup(const struct zn_dp_idle_cfg *cfg)
{
    if (cfg->mode == ZN_DP_IDLE_LAB)
        (void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}

void zn_dp_idle_nanosleep(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / ZN_NS_PER_S),
                          .tv_nsec = (long)(ns % ZN_NS_PER_S)};
    nanosleep(&ts, NULL);
}

void zn_dp_idle_init(struct zn_dp_idle *st, const struct zn_dp_idle_cfg *cfg, uint64_t now_ns)
{
    memset(st, 0, sizeof(*st));
    st->cfg = *cfg;
    st->last_work_ns = now_ns;
    zn_dp_idle_thread_setup(cfg);
}

uint64_t zn_dp_idle_after_poll(struct zn_dp_idle *st, unsigned work, uint64_t now_ns,
                               const struct zn_clock *clock)
{
    if (work > 0) {
        st->last_work_ns = now_ns;
        return now_ns;
    }
    uint64_t sleep_ns;
    switch (zn_dp_idle_decide(&st->cfg, now_ns - st->last_work_ns, &sleep_ns)) {
    case ZN_DP_IDLE_SPIN:
        return now_ns;
    case ZN_DP_IDLE_YIELD:
        sched_yield();
        st->yields++;
        break;
    case ZN_DP_IDLE_SLEEP:
        if (sleep_ns == st->cfg.deep_sleep_ns && sleep_ns != st->cfg.sleep_ns)
            st->deep_sleeps++;
        zn_dp_idle_nanosleep(sleep_ns);
        st->sleeps++;
        break;
    }
    return zn_clock_monotonic_ns(clock);
}

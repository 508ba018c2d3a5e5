/* DPDK set-up shared by the dataplane tests: lab EAL with a private runtime folder. */
#ifndef ZN_TEST_DP_ENV_H
#define ZN_TEST_DP_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "dataplane/zn_dp_port.h"

/* Start a lab EAL with a unique prefix (tag + pid) and the given vdevs. 0 or a zn error. */
static inline int dp_env_eal_lcores(const char *tag, const char **vdevs, unsigned n_vdevs,
                                    const char *lcores)
{
    static char prefix[64], dir[128];
    snprintf(prefix, sizeof(prefix), "zn-%s-%d", tag, (int)getpid());
    snprintf(dir, sizeof(dir), "/tmp/zn-dpdk-run-%u", (unsigned)getuid());
    struct zn_dp_eal_cfg cfg = {
        .file_prefix = prefix,
        .runtime_dir = dir,
        .lcores = lcores,
        .lab = true,
        .mem_mb = 256,
        .n_vdevs = n_vdevs,
        .log_level = "error",
    };
    for (unsigned i = 0; i < n_vdevs; i++)
        cfg.vdevs[i] = vdevs[i];
    return zn_dp_eal_init(&cfg);
}

static inline int dp_env_eal(const char *tag, const char **vdevs, unsigned n_vdevs)
{
    return dp_env_eal_lcores(tag, vdevs, n_vdevs, "0@(0,1)");
}

#endif

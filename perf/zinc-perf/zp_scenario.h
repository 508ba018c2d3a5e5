/*
 * zp_scenario.h - scenarios that need only the ZooKeeper API (watch fan-out, getChildren of
 * many children, session-expiry detection); see zp_scenario.c. Each prints a table and writes
 * the --json / --hist-log / --svg outputs. Return 0 or ZN_E* with a message in err.
 */
#ifndef ZP_SCENARIO_H
#define ZP_SCENARIO_H

#include <stddef.h>

#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_target.h"

int zp_scenario_fanout(const struct zp_config *cfg, const struct zp_target *target, char *err,
                       size_t err_len);
int zp_scenario_children(const struct zp_config *cfg, const struct zp_target *target, char *err,
                         size_t err_len);
/* self: path of this executable (the expiry holder is started from it). */
int zp_scenario_expiry(const struct zp_config *cfg, const struct zp_target *target,
                       const char *self, char *err, size_t err_len);
/* Leader kill: writes, runs cfg->kill_cmd, measures the gap to the first acknowledged write. */
int zp_scenario_failover(const struct zp_config *cfg, const struct zp_target *target, char *err,
                         size_t err_len);
/* The hidden `expiry-holder` command. */
int zp_expiry_holder(int argc, char **argv);

#endif /* ZP_SCENARIO_H */

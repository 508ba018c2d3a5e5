/*
 * zp_ops.c - names of operation kinds and the registry of compiled-in targets.
 */
#include <stddef.h>
#include <string.h>

#include "perf/zinc-perf/zp_target.h"

static const char *const op_names[ZP_OP_COUNT] = {
    [ZP_OP_CREATE] = "create",     [ZP_OP_SET] = "set",       [ZP_OP_GET] = "get",
    [ZP_OP_EXISTS] = "exists",     [ZP_OP_DELETE] = "delete", [ZP_OP_MULTI] = "multi",
    [ZP_OP_CHILDREN] = "children",
};

const char *zp_op_name(enum zp_op op)
{
    return (unsigned)op < ZP_OP_COUNT ? op_names[op] : "?";
}

/* The compiled-in targets. */
static const struct zp_target *const targets[] = {
    &zp_target_zookeeper,
    &zp_target_zinc,
    &zp_target_zinc_dpdk,
    &zp_target_null,
};

const struct zp_target *zp_target_at(size_t i)
{
    return i < sizeof(targets) / sizeof(targets[0]) ? targets[i] : NULL;
}

const struct zp_target *zp_target_find(const char *name)
{
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        if (strcmp(targets[i]->name, name) == 0) {
            return targets[i];
        }
    }
    return NULL;
}

const char *zp_target_names(void)
{
    return "zookeeper, zinc, zinc-dpdk, null";
}

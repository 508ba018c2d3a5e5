/*
 * startup.h - what zincd does before its loops run: the command line, the configuration it
 * yields, and the lock that keeps a second zincd off the same data directory.
 *
 *   zincd -c FILE [--set section.key=value ...] [--config-doc] [--help] [--version]
 *
 * The configuration is built as defaults, then FILE, then each --set in order (later wins),
 * then the cross-key validation; any error names the key and value (mgmt/config.h) and zincd
 * refuses to start.
 *
 * The data directory lock is an exclusive flock(2) on <data_dir>/LOCK held for the life of the
 * process (the kernel drops it when the process dies, even by SIGKILL, so there is no stale lock
 * to clean up); the file holds the owner's pid for the refusal message.
 *
 * Context: the main thread at start-up.
 */
#ifndef ZN_NODE_STARTUP_H
#define ZN_NODE_STARTUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt/config.h"

#define ZN_NODE_SETS_MAX 64

struct zn_node_set {
    char section[32];
    char key[64];
    const char *value; /* points into argv */
};

struct zn_node_args {
    const char *config_path; /* -c FILE (NULL: none given) */
    uint32_t n_sets;
    struct zn_node_set sets[ZN_NODE_SETS_MAX];
    bool config_doc;
    bool help;
    bool version;
};

/*
 * Parse argv. Returns 0, or ZN_EINVAL with a message in err (unknown option, missing argument,
 * a --set that is not section.key=value, too many --set, no -c when running). --help,
 * --version and --config-doc need no -c.
 */
int zn_node_args_parse(int argc, char *const *argv, struct zn_node_args *out, char *err,
                       size_t err_len);

/* The usage text (for --help and errors). */
const char *zn_node_usage(void);

/* Defaults, then the file, then the --set overrides, then validation. 0 or the config error. */
int zn_node_config_build(const struct zn_node_args *args, struct zn_config *cfg, char *err,
                         size_t err_len);

struct zn_datadir_lock {
    int fd; /* -1 when not held */
};

/*
 * Create dir (and missing parents, mode 0750) and take its lock. Errors: ZN_EAGAIN (another
 * process holds it: err names its pid), ZN_EIO (cannot create or open; err says why).
 */
int zn_datadir_lock(const char *dir, struct zn_datadir_lock *lock, char *err, size_t err_len);
void zn_datadir_unlock(struct zn_datadir_lock *lock);

#endif /* ZN_NODE_STARTUP_H */

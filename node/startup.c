/*
 * startup.c - zincd's command line, configuration assembly and data-directory lock
 * (see startup.h).
 */
#include "node/startup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/zn_err.h"

static void zn_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void zn_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

const char *zn_node_usage(void)
{
    return "usage: zincd -c FILE [--set section.key=value ...]\n"
           "       zincd --config-doc | --help | --version\n"
           "  -c, --config FILE   configuration file (INI; docs/configuration.md)\n"
           "  --set S.K=V         override key K of section S (repeatable; after the file)\n"
           "  --config-doc        print the configuration reference (Markdown) and exit\n"
           "  --help              print this text and exit\n"
           "  --version           print the version and exit\n";
}

static int zn_parse_set(const char *text, struct zn_node_set *set, char *err, size_t err_len)
{
    const char *dot = strchr(text, '.');
    const char *eq = strchr(text, '=');
    if (!dot || !eq || dot > eq || dot == text || eq == dot + 1) {
        zn_errf(err, err_len, "--set '%s': expected section.key=value", text);
        return ZN_EINVAL;
    }
    size_t slen = (size_t)(dot - text), klen = (size_t)(eq - dot - 1);
    if (slen >= sizeof(set->section) || klen >= sizeof(set->key)) {
        zn_errf(err, err_len, "--set '%s': section or key name too long", text);
        return ZN_EINVAL;
    }
    memcpy(set->section, text, slen);
    set->section[slen] = '\0';
    memcpy(set->key, dot + 1, klen);
    set->key[klen] = '\0';
    set->value = eq + 1;
    return 0;
}

int zn_node_args_parse(int argc, char *const *argv, struct zn_node_args *out, char *err,
                       size_t err_len)
{
    memset(out, 0, sizeof(*out));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (!has_next) {
                zn_errf(err, err_len, "%s needs a file name", a);
                return ZN_EINVAL;
            }
            out->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            out->config_path = a + 9;
        } else if (strcmp(a, "--set") == 0 || strncmp(a, "--set=", 6) == 0) {
            const char *v = a[5] == '=' ? a + 6 : NULL;
            if (!v) {
                if (!has_next) {
                    zn_errf(err, err_len, "--set needs section.key=value");
                    return ZN_EINVAL;
                }
                v = argv[++i];
            }
            if (out->n_sets == ZN_NODE_SETS_MAX) {
                zn_errf(err, err_len, "more than %d --set options", ZN_NODE_SETS_MAX);
                return ZN_EINVAL;
            }
            int rc = zn_parse_set(v, &out->sets[out->n_sets], err, err_len);
            if (rc)
                return rc;
            out->n_sets++;
        } else if (strcmp(a, "--config-doc") == 0) {
            out->config_doc = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            out->help = true;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            out->version = true;
        } else {
            zn_errf(err, err_len, "unknown argument '%s'", a);
            return ZN_EINVAL;
        }
    }
    if (!out->help && !out->version && !out->config_doc && !out->config_path) {
        zn_errf(err, err_len, "no configuration file (-c FILE)");
        return ZN_EINVAL;
    }
    return 0;
}

int zn_node_config_build(const struct zn_node_args *args, struct zn_config *cfg, char *err,
                         size_t err_len)
{
    zn_config_defaults(cfg);
    if (args->config_path) {
        int rc = zn_config_load_file(cfg, args->config_path, err, err_len);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < args->n_sets; i++) {
        const struct zn_node_set *s = &args->sets[i];
        char why[512];
        int rc = zn_config_set(cfg, s->section, s->key, s->value, false, why, sizeof(why));
        if (rc) {
            zn_errf(err, err_len, "--set: %s", why);
            return rc;
        }
    }
    return zn_config_validate(cfg, err, err_len);
}

/* mkdir -p with mode 0750 for the missing components. */
static int zn_mkdirs(const char *dir, char *err, size_t err_len)
{
    char path[ZN_CONFIG_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path)) {
        zn_errf(err, err_len, "data directory '%s': empty or too long", dir);
        return ZN_EIO;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST) {
            zn_errf(err, err_len, "cannot create '%s': %s", path, strerror(errno));
            return ZN_EIO;
        }
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        zn_errf(err, err_len, "data directory '%s' is not a directory", dir);
        return ZN_EIO;
    }
    return 0;
}

int zn_datadir_lock(const char *dir, struct zn_datadir_lock *lock, char *err, size_t err_len)
{
    lock->fd = -1;
    int rc = zn_mkdirs(dir, err, err_len);
    if (rc)
        return rc;
    char path[ZN_CONFIG_PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        zn_errf(err, err_len, "cannot open '%s': %s", path, strerror(errno));
        return ZN_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[got > 0 ? got : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK) {
            zn_errf(err, err_len, "data directory '%s' is in use by another zincd (pid %s)", dir,
                    pid[0] ? pid : "unknown");
            return ZN_EAGAIN;
        }
        zn_errf(err, err_len, "cannot lock '%s': %s", path, strerror(e));
        return ZN_EIO;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        zn_errf(err, err_len, "cannot write '%s': %s", path, strerror(errno));
        close(fd);
        return ZN_EIO;
    }
    lock->fd = fd;
    return 0;
}

void zn_datadir_unlock(struct zn_datadir_lock *lock)
{
    if (lock->fd >= 0) {
        close(lock->fd); /* releases the flock; the file stays (harmless, pid refreshed next) */
        lock->fd = -1;
    }
}

/*
 * zn_log.h - leveled logging with module tags and per-call-site rate limiting.
 *
 * The process has one log configuration (level and sink), set at start-up by the composition
 * root (zincd, tools) and read with relaxed atomics afterwards; it is the one process-wide
 * setting in common/, because log calls must not need a context pointer. consensus/ and store/
 * never log (the tidy check enforces it): they report through their return values and updates,
 * and the node logs what they did.
 *
 * Line format: "2026-11-27T06:40:00.123456Z WARN  [raft] message\n", one write(2) per line so
 * lines from several threads do not interleave.
 *
 * Context: any thread.
 */
#ifndef ZN_LOG_H
#define ZN_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum zn_log_level {
    ZN_LOG_ERROR = 0,
    ZN_LOG_WARN = 1,
    ZN_LOG_INFO = 2,
    ZN_LOG_DEBUG = 3,
    ZN_LOG_TRACE = 4,
};

/* Sink: receives one complete line (with newline). Default writes to stderr. */
typedef void (*zn_log_sink_fn)(void *ctx, enum zn_log_level level, const char *line, int len);

void zn_log_set_level(enum zn_log_level level);
enum zn_log_level zn_log_get_level(void);
void zn_log_set_sink(zn_log_sink_fn sink, void *ctx);
/* Parse "error|warn|info|debug|trace"; returns 0 or ZN_EINVAL. */
int zn_log_level_parse(const char *name, enum zn_log_level *out);
const char *zn_log_level_name(enum zn_log_level level);

static inline bool zn_log_enabled(enum zn_log_level level)
{
    return (int)level <= (int)zn_log_get_level();
}

void zn_log_write(enum zn_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define zn_log(level, module, ...)                    \
    do {                                              \
        if (zn_log_enabled(level))                    \
            zn_log_write(level, module, __VA_ARGS__); \
    } while (0)

#define ZN_ERROR(module, ...) zn_log(ZN_LOG_ERROR, module, __VA_ARGS__)
#define ZN_WARN(module, ...)  zn_log(ZN_LOG_WARN, module, __VA_ARGS__)
#define ZN_INFO(module, ...)  zn_log(ZN_LOG_INFO, module, __VA_ARGS__)
#define ZN_DEBUG(module, ...) zn_log(ZN_LOG_DEBUG, module, __VA_ARGS__)

/*
 * Rate limit state of one call site: at most `burst` lines per `interval_ns`; the first line
 * after a suppressed stretch says how many were dropped.
 */
struct zn_log_ratelimit {
    _Atomic uint64_t window_start_ns;
    _Atomic uint32_t emitted;
    _Atomic uint32_t suppressed;
};

/* Returns true when the caller may log now; *suppressed_out gets the count dropped before. */
bool zn_log_ratelimit_allow(struct zn_log_ratelimit *rl, uint64_t now_ns, uint64_t interval_ns,
                            uint32_t burst, uint32_t *suppressed_out);

#define ZN_LOG_RATELIMIT_INTERVAL_NS (1000000000ull)
#define ZN_LOG_RATELIMIT_BURST       10u

/* Log at most 10 lines per second from this call site. */
#define zn_log_ratelimited(level, module, ...)                             \
    do {                                                                   \
        static struct zn_log_ratelimit zn_rl_;                             \
        if (zn_log_enabled(level))                                         \
            zn_log_ratelimited_write(&zn_rl_, level, module, __VA_ARGS__); \
    } while (0)

void zn_log_ratelimited_write(struct zn_log_ratelimit *rl, enum zn_log_level level,
                              const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* ZN_LOG_H */

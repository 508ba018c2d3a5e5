/*
 * zn_log.c - log formatting, the default stderr sink and rate limiting.
 */
#include "common/zn_log.h"
#include "common/zn_clock.h"
#include "common/zn_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ZN_LOG_LINE_MAX 2048

static void zn_log_stderr_sink(void *ctx, enum zn_log_level level, const char *line, int len)
{
    (void)ctx;
    (void)level;
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)len);
    (void)ignored;
}

/* Process-wide configuration (see zn_log.h for why this one setting is global). */
static _Atomic int zn_log_level_current = ZN_LOG_INFO;
static _Atomic(zn_log_sink_fn) zn_log_sink_current = zn_log_stderr_sink;
static _Atomic(void *) zn_log_sink_ctx;

static const char *const zn_log_level_names[] = {"error", "warn", "info", "debug", "trace"};

void zn_log_set_level(enum zn_log_level level)
{
    atomic_store_explicit(&zn_log_level_current, (int)level, memory_order_relaxed);
}

enum zn_log_level zn_log_get_level(void)
{
    return (enum zn_log_level)atomic_load_explicit(&zn_log_level_current, memory_order_relaxed);
}

void zn_log_set_sink(zn_log_sink_fn sink, void *ctx)
{
    atomic_store(&zn_log_sink_ctx, ctx);
    atomic_store(&zn_log_sink_current, sink ? sink : zn_log_stderr_sink);
}

int zn_log_level_parse(const char *name, enum zn_log_level *out)
{
    for (int i = 0; i <= ZN_LOG_TRACE; i++) {
        if (strcasecmp(name, zn_log_level_names[i]) == 0) {
            *out = (enum zn_log_level)i;
            return 0;
        }
    }
    return ZN_EINVAL;
}

const char *zn_log_level_name(enum zn_log_level level)
{
    if ((int)level < 0 || level > ZN_LOG_TRACE)
        return "?";
    return zn_log_level_names[level];
}

static void zn_log_vwrite(enum zn_log_level level, const char *module, uint32_t suppressed,
                          const char *fmt, va_list ap)
{
    char line[ZN_LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    static const char *const tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000, tags[level], module);
    if (suppressed > 0 && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "(%u similar messages suppressed) ",
                      suppressed);
    if (n < (int)sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    line[n] = '\0';
    zn_log_sink_fn sink = atomic_load(&zn_log_sink_current);
    sink(atomic_load(&zn_log_sink_ctx), level, line, n);
}

void zn_log_write(enum zn_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zn_log_vwrite(level, module, 0, fmt, ap);
    va_end(ap);
}

bool zn_log_ratelimit_allow(struct zn_log_ratelimit *rl, uint64_t now_ns, uint64_t interval_ns,
                            uint32_t burst, uint32_t *suppressed_out)
{
    uint64_t start = atomic_load_explicit(&rl->window_start_ns, memory_order_relaxed);
    *suppressed_out = 0;
    if (now_ns - start >= interval_ns || start == 0) {
        /* One thread opens the new window; losers of the race just count against it. */
        if (atomic_compare_exchange_strong(&rl->window_start_ns, &start, now_ns ? now_ns : 1)) {
            atomic_store(&rl->emitted, 0);
            *suppressed_out = atomic_exchange(&rl->suppressed, 0);
        }
    }
    if (atomic_fetch_add(&rl->emitted, 1) < burst)
        return true;
    atomic_fetch_add(&rl->suppressed, 1);
    return false;
}

void zn_log_ratelimited_write(struct zn_log_ratelimit *rl, enum zn_log_level level,
                              const char *module, const char *fmt, ...)
{
    uint32_t suppressed;
    if (!zn_log_ratelimit_allow(rl, zn_clock_raw_monotonic_ns(NULL), ZN_LOG_RATELIMIT_INTERVAL_NS,
                                ZN_LOG_RATELIMIT_BURST, &suppressed))
        return;
    va_list ap;
    va_start(ap, fmt);
    zn_log_vwrite(level, module, suppressed, fmt, ap);
    va_end(ap);
}

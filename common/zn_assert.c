/*
 * zn_assert.c - failure reporting for ZN_ASSERT and zn_panic.
 *
 * Uses only async-signal-tolerant output (a single write of a formatted buffer) so that the
 * message is not lost or interleaved when several threads fail at once.
 */
#include "common/zn_assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void zn_assert_write(const char *buf, int len)
{
    if (len <= 0)
        return;
    ssize_t ignored = write(STDERR_FILENO, buf, (size_t)len);
    (void)ignored;
}

noreturn void zn_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    char buf[512];
    int len = snprintf(buf, sizeof(buf), "zinc: assertion failed: %s (%s:%d in %s)\n", expr, file,
                       line, func);
    if (len > (int)sizeof(buf))
        len = (int)sizeof(buf);
    zn_assert_write(buf, len);
    abort();
}

noreturn void zn_panic_at(const char *file, int line, const char *func, const char *fmt, ...)
{
    char buf[1024];
    int len = snprintf(buf, sizeof(buf), "zinc: fatal: ");
    va_list ap;
    va_start(ap, fmt);
    len += vsnprintf(buf + len, sizeof(buf) - (size_t)len, fmt, ap);
    va_end(ap);
    if (len < (int)sizeof(buf))
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, " (%s:%d in %s)\n", file, line, func);
    if (len > (int)sizeof(buf))
        len = (int)sizeof(buf);
    zn_assert_write(buf, len);
    abort();
}

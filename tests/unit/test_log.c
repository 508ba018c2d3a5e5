/* Logging: level filtering, sink capture, line format, and per-site rate limiting. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"

struct capture {
    int lines;
    char last[2048];
};

static void capture_sink(void *ctx, enum zn_log_level level, const char *line, int len)
{
    (void)level;
    struct capture *c = ctx;
    c->lines++;
    memcpy(c->last, line, (size_t)len);
    c->last[len] = '\0';
}

Test(log, level_filter_and_format)
{
    struct capture cap = {0};
    zn_log_set_sink(capture_sink, &cap);
    zn_log_set_level(ZN_LOG_WARN);
    ZN_INFO("test", "hidden %d", 1);
    cr_assert_eq(cap.lines, 0);
    ZN_WARN("raft", "term %d", 7);
    cr_assert_eq(cap.lines, 1);
    cr_assert_not_null(strstr(cap.last, "WARN  [raft] term 7\n"), "%s", cap.last);
    cr_assert_eq(cap.last[4], '-');
    cr_assert_eq(cap.last[10], 'T');
    zn_log_set_sink(NULL, NULL);
}

Test(log, level_parse)
{
    enum zn_log_level l;
    cr_assert_eq(zn_log_level_parse("debug", &l), 0);
    cr_assert_eq(l, ZN_LOG_DEBUG);
    cr_assert_eq(zn_log_level_parse("WARN", &l), 0);
    cr_assert_eq(l, ZN_LOG_WARN);
    cr_assert_eq(zn_log_level_parse("loud", &l), ZN_EINVAL);
    cr_assert_str_eq(zn_log_level_name(ZN_LOG_TRACE), "trace");
}

Test(log, long_lines_are_truncated_with_newline)
{
    struct capture cap = {0};
    zn_log_set_sink(capture_sink, &cap);
    zn_log_set_level(ZN_LOG_INFO);
    static char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    ZN_INFO("test", "%s", big);
    size_t len = strlen(cap.last);
    cr_assert_lt(len, 2048);
    cr_assert_eq(cap.last[len - 1], '\n');
    zn_log_set_sink(NULL, NULL);
}

Test(log, ratelimit_window)
{
    struct zn_log_ratelimit rl = {0};
    uint32_t suppressed;
    int allowed = 0;
    for (int i = 0; i < 25; i++)
        allowed += zn_log_ratelimit_allow(&rl, 1000 + (uint64_t)i, 1000000, 10, &suppressed);
    cr_assert_eq(allowed, 10);
    cr_assert(zn_log_ratelimit_allow(&rl, 2000000, 1000000, 10, &suppressed));
    cr_assert_eq(suppressed, 15);
}

Test(log, ratelimited_macro_emits_burst_then_suppresses)
{
    struct capture cap = {0};
    zn_log_set_sink(capture_sink, &cap);
    zn_log_set_level(ZN_LOG_INFO);
    for (int i = 0; i < 100; i++)
        zn_log_ratelimited(ZN_LOG_WARN, "test", "flood %d", i);
    cr_assert_eq(cap.lines, (int)ZN_LOG_RATELIMIT_BURST);
    zn_log_set_sink(NULL, NULL);
}

Test(assert, assert_aborts_with_message, .signal = SIGABRT)
{
    int x = 1;
    ZN_ASSERT(x == 2);
}

Test(assert, panic_aborts, .signal = SIGABRT)
{
    zn_panic("fail-stop %d", 5);
}

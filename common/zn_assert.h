/*
 * zn_assert.h - invariants are checked always; operating errors are returned (STYLE.md 9).
 *
 * ZN_ASSERT(expr) is compiled into every build: a broken invariant in a consensus system must
 * stop the process rather than corrupt replicated state. ZN_DASSERT is for checks too costly for
 * production (walking a structure); it is compiled only with -Dassertions=debug.
 *
 * Context: any thread. On failure: message to stderr with file, line, function and expression,
 * then abort() (a core dump for post-mortem).
 */
#ifndef ZN_ASSERT_H
#define ZN_ASSERT_H

#include <stdnoreturn.h>

noreturn void zn_assert_fail(const char *expr, const char *file, int line, const char *func);
noreturn void zn_panic_at(const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ZN_LIKELY(x)   __builtin_expect(!!(x), 1)
#define ZN_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define ZN_ASSERT(expr) \
    (ZN_LIKELY(expr) ? (void)0 : zn_assert_fail(#expr, __FILE__, __LINE__, __func__))

#if defined(ZN_DEBUG_ASSERTIONS) && ZN_DEBUG_ASSERTIONS
#define ZN_DASSERT(expr) ZN_ASSERT(expr)
#else
#define ZN_DASSERT(expr) ((void)sizeof(!(expr)))
#endif

/* Unrecoverable condition that is not a broken invariant (e.g. fsync failure: fail-stop). */
#define zn_panic(...) zn_panic_at(__FILE__, __LINE__, __func__, __VA_ARGS__)

#endif /* ZN_ASSERT_H */

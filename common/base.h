/*
 * common/base.h — tiny macros every Gregor file may use: branch hints,
 * ARRAY_LEN, container_of, MIN/MAX and the always-on KASSERT.
 *
 * KASSERT is for cases where our own memory or log is already wrong; bad
 * bytes from the network or disk are errors (KERR__CORRUPT), never asserts.
 */
#ifndef GREGOR_COMMON_BASE_H
#define GREGOR_COMMON_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* Logs file, line and expression, then aborts. Always compiled in. */
void kassert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define KASSERT(cond)                                                                              \
    do {                                                                                           \
        if (unlikely(!(cond)))                                                                     \
            kassert_fail(#cond, __FILE__, __LINE__);                                               \
    } while (0)

#ifdef GREGOR_DEBUG
#define KDASSERT(cond) KASSERT(cond)
#else
#define KDASSERT(cond)                                                                             \
    do {                                                                                           \
        (void)sizeof(cond);                                                                        \
    } while (0)
#endif

#endif

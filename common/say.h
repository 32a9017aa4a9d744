/*
 * common/say.h — logging. One line per event, key=value fields:
 *   2026-11-25T19:44:15.123Z INFO storage segment rolled topic=t partition=0
 * Thread-safe: each line is formatted on the stack and written with one
 * write(2). The level is checked before the arguments are evaluated.
 * `fac` is a subsystem tag: "net", "kafka", "storage", "zk", "ctrl", ...
 */
#ifndef GREGOR_COMMON_SAY_H
#define GREGOR_COMMON_SAY_H

#include <stdbool.h>

enum say_level { SAY_ERROR = 0, SAY_WARN = 1, SAY_INFO = 2, SAY_DEBUG = 3 };

extern int say_level_current; /* immutable after start-up */

/* Sets the level and the output fd (stderr by default). Call once at start. */
void say_setup(enum say_level level, int fd);
/* Parses "error|warn|info|debug"; false if unknown. */
bool say_level_parse(const char *s, enum say_level *out);
void say_log(enum say_level level, const char *fac, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define say_at(lvl, fac, ...)                                                                      \
    do {                                                                                           \
        if ((int)(lvl) <= say_level_current)                                                       \
            say_log((lvl), (fac), __VA_ARGS__);                                                    \
    } while (0)
#define say_error(fac, ...) say_at(SAY_ERROR, fac, __VA_ARGS__)
#define say_warn(fac, ...) say_at(SAY_WARN, fac, __VA_ARGS__)
#define say_info(fac, ...) say_at(SAY_INFO, fac, __VA_ARGS__)
#define say_debug(fac, ...) say_at(SAY_DEBUG, fac, __VA_ARGS__)
/* Logs at error level with " errno=N (strerror)" appended; reads errno first. */
#define say_syserror(fac, ...) say_syserror_impl(fac, __VA_ARGS__)
void say_syserror_impl(const char *fac, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Rate-limited lines, for warnings a client can repeat at will (one per
 * refused connection, per bad frame, per accept failure). A call site
 * prints at most one line per interval_ms; the lines it dropped meanwhile
 * are counted and the next printed line ends with
 * " (N similar suppressed)". Thread-safe (atomics; no lock).
 *   say_warn_every(1000, "net", "connection refused peer=%s", peer);
 * Each expansion of the macro has its own static state, so the limit is
 * per call site; say_every_log() takes explicit state for other scopes.
 */
struct say_every {
    _Atomic long long next_ms;    /* monotonic ms before which lines are dropped */
    _Atomic long long suppressed; /* lines dropped since the last printed one */
};
/* Returns true if it printed. Dropped lines are counted even when the
 * level is off, so nothing is formatted for them. */
bool say_every_log(struct say_every *st, enum say_level level, int interval_ms, const char *fac,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define say_every_at(lvl, interval_ms, fac, ...)                                                   \
    do {                                                                                           \
        static struct say_every say_every_site_;                                                   \
        if ((int)(lvl) <= say_level_current)                                                       \
            say_every_log(&say_every_site_, (lvl), (interval_ms), (fac), __VA_ARGS__);             \
    } while (0)
#define say_warn_every(interval_ms, fac, ...) say_every_at(SAY_WARN, interval_ms, fac, __VA_ARGS__)
#define say_info_every(interval_ms, fac, ...) say_every_at(SAY_INFO, interval_ms, fac, __VA_ARGS__)

#endif

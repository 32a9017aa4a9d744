/*
 * common/props.h — a Java-properties parser (the format of Kafka's
 * server.properties and of meta.properties in each log directory).
 *
 * Accepted syntax, as java.util.Properties.load() reads it:
 *   - one entry per logical line: "key=value", "key: value" or "key value";
 *   - lines whose first non-blank character is '#' or '!' are comments;
 *   - a line ending in an odd number of backslashes continues on the next
 *     line; the next line's leading blanks are dropped;
 *   - escapes \t \n \r \f \uXXXX (written as UTF-8), and "\x" = 'x' for any
 *     other x (so "\=", "\:", "\ " and "\\" are literal);
 *   - blanks around the key and the value are trimmed (Java keeps trailing
 *     blanks in values; we drop them, since they are always a typo in a
 *     config file; write "\ " to keep one).
 * Refused, with the line number: an empty key ("=x"), a key with neither
 * separator nor value ("foo"), a malformed \u escape, a NUL byte.
 * Duplicate keys are all kept in file order; props_get() returns the last.
 *
 * Threads: a struct props is owned by its creator; no shared state.
 */
#ifndef GREGOR_COMMON_PROPS_H
#define GREGOR_COMMON_PROPS_H

#include <stddef.h>

#include "common/err.h"

/* One key/value pair. key and value are NUL-terminated and owned by the
 * struct props that holds the entry. */
struct props_entry {
    char *key;
    char *value;
    int line; /* 1-based line where the entry starts */
};

/* A parsed properties file. Created with props_init(), freed with
 * props_destroy(). Invariant: 0 <= n <= cap; entry[0..n) are valid. */
struct props {
    struct props_entry *entry; /* entries in file order, duplicates kept */
    size_t n;                  /* number of entries */
    size_t cap;                /* allocated slots in entry[] */
};

/* Makes props empty. Never fails. */
void props_init(struct props *props);

/* Frees every entry; props is empty (and reusable) afterwards. */
void props_destroy(struct props *props);

/*
 * Parses text[0..len) and appends its entries to props. text borrows and
 * need not be NUL-terminated. Returns KERR_NONE, KERR__INVALID on a syntax
 * error (err = "line N: reason"), or KERR__NOMEM. On error, the entries
 * parsed before the bad line stay in props.
 */
kerr_t props_parse(struct props *props, const char *text, size_t len, char *err, size_t errlen);

/*
 * Reads and parses the file at path (borrowed). Returns KERR_NONE,
 * KERR__IO if the file cannot be read (err = "path: strerror"),
 * KERR__INVALID on a syntax error (err = "path: line N: reason") or
 * KERR__NOMEM.
 */
kerr_t props_load_file(struct props *props, const char *path, char *err, size_t errlen);

/* Returns borrowed (valid until props_destroy()) the value of the last
 * entry named key, or NULL if there is none. */
const char *props_get(const struct props *props, const char *key);

#endif

/*
 * common/vec.h — growable arrays: an element pointer, a count and a
 * capacity, grown by doubling (at least VEC_MIN_CAP elements) with every
 * size computation checked for overflow.
 *
 * Two ways to hold one:
 *   - a VEC(T) member: `VEC(struct x) xs;` zero-initialised is empty;
 *     VEC_PUSH(o->xs, x), o->xs.v[i] for i < o->xs.n, VEC_FREE(o->xs);
 *   - fields of the owner's own (a `T *` and a size_t capacity, the count
 *     of any integer type): VEC_RESERVE_AT(o->items, o->cap, o->n + 1)
 *     before storing o->items[o->n++].
 * The macros evaluate their arguments more than once: pass plain lvalues.
 * Elements are moved with realloc(): never keep pointers into the array
 * across a push. Not thread-safe: the owner's locking applies.
 */
#ifndef GREGOR_COMMON_VEC_H
#define GREGOR_COMMON_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define VEC_MIN_CAP 8
/* The largest array in bytes: no object can be larger than PTRDIFF_MAX
 * (malloc() refuses more), so bigger requests fail before asking. */
#define VEC_MAX_BYTES ((size_t)PTRDIFF_MAX)

/* The capacity an array of capacity `cap` (elements of `elem` bytes) grows
 * to so that it holds `need`: `cap` itself when it already does, else the
 * largest of need, 2 * cap and VEC_MIN_CAP (need itself when doubling
 * would pass VEC_MAX_BYTES). 0 when need * elem is above VEC_MAX_BYTES
 * (or elem is 0). */
size_t vec_next_cap(size_t cap, size_t need, size_t elem);

/*
 * Makes the array whose `T *` is at `pdata` (the address of the pointer,
 * T of `elem` bytes, capacity *cap elements) hold at least `need`
 * elements, reallocating when *cap is smaller. true on success (the
 * pointer and *cap updated; the first *cap elements kept); false when
 * need * elem is above VEC_MAX_BYTES or the allocation fails, with the
 * array and *cap unchanged.
 */
bool vec_reserve(void *pdata, size_t *cap, size_t need, size_t elem);

/* A growable array of T. */
#define VEC(T)                                                                                     \
    struct {                                                                                       \
        T *v; /* n elements, room for cap */                                                       \
        size_t n;                                                                                  \
        size_t cap;                                                                                \
    }

/* Room for `need` elements in the VEC `vec`: true, or false (unchanged). */
#define VEC_RESERVE(vec, need) vec_reserve(&(vec).v, &(vec).cap, (need), sizeof(*(vec).v))

/* Appends x to the VEC `vec`: true, or false (unchanged) when it cannot grow. */
#define VEC_PUSH(vec, x)                                                                           \
    ((vec).n < (vec).cap || VEC_RESERVE((vec), (vec).n + 1) ? ((vec).v[(vec).n++] = (x), true)     \
                                                            : false)

/* Frees the elements' array (not what elements point to) and empties `vec`. */
#define VEC_FREE(vec) (free((vec).v), (vec).v = NULL, (vec).n = 0, (vec).cap = 0)

/* Room for `need` elements in the array `ptr` (a T *) of capacity `cap`
 * (a size_t lvalue): true, or false (unchanged). */
#define VEC_RESERVE_AT(ptr, cap, need) vec_reserve(&(ptr), &(cap), (need), sizeof(*(ptr)))

#endif

/*
 * common/vec.c — vec_reserve(), the one place growable arrays are
 * reallocated (vec.h).
 */
#include "common/vec.h"

#include <stdint.h>
#include <string.h>

size_t vec_next_cap(size_t cap, size_t need, size_t elem)
{
    size_t ncap;

    if (elem == 0 || need > VEC_MAX_BYTES / elem)
        return 0;
    if (need <= cap)
        return cap;
    ncap = cap > VEC_MAX_BYTES / 2 ? need : cap * 2;
    if (ncap < need)
        ncap = need;
    if (ncap < VEC_MIN_CAP)
        ncap = VEC_MIN_CAP;
    if (ncap > VEC_MAX_BYTES / elem)
        ncap = need; /* doubling would pass the limit; need itself fits */
    return ncap;
}

bool vec_reserve(void *pdata, size_t *cap, size_t need, size_t elem)
{
    void *data;
    size_t ncap;

    if (need <= *cap)
        return true;
    ncap = vec_next_cap(*cap, need, elem);
    if (ncap == 0)
        return false;
    /* The caller's pointer is a T *, read and written as the void * it
     * converts to (same representation on every platform Gregor targets). */
    memcpy(&data, pdata, sizeof(data));
    data = realloc(data, ncap * elem);
    if (data == NULL)
        return false;
    memcpy(pdata, &data, sizeof(data));
    *cap = ncap;
    return true;
}

/*
 * common/base.c — the failure path of KASSERT.
 */
#include "common/base.h"
#include "common/say.h"

#include <stdlib.h>

void kassert_fail(const char *expr, const char *file, int line)
{
    say_log(SAY_ERROR, "assert", "assertion failed expr=\"%s\" file=%s line=%d", expr, file, line);
    abort();
}

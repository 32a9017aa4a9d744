/*
 * tests/bench/redis_read_bench.c — read a whole Redis stream back with XREAD,
 * the Redis peer of Gregor's consume figure (docs/PERFORMANCE.md §23),
 * through Redis's own C client (hiredis).
 *
 *   redis_read_bench HOST PORT KEY [count=N]
 *
 * Reads KEY from its first entry to its last with XREAD COUNT N STREAMS KEY
 * <last id> (N defaults to 10000), each request starting after the last
 * entry of the one before, until a reply is empty. Every entry's field
 * values count as record bytes (the producer writes one field per entry,
 * as Kafka records carry one value). The elapsed time runs from the first
 * request to the empty reply.
 *
 * Prints one line of key=value results on stdout, the keys of the other
 * benches: records bytes elapsed_s records_per_s mb_per_s (MB = 10^6 bytes of
 * record values) cpu_user_s cpu_sys_s cpu_s_per_mb.
 * Exit status: 0 on success, 1 on error, 2 on usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bench_util.h"

/* Adds one XREAD reply's entries to *records / *bytes and copies the last
 * entry's id to last (size idsz). Returns the number of entries, or -1 when
 * the reply does not have XREAD's shape. */
static long take_reply(const redisReply *r, uint64_t *records, uint64_t *bytes, char *last,
                       size_t idsz)
{
    if (r->type == REDIS_REPLY_NIL)
        return 0;
    /* [[key, [[id, [field, value, ...]], ...]]] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
        r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    const redisReply *entries = r->element[0]->element[1];
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            return -1;
        const redisReply *fv = e->element[1];
        for (size_t j = 1; j < fv->elements; j += 2)
            *bytes += fv->element[j]->len;
        if (i + 1 == entries->elements)
            snprintf(last, idsz, "%.*s", (int)e->element[0]->len, e->element[0]->str);
    }
    *records += entries->elements;
    return (long)entries->elements;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: redis_read_bench HOST PORT KEY [count=N]\n");
        return 2;
    }
    long count = 10000;
    for (int i = 4; i < argc; i++) {
        if (strncmp(argv[i], "count=", 6) == 0)
            count = strtol(argv[i] + 6, NULL, 10);
        else {
            fprintf(stderr, "redis_read_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (count < 1)
        return 2;
    bench_malloc_keep();
    redisContext *c = redisConnect(argv[1], atoi(argv[2]));
    if (!c || c->err) {
        fprintf(stderr, "redis_read_bench: connect: %s\n", c ? c->errstr : "out of memory");
        redisFree(c);
        return 1;
    }
    char last[64] = "0-0", countarg[24];
    snprintf(countarg, sizeof(countarg), "%ld", count);
    uint64_t records = 0, bytes = 0;
    double u0, s0, u1, s1;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    int rc = 0;
    for (;;) {
        const char *args[] = {"XREAD", "COUNT", countarg, "STREAMS", argv[3], last};
        redisReply *r = redisCommandArgv(c, 6, args, NULL);
        if (!r) {
            fprintf(stderr, "redis_read_bench: %s\n", c->errstr);
            rc = 1;
            break;
        }
        long n = take_reply(r, &records, &bytes, last, sizeof(last));
        if (n < 0)
            fprintf(stderr, "redis_read_bench: unexpected reply (type %d)%s%s\n", r->type,
                    r->type == REDIS_REPLY_ERROR ? ": " : "",
                    r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        if (n <= 0) {
            rc = n < 0;
            break;
        }
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    double mb = (double)bytes / 1e6;
    printf("records=%" PRIu64 " bytes=%" PRIu64 " elapsed_s=%.3f records_per_s=%.0f"
           " mb_per_s=%.1f cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s_per_mb=%.5f\n",
           records, bytes, elapsed, (double)records / elapsed, mb / elapsed, u1 - u0, s1 - s0,
           mb > 0 ? (u1 - u0 + s1 - s0) / mb : 0.0);
    redisFree(c);
    return rc;
}

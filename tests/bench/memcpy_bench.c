/*
 * tests/bench/memcpy_bench.c — memory copy bandwidth of one core, the bound
 * on any path that copies record bytes (socket reads and writes, read+write
 * fetches, librdkafka's own buffers).
 *
 *   memcpy_bench [SECONDS]
 *
 * Copies a 256 MiB buffer into another (far larger than the caches: DRAM
 * bandwidth) and a 256 KiB buffer into another (cache resident), each for
 * about SECONDS (default 2) seconds, with memcpy(); then writes 1 GiB of
 * freshly mapped memory once (memset of a new anonymous mapping: every 4 KiB
 * page is faulted in and zeroed on first touch, the cost a process or the
 * page cache pays for memory it has not used before). Prints key=value:
 *   large_gb_per_s small_gb_per_s (GB = 10^9 bytes copied; the memory
 *   traffic is twice that: each byte is read once and written once)
 *   fresh_write_gb_per_s (first-touch write of new memory)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_util.h"

/* Copies size bytes from a to b repeatedly for about `seconds`; returns
 * bytes per second. */
static double copy_rate(size_t size, double seconds)
{
    char *a = malloc(size), *b = malloc(size);
    double rate = 0;
    if (!a || !b)
        goto out;
    memset(a, 0x5a, size);
    memset(b, 0xa5, size);
    memcpy(b, a, size); /* warm up: fault in every page */
    uint64_t copied = 0;
    int64_t t0 = bench_now_ns(), t;
    do {
        for (int i = 0; i < 8; i++) {
            memcpy(b, a, size);
            a[copied % size] ^= b[(copied + 1) % size]; /* keep the copies observable */
            copied += size;
        }
        t = bench_now_ns();
    } while ((double)(t - t0) < seconds * 1e9);
    rate = (double)copied / ((double)(t - t0) / 1e9);
out:
    free(a);
    free(b);
    return rate;
}

/* Writes `size` bytes of a new anonymous mapping once; returns bytes/s. */
static double first_touch_rate(size_t size)
{
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    int64_t t0 = bench_now_ns();
    memset(p, 0x5a, size);
    int64_t t = bench_now_ns();
    volatile char sink = p[size / 2];
    (void)sink;
    munmap(p, size);
    return (double)size / ((double)(t - t0) / 1e9);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (seconds <= 0) {
        fprintf(stderr, "usage: memcpy_bench [SECONDS]\n");
        return 2;
    }
    double large = copy_rate((size_t)256 << 20, seconds);
    double small = copy_rate((size_t)256 << 10, seconds);
    double fresh = first_touch_rate((size_t)1 << 30);
    if (large <= 0 || small <= 0 || fresh <= 0) {
        fprintf(stderr, "memcpy_bench: out of memory\n");
        return 1;
    }
    printf("large_gb_per_s=%.2f small_gb_per_s=%.2f fresh_write_gb_per_s=%.2f\n", large / 1e9,
           small / 1e9, fresh / 1e9);
    return 0;
}

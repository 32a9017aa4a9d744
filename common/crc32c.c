/*
 * common/crc32c.c — CRC-32C (Castagnoli). Hardware path: the SSE4.2 crc32
 * instruction, 8 bytes at a time, chosen once at first use with
 * __builtin_cpu_supports. One crc32 instruction waits for the one before
 * (3 cycles each) but the CPU can start one per cycle, so buffers of at
 * least three blocks are checksummed as three independent streams of
 * CRC_BLOCK bytes, joined afterwards: the register is linear over GF(2),
 * crc(c, A|B) = shift(crc(c, A), |B|) ^ crc(0, B), and shifting over
 * CRC_BLOCK zero bytes is four lookups in a table built at start-up.
 * Software path: slicing-by-8 tables built on first use (thread-safe
 * through pthread_once).
 */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

/* bytes per stream of the three-stream hardware loop */
#define CRC_BLOCK 1024

static uint32_t crc_table[8][256];
/* crc_shift[i][v]: register (v << 8i) advanced over CRC_BLOCK zero bytes */
static uint32_t crc_shift[4][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_have_hw;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    uint32_t basis[32];
    for (int b = 0; b < 32; b++) {
        uint32_t c = 1u << b;
        for (int k = 0; k < CRC_BLOCK; k++)
            c = crc_table[0][c & 0xff] ^ (c >> 8);
        basis[b] = c;
    }
    for (int i = 0; i < 4; i++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t t = 0;
            for (int bit = 0; bit < 8; bit++)
                if (v & (1u << bit))
                    t ^= basis[8 * i + bit];
            crc_shift[i][v] = t;
        }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
/* The register c advanced over CRC_BLOCK zero bytes. */
static inline uint32_t crc_shift_block(uint32_t c)
{
    return crc_shift[0][c & 0xff] ^ crc_shift[1][(c >> 8) & 0xff] ^ crc_shift[2][(c >> 16) & 0xff] ^
           crc_shift[3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                            size_t n)
{
    uint64_t c = crc;
    while (n >= 3 * CRC_BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC_BLOCK; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + CRC_BLOCK + i, 8);
            memcpy(&w2, p + 2 * CRC_BLOCK + i, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = crc_shift_block(crc_shift_block((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * CRC_BLOCK;
        n -= 3 * CRC_BLOCK;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc32c_init);
    crc = ~crc;
#if defined(__x86_64__)
    if (crc_have_hw)
        return ~crc32c_hw(crc, p, n);
#endif
    return ~crc32c_sw(crc, p, n);
}

/* tests/unit/common/test_crc32c.c — CRC-32C against known vectors. */
#include "common/crc32c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(crc32c, check_value) { cr_assert_eq(crc32c(0, "123456789", 9), 0xE3069283u); }

Test(crc32c, rfc3720_vectors)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    cr_assert_eq(crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    cr_assert_eq(crc32c(0, buf, 32), 0x113FDB5Cu);
}

Test(crc32c, incremental_equals_one_shot_at_every_split)
{
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    uint32_t whole = crc32c(0, data, sizeof(data));
    for (size_t cut = 0; cut <= sizeof(data); cut += 37) {
        uint32_t c = crc32c(0, data, cut);
        c = crc32c(c, data + cut, sizeof(data) - cut);
        cr_assert_eq(c, whole, "split at %zu", cut);
    }
    /* unaligned starts */
    cr_assert_eq(crc32c(0, data + 1, 9), crc32c(crc32c(0, data + 1, 4), data + 5, 5));
}

Test(crc32c, record_batch_vector_from_protocol_doc)
{
    /* docs/protocol.md §4.5: CRC of bytes [21, end) is 0xb1267df6 */
    static const uint8_t batch[] = {
        0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x4e, 0xff, 0xff, 0xff,
        0xff, 2,    0xb1, 0x26, 0x7d, 0xf6, 0,    0,    0,    0,    0,    1,    0,    0,    1,
        0x8b, 0xcf, 0xe5, 0x68, 0,    0,    0,    1,    0x8b, 0xcf, 0xe5, 0x68, 5,    0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,    0,    0,
        2,    0x20, 0,    0,    0,    2,    0x6b, 0x0a, 'h',  'e',  'l',  'l',  'o',  2,    2,
        'h',  2,    'v',  0x16, 0,    0x0a, 2,    1,    0x0a, 'w',  'o',  'r',  'l',  'd',  0};
    cr_assert_eq(sizeof(batch), 12 + 0x4e);
    cr_assert_eq(crc32c(0, batch + 21, sizeof(batch) - 21), 0xb1267df6u);
}

/* bit at a time, straight from the polynomial */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

Test(crc32c, long_buffers_match_the_polynomial_at_every_length_and_alignment)
{
    /* around the three-stream loop's block sizes (3 x 1024 bytes) and well past them */
    enum { MAX = 3 * 3 * 1024 + 64 };
    static uint8_t data[MAX + 8];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof(data); i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    static const size_t lens[] = {0,    1,    7,    8,    3071, 3072, 3073, 3080,
                                  4095, 6143, 6144, 6145, 9215, 9216, 9217, MAX};
    for (size_t a = 0; a < 8; a++)
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            uint32_t want = crc32c_bitwise(0x1234567u, data + a, lens[i]);
            cr_assert_eq(crc32c(0x1234567u, data + a, lens[i]), want, "len %zu at +%zu", lens[i],
                         a);
        }
    /* one large buffer, checksummed whole and in uneven pieces */
    size_t big = 3u << 20;
    uint8_t *b = malloc(big);
    cr_assert_not_null(b);
    for (size_t i = 0; i < big; i++)
        b[i] = (uint8_t)(i * 2654435761u >> 13);
    uint32_t want = crc32c_bitwise(0, b, big), c = 0;
    cr_assert_eq(crc32c(0, b, big), want);
    for (size_t at = 0, step = 1; at < big; at += step, step = step * 3 + 1) {
        size_t n = at + step > big ? big - at : step;
        c = crc32c(c, b + at, n);
    }
    cr_assert_eq(c, want);
    free(b);
}

/*
 * common/crc32c.h — CRC-32C (Castagnoli, reflected 0x82F63B78), the checksum
 * of Kafka record batches (docs/protocol.md §4.5).
 * Uses SSE4.2 when the CPU has it, else a slicing-by-8 table.
 */
#ifndef GREGOR_COMMON_CRC32C_H
#define GREGOR_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes; crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif

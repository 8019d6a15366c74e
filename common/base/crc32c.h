/* crc32c: CRC-32C (Castagnoli, as in iSCSI and ext4), the checksum of shards, state
 * files and model files: crc = crc32c(crc, p, n), 0 to start, so it runs on in pieces.
 * Uses the CPU's instruction where there is one; _portable is the table version. */
#ifndef GPT2_CRC32C_H
#define GPT2_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *p, size_t n);
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif

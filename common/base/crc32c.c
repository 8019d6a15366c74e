#include "base/crc32c.h"

#include <pthread.h>
#include <string.h>

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 * x86-64 has an instruction for it (SSE4.2, ~8 bytes per 3 cycles); elsewhere eight
 * table lookups per 8 bytes. The checksum must never be the slow part of packing
 * a shard or of writing a checkpoint. */

static uint32_t crc_table[8][256];

static void crc_init_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = crc_table[t - 1][i] >> 8 ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc_tables(uint32_t crc, const unsigned char *p, size_t n) {
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= crc;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][lo >> 8 & 0xff] ^
              crc_table[5][lo >> 16 & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
              crc_table[2][hi >> 8 & 0xff] ^ crc_table[1][hi >> 16 & 0xff] ^ crc_table[0][hi >> 24];
    }
    while (n--) crc = crc >> 8 ^ crc_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const unsigned char *p,
                                                            size_t n) {
    uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    for (; n; n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static uint32_t (*crc_update)(uint32_t, const unsigned char *, size_t);

static void crc_init(void) {
    crc_init_tables();
    crc_update = crc_tables;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) crc_update = crc_sse42;
#endif
}

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    return ~crc_update(~crc, data, n);
}

/* The portable path, for the tests to compare the fast one against. */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    return ~crc_tables(~crc, data, n);
}

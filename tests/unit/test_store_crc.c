// test_store_crc.c — store_crc32 (the container's CRC-32, whose bulk runs on PCLMULQDQ where the CPU has it)
// against a bit-at-a-time reference: the check value, every length 0..300 at unaligned offsets, and chained calls.
#include <stdint.h>
#include <stdlib.h>
#include "test.h"
#include "store.h"

static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static void test_crc_matches_reference(void) {
    T_ASSERT(store_crc32(0, "123456789", 9) == 0xCBF43926u, "check value %08x", store_crc32(0, "123456789", 9));
    enum { N = 5000 };
    unsigned char *b = malloc(N);
    uint32_t x = 1;
    for (int i = 0; i < N; i++) { x = x * 1664525u + 1013904223u; b[i] = (unsigned char)(x >> 24); }
    int bad = 0;
    for (int off = 0; off < 4; off++)
        for (size_t len = 0; len <= 300; len++)
            bad += store_crc32((uint32_t)len, b + off, len) != crc_bitwise((uint32_t)len, b + off, len);
    T_ASSERT(bad == 0, "%d of 1204 lengths/offsets differ from the bitwise CRC", bad);
    uint32_t chained = store_crc32(store_crc32(0, b, 1001), b + 1001, N - 1001);
    T_ASSERT(chained == crc_bitwise(0, b, N), "chained %08x vs whole %08x", chained, crc_bitwise(0, b, N));
    free(b);
}

int main(void) {
    T_RUN(test_crc_matches_reference);
    T_EXIT();
}

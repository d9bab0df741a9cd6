// test_store_crc.c — the container's speed paths: store_crc32 (its bulk on PCLMULQDQ where the CPU has it)
// against a bit-at-a-time reference (the check value, every length 0..300 at unaligned offsets, chained calls),
// and datasets larger than the transfer buffer (written and read in slabs, the last one partial) coming
// back bit-identical through store_open's checksum verification.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

static void test_large_datasets_roundtrip(void) {
    char dir[] = "/tmp/pgrpo_test_store_crc.XXXXXX", path[256], err[512];
    T_ASSERT(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/big.h5", dir);
    size_t n1 = ((size_t)3 << 20) / 2 + 3, d2[2] = {1500, 1001}, n2 = d2[0] * d2[1]; // 6 MB each, uneven slabs
    float *a = malloc(n1 * sizeof(float)), *b = malloc(n2 * sizeof(float));
    float *ra = malloc(n1 * sizeof(float)), *rb = malloc(n2 * sizeof(float));
    for (size_t i = 0; i < n1; i++) a[i] = (float)i * 0.5f - 7.0f;
    for (size_t i = 0; i < n2; i++) b[i] = (float)(i % 9973) * -0.25f;
    StoreWriter *w = store_writer_create(path, "checkpoint", "", err, sizeof err);
    T_ASSERT(w != NULL, "%s", err);
    if (!w) return;
    T_ASSERT(store_put(w, "model/params", STORE_F32, a, 1, &n1) == 0, "put 1-D");
    T_ASSERT(store_put(w, "big/matrix", STORE_F32, b, 2, d2) == 0, "put 2-D");
    T_ASSERT(store_commit(w, err, sizeof err) == 0, "%s", err);
    StoreReader *r = store_open(path, "checkpoint", err, sizeof err); // verifies every dataset's checksum
    T_ASSERT(r != NULL, "%s", err);
    if (r) {
        T_ASSERT(store_get(r, "model/params", STORE_F32, ra, n1) == 0, "get 1-D");
        T_ASSERT(store_get(r, "big/matrix", STORE_F32, rb, n2) == 0, "get 2-D");
        T_ASSERT(!memcmp(a, ra, n1 * sizeof(float)) && !memcmp(b, rb, n2 * sizeof(float)), "data differ");
        store_close(r);
    }
    unlink(path);
    rmdir(dir);
    free(a); free(b); free(ra); free(rb);
}

int main(void) {
    T_RUN(test_crc_matches_reference);
    T_RUN(test_large_datasets_roundtrip);
    T_EXIT();
}

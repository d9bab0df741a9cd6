// test_transfer.c — the trajectory wire format (par/transfer.c): sizes and pack/unpack through the one table.
// Pure functions over buffers: no MPI start-up.
#include <string.h>
#include "check.h"
#include "transfer.h"
#include "test.h"

static void fill(Batch *b, int seed) {
    for (int i = 0; i < b->np; i++) {
        b->prompt[i].len = 1 + (i + seed) % 5;
        b->prompt[i].user = 7 * i + seed;
        for (int j = 0; j < TASK_MAX_PROMPT; j++) b->prompt[i].tok[j] = seed + i * 100 + j;
        b->version[i] = 1000 + i + seed;
    }
    int n = b->np * b->G;
    for (int k = 0; k < n; k++) {
        b->clen[k] = (k + seed) % (b->Tc + 1);
        b->reward[k] = 0.5f * (float)k - (float)seed;
        b->adv[k] = -1.0f;                        // not on the wire
        for (int c = 0; c < b->Tc; c++) {
            b->ctok[k * b->Tc + c] = k * 31 + c + seed;
            b->blogp[k * b->Tc + c] = -0.01f * (float)(k + c + seed);
            b->ref_logp[k * b->Tc + c] = -0.02f * (float)(k * c + seed);
        }
    }
}

static void test_bytes(void) {
    // header + per prompt (Prompt + int64) + per completion x Tc (int + 2 floats) + per completion (int + float)
    int n = 3, G = 4, Tc = 5;
    size_t want = sizeof(TransferHeader) + (size_t)n * (sizeof(Prompt) + 8) + (size_t)n * G * Tc * 12 + (size_t)n * G * 8;
    T_ASSERT(transfer_bytes(n, G, Tc) == want, "%zu vs %zu", transfer_bytes(n, G, Tc), want);
    T_ASSERT(transfer_bytes(0, G, Tc) == sizeof(TransferHeader), "an empty message is the header");
    T_ASSERT(transfer_n_fields() == 7, "7 fields on the wire, got %d", transfer_n_fields());
    T_ASSERT(!strcmp(transfer_field_name(0), "prompt") && transfer_field_name(transfer_n_fields()) == NULL, "names");
}

static int rows_equal(const Batch *a, int ia, const Batch *b, int ib, int n) {
    int G = a->G, Tc = a->Tc, ok = 1;
    ok &= !memcmp(a->prompt + ia, b->prompt + ib, sizeof(Prompt) * (size_t)n);
    ok &= !memcmp(a->version + ia, b->version + ib, sizeof(int64_t) * (size_t)n);
    size_t k = (size_t)n * G, ka = (size_t)ia * G, kb = (size_t)ib * G;
    ok &= !memcmp(a->ctok + ka * Tc, b->ctok + kb * Tc, sizeof(int) * k * Tc);
    ok &= !memcmp(a->blogp + ka * Tc, b->blogp + kb * Tc, sizeof(float) * k * Tc);
    ok &= !memcmp(a->ref_logp + ka * Tc, b->ref_logp + kb * Tc, sizeof(float) * k * Tc);
    ok &= !memcmp(a->clen + ka, b->clen + kb, sizeof(int) * k);
    ok &= !memcmp(a->reward + ka, b->reward + kb, sizeof(float) * k);
    return ok;
}

static void test_round_trip(void) {
    int G = 3, Tc = 4;
    Batch src, dst;
    batch_alloc(&src, 5, G, Tc);
    batch_alloc(&dst, 4, G, Tc);
    fill(&src, 1);
    fill(&dst, 9);
    Batch before;
    batch_alloc(&before, 4, G, Tc);
    fill(&before, 9);
    // Prompts 1..3 of src travel to rows 0..2 of dst; row 3 of dst must stay as it was.
    size_t bytes = transfer_bytes(3, G, Tc);
    char *buf = xmalloc(bytes + 16);
    memset(buf, 0x5a, bytes + 16);
    TransferHeader h = {.gen_s = 1.5, .reward_s = 0.25, .ref_s = 2.0, .stop = 1}, got;
    transfer_pack(&src, 1, 3, &h, buf);
    for (int i = 0; i < 16; i++) T_ASSERT(buf[bytes + i] == 0x5a, "pack wrote past transfer_bytes at +%d", i);
    transfer_unpack(&dst, 0, 3, &got, buf);
    T_ASSERT(got.gen_s == 1.5 && got.reward_s == 0.25 && got.ref_s == 2.0 && got.stop == 1, "header");
    T_ASSERT(rows_equal(&src, 1, &dst, 0, 3), "rows 1..3 arrive intact");
    T_ASSERT(rows_equal(&before, 3, &dst, 3, 1), "rows outside the range untouched");
    T_ASSERT(dst.adv[0] == -1.0f && dst.group[0] == 0, "learner-only fields are not on the wire");
    free(buf);
    batch_free(&src); batch_free(&dst); batch_free(&before);
}

static void test_header_merge(void) {
    TransferHeader agg = {0}, a = {.gen_s = 2, .reward_s = 1, .ref_s = 0, .stop = 0}, b = {.gen_s = 1, .reward_s = 3, .ref_s = 4, .stop = 1};
    transfer_header_merge(&agg, &a);
    transfer_header_merge(&agg, &b);
    T_ASSERT(agg.gen_s == 2 && agg.reward_s == 3 && agg.ref_s == 4 && agg.stop == 1, "slowest times, any stop");
}

int main(void) {
    T_RUN(test_bytes);
    T_RUN(test_round_trip);
    T_RUN(test_header_merge);
    T_EXIT();
}

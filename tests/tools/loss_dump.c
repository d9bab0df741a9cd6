// loss_dump.c — writes recorded random batches with pgrpo's loss and d loss/d logp, for the PyTorch reference
// (tests/reference/test_loss_torch.py). Usage: loss_dump OUT.txt [seed]
//
// Text format, whitespace-separated tokens; floats as %.9g (round-trip exact for float32), loss as %.17g:
//   pgrpo-loss-dump 1
//   ncases K
//   then K times:
//   case NAME agg AGG eps_low E eps_high E beta B N n Tc T max_new M global_norm Z has_ref 0|1
//   A n floats | len n ints | logp n*T | old n*T | [ref n*T when has_ref]
//   loss L | dlogp n*T | stats kl_sum ratio_sum n_clip_low n_clip_high n_clip_region n_tokens
#include "loss.h"
#include "rng.h"
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

static void put_floats(FILE *f, const char *tag, const float *x, int n) {
    fprintf(f, "%s", tag);
    for (int i = 0; i < n; i++) fprintf(f, " %.9g", (double)x[i]);
    fputc('\n', f);
}

// One case: a random batch of n completions; extra_norm > 0 pretends other ranks hold more of the batch.
static void dump_case(FILE *f, Rng *r, const char *name, LossAgg agg, float eps_low, float eps_high, float beta,
                      int n, int T, int max_new, double extra_norm) {
    LossConfig c = {eps_low, eps_high, beta, agg};
    float *logp = xmalloc(sizeof(float) * n * T), *old = xmalloc(sizeof(float) * n * T);
    float *ref = beta > 0 ? xmalloc(sizeof(float) * n * T) : NULL;
    float *A = xmalloc(sizeof(float) * n), *g = xmalloc(sizeof(float) * n * T);
    int *len = xmalloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) {
        len[i] = i == 1 ? 0 : 1 + (int)rng_below(r, (uint32_t)T);
        A[i] = (float)rng_normal(r);
        for (int t = 0; t < T; t++) {
            int k = i * T + t;
            logp[k] = (float)(-0.05 - 5.0 * rng_uniform(r));
            old[k] = (float)(logp[k] - 0.6 * rng_normal(r));   // ratios well inside and outside the clip range
            if (ref) ref[k] = (float)(logp[k] + 0.7 * rng_normal(r));
        }
    }
    double Z = loss_norm_local(&c, len, n, max_new) + extra_norm;
    LossStats st;
    double L = loss_eval(&c, logp, old, ref, A, len, n, T, max_new, Z, g, &st, NULL) ? NAN : st.loss;
    fprintf(f, "case %s agg %d eps_low %.9g eps_high %.9g beta %.9g N %d Tc %d max_new %d global_norm %.17g has_ref %d\n",
            name, (int)agg, (double)eps_low, (double)eps_high, (double)beta, n, T, max_new, Z, ref != NULL);
    put_floats(f, "A", A, n);
    fprintf(f, "len");
    for (int i = 0; i < n; i++) fprintf(f, " %d", len[i]);
    fputc('\n', f);
    put_floats(f, "logp", logp, n * T);
    put_floats(f, "old", old, n * T);
    if (ref) put_floats(f, "ref", ref, n * T);
    fprintf(f, "loss %.17g\n", L);
    put_floats(f, "dlogp", g, n * T);
    fprintf(f, "stats %.17g %.17g %.17g %.17g %.17g %.17g\n", st.kl_sum, st.ratio_sum, st.n_clip_low,
            st.n_clip_high, st.n_clip_region, st.n_tokens);
    free(logp); free(old); free(ref); free(A); free(g); free(len);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s OUT.txt [seed]\n", argv[0]);
        return EXIT_USAGE;
    }
    unsigned long long seed = argc == 3 ? strtoull(argv[2], NULL, 10) : 1234;
    FILE *f = fopen(argv[1], "w");
    if (!f) die_user(EXIT_RUNTIME, "check the directory exists and is writable", "cannot write %s", argv[1]);
    Rng r;
    rng_seed(&r, seed, RNG_TEST, 0, 0);
    fprintf(f, "pgrpo-loss-dump 1\nncases 6\n");
    dump_case(f, &r, "seq_mean_token_mean_kl", AGG_SEQ_MEAN_TOKEN_MEAN, 0.2f, 0.2f, 0.04f, 8, 12, 16, 0);
    dump_case(f, &r, "token_mean_kl_clip_higher", AGG_TOKEN_MEAN, 0.2f, 0.28f, 0.1f, 8, 12, 16, 0);
    dump_case(f, &r, "drgrpo_kl", AGG_DRGRPO, 0.2f, 0.2f, 0.04f, 8, 12, 16, 0);
    dump_case(f, &r, "seq_mean_token_mean_no_ref", AGG_SEQ_MEAN_TOKEN_MEAN, 0.2f, 0.2f, 0.0f, 6, 10, 10, 0);
    dump_case(f, &r, "token_mean_part_of_global", AGG_TOKEN_MEAN, 0.1f, 0.3f, 0.2f, 5, 9, 9, 37);
    dump_case(f, &r, "drgrpo_part_of_global", AGG_DRGRPO, 0.2f, 0.28f, 0.5f, 5, 9, 20, 11);
    if (fclose(f) != 0) die_user(EXIT_RUNTIME, "check free disk space", "error writing %s", argv[1]);
    return 0;
}

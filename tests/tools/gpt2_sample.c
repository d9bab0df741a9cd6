// gpt2_sample.c — for tests/bench/section_gpt2.sh: loads a policy file (an imported GPT-2) and samples from it,
// as one rollout rank would; run under `mpirun -np 2` each rank does the same on its own seed (no MPI calls:
// the ranks are independent processes, which is what the per-rank memory figure needs).
// usage: gpt2_sample POLICY.h5 N_SEQ PROMPT_LEN MAX_NEW
// Prints "key value" lines prefixed by the rank: read_policy_s, model_create_s (allocation and the copy of the weights in), load_s, sample_s, sample_tokens_per_s, rss_mib (peak, VmHWM).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model.h"
#include "policy.h"
#include "rng.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / 1024.0;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: gpt2_sample POLICY.h5 N_SEQ PROMPT_LEN MAX_NEW\n"); return 2; }
    const char *env = getenv("OMPI_COMM_WORLD_RANK");
    int rank = env ? atoi(env) : 0, n = atoi(argv[2]), plen = atoi(argv[3]), max_new = atoi(argv[4]);
    double t0 = now();
    PolicyFile p;
    char err[2048];
    if (policy_read_file(argv[1], &p, err, sizeof err)) { fprintf(stderr, "gpt2_sample: %s\n", err); return 3; }
    if (n < 1 || plen < 1 || max_new < 1 || plen + max_new > p.cfg.max_t) { fprintf(stderr, "gpt2_sample: bad sizes\n"); return 2; }
    double tr = now();
    Rng r;
    rng_seed(&r, 7, 0, (uint64_t)rank, 0);
    Model *m = model_create(&p.cfg, NULL);   // no random init: the parameters come from the file, as policy_load does
    memcpy(model_params(m), p.params, p.n_params * sizeof(float));
    free(p.params);   // the model holds its own copy
    p.params = NULL;
    model_reserve(m, 0, 0, n);
    double t1 = now();
    int *prompt = malloc((size_t)n * (size_t)plen * sizeof *prompt), *plens = malloc((size_t)n * sizeof *plens);
    int *out = malloc((size_t)n * (size_t)max_new * sizeof *out), *len = malloc((size_t)n * sizeof *len);
    float *logp = malloc((size_t)n * (size_t)max_new * sizeof *logp);
    for (int i = 0; i < n * plen; i++) prompt[i] = (int)(rng_next(&r) % (uint64_t)p.cfg.vocab);
    for (int i = 0; i < n; i++) plens[i] = plen;
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = max_new, .eos = p.bpe.eos_id};
    model_sample(m, prompt, plen, plens, n, &sp, &r, out, logp, len);
    double t2 = now();
    long toks = 0;
    for (int i = 0; i < n; i++) toks += len[i];
    printf("rank%d.read_policy_s %.3f\nrank%d.model_create_s %.3f\n", rank, tr - t0, rank, t1 - tr);
    printf("rank%d.load_s %.3f\nrank%d.sample_s %.3f\nrank%d.sample_tokens_per_s %.1f\nrank%d.rss_mib %.1f\n", rank,
           t1 - t0, rank, t2 - t1, rank, (double)toks / (t2 - t1), rank, peak_rss_mib());
    printf("rank%d.first_tokens", rank);
    for (int i = 0; i < (len[0] < 8 ? len[0] : 8); i++) printf(" %d", out[i]);
    printf("\n");
    model_free(m);
    policy_file_free(&p);
    free(prompt); free(plens); free(out); free(len); free(logp);
    return 0;
}

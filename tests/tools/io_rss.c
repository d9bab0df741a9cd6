// io_rss — drives metrics_append (and traj_write_step) alone, as the trainer does each step, and prints the
// resident set size every `every` steps, for the memory-growth check (issue 8 A10; tests/fuzz/test_rss.sh).
//   mpirun -np 1 build/tests/io_rss DIR STEPS EVERY [SERIES] [traj]
// Output lines: "step S rss_kb K". SERIES (default 71, what the tiny deck logs) metrics series per step; with
// "traj" a tiny-deck-shaped trajectories.h5 row (P=8, G=4, Tp=64, Tc=12, batch 16) per step too.
#include "store.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc < 4) { fprintf(stderr, "usage: io_rss DIR STEPS EVERY [SERIES] [traj]\n"); return 2; }
    long steps = atol(argv[2]), every = atol(argv[3]);
    int ns = argc > 4 ? atoi(argv[4]) : 71, with_traj = argc > 5 && !strcmp(argv[5], "traj");
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/metrics.h5", argv[1]);
    MetricsFile *m = metrics_open(path, "[run]\n", 0, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); return 3; }
    char **names = malloc(sizeof *names * (size_t)ns);
    double *v = malloc(sizeof *v * (size_t)ns);
    for (int i = 0; i < ns; i++) {
        names[i] = malloc(32);
        snprintf(names[i], 32, "group%d/series%d", i % 7, i);
    }
    enum { P = 8, G = 4, Tp = 64, Tc = 12 };
    TrajFile *t = NULL;
    static int32_t pt[P * Tp], pl[P], us[P], gr[P], ct[P * G * Tc], cl[P * G];
    static float lp[P * G * Tc], rw[P * G], ad[P * G];
    static int64_t pv[P];
    if (with_traj) {
        snprintf(path, sizeof path, "%s/trajectories.h5", argv[1]);
        t = traj_open(MPI_COMM_WORLD, path, "[run]\n", P, G, Tp, Tc, 0, err, sizeof err);
        if (!t) { fprintf(stderr, "%s\n", err); return 3; }
        traj_set_batch(t, 16);
    }
    for (long s = 0; s < steps; s++) {
        for (int i = 0; i < ns; i++) v[i] = (double)s * 0.001 + i;
        if (metrics_append(m, s, ns, (const char *const *)names, v)) { fprintf(stderr, "%s\n", metrics_error(m)); return 3; }
        if (t) {
            for (int i = 0; i < P * G; i++) { rw[i] = (float)(s % 7); ad[i] = (float)i; cl[i] = Tc; }
            for (int i = 0; i < P; i++) { pl[i] = Tp; us[i] = i; gr[i] = i % 4; pv[i] = s; }
            TrajStep ts = {pt, pl, us, gr, ct, cl, lp, rw, ad, pv};
            if (traj_write_step(t, s, 0, P, &ts)) { fprintf(stderr, "%s\n", traj_error(t)); return 3; }
        }
        if ((s + 1) % every == 0) { printf("step %ld rss_kb %ld\n", s + 1, rss_kb()); fflush(stdout); }
    }
    int rc = metrics_close(m) | (t ? traj_close(t) : 0);
    for (int i = 0; i < ns; i++) free(names[i]);
    free(names);
    free(v);
    MPI_Finalize();
    return rc ? 3 : 0;
}

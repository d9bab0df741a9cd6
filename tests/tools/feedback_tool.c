// feedback_tool.c — drives task_feedback.h and feedback_file.h for tests/mpi/test_feedback_file.sh and the
// measurements (README "Groups").
//   feedback_tool write TASK N_USERS D OBSERVED NOISE SEED OUT.h5 [nomask] [notruth] [noid] [badtile]
//        every rank computes its rows (comm_split_range) and writes them collectively; prints on rank 0
//        "# gen_rows_per_s R (slowest rank)" and "# write_MB_per_s W" (value + mask bytes / slowest write time);
//        badtile: the last rank drops its last row, so the rows do not tile [0, N) (every rank must refuse)
//   feedback_tool bench TASK N_USERS D OBSERVED        rows/s of task_feedback_rows on each rank, no file
//   feedback_tool info PATH                            "n d value_f64 has_mask has_user_id has_truth", or the error
//   feedback_tool read PATH ROW0 N_ROWS [f64]          one line per row: "row: v.. | m.. | id | truth" (absent: -)
//   feedback_tool probes TASK D SEED                   the probe completions as text
//   feedback_tool readbench PATH                       every rank reads its rows (values + mask); MB/s
// Errors: the library's one line on stderr, exit 3.
#include "comm.h"
#include "feedback.h"
#include "feedback_file.h"
#include "task.h"
#include "task_feedback.h"
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Task *make_task(const char *name, int n_users) {
    TaskConfig c = {.name = name, .n_users = n_users, .n_eval_users = 1, .seed = 1234};
    char err[256];
    Task *t = task_create(&c, err, sizeof err);
    if (!t) { fprintf(stderr, "feedback_tool: %s\n", err); exit(2); }
    return t;
}

static int has_flag(int argc, char **argv, int from, const char *flag) {
    for (int i = from; i < argc; i++) if (!strcmp(argv[i], flag)) return 1;
    return 0;
}

static TaskProbe *make_probes(const Task *t, uint64_t seed, int d) {
    TaskProbe *p = xmalloc(sizeof *p * (size_t)d);
    for (int j = 0; j < d; j++) task_probe(t, seed, j, &p[j]);
    return p;
}

static int cmd_write(int argc, char **argv, MPI_Comm w, int rank, int size) {
    if (argc < 9) { fprintf(stderr, "usage: feedback_tool write TASK N_USERS D OBSERVED NOISE SEED OUT\n"); return 2; }
    long n = atol(argv[3]);
    int d = atoi(argv[4]);
    double observed = atof(argv[5]), noise = atof(argv[6]);
    uint64_t seed = strtoull(argv[7], NULL, 10);
    Task *t = make_task(argv[2], (int)n);
    TaskProbe *pr = make_probes(t, seed, d);
    long r0, nr;
    comm_split_range(n, size, rank, &r0, &nr);
    if (has_flag(argc, argv, 9, "badtile") && rank == size - 1 && nr > 0) nr--;   // rows that do not tile [0, n)
    float *v = xmalloc(sizeof *v * (size_t)(nr * d + 1));
    uint8_t *m = xmalloc((size_t)(nr * d + 1));
    int32_t *truth = xmalloc(sizeof *truth * (size_t)(nr + 1));
    double t0 = comm_now();
    task_feedback_rows(t, seed, pr, d, r0, nr, observed, noise, v, m);
    for (long i = 0; i < nr; i++) truth[i] = task_user_group(t, SPLIT_TRAIN, (int)(r0 + i));
    double tgen = comm_now() - t0;
    comm_max_doubles(&tgen, 1, w);
    comm_barrier(w);
    t0 = comm_now();
    char err[1024];
    int rc = feedback_file_write(w, argv[8], "tool deck", n, d, r0, nr, v, has_flag(argc, argv, 9, "nomask") ? NULL : m,
                                 has_flag(argc, argv, 9, "notruth") ? NULL : truth, !has_flag(argc, argv, 9, "noid"),
                                 err, sizeof err);
    double twr = comm_now() - t0;
    comm_max_doubles(&twr, 1, w);
    if (rc) fprintf(stderr, "%s\n", err);
    else if (rank == 0)
        printf("# gen_rows_per_s %.0f (slowest of %d ranks, %.3f s)\n# write_MB_per_s %.1f (%.3f s)\n",
               (double)n / size / (tgen > 0 ? tgen : 1e-9), size, tgen, (double)n * d * 5 / 1e6 / twr, twr);
    free(v); free(m); free(truth); free(pr);
    task_free(t);
    return rc ? 3 : 0;
}

static int cmd_bench(int argc, char **argv, MPI_Comm w, int rank, int size) {
    if (argc < 6) { fprintf(stderr, "usage: feedback_tool bench TASK N_USERS D OBSERVED\n"); return 2; }
    long n = atol(argv[3]);
    int d = atoi(argv[4]);
    Task *t = make_task(argv[2], (int)n);
    TaskProbe *pr = make_probes(t, 7, d);
    long r0, nr;
    comm_split_range(n, size, rank, &r0, &nr);
    long block = 1000;
    float *v = xmalloc(sizeof *v * (size_t)(block * d));
    uint8_t *m = xmalloc((size_t)(block * d));
    double t0 = comm_now();
    for (long i = 0; i < nr; i += block)
        task_feedback_rows(t, 7, pr, d, r0 + i, nr - i < block ? nr - i : block, atof(argv[5]), 0.1, v, m);
    double dt = comm_now() - t0;
    comm_max_doubles(&dt, 1, w);
    if (rank == 0) printf("# %s users %ld probes %d ranks %d: %.3f s, %.0f rows/s per rank, %.0f rows/s total\n",
                          argv[2], n, d, size, dt, (double)n / size / dt, (double)n / dt);
    free(v); free(m); free(pr);
    task_free(t);
    return 0;
}

static int cmd_info(const char *path) {
    FeedbackFileInfo fi;
    char err[1024];
    if (feedback_file_info(path, &fi, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
    printf("%ld %d %d %d %d %d\n", fi.n, fi.d, fi.value_f64, fi.has_mask, fi.has_user_id, fi.has_truth);
    return 0;
}

static int cmd_read(int argc, char **argv) {
    FeedbackFileInfo fi;
    char err[1024];
    if (argc < 5) { fprintf(stderr, "usage: feedback_tool read PATH ROW0 N_ROWS [f64]\n"); return 2; }
    if (feedback_file_info(argv[2], &fi, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
    long r0 = atol(argv[3]), nr = atol(argv[4]);
    int f64 = argc > 5 && !strcmp(argv[5], "f64");
    size_t cells = (size_t)(nr > 0 ? nr : 1) * (size_t)fi.d;
    double *vd = xmalloc(sizeof *vd * cells);
    uint8_t *m = fi.has_mask ? xmalloc(cells) : NULL;
    int64_t *id = fi.has_user_id ? xmalloc(sizeof *id * cells) : NULL;
    int32_t *tr = fi.has_truth ? xmalloc(sizeof *tr * cells) : NULL;
    int rc = feedback_file_read_rows(argv[2], &fi, f64 ? FEEDBACK_F64 : FEEDBACK_F32, r0, nr, vd, m, id, tr, err,
                                     sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    for (long i = 0; !rc && i < nr; i++) {
        printf("%ld:", r0 + i);
        for (int j = 0; j < fi.d; j++)
            printf(" %.17g", f64 ? vd[i * fi.d + j] : (double)((float *)vd)[i * fi.d + j]);
        printf(" |");
        for (int j = 0; j < fi.d; j++) m ? printf(" %d", m[i * fi.d + j]) : printf(" -");
        id ? printf(" | %lld", (long long)id[i]) : printf(" | -");
        tr ? printf(" | %d\n", tr[i]) : printf(" | -\n");
    }
    free(vd); free(m); free(id); free(tr);
    return rc ? 3 : 0;
}

static int cmd_readbench(const char *path, MPI_Comm w, int rank, int size) {
    FeedbackFileInfo fi;
    char err[1024];
    if (feedback_file_info(path, &fi, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
    long r0, nr;
    comm_split_range(fi.n, size, rank, &r0, &nr);
    float *v = xmalloc(sizeof *v * (size_t)(nr * fi.d + 1));
    uint8_t *m = fi.has_mask ? xmalloc((size_t)(nr * fi.d + 1)) : NULL;
    comm_barrier(w);
    double t0 = comm_now();
    int rc = feedback_file_read_rows(path, &fi, FEEDBACK_F32, r0, nr, v, m, NULL, NULL, err, sizeof err);
    double dt = comm_now() - t0;
    comm_max_doubles(&dt, 1, w);
    if (rc) fprintf(stderr, "%s\n", err);
    else if (rank == 0)
        printf("# read_MB_per_s %.1f (%ld x %d, %d ranks, %.3f s)\n",
               (double)fi.n * fi.d * (fi.has_mask ? 5 : 4) / 1e6 / dt, fi.n, fi.d, size, dt);
    free(v); free(m);
    return rc ? 3 : 0;
}

static int cmd_probes(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: feedback_tool probes TASK D SEED\n"); return 2; }
    Task *t = make_task(argv[2], 10);
    int d = atoi(argv[3]);
    TaskProbe *pr = make_probes(t, strtoull(argv[4], NULL, 10), d);
    char buf[1024];
    for (int j = 0; j < d; j++) { task_decode(t, pr[j].comp, pr[j].n, buf, sizeof buf); printf("%d: %s\n", j, buf); }
    free(pr);
    task_free(t);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Comm w;
    int rank, size, rc = 2;
    comm_init(&argc, &argv, &w, &rank, &size);
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "write")) rc = cmd_write(argc, argv, w, rank, size);
    else if (!strcmp(cmd, "bench")) rc = cmd_bench(argc, argv, w, rank, size);
    else if (!strcmp(cmd, "info")) rc = cmd_info(argc > 2 ? argv[2] : "");
    else if (!strcmp(cmd, "read")) rc = cmd_read(argc, argv);
    else if (!strcmp(cmd, "probes")) rc = cmd_probes(argc, argv);
    else if (!strcmp(cmd, "readbench")) rc = cmd_readbench(argc > 2 ? argv[2] : "", w, rank, size);
    else fprintf(stderr, "usage: feedback_tool write|bench|info|read|probes|readbench ... (see tests/tools/feedback_tool.c)\n");
    comm_finalize();
    return rc;
}

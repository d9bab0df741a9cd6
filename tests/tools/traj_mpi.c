// traj_mpi.c — drives traj_* over MPI_COMM_WORLD for tests/mpi/test_store_mpi.sh and the write benchmark.
//   traj_mpi write PATH P G Tp Tc STEP0 STEP1 RESUME [BATCH]  steps [STEP0,STEP1) with the pattern below; rank 0 owns
//                                                      no prompts when there are 2+ ranks (uneven slices)
//   traj_mpi badtile PATH                              slices that do not tile P must fail on every rank, no hang
//   traj_mpi bench PATH P G Tp Tc STEPS [BATCH]        prints ms per traj_write_step (max over ranks)
//   traj_mpi ckpt PATH                                 rank 0 writes a container for the h5py checksum cross-check
// The value pattern is shared with tests/reference/test_store_h5py.py; change both together.
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *pt, *pl, *user, *group, *ct, *cl;
    float *logp, *reward, *adv;
    int64_t *pv;
} Buffers;

static void fill(Buffers *b, long s, int p0, int np, int G, int Tp, int Tc) {
    for (int i = 0; i < np; i++) {
        int p = p0 + i;
        for (int t = 0; t < Tp; t++) b->pt[i * Tp + t] = (int32_t)(s * 100000 + p * 100 + t);
        b->pl[i] = (int32_t)((p + s) % Tp + 1);
        b->user[i] = (int32_t)(p * 7 + s);
        b->group[i] = p % 4;
        b->pv[i] = s - p % 2;
        for (int g = 0; g < G; g++) {
            int pg = i * G + g;
            b->cl[pg] = (int32_t)((p + g + s) % Tc + 1);
            b->reward[pg] = (float)(p * G + g) / 4.0f + (float)s;
            b->adv[pg] = (float)g - (float)G / 2.0f;
            for (int t = 0; t < Tc; t++) {
                b->ct[pg * Tc + t] = (int32_t)(s * 1000000 + p * 1000 + g * 20 + t);
                b->logp[pg * Tc + t] = -(float)((s * 7 + p * 3 + g * 5 + t) % 1000) / 8.0f;
            }
        }
    }
}

static TrajStep as_step(const Buffers *b) {
    return (TrajStep){b->pt, b->pl, b->user, b->group, b->ct, b->cl, b->logp, b->reward, b->adv, b->pv};
}

static void alloc(Buffers *b, int np, int G, int Tp, int Tc) {
    size_t n = (size_t)(np ? np : 1);
    b->pt = calloc(n * Tp, 4); b->pl = calloc(n, 4); b->user = calloc(n, 4); b->group = calloc(n, 4);
    b->ct = calloc(n * G * Tc, 4); b->cl = calloc(n * G, 4); b->logp = calloc(n * G * Tc, 4);
    b->reward = calloc(n * G, 4); b->adv = calloc(n * G, 4); b->pv = calloc(n, 8);
}

static void release(Buffers *b) {
    free(b->pt); free(b->pl); free(b->user); free(b->group); free(b->ct); free(b->cl);
    free(b->logp); free(b->reward); free(b->adv); free(b->pv);
}

// Rank 0 gets nothing (the case every rank must still join collectively); the rest share P unevenly.
static void slice(int P, int rank, int size, int *p0, int *np) {
    if (size == 1) { *p0 = 0; *np = P; return; }
    int n = size - 1, r = rank - 1;
    if (rank == 0) { *p0 = 0; *np = 0; return; }
    int base = P / n, extra = P % n;
    *np = base + (r < extra);
    *p0 = r * base + (r < extra ? r : extra);
}

// Each mode gets the communicator's rank and size, the file path, the deck text and argv; returns this rank's rc.
#define TRAJ_DECK "[run]\nseed = 7\n[train]\ngroup_size = 3\n"

static int mode_write(int argc, char **argv, int rank, int size, const char *path) {
    (void)argc; (void)argv; (void)size;
    const char *deck = TRAJ_DECK;
    char err[1024];
    int rc = 0;
    int P = atoi(argv[3]), G = atoi(argv[4]), Tp = atoi(argv[5]), Tc = atoi(argv[6]);
    long s0 = atol(argv[7]), s1 = atol(argv[8]), resume = atol(argv[9]);
    TrajFile *t = traj_open(MPI_COMM_WORLD, path, deck, P, G, Tp, Tc, resume, err, sizeof err);
    if (!t) { fprintf(stderr, "rank %d: %s\n", rank, err); MPI_Abort(MPI_COMM_WORLD, 3); }
    if (argc == 11) traj_set_batch(t, atoi(argv[10]));
    int p0, np;
    slice(P, rank, size, &p0, &np);
    Buffers b;
    alloc(&b, np, G, Tp, Tc);
    for (long s = s0; s < s1 && !rc; s++) {
        fill(&b, s, p0, np, G, Tp, Tc);
        TrajStep ts = as_step(&b);
        if (traj_write_step(t, s, p0, np, np ? &ts : NULL) != 0) {
            fprintf(stderr, "rank %d: %s\n", rank, traj_error(t));
            rc = 1;
        }
    }
    if (rank == 0) printf("# wrote steps %ld..%ld, file has %ld rows\n", s0, s1 - 1, traj_steps(t));
    if (traj_close(t) != 0) rc = 1;
    release(&b);
    return rc;
}

static int mode_badtile(int argc, char **argv, int rank, int size, const char *path) {
    (void)argc; (void)argv; (void)size;
    const char *deck = TRAJ_DECK;
    char err[1024];
    int rc = 0;
    TrajFile *t = traj_open(MPI_COMM_WORLD, path, deck, 8, 2, 3, 4, 0, err, sizeof err);
    if (!t) { fprintf(stderr, "rank %d: %s\n", rank, err); MPI_Abort(MPI_COMM_WORLD, 3); }
    Buffers b;
    alloc(&b, 8, 2, 3, 4);
    TrajStep ts = as_step(&b);
    // Every rank claims all 8 prompts: overlapping slices, the sum is 8 * size.
    int r1 = traj_write_step(t, 0, 0, 8, &ts);
    // A good step after the refusal still works (the refusal left no rank behind in a collective).
    int p0, np;
    slice(8, rank, size, &p0, &np);
    int r2 = size > 1 ? traj_write_step(t, 0, p0, np, &ts) : 0;
    if (size > 1 && (r1 != -1 || r2 != 0)) rc = 1;
    if (size > 1 && rank == 0 && r1 == -1) printf("# refused: %s\n", traj_error(t));
    traj_close(t);
    release(&b);
    return rc;
}

static int mode_bench(int argc, char **argv, int rank, int size, const char *path) {
    (void)argc; (void)argv; (void)size;
    const char *deck = TRAJ_DECK;
    char err[1024];
    int rc = 0;
    int P = atoi(argv[3]), G = atoi(argv[4]), Tp = atoi(argv[5]), Tc = atoi(argv[6]), S = atoi(argv[7]);
    TrajFile *t = traj_open(MPI_COMM_WORLD, path, deck, P, G, Tp, Tc, 0, err, sizeof err);
    if (!t) { fprintf(stderr, "rank %d: %s\n", rank, err); MPI_Abort(MPI_COMM_WORLD, 3); }
    int batch = argc == 9 ? atoi(argv[8]) : 1;
    traj_set_batch(t, batch);
    int p0 = (int)((long)P * rank / size), np = (int)((long)P * (rank + 1) / size) - p0;
    Buffers b;
    alloc(&b, np, G, Tp, Tc);
    double total = 0, worst = 0;
    for (int s = 0; s < S; s++) {
        fill(&b, s, p0, np, G, Tp, Tc);
        TrajStep ts = as_step(&b);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        traj_write_step(t, s, p0, np, &ts);
        double dt = MPI_Wtime() - t0, mx;
        MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        total += mx;
        if (mx > worst) worst = mx;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    traj_close(t);
    double tclose = MPI_Wtime() - t0;
    double raw = (double)S * P * (3 * 4 + Tp * 4 + 8 + G * (4 * 3 + Tc * 8));
    if (rank == 0)
        printf("bench batch=%d ranks=%d P=%d G=%d Tp=%d Tc=%d steps=%d: %.3f ms/step mean, %.3f ms max, close %.1f ms, "
               "%.1f MB/s raw\n", batch, size, P, G, Tp, Tc, S, 1e3 * total / S, 1e3 * worst, 1e3 * tclose,
               raw / (total + tclose) / 1e6);
    release(&b);
    return rc;
}

static int mode_ckpt(int argc, char **argv, int rank, int size, const char *path) {
    (void)argc; (void)argv; (void)size;
    const char *deck = TRAJ_DECK;
    char err[1024];
    int rc = 0;
    if (rank == 0) {
        StoreWriter *w = store_writer_create(path, STORE_KIND_CKPT, deck, err, sizeof err);
        if (!w) { fprintf(stderr, "%s\n", err); MPI_Abort(MPI_COMM_WORLD, 3); }
        store_writer_set_gzip(w, 4, 1024);
        float f[1000];
        int64_t i64[3] = {-5, 0, 1LL << 40};
        uint8_t u8[4] = {1, 2, 3, 250};
        for (int i = 0; i < 1000; i++) f[i] = (float)i * 0.25f - 3.0f;
        size_t d2[2] = {10, 100}, d3 = 3, d4 = 4;
        store_put(w, "model/w", STORE_F32, f, 2, d2);
        store_put(w, "opt/step", STORE_I64, i64, 1, &d3);
        store_put(w, "rng", STORE_U8, u8, 1, &d4);
        // A large contiguous dataset: its data is a range the frame's CRC skips (version-2 frame).
        store_writer_set_gzip(w, 0, 0);
        size_t nbig = 3 << 18;   // 3 MiB of float32
        float *big = malloc(nbig * sizeof(float));
        for (size_t i = 0; i < nbig; i++) big[i] = (float)(i % 1009) * 0.5f;
        store_put(w, "model/big", STORE_F32, big, 1, &nbig);
        free(big);
        store_put_attr_int(w, "/", "step", 5);
        if (store_commit(w, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); rc = 1; }
    }
    return rc;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, rc;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 2 ? argv[1] : "", *path = argc > 2 ? argv[2] : "";
    if (!strcmp(mode, "write") && (argc == 10 || argc == 11)) rc = mode_write(argc, argv, rank, size, path);
    else if (!strcmp(mode, "badtile")) rc = mode_badtile(argc, argv, rank, size, path);
    else if (!strcmp(mode, "bench") && (argc == 8 || argc == 9)) rc = mode_bench(argc, argv, rank, size, path);
    else if (!strcmp(mode, "ckpt")) rc = mode_ckpt(argc, argv, rank, size, path);
    else {
        if (rank == 0) fprintf(stderr, "usage: see the comment at the top of tests/tools/traj_mpi.c\n");
        rc = 2;
    }
    int any = 0;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any;
}

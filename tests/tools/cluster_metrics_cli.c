// cluster_metrics_cli — the C cluster metrics and k-means for tests/reference/test_cluster_metrics_sklearn.py.
//   cluster_metrics_cli A.txt B.txt          two label lists (whitespace-separated ints >= 0): prints "ARI NMI"
//   cluster_metrics_cli -                    stdin: records "n a_1..a_n b_1..b_n"; one "ARI NMI" line each
//   cluster_metrics_cli --kmeans K N_INIT SEED   stdin: "n d" then n*d numbers (row-major); prints the n labels
// Numbers are printed with %.17g. Bad input: one line on stderr, exit 2.
#include "cluster_metrics.h"
#include "kmeans.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *msg, const char *what) { fprintf(stderr, "cluster_metrics_cli: %s%s\n", msg, what); return 2; }

// Reads up to cap labels (cap < 0: until EOF, growing) from f; returns the count or -1 on a bad token.
static long read_labels(FILE *f, long cap, int **out, int *kmax) {
    long n = 0, sz = cap > 0 ? cap : 1024;
    int *v = malloc(sizeof *v * (size_t)sz);
    long x;
    *kmax = 0;
    while ((cap < 0 || n < cap) && fscanf(f, "%ld", &x) == 1) {
        if (x < 0 || x > 1000000) { free(v); return -1; }
        if (n == sz) { sz *= 2; v = realloc(v, sizeof *v * (size_t)sz); }
        v[n++] = (int)x;
        if (x + 1 > *kmax) *kmax = (int)x + 1;
    }
    *out = v;
    return n;
}

static int score(const int *a, const int *b, long n, int ka, int kb) {
    char err[256];
    double ari, nmi;
    if (cluster_ari(a, b, n, ka, kb, &ari, err, sizeof err) || cluster_nmi(a, b, n, ka, kb, &nmi, err, sizeof err))
        return die(err, "");
    printf("%.17g %.17g\n", ari, nmi);
    return 0;
}

static int batch(void) {
    long n;
    while (scanf("%ld", &n) == 1) {
        int *a, *b, ka, kb, rc;
        if (n < 1) return die("bad record length", "");
        if (read_labels(stdin, n, &a, &ka) != n) return die("short or bad record", "");
        if (read_labels(stdin, n, &b, &kb) != n) { free(a); return die("short or bad record", ""); }
        rc = score(a, b, n, ka, kb);
        free(a); free(b);
        if (rc) return rc;
    }
    return 0;
}

static int kmeans(int k, int n_init, unsigned long long seed) {
    long n; int d;
    if (scanf("%ld %d", &n, &d) != 2 || n < 1 || d < 1) return die("expected 'n d' on stdin", "");
    double *X = malloc(sizeof *X * (size_t)n * (size_t)d), *C = malloc(sizeof *C * (size_t)k * (size_t)d), in;
    int *lab = malloc(sizeof *lab * (size_t)n);
    for (long i = 0; i < n * d; i++) if (scanf("%lf", &X[i]) != 1) return die("short data on stdin", "");
    char err[256];
    if (kmeans_fit_serial(X, n, d, k, n_init, 300, 1e-4, seed, lab, C, &in, err, sizeof err)) return die(err, "");
    for (long i = 0; i < n; i++) printf("%d%c", lab[i], i + 1 < n ? ' ' : '\n');
    free(X); free(C); free(lab);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "-") == 0) return batch();
    if (argc == 5 && strcmp(argv[1], "--kmeans") == 0) return kmeans(atoi(argv[2]), atoi(argv[3]), strtoull(argv[4], NULL, 10));
    if (argc != 3) return die("usage: cluster_metrics_cli A.txt B.txt | - | --kmeans K N_INIT SEED", "");
    FILE *fa = fopen(argv[1], "r"), *fb = fopen(argv[2], "r");
    if (!fa || !fb) return die("cannot open ", !fa ? argv[1] : argv[2]);
    int *a, *b, ka, kb;
    long na = read_labels(fa, -1, &a, &ka), nb = read_labels(fb, -1, &b, &kb);
    fclose(fa); fclose(fb);
    if (na < 0 || nb < 0) return die("labels must be integers in [0, 1000000] in ", na < 0 ? argv[1] : argv[2]);
    if (na != nb) return die("the two label lists differ in length", "");
    int rc = score(a, b, na, ka, kb);
    free(a); free(b);
    return rc;
}

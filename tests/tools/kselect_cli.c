// kselect_cli — the K-selection criteria (kselect.h) for tests/reference/test_kselect_sklearn.sh and the
// K-recovery study (tests/reference/kselect_recovery.py). Records are read from stdin until EOF, one result
// line per record, numbers printed with %.17g:
//   kselect_cli silhouette      records "S d k" then S*d numbers (row-major) then S labels  -> mean silhouette
//   kselect_cli bic             records "n d k inertia" then k sizes                       -> BIC
//   kselect_cli eigengap        records "m lo hi" then m values (descending)               -> "j gap[lo] .. gap[hi]"
//   kselect_cli sample SEED N S                                                            -> the sampled rows
// Bad input: one line on stderr, exit 2.
#include "kselect.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *msg) { fprintf(stderr, "kselect_cli: %s\n", msg); return 2; }

static int silhouette(void) {
    long S; int d, k;
    while (scanf("%ld %d %d", &S, &d, &k) == 3) {
        if (S < 1 || d < 1 || k < 1) return die("silhouette: bad 'S d k'");
        double *X = malloc(sizeof *X * (size_t)S * (size_t)d);
        double *scratch = malloc(sizeof *scratch * KSELECT_SILHOUETTE_SCRATCH(S, k));
        int *lab = malloc(sizeof *lab * (size_t)S);
        if (!X || !scratch || !lab) return die("out of memory");
        for (long i = 0; i < S * d; i++) if (scanf("%lf", &X[i]) != 1) return die("silhouette: short data");
        for (long i = 0; i < S; i++) if (scanf("%d", &lab[i]) != 1) return die("silhouette: short labels");
        printf("%.17g\n", kselect_silhouette(X, lab, S, d, k, scratch));
        free(X); free(scratch); free(lab);
    }
    return 0;
}

static int bic(void) {
    long n; int d, k; double inertia;
    while (scanf("%ld %d %d %lf", &n, &d, &k, &inertia) == 4) {
        if (k < 1) return die("bic: bad k");
        long *sizes = malloc(sizeof *sizes * (size_t)k);
        for (int j = 0; j < k; j++) if (scanf("%ld", &sizes[j]) != 1) return die("bic: short sizes");
        printf("%.17g\n", kselect_bic(n, d, k, sizes, inertia));
        free(sizes);
    }
    return 0;
}

static int eigengap(void) {
    int m, lo, hi;
    while (scanf("%d %d %d", &m, &lo, &hi) == 3) {
        if (m < 1) return die("eigengap: bad m");
        double *lam = malloc(sizeof *lam * (size_t)m), *gap = malloc(sizeof *gap * (size_t)m);
        for (int i = 0; i < m; i++) if (scanf("%lf", &lam[i]) != 1) return die("eigengap: short values");
        int j = kselect_eigengap(lam, m, lo, hi, gap);
        printf("%d", j);
        if (j > 0) for (int i = lo; i <= hi; i++) printf(" %.17g", gap[i]);
        printf("\n");
        free(lam); free(gap);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "silhouette") == 0) return silhouette();
    if (argc == 2 && strcmp(argv[1], "bic") == 0) return bic();
    if (argc == 2 && strcmp(argv[1], "eigengap") == 0) return eigengap();
    if (argc == 5 && strcmp(argv[1], "sample") == 0) {
        long n = atol(argv[3]), s = atol(argv[4]), m = s < n ? s : n;
        if (m < 0) m = 0;
        long *rows = malloc(sizeof *rows * (size_t)(m > 0 ? m : 1));
        kselect_sample_rows(strtoull(argv[2], NULL, 10), n, s, rows);
        for (long i = 0; i < m; i++) printf("%ld%c", rows[i], i + 1 < m ? ' ' : '\n');
        free(rows);
        return 0;
    }
    return die("usage: kselect_cli silhouette | bic | eigengap | sample SEED N S   (records on stdin)");
}

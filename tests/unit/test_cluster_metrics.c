// test_cluster_metrics — contingency, ARI and NMI on hand-computed cases, sklearn's edge cases, errors, and the
// distributed path (per-rank tables summed). The comparison with scikit-learn itself is
// tests/reference/test_groups_sklearn.sh.
#include "cluster_metrics.h"
#include "test.h"
#include <string.h>

static char err[256];

static void both(const int *a, const int *b, int n, int ka, int kb, double *ari, double *nmi) {
    *ari = *nmi = -99.0;
    T_ASSERT(cluster_ari(a, b, n, ka, kb, ari, err, sizeof err) == 0, "ari: %s", err);
    T_ASSERT(cluster_nmi(a, b, n, ka, kb, nmi, err, sizeof err) == 0, "nmi: %s", err);
}

static void test_contingency(void) {
    int a[] = {0, 0, 1, 1, 2}, b[] = {1, 1, 0, 1, 0};
    int64_t t[6];
    T_ASSERT(cluster_contingency(a, b, 5, 3, 2, t, err, sizeof err) == 0, "%s", err);
    int64_t want[6] = {0, 2, 1, 1, 1, 0};
    for (int c = 0; c < 6; c++) T_ASSERT(t[c] == want[c], "cell %d = %lld, want %lld", c, (long long)t[c], (long long)want[c]);
}

// Hand computations: [0,0,1,1] vs [0,0,1,2]: sum C(n_ij,2) = 1, rows 2, cols 1, C(4,2) = 6 -> expected 1/3,
// max 3/2 -> ARI = (2/3)/(7/6) = 4/7. MI = H(a) = ln 2 (b refines a), H(b) = 1.5 ln 2 -> NMI = 2/2.5 = 0.8.
static void test_hand_cases(void) {
    double ari, nmi;
    int a[] = {0, 0, 1, 1}, b[] = {0, 0, 1, 2};
    both(a, b, 4, 2, 3, &ari, &nmi);
    T_NEAR(ari, 4.0 / 7.0, 1e-15); T_NEAR(nmi, 0.8, 1e-15);
    both(b, a, 4, 3, 2, &ari, &nmi);                      // symmetric
    T_NEAR(ari, 4.0 / 7.0, 1e-15); T_NEAR(nmi, 0.8, 1e-15);
    int c[] = {0, 1, 0, 1};                               // independent of a: sklearn's docstring gives -0.5
    both(a, c, 4, 2, 2, &ari, &nmi);
    T_NEAR(ari, -0.5, 1e-15); T_ASSERT(nmi == 0.0, "nmi %g", nmi);
    int p[] = {1, 1, 0, 0};                               // a renamed
    both(a, p, 4, 2, 2, &ari, &nmi);
    T_ASSERT(ari == 1.0, "ari %g", ari); T_NEAR(nmi, 1.0, 1e-15);
    // unused label values do not count: b with labels {0,4,2} in [0,5) is the same partition as {0,1,2}
    int bs[] = {0, 0, 4, 2};
    both(a, bs, 4, 2, 5, &ari, &nmi);
    T_NEAR(ari, 4.0 / 7.0, 1e-15); T_NEAR(nmi, 0.8, 1e-15);
}

static void test_edge_cases(void) {
    double ari, nmi;
    int z[] = {0, 0, 0, 0, 0}, z3[] = {2, 2, 2, 2, 2}, s[] = {0, 1, 2, 3, 4}, s2[] = {4, 3, 2, 1, 0}, m[] = {0, 0, 1, 1, 1};
    both(z, z3, 5, 1, 3, &ari, &nmi);                     // one cluster each side: sklearn 1, 1
    T_ASSERT(ari == 1.0 && nmi == 1.0, "single/single ari %g nmi %g", ari, nmi);
    both(z, z, 1, 1, 1, &ari, &nmi);                      // n = 1
    T_ASSERT(ari == 1.0 && nmi == 1.0, "n=1 ari %g nmi %g", ari, nmi);
    both(s, s2, 5, 5, 5, &ari, &nmi);                     // all singletons both sides
    T_ASSERT(ari == 1.0, "singletons ari %g", ari); T_NEAR(nmi, 1.0, 1e-15);
    both(z, m, 5, 1, 2, &ari, &nmi);                      // one side a single cluster: 0, 0
    T_ASSERT(ari == 0.0 && nmi == 0.0, "single/split ari %g nmi %g", ari, nmi);
    both(z, s, 5, 1, 5, &ari, &nmi);
    T_ASSERT(ari == 0.0 && nmi == 0.0, "single/singletons ari %g nmi %g", ari, nmi);
}

static void test_errors(void) {
    double v;
    int a[] = {0, 1, 2}, b[] = {0, 1, -1};
    T_ASSERT(cluster_ari(a, a, 3, 2, 3, &v, err, sizeof err) == -1 && strstr(err, "item 2"), "range: %s", err);
    T_ASSERT(cluster_nmi(a, b, 3, 3, 2, &v, err, sizeof err) == -1 && strstr(err, "(2, -1)"), "negative: %s", err);
    T_ASSERT(cluster_ari(a, a, 0, 3, 3, &v, err, sizeof err) == -1 && strstr(err, "0 items"), "n=0: %s", err);
    T_ASSERT(cluster_nmi(a, a, 3, 0, 3, &v, err, sizeof err) == -1, "ka=0");
    int64_t t[4] = {1, -1, 0, 2}, e[4] = {0, 0, 0, 0};
    T_ASSERT(cluster_ari_table(t, 2, 2, &v, err, sizeof err) == -1 && strstr(err, "negative"), "neg cell: %s", err);
    T_ASSERT(cluster_nmi_table(e, 2, 2, &v, err, sizeof err) == -1 && strstr(err, "empty"), "empty: %s", err);
    T_ASSERT(cluster_ari(a, a, 3, 1 << 14, 1 << 14, &v, err, sizeof err) == -1 && strstr(err, "exceeds"), "huge: %s", err);
}

// The distributed path: tables of two halves summed equal the whole's table, so the scores are identical.
static void test_split_tables(void) {
    enum { N = 200, KA = 4, KB = 6 };
    int a[N], b[N];
    for (int i = 0; i < N; i++) { a[i] = (i * 7 + i / 13) % KA; b[i] = (a[i] + (i % 5 == 0 ? i % KB : 0)) % KB; }
    int64_t whole[KA * KB], h1[KA * KB], h2[KA * KB];
    T_ASSERT(cluster_contingency(a, b, N, KA, KB, whole, err, sizeof err) == 0, "%s", err);
    T_ASSERT(cluster_contingency(a, b, 77, KA, KB, h1, err, sizeof err) == 0, "%s", err);
    T_ASSERT(cluster_contingency(a + 77, b + 77, N - 77, KA, KB, h2, err, sizeof err) == 0, "%s", err);
    for (int c = 0; c < KA * KB; c++) { h1[c] += h2[c]; T_ASSERT(h1[c] == whole[c], "cell %d", c); }
    double a1, a2, n1, n2;
    cluster_ari_table(whole, KA, KB, &a1, err, sizeof err); cluster_ari_table(h1, KA, KB, &a2, err, sizeof err);
    cluster_nmi_table(whole, KA, KB, &n1, err, sizeof err); cluster_nmi_table(h1, KA, KB, &n2, err, sizeof err);
    T_ASSERT(a1 == a2 && n1 == n2, "ari %g vs %g, nmi %g vs %g", a1, a2, n1, n2);
    T_ASSERT(a1 > 0.0 && a1 < 1.0 && n1 > 0.0 && n1 < 1.0, "partial agreement expected: ari %g nmi %g", a1, n1);
}

int main(void) {
    T_RUN(test_contingency);
    T_RUN(test_hand_cases);
    T_RUN(test_edge_cases);
    T_RUN(test_errors);
    T_RUN(test_split_tables);
    T_EXIT();
}

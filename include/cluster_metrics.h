// cluster_metrics.h — agreement between two labelings of the same n items: contingency table, adjusted Rand
// index (ARI) and normalized mutual information (NMI). Pure math (no MPI, no files), double precision.
//
// Distributed use: each rank builds the contingency table of its own items (cluster_contingency), the caller
// sums the tables over ranks (int64, exact, any order), and cluster_ari_table / cluster_nmi_table score the sum.
//
// Definitions follow scikit-learn 1.2 (checked to 1e-12 by tests/reference/test_groups_sklearn.sh):
//   ARI: adjusted_rand_score, i.e. Hubert & Arabie (1985), computed through the pair confusion matrix
//        (tn, fp, fn, tp over ordered pairs):  2 (tp tn - fn fp) / ((tp+fn)(fn+tn) + (tp+fp)(fp+tn)).
//   NMI: normalized_mutual_info_score with average_method="arithmetic": MI / ((H(a) + H(b)) / 2), natural log;
//        per-cell MI terms with |term| < DBL_EPSILON count as 0 and MI is clipped at 0, as sklearn does.
// Only labels that occur count as clusters (a label value in [0,K) no item carries is ignored), as in sklearn.
// Edge cases (n >= 1), with what sklearn 1.2 returns (the same here):
//   - both labelings a single cluster (includes n = 1):           ARI 1, NMI 1
//   - identical partitions up to renaming (incl. all singletons):  ARI 1, NMI 1
//   - one side a single cluster, the other not:                    ARI 0, NMI 0
//   - MI = 0 exactly (after the eps rule), not the case above:     NMI 0
//   - n = 0: sklearn returns 1.0 for both; here it is an ERROR (an empty labeling is a caller bug).
// Errors (return -1, one line in err): n <= 0, ka or kb < 1, a label outside [0,ka) / [0,kb), a table with a
// negative entry or total 0, ka*kb above CLUSTER_MAX_CELLS (the table is dense: meant for K up to thousands).
#ifndef PGRPO_CLUSTER_METRICS_H
#define PGRPO_CLUSTER_METRICS_H
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_MAX_CELLS ((int64_t)1 << 26)

// table: out, ka*kb int64, row-major: table[a*kb + b] = #items with la = a and lb = b (overwritten).
// la, lb: n labels each. Returns 0, or -1 with err (table contents then unspecified).
int cluster_contingency(const int *la, const int *lb, int64_t n, int ka, int kb, int64_t *table,
                        char *err, size_t errlen);
// Scores of a (summed) contingency table. Returns 0 and *out, or -1 with err.
int cluster_ari_table(const int64_t *table, int ka, int kb, double *ari, char *err, size_t errlen);
int cluster_nmi_table(const int64_t *table, int ka, int kb, double *nmi, char *err, size_t errlen);
// Convenience for labels held in one place (allocates the ka*kb table once, frees it).
int cluster_ari(const int *la, const int *lb, int64_t n, int ka, int kb, double *ari, char *err, size_t errlen);
int cluster_nmi(const int *la, const int *lb, int64_t n, int ka, int kb, double *nmi, char *err, size_t errlen);

#endif

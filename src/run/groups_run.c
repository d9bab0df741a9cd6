// groups_run.c — discovery as a job stage: load, discover, evaluate, write, report (see groups_run.h).
#include "groups_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "check.h"
#include "cluster_metrics.h"
#include "comm.h"
#include "discover.h"
#include "feedback_file.h"
#include "rng.h"
#include "store.h"
#include "task_feedback.h"

#define STORE_KIND_GROUPS "groups"
#define RANDOM_ARI_STEP 0x72616E646F6D0000ULL   // "random": the shuffled baseline's stream (role RNG_GROUPS)
#define HINT_FEEDBACK "fix the feedback (README, Groups: the feedback.h5 format) and run again"

// This rank's rows of the feedback matrix, and where they came from.
typedef struct {
    char source[1100];       // "task personas" or the file path, for messages
    int from_file;
    long n, row0, n_local;
    int d;
    FeedbackType type;
    void *values;            // (n_local, d) float or double
    uint8_t *mask;           // (n_local, d) or NULL
    int64_t *user_id;        // (n_local) or NULL: rows are users 0..n-1 in order
    int32_t *truth;          // (n_local) or NULL
    double load_s;
    double rss_mib_max;      // the largest peak RSS over the ranks after discovery
    double share_mib;        // the largest rank's share of the matrix as loaded (values + mask)
} Feed;

static void *xmalloc_rows(long rows, size_t per_row) { return xmalloc(per_row * (size_t)(rows > 0 ? rows : 1)); }

// The task's simulated users: every rank builds the same probes and fills its own rows.
static void feed_from_task(const App *a, const Task *t, Feed *f) {
    const GroupsSection *g = &a->cfg.groups;
    snprintf(f->source, sizeof f->source, "task %s", task_name(t));
    f->n = task_n_users(t, SPLIT_TRAIN), f->d = g->probes, f->type = FEEDBACK_F32;
    comm_split_range(f->n, a->size, a->rank, &f->row0, &f->n_local);
    TaskProbe *probes = xmalloc(sizeof *probes * (size_t)f->d);
    for (int j = 0; j < f->d; j++) task_probe(t, a->cfg.task.seed, j, &probes[j]);
    f->values = xmalloc_rows(f->n_local, sizeof(float) * (size_t)f->d);
    f->mask = xmalloc_rows(f->n_local, (size_t)f->d);
    f->truth = xmalloc_rows(f->n_local, sizeof(int32_t));
    task_feedback_rows(t, a->cfg.task.seed, probes, f->d, f->row0, f->n_local, g->observed, g->noise, f->values, f->mask);
    for (long i = 0; i < f->n_local; i++) f->truth[i] = task_user_group(t, SPLIT_TRAIN, (int)(f->row0 + i));
    free(probes);
}

// groups.feedback_file: every rank checks the layout, then reads its own rows as hyperslabs.
static void feed_from_file(const App *a, Feed *f) {
    const char *path = a->cfg.groups.feedback_file;
    char err[1536];
    FeedbackFileInfo info;
    snprintf(f->source, sizeof f->source, "%s", path);
    f->from_file = 1;
    if (feedback_file_info(path, &info, err, sizeof err))
        die_user(EXIT_RUNTIME, HINT_FEEDBACK, "groups.feedback_file: %s", err);
    f->n = info.n, f->d = info.d, f->type = info.value_f64 ? FEEDBACK_F64 : FEEDBACK_F32;
    comm_split_range(f->n, a->size, a->rank, &f->row0, &f->n_local);
    f->values = xmalloc_rows(f->n_local, (info.value_f64 ? sizeof(double) : sizeof(float)) * (size_t)f->d);
    if (info.has_mask) f->mask = xmalloc_rows(f->n_local, (size_t)f->d);
    if (info.has_user_id) f->user_id = xmalloc_rows(f->n_local, sizeof(int64_t));
    if (info.has_truth) f->truth = xmalloc_rows(f->n_local, sizeof(int32_t));
    if (feedback_file_read_rows(path, &info, f->type, f->row0, f->n_local, f->values, f->mask, f->user_id, f->truth,
                                err, sizeof err))
        die_user(EXIT_RUNTIME, HINT_FEEDBACK, "groups.feedback_file: %s", err);
}

static void feed_load(const App *a, const Task *t, Feed *f) {
    memset(f, 0, sizeof *f);
    double t0 = comm_now();
    if (a->cfg.groups.feedback == FEEDBACK_FROM_FILE) feed_from_file(a, f);
    else feed_from_task(a, t, f);
    comm_barrier(a->world);
    f->load_s = comm_now() - t0;
}

static void feed_free(Feed *f) { free(f->values); free(f->mask); free(f->user_id); free(f->truth); }

static DiscoverParams discover_params(const App *a) {
    const GroupsSection *g = &a->cfg.groups;
    return (DiscoverParams){.method = g->method, .dims = g->dims, .whiten = g->whiten, .k = g->k, .k_max = g->k_max,
                            .criterion = g->criterion, .n_init = g->n_init, .max_iter = g->max_iter, .tol = g->tol,
                            .sample = g->sample, .gamma = g->gamma, .solver = g->solver, .block = g->block, .seed = a->cfg.run.seed};
}

// What rank 0 knows after the gather: labels and truth by user id, and the scores against the truth.
typedef struct {
    long n;
    int *by_user;        // (n) discovered group of each user
    int *truth;          // (n) true group of each user, or NULL
    int k, k_true;
    int64_t *table;      // (k, k_true) contingency: rows discovered, columns true
    double ari, nmi, ari_random;
} Outcome;

// Rank-ordered concatenation of n_local items of elem bytes at rank 0 (NULL elsewhere).
static void *gather_rows(const App *a, const Feed *f, const void *mine, size_t elem) {
    int cnt = (int)f->n_local, *counts = a->rank == 0 ? xmalloc(sizeof(int) * (size_t)a->size) : NULL;
    comm_gather_ints(&cnt, 1, counts, a->world);
    void *all = a->rank == 0 ? xmalloc_rows(f->n, elem) : NULL;
    comm_gatherv(mine, cnt, elem, all, counts, a->world);
    free(counts);
    return all;
}

// Row i's user: /feedback/user_id when the file has it (a permutation of 0..n-1, checked here), else i.
static void order_by_user(const Feed *f, const int64_t *ids, const int *rows, int *by_user) {
    if (!ids) { memcpy(by_user, rows, sizeof(int) * (size_t)f->n); return; }
    uint8_t *seen = calloc((size_t)f->n, 1);
    for (long i = 0; i < f->n; i++) {
        if (ids[i] < 0 || ids[i] >= f->n || seen[ids[i]])
            die_user(EXIT_RUNTIME, HINT_FEEDBACK, "groups.feedback_file '%s': /feedback/user_id of row %ld is %lld, %s "
                     "(it must hold each id 0..%ld once)", f->source, i, (long long)ids[i],
                     ids[i] < 0 || ids[i] >= f->n ? "out of range" : "a duplicate", f->n - 1);
        seen[ids[i]] = 1;
        by_user[ids[i]] = rows[i];
    }
    free(seen);
}

// ARI, NMI and the contingency table against the truth; the baseline is the same labels shuffled (a seeded
// Fisher-Yates: a random assignment with the discovered group sizes, what train.groups = random does).
static void evaluate(const App *a, Outcome *o) {
    char err[512];
    o->k_true = 0;
    for (long u = 0; u < o->n; u++) if (o->truth[u] + 1 > o->k_true) o->k_true = o->truth[u] + 1;
    o->table = xmalloc(sizeof(int64_t) * (size_t)o->k * (size_t)o->k_true);
    int *shuf = xmalloc(sizeof(int) * (size_t)o->n);
    memcpy(shuf, o->by_user, sizeof(int) * (size_t)o->n);
    Rng r;
    rng_seed(&r, a->cfg.run.seed, RNG_GROUPS, 0, RANDOM_ARI_STEP);
    for (long u = o->n - 1; u > 0; u--) {
        long j = (long)(rng_uniform(&r) * (double)(u + 1));
        int tmp = shuf[u]; shuf[u] = shuf[j]; shuf[j] = tmp;
    }
    if (cluster_contingency(o->by_user, o->truth, o->n, o->k, o->k_true, o->table, err, sizeof err) ||
        cluster_ari_table(o->table, o->k, o->k_true, &o->ari, err, sizeof err) ||
        cluster_nmi_table(o->table, o->k, o->k_true, &o->nmi, err, sizeof err) ||
        cluster_ari(shuf, o->truth, o->n, o->k, o->k_true, &o->ari_random, err, sizeof err))
        die_user(EXIT_RUNTIME, NULL, "groups: scoring against the truth failed: %s", err);
    free(shuf);
}

// Labels (and truth) to rank 0 in user-id order, then the scores there.
static void collect(const App *a, const Feed *f, const int *labels, int k, Outcome *o) {
    memset(o, 0, sizeof *o);
    o->n = f->n, o->k = k;
    int *rows = gather_rows(a, f, labels, sizeof(int));
    int64_t *ids = f->from_file && f->user_id ? gather_rows(a, f, f->user_id, sizeof(int64_t)) : NULL;
    int32_t *truth = f->truth ? gather_rows(a, f, f->truth, sizeof(int32_t)) : NULL;
    if (a->rank == 0) {
        o->by_user = xmalloc(sizeof(int) * (size_t)f->n);
        order_by_user(f, ids, rows, o->by_user);
        if (truth) {
            o->truth = xmalloc(sizeof(int) * (size_t)f->n);
            order_by_user(f, ids, (const int *)truth, o->truth);
            evaluate(a, o);
        }
    }
    free(rows); free(ids); free(truth);
}

// groups.out, or <run.out_dir>/groups.h5.
static void groups_path(const App *a, char *buf, size_t n) {
    if (*a->cfg.groups.out) snprintf(buf, n, "%s", a->cfg.groups.out);
    else app_out_path(a, "groups.h5", buf, n);
}

// The criteria table: one row per K tried.
static void put_criteria(StoreWriter *w, const DiscoverResult *r) {
    size_t m = (size_t)(r->k_hi - r->k_lo + 1);
    int32_t ks[DISCOVER_MAX_K + 1];
    double cols[4][DISCOVER_MAX_K + 1];
    for (size_t i = 0; i < m; i++) {
        int k = r->k_lo + (int)i;
        ks[i] = k;
        cols[0][i] = r->inertia[k], cols[1][i] = r->silhouette[k], cols[2][i] = r->bic[k], cols[3][i] = r->gap[k];
    }
    store_put(w, "criteria/k", STORE_I32, ks, 1, &m);
    store_put(w, "criteria/inertia", STORE_F64, cols[0], 1, &m);
    store_put(w, "criteria/silhouette", STORE_F64, cols[1], 1, &m);
    store_put(w, "criteria/bic", STORE_F64, cols[2], 1, &m);
    store_put(w, "criteria/eigengap", STORE_F64, cols[3], 1, &m);
    static const char *const by[3] = {"k_silhouette", "k_bic", "k_eigengap"};
    for (int c = 0; c < 3; c++) store_put_attr_int(w, "criteria", by[c], r->k_by[c]);
}

// The reduction: column statistics, principal directions and values, spectral eigenvalues; what a later run needs
// to place a new user (standardise its row, project on the components, nearest centroid).
static void put_reduction(StoreWriter *w, const DiscoverResult *r) {
    size_t d = (size_t)r->d, dims[2] = {(size_t)r->d, (size_t)r->dims}, ne = (size_t)r->n_eig;
    store_put(w, "reduction/mean", STORE_F64, r->mean, 1, &d);
    store_put(w, "reduction/std", STORE_F64, r->std, 1, &d);
    store_put(w, "reduction/singular_values", STORE_F64, r->sv, 1, &dims[1]);
    store_put(w, "reduction/components", STORE_F64, r->components, 2, dims);
    if (r->eig) {
        store_put(w, "reduction/eigenvalues", STORE_F64, r->eig, 1, &ne);
        store_put_attr_double(w, "reduction/eigenvalues", "gamma", r->gamma);
    }
}

static void put_eval(StoreWriter *w, const Outcome *o) {
    size_t dims[2] = {(size_t)o->k, (size_t)o->k_true};
    store_put(w, "eval/ari", STORE_F64, &o->ari, 0, NULL);
    store_put(w, "eval/nmi", STORE_F64, &o->nmi, 0, NULL);
    store_put(w, "eval/ari_random", STORE_F64, &o->ari_random, 0, NULL);
    store_put(w, "eval/contingency", STORE_I64, o->table, 2, dims);
}

// groups.h5 (rank 0): written to a temp file and renamed on commit, so a failure leaves nothing at the path.
static void write_groups_file(const App *a, const char *path, const Feed *f, const DiscoverResult *r, const Outcome *o) {
    char err[1536];
    StoreWriter *w = store_writer_create(path, STORE_KIND_GROUPS, deck_text(a->deck), err, sizeof err);
    if (!w) die_user(EXIT_RUNTIME, "choose a writable groups.out or run.out_dir", "%s", err);
    size_t n = (size_t)o->n, k = (size_t)r->k, cd[2] = {(size_t)r->k, (size_t)r->e};
    int64_t sizes[DISCOVER_MAX_K];
    for (int j = 0; j < r->k; j++) sizes[j] = r->sizes[j];
    store_put(w, "user_group", STORE_I32, o->by_user, 1, &n);
    store_put(w, "sizes", STORE_I64, sizes, 1, &k);
    store_put(w, "centroids", STORE_F64, r->centroids, 2, cd);
    put_criteria(w, r);
    put_reduction(w, r);
    if (o->truth) put_eval(w, o);
    store_put_attr_int(w, "/", "n_groups", r->k);
    store_put_attr_int(w, "/", "n_users", o->n);
    store_put_attr_int(w, "/", "n_probes", f->d);
    store_put_attr_str(w, "/", "feedback", f->source);
    store_put_attr_double(w, "/", "time_load_s", f->load_s);
    store_put_attr_double(w, "/", "peak_rss_mib_max", f->rss_mib_max);
    store_put_attr_double(w, "/", "share_mib_max", f->share_mib);
    store_put_attr_str(w, "/", "method", config_method_name(a->cfg.groups.method));
    store_put_attr_str(w, "/", "criterion", a->cfg.groups.k ? "fixed" : config_criterion_name(a->cfg.groups.criterion));
    for (int t = 0; t < DT_N; t++) {
        char key[64];
        snprintf(key, sizeof key, "time_%s_s", discover_timer_name((DiscoverTimer)t));
        store_put_attr_double(w, "/", key, r->time[t]);
    }
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "choose a writable groups.out or run.out_dir", "%s", err);
}

// The task's feedback as a user's own data would come (collective): <run.out_dir>/feedback.h5.
static void write_feedback_file(const App *a, const Feed *f) {
    char path[1100], err[1536];
    app_out_path(a, "feedback.h5", path, sizeof path);
    comm_barrier(a->world);   // run.out_dir exists (rank 0 made it) before any rank opens a file there
    if (feedback_file_write(a->world, path, deck_text(a->deck), f->n, f->d, f->row0, f->n_local, f->values, f->mask,
                            f->truth, 1, err, sizeof err))
        die_user(EXIT_RUNTIME, "choose a writable run.out_dir", "%s", err);
}

static double observed_fraction(const App *a, const Feed *f) {
    double obs = 0, tot = (double)f->n * f->d;
    size_t cells = (size_t)f->n_local * (size_t)f->d;
    if (!f->mask) obs = (double)cells;
    else for (size_t i = 0; i < cells; i++) obs += f->mask[i];
    comm_sum_doubles(&obs, 1, a->world);
    return obs / tot;
}

// Peak RSS and matrix share, the largest over the ranks (the scale bar: memory bounded by the rank's share).
static void measure_memory(const App *a, Feed *f) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    size_t val = f->type == FEEDBACK_F64 ? sizeof(double) : sizeof(float);
    double m[2] = {(double)ru.ru_maxrss / 1024.0,
                   (double)f->n_local * f->d * (double)(val + (f->mask ? 1 : 0)) / (1024.0 * 1024.0)};
    comm_max_doubles(m, 2, a->world);
    f->rss_mib_max = m[0], f->share_mib = m[1];
}

static void report_criteria(const App *a, const DiscoverResult *r) {
    app_log(a, "groups:    K       inertia  silhouette            bic   eigengap\n");
    for (int k = r->k_lo; k <= r->k_hi; k++)
        app_log(a, "groups:  %c%2d  %12.6g  %10.4f  %13.6g  %9.4g\n", k == r->k ? '*' : ' ', k, r->inertia[k],
                r->silhouette[k], r->bic[k], r->gap[k]);
    if (a->cfg.groups.k == 0)
        app_log(a, "groups: K = %d by %s (silhouette picks %d, bic %d, eigengap %d)\n", r->k,
                config_criterion_name(a->cfg.groups.criterion), r->k_by[0], r->k_by[1], r->k_by[2]);
}

static void report_truth(const App *a, const Outcome *o) {
    app_log(a, "groups: vs the true groups: ARI %.4f  NMI %.4f  (a random assignment with these sizes: ARI %.4f)\n",
            o->ari, o->nmi, o->ari_random);
    app_log(a, "groups: contingency (rows: discovered groups, columns: true groups)\ngroups:      ");
    for (int c = 0; c < o->k_true; c++) app_log(a, " %7d", c);
    for (int g = 0; g < o->k; g++) {
        app_log(a, "\ngroups:  %3d ", g);
        for (int c = 0; c < o->k_true; c++) app_log(a, " %7lld", (long long)o->table[(size_t)g * o->k_true + c]);
    }
    app_log(a, "\n");
}

static void report(const App *a, const Feed *f, double observed, const DiscoverResult *r, const Outcome *o,
                   const char *path) {
    const GroupsSection *g = &a->cfg.groups;
    app_log(a, "groups: feedback %s: %ld users x %d probes, %.1f%% observed\n", f->source, f->n, f->d, 100 * observed);
    app_log(a, "groups: %s on %d principal components (singular values %.4g .. %.4g)", config_method_name(g->method),
            r->dims, r->sv[0], r->sv[r->dims - 1]);
    if (r->eig) app_log(a, ", RBF gamma %.4g, eigenvalues %.4f .. %.4f", r->gamma, r->eig[0], r->eig[r->n_eig - 1]);
    app_log(a, "\n");
    report_criteria(a, r);
    app_log(a, "groups: %d groups, sizes", r->k);
    for (int j = 0; j < r->k; j++) app_log(a, " %ld", r->sizes[j]);
    app_log(a, "\n");
    if (o->truth) report_truth(a, o);
    double total = f->load_s;
    app_log(a, "groups: time load %.3f s", f->load_s);
    for (int t = 0; t < DT_N; t++) {
        app_log(a, ", %s %.3f s", discover_timer_name((DiscoverTimer)t), r->time[t]);
        total += r->time[t];
    }
    app_log(a, "; total %.3f s on %d rank%s\n", total, a->size, a->size > 1 ? "s" : "");
    app_log(a, "groups: memory: peak RSS %.1f MiB on the largest rank, whose share of the feedback is %.1f MiB\n",
            f->rss_mib_max, f->share_mib);
    app_log(a, "groups: wrote %s%s\n", path, f->from_file ? "" : " and feedback.h5 beside the run's outputs");
}

void groups_discover(const App *a, const Task *task, long n_users_want, GroupsMap *out) {
    Feed f;
    feed_load(a, task, &f);
    if (n_users_want >= 0 && f.n != n_users_want)
        die_user(EXIT_USAGE, "give one feedback row per training user", "groups.feedback_file '%s' has %ld users, "
                 "task.n_users = %ld", f.source, f.n, n_users_want);
    double observed = observed_fraction(a, &f);
    FeedbackBlock b = {.type = f.type, .values = f.values, .mask = f.mask, .n_local = f.n_local, .d = f.d};
    DiscoverParams p = discover_params(a);
    int *labels = xmalloc_rows(f.n_local, sizeof(int));
    DiscoverResult r;
    char err[1536], path[1100];
    int rc = discover_run(a->world, &b, f.row0, f.n, &p, labels, &r, err, sizeof err);
    if (rc) {   // the pipeline's messages carry their own HINT
        const char *msg = strncmp(err, "feedback: ", 10) ? err : err + 10;
        if (f.from_file) die_user(rc == -2 ? EXIT_USAGE : EXIT_RUNTIME, NULL, "groups.feedback_file '%s': %s", f.source, msg);
        die_user(rc == -2 ? EXIT_USAGE : EXIT_RUNTIME, NULL, "groups: feedback of %s: %s", f.source, msg);
    }
    measure_memory(a, &f);
    Outcome o;
    collect(a, &f, labels, r.k, &o);
    groups_path(a, path, sizeof path);
    if (!f.from_file) write_feedback_file(a, &f);
    if (a->rank == 0) {
        write_groups_file(a, path, &f, &r, &o);
        report(a, &f, observed, &r, &o, path);
    }
    out->n_users = f.n, out->n_groups = r.k;
    out->user_group = xmalloc_rows(f.n, sizeof(int));
    if (a->rank == 0) memcpy(out->user_group, o.by_user, sizeof(int) * (size_t)f.n);
    comm_bcast(out->user_group, sizeof(int) * (size_t)f.n, 0, a->world);
    free(o.by_user); free(o.truth); free(o.table); free(labels);
    discover_result_free(&r);
    feed_free(&f);
}
